"""Class visualization: an image that the model scores as one class (Simonyan et al., 2014; CS231n).

Two modes, each a :class:`ClassVizSettings` preset whose fields are exactly the explorer's sliders:

* ``"cs231n"`` - the recipe of the CS231n assignment with its defaults: start from ``N(0, 1)`` noise in
  normalised units, normalised gradient ascent on the class score with learning rate 25, L2 weight 1e-3,
  jitter up to 16 px, Gaussian blur (sigma 0.5) every 10 steps, clamp to valid pixels, 100 steps.
  **How the scales carry over:** vizlab's models take ``[0, 1]`` pixels, CS231n optimizes the normalised
  image ``z = (x - mean) / std``. The parameterization here is ``x = mean + std * z`` with ``z`` the
  parameters (:func:`~vizlab.optimize.params.pixels` with the model's mean and std), the L2 term is
  ``1e-3 * sum(z^2)`` and each step moves ``z`` by 25 (L2 length), so the CS231n numbers keep their meaning
  unchanged. In pixel units one step is about ``25 * 0.226 = 5.7`` and the L2 weight ``1e-3 / 0.226^2``.
* ``"fourier"`` - the high-quality mode: the Fourier parameterization (spatially decorrelated: ``1/f``-scaled
  frequencies), Adam, and random pad/jitter/scale/rotate transforms; no blur is needed because the
  parameterization already prefers smooth images. Colour decorrelation is a switch (``decorrelate``), off by
  default because it makes this model's images dull (see :class:`ClassVizSettings`).
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from typing import Callable

import torch
from torch import nn

from ..attribution.targets import class_of
from ..device import model_device
from .objectives import class_logit
from .params import fourier, pixels
from .regularizers import L2, TV, Blur, Clamp
from .render import RenderResult, render
from .transforms import Jitter, standard

MODES = ("cs231n", "fourier")


@dataclass
class ClassVizSettings:
    """Every knob of a class visualization (one field per slider of the explorer).

    Attributes:
        mode: ``"cs231n"`` (pixels, normalised gradient steps) or ``"fourier"`` (Fourier, Adam, transforms).
        steps: number of updates.
        lr: learning rate (cs231n: step length in normalised units; fourier: Adam's rate).
        l2: weight of the L2 penalty on the normalised image ``sum(z^2)``.
        tv: weight of the total-variation penalty (on ``[0, 1]`` pixels).
        jitter: largest random shift in pixels.
        blur_sigma: width of the Gaussian blur (0: off).
        blur_every: blur every this many steps.
        size: image side in pixels.
        decorrelate: fourier mode: also mix colours by the square root of natural photos' colour covariance
            (the Distill article's colour decorrelation). Off in the preset: with EfficientNet-Lite0 it gives
            dull brown images, while plain RGB gives saturated, recognisable flamingos (both reach p > 0.99).
    """

    mode: str = "cs231n"
    steps: int = 100
    lr: float = 25.0
    l2: float = 1e-3
    tv: float = 0.0
    jitter: int = 16
    blur_sigma: float = 0.5
    blur_every: int = 10
    size: int = 224
    decorrelate: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for name in ("steps", "jitter", "blur_every", "size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")
        if self.blur_every < 1:
            raise ValueError(f"blur_every must be >= 1, got {self.blur_every}")
        for name in ("lr", "l2", "tv", "blur_sigma"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


#: The CS231n assignment's defaults.
CS231N = ClassVizSettings()
#: The high-quality mode.
FOURIER = ClassVizSettings(mode="fourier", steps=150, lr=0.05, l2=0.0, tv=0.0, jitter=8, blur_sigma=0.0,
                           blur_every=10)


def preset(mode: str = "cs231n", **changes) -> ClassVizSettings:
    """The settings of a mode, with some fields changed: ``preset("fourier", steps=50)``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return replace(CS231N if mode == "cs231n" else FOURIER, **changes)


def model_units(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's input normalisation ``(mean, std)``, each ``(1, 3, 1, 1)`` (ImageNet's for a plain module)."""
    norm = getattr(model, "normalize", None)
    device = model_device(model)
    if norm is not None and hasattr(norm, "mean") and hasattr(norm, "std"):
        return norm.mean.detach().to(device).view(1, 3, 1, 1), norm.std.detach().to(device).view(1, 3, 1, 1)
    from ..models import IMAGENET_MEAN, IMAGENET_STD

    return (torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1),
            torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1))


def build(model: nn.Module, settings: ClassVizSettings, seed: int | None = 0):
    """``(param, transforms, regularizers, optimizer)`` for ``settings`` (the pieces :func:`render` takes)."""
    mean, std = model_units(model)
    device = model_device(model)
    shape = (1, 3, settings.size, settings.size)
    if settings.mode == "cs231n":
        param = pixels(shape, centre=mean, scale=std, noise=1.0, seed=seed, device=device)
        transforms = [Jitter(settings.jitter)]
        optimizer = "normalized"
    else:
        param = fourier(shape, seed=seed, device=device, decorrelate=settings.decorrelate)
        transforms = [standard(settings.jitter)] if settings.jitter > 0 else []
        optimizer = "adam"
    regs = [L2(settings.l2, centre=mean, scale=std), TV(settings.tv), Clamp(0.0, 1.0),
            Blur(settings.blur_sigma, settings.blur_every)]
    return param, transforms, regs, optimizer


@torch.no_grad()
def class_probability(model: nn.Module, image: torch.Tensor, target: int) -> float:
    """``p(target | image)`` under the model (softmax of the logits)."""
    return float(model(image.to(model_device(model))).softmax(dim=1)[0, target])


def class_visualization(model: nn.Module, target: int | str, settings: ClassVizSettings | None = None, *,
                        mode: str | None = None, seed: int | None = 0, snapshots=None,
                        callback: Callable[[int, torch.Tensor, float], None] | None = None,
                        stop_event: threading.Event | None = None, progress: bool = True,
                        **changes) -> RenderResult:
    """Generate an image that maximises the score of class ``target``.

    Args:
        model: a classifier taking ``[0, 1]`` images.
        target: class index or (for a :class:`~vizlab.models.VizModel`) a class name.
        settings: a :class:`ClassVizSettings`; default: the preset of ``mode``.
        mode: ``"cs231n"`` (default) or ``"fourier"``; with ``settings`` it must agree.
        seed, snapshots, callback, stop_event, progress: as in :func:`~vizlab.optimize.render.render`.
        **changes: override single settings, e.g. ``steps=50, l2=0``.

    Returns:
        A :class:`RenderResult`; ``info`` holds ``target``, ``class_name``, ``target_probability`` (of the final
        image, without transforms) and ``settings``.

    Example:
        >>> r = class_visualization(model, "flamingo", mode="fourier", steps=150)   # doctest: +SKIP
        >>> r.info["target_probability"] > 0.99                                      # doctest: +SKIP
        True
    """
    if settings is None:
        settings = preset(mode or "cs231n", **changes)
    else:
        if not isinstance(settings, ClassVizSettings):
            raise TypeError(f"settings must be a ClassVizSettings, got {type(settings).__name__}")
        if mode is not None and mode != settings.mode:
            raise ValueError(f"mode={mode!r} disagrees with settings.mode={settings.mode!r}")
        settings = replace(settings, **changes) if changes else settings
    index = class_of(model, target)
    param, transforms, regs, optimizer = build(model, settings, seed)
    name = model.categories[index] if hasattr(model, "categories") else str(index)
    result = render(model, class_logit(index), param, steps=settings.steps, lr=settings.lr, optimizer=optimizer,
                    transforms=transforms, regularizers=regs, seed=seed, snapshots=snapshots, callback=callback,
                    stop_event=stop_event, progress=progress, desc=f"{settings.mode}: {name}")
    result.info.update(target=index, class_name=name, settings=settings,
                       target_probability=class_probability(model, result.image, index))
    return result
