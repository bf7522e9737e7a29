"""Fooling images (Szegedy et al., 2014; CS231n): a change too small to see flips the prediction.

CS231n's recipe, in the model's normalised units ``z = (x - mean) / std``: until the model predicts the target,
``z <- z + lr * g / ||g||_2`` with ``g = d s_target / d z`` and ``lr = 1``. Here the parameterization
``x = mean + std * z`` keeps those units while the model sees ``[0, 1]`` pixels, and pixels are clamped to
``[0, 1]`` after each step (CS231n does not clamp; the change is far smaller than a pixel level anyway).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
from torch import nn

from ..attribution.targets import class_of
from ..device import model_device
from .classviz import model_units
from .deepdream import _as_input
from .objectives import class_log_probability, class_logit
from .params import pixels
from .regularizers import Clamp
from .render import render


@dataclass
class FoolingResult:
    """``fooled`` image, ``original``, ``difference = fooled - original`` (all ``(1, 3, H, W)``), and the outcome."""

    fooled: torch.Tensor
    original: torch.Tensor
    target: int
    predicted: int
    probability: float
    steps: int
    reason: str

    @property
    def difference(self) -> torch.Tensor:
        return self.fooled - self.original

    @property
    def success(self) -> bool:
        """The model predicts the target for the fooled image."""
        return self.predicted == self.target

    def magnified(self, factor: float = 10.0) -> torch.Tensor:
        """``clamp(0.5 + factor * difference)``: the change made visible (CS231n shows it 10x)."""
        return (0.5 + factor * self.difference).clamp(0, 1)


def fooling_image(model: nn.Module, image, target: int | str, *, lr: float = 1.0, max_steps: int = 100,
                  score: str = "logit", stop_event: threading.Event | None = None,
                  progress: bool = True) -> FoolingResult:
    """Change ``image`` until ``model`` predicts ``target`` (at most ``max_steps`` normalised steps).

    Args:
        model: a classifier taking ``[0, 1]`` images.
        image: the photo (sample name, array, or ``(1, 3, H, W)`` tensor in ``[0, 1]``).
        target: class index or name.
        lr: L2 length of each step in normalised units (CS231n: 1).
        max_steps: give up after this many steps (``success`` is then ``False``).
        score: ``"logit"`` (CS231n: raise the class score) or ``"log_probability"`` (also push the other
            classes down; needed when all scores rise together, as in small untrained networks).
        stop_event, progress: as in :func:`~vizlab.optimize.render.render`.

    Example:
        >>> r = fooling_image(model, "cat", "stingray")     # doctest: +SKIP
        >>> r.success, r.difference.abs().max() < 0.05       # doctest: +SKIP
        (True, True)
    """
    if score not in ("logit", "log_probability"):
        raise ValueError(f"score must be 'logit' or 'log_probability', got {score!r}")
    index = class_of(model, target)
    device = model_device(model)
    x0 = _as_input(model, image)
    mean, std = model_units(model)
    param = pixels(init=x0, centre=mean, scale=std, device=device)

    def fooled(ctx) -> bool:
        return int(ctx.logits[0].argmax()) == index

    objective = class_logit(index) if score == "logit" else class_log_probability(index)
    r = render(model, objective, param, steps=max_steps, lr=lr, optimizer="normalized",
               regularizers=[Clamp(0.0, 1.0)], until=fooled, stop_event=stop_event, progress=progress,
               desc=f"fooling -> {index}")
    with torch.no_grad():
        probs = model(r.image).softmax(dim=1)[0]
    return FoolingResult(r.image, x0.detach(), index, int(probs.argmax()), float(probs[index]), r.steps, r.reason)
