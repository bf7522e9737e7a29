"""Attribution methods by name, one calling convention: ``attribute(model, x, classes, method, layer)``.

The sanity checks run a method many times on changed models; they need a fixed class per image (the original
model's prediction, not the randomised model's) and a map ``(N, H, W)``. Gradient methods ignore ``layer``;
CAM methods use it (default ``model.cam_layer``); the baselines ignore the model.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import attribution as A
from .baselines import edge_map, random_map

MapFn = Callable[[nn.Module, torch.Tensor, list, object], torch.Tensor]

METHODS: dict[str, MapFn] = {
    "gradient": lambda m, x, c, layer: A.saliency(m, x, c),
    "guided backprop": lambda m, x, c, layer: A.guided_backprop(m, x, c),
    "SmoothGrad": lambda m, x, c, layer: A.smoothgrad(m, x, c, samples=8),
    "integrated gradients": lambda m, x, c, layer: A.integrated_gradients(m, x, c, steps=8),  # a ranking, not exact sums
    "Grad-CAM": lambda m, x, c, layer: A.grad_cam(m, x, c, layer),
    "Grad-CAM++": lambda m, x, c, layer: A.grad_cam_pp(m, x, c, layer),
    "LayerCAM": lambda m, x, c, layer: A.layer_cam(m, x, c, layer),
    "HiResCAM": lambda m, x, c, layer: A.hires_cam(m, x, c, layer),
    "XGrad-CAM": lambda m, x, c, layer: A.xgrad_cam(m, x, c, layer),
    "EigenCAM": lambda m, x, c, layer: A.eigen_cam(m, x, c, layer),
    "Score-CAM": lambda m, x, c, layer: A.score_cam(m, x, c, layer),
    "edge (Sobel)": lambda m, x, c, layer: edge_map(x),
    "random": lambda m, x, c, layer: random_map(x),
}


def method_name(method) -> str:
    """A display name: the registry key, or a callable's ``__name__``."""
    if isinstance(method, str):
        return method
    return getattr(method, "__name__", type(method).__name__)


def attribute(model: nn.Module, x: torch.Tensor, classes, method: str | MapFn, layer=None) -> torch.Tensor:
    """``(N, H, W)`` map of ``method`` (a name in :data:`METHODS` or ``fn(model, x, classes, layer)``).

    Raises:
        ValueError: an unknown name (the known ones are listed).
    """
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"method={method!r} is unknown; use one of {', '.join(METHODS)} or a callable "
                             f"fn(model, x, classes, layer)")
        fn = METHODS[method]
    elif callable(method):
        fn = method
    else:
        raise TypeError(f"method must be a name or a callable, got {type(method).__name__}")
    if isinstance(classes, torch.Tensor):
        classes = classes.tolist()
    return fn(model, x, classes, layer).detach()
