"""Input checks shared by the attribution methods."""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ..device import model_device
from .._validate import check_int  # noqa: F401 - re-exported: the attribution methods import it from here
from ..images import check_unit_range


def check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def normalises_input(model: nn.Module) -> bool:
    """Whether ``model`` is one of vizlab's own classifiers, which normalise ``[0, 1]`` pixels as their first step
    (:class:`~vizlab.models.VizModel`); any other module gets its input as it is, in whatever range it expects."""
    from ..models import VizModel

    return isinstance(model, VizModel)


def as_batch(model: nn.Module, image) -> torch.Tensor:
    """``image`` as a float ``(N, 3, H, W)`` batch on the model's device.

    Tensors are taken as they are (``(3, H, W)`` gains a batch axis), in any value range, as captum does; only
    for vizlab's own models (:func:`normalises_input`), which expect ``[0, 1]`` pixels, a plainly wrong range
    (a 0..255 image) is refused. A :class:`~vizlab.models.VizModel` also accepts anything its ``to_input`` does
    (sample name, path, URL, array, PIL image).
    """
    check_model(model)
    if isinstance(image, torch.Tensor):
        x = image
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4:
            raise ValueError(f"image must have shape (3, H, W) or (N, 3, H, W), got {tuple(image.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"image must be a floating-point tensor, got {x.dtype}")
        if normalises_input(model):
            check_unit_range(x, "image")  # a 0..255 image would be clamped into nonsense by the model's preprocessing
        if x.shape[0] == 0:
            raise ValueError("image is an empty batch")
        return x.detach().to(device=model_device(model), dtype=torch.float32)  # float64 would fail in conv2d
    to_input = getattr(model, "to_input", None)
    if to_input is None:
        raise TypeError(f"image must be a torch.Tensor (N, 3, H, W) for this model, got {type(image).__name__}")
    return to_input(image).detach()


def first_image(model: nn.Module, image, size: int | None = None) -> torch.Tensor:
    """The first image of :func:`as_batch`, ``(1, 3, H, W)``; a non-tensor ``image`` is first resized to
    ``size`` by the model's ``to_input`` (the explorers' "one photo at a chosen size")."""
    if size is not None and not isinstance(image, torch.Tensor):
        image = model.to_input(image, size)
    return as_batch(model, image)[:1]


def safe_normalize(maps: torch.Tensor, what: str = "map") -> torch.Tensor:
    """Divide each ``(H, W)`` map of a ``(N, H, W)`` stack by its maximum; all-zero maps stay zero (with a warning).

    Maps here are non-negative, so this scales them to ``[0, 1]``; never returns NaN.
    """
    peak = maps.flatten(1).amax(1)
    dead = ~(peak > 0)
    if bool(dead.any()):
        which = dead.nonzero().flatten().tolist()
        warnings.warn(f"the {what} is all zero for image(s) {which} (e.g. every channel weight is negative); "
                      f"returning zeros", RuntimeWarning, stacklevel=3)
    scale = torch.where(dead, torch.ones_like(peak), peak)
    out = maps / scale[:, None, None]
    return torch.where(dead[:, None, None], torch.zeros_like(out), out)
