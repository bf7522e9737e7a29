"""Attribution methods by name, one calling convention: ``attribute(model, x, classes, method, layer)``.

The sanity checks run a method many times on changed models; they need a fixed class per image (the original
model's prediction, not the randomised model's) and a map ``(N, H, W)``. Gradient methods ignore ``layer``;
CAM methods use it (default ``model.cam_layer``); the baselines ignore the model.
"""
from __future__ import annotations

import inspect
import re
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
    "integrated gradients": lambda m, x, c, layer: A.integrated_gradients(m, x, c, steps=8, rule="gauss-legendre"),
    # a ranking, not exact sums: 8 fixed points, not the adaptive default
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


# snake_case names (the library's function names, and the display names written in snake_case) -> display name
_ALIASES: dict[str, str] = {
    "gradient": "gradient", "saliency": "gradient", "vanilla_gradient": "gradient",
    "guided_backprop": "guided backprop", "smoothgrad": "SmoothGrad", "smooth_grad": "SmoothGrad",
    "integrated_gradients": "integrated gradients",
    "grad_cam": "Grad-CAM", "gradcam": "Grad-CAM", "grad_cam_pp": "Grad-CAM++", "gradcam_pp": "Grad-CAM++",
    "grad_cam_plus_plus": "Grad-CAM++", "layer_cam": "LayerCAM", "layercam": "LayerCAM",
    "hires_cam": "HiResCAM", "hirescam": "HiResCAM", "xgrad_cam": "XGrad-CAM", "xgradcam": "XGrad-CAM",
    "eigen_cam": "EigenCAM", "eigencam": "EigenCAM", "score_cam": "Score-CAM", "scorecam": "Score-CAM",
    "edge": "edge (Sobel)", "edge_sobel": "edge (Sobel)", "edge_map": "edge (Sobel)", "sobel": "edge (Sobel)",
    "random": "random", "random_map": "random",
}


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower().replace("++", "_pp")).strip("_")


def canonical_name(method: str) -> str:
    """The :data:`METHODS` key for a display name (``"guided backprop"``) or a snake_case one
    (``"guided_backprop"``, the library function's name); case and separators do not matter.

    Raises:
        ValueError: an unknown name (the known ones are listed).
    """
    if method in METHODS:
        return method
    key = _snake(method)
    if key in _ALIASES:
        return _ALIASES[key]
    for name in METHODS:
        if _snake(name) == key:
            return name
    raise ValueError(f"method={method!r} is unknown; use one of {', '.join(METHODS)} (or their snake_case names, "
                     f"e.g. 'guided_backprop', 'grad_cam'), a vizlab.attribution function, or a callable "
                     f"fn(model, x, classes, layer)")


def method_name(method) -> str:
    """A display name: the registry key (also for a snake_case name), or a callable's ``__name__``."""
    if isinstance(method, str):
        try:
            return canonical_name(method)
        except ValueError:
            return method
    return getattr(method, "__name__", type(method).__name__)


def _takes_layer(fn: Callable) -> bool:
    """Whether ``fn`` takes a fourth positional argument (``layer``) after ``(model, x, classes)``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: assume the documented convention
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 4


def as_method(method: str | Callable) -> MapFn:
    """``fn(model, x, classes, layer)`` for a name (display or snake_case) or a callable.

    A callable may follow that convention, or be an attribution function such as
    :func:`vizlab.attribution.guided_backprop` (``(model, image, target)``, no layer) or
    :func:`vizlab.attribution.grad_cam` (``(model, image, target, layer)``): it is called with its own defaults.

    Raises:
        ValueError: an unknown name. TypeError: neither a name nor a callable.
    """
    if isinstance(method, str):
        return METHODS[canonical_name(method)]
    if not callable(method):
        raise TypeError(f"method must be a name or a callable, got {type(method).__name__}")
    if _takes_layer(method):
        return method
    return lambda m, x, c, layer: method(m, x, c)


def attribute(model: nn.Module, x: torch.Tensor, classes, method: str | MapFn, layer=None) -> torch.Tensor:
    """``(N, H, W)`` map of ``method``: a name in :data:`METHODS` (or its snake_case form, e.g.
    ``"guided_backprop"``), an attribution function (``vizlab.attribution.grad_cam``), or
    ``fn(model, x, classes, layer)``.

    Raises:
        ValueError: an unknown name (the known ones are listed).
    """
    fn = as_method(method)
    if isinstance(classes, torch.Tensor):
        classes = classes.tolist()
    out = fn(model, x, classes, layer)
    if out.dim() == 4 and out.shape[1] == 1:  # a (N, 1, H, W) map, e.g. from a peer library
        out = out[:, 0]
    return out.detach()
