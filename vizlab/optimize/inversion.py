"""Feature inversion (Mahendran and Vedaldi, 2015): which image has these features?

Given the activations ``A_l(x0)`` of a photo at layer ``l``, find ``x`` minimising
``||A_l(x) - A_l(x0)||^2 / ||A_l(x0)||^2 + tv * TV(x)``. Shallow layers keep almost all of the photo;
deep layers keep what the class depends on and lose exact colours and positions.
"""
from __future__ import annotations

import threading
from typing import Callable

import torch
from torch import nn

from ..device import model_device
from ..hooks import capture
from .deepdream import _as_input
from .objectives import feature_match
from .params import fourier, pixels
from .regularizers import TV, Clamp
from .render import RenderResult, render
from .transforms import Jitter


def features(model: nn.Module, image: torch.Tensor, layer: str) -> torch.Tensor:
    """Activations of ``layer`` for ``image`` (detached)."""
    with torch.no_grad(), capture(model, layer) as cap:
        model(image)
    return cap[layer]


def invert(model: nn.Module, image, layer: str, *, steps: int = 200, lr: float = 0.05, param: str = "fourier",
           tv: float = 0.0, jitter: int = 0, seed: int | None = 0,
           callback: Callable[[int, torch.Tensor, float], None] | None = None, snapshots=None,
           stop_event: threading.Event | None = None, progress: bool = True) -> RenderResult:
    """Reconstruct ``image`` from its features at ``layer``.

    Args:
        model: a classifier taking ``[0, 1]`` images.
        image: the photo (a sample name, array, or ``(1, 3, H, W)`` tensor in ``[0, 1]``).
        layer: the layer whose features are matched.
        steps, lr: Adam steps and learning rate.
        param: ``"fourier"`` (decorrelated, smooth) or ``"pixels"`` (starts from gray).
        tv: weight of the total-variation penalty.
        jitter: random roll in pixels (0: none; features are compared at fixed positions, so keep it small).
        seed, callback, snapshots, stop_event, progress: as in :func:`~vizlab.optimize.render.render`.

    Returns:
        A :class:`RenderResult` whose ``info`` has ``original``, ``layer`` and ``mse`` (to the original pixels).
    """
    if param not in ("fourier", "pixels"):
        raise ValueError(f"param must be 'fourier' or 'pixels', got {param!r}")
    device = model_device(model)
    x0 = _as_input(model, image)
    target = features(model, x0, layer)
    shape = tuple(x0.shape)
    p = fourier(shape, seed=seed, device=device) if param == "fourier" else pixels(shape, seed=seed, device=device)
    regs = [TV(tv), Clamp(0.0, 1.0)]
    result = render(model, feature_match(layer, target), p, steps=steps, lr=lr, optimizer="adam",
                    transforms=[Jitter(jitter)] if jitter else [], regularizers=regs, seed=seed,
                    snapshots=snapshots, callback=callback, stop_event=stop_event, progress=progress,
                    desc=f"invert {layer}")
    result.info.update(original=x0.detach(), layer=layer,
                       mse=float((result.image - x0).pow(2).mean()))
    return result
