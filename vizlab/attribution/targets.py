"""Targets: what an attribution explains, as a small callable ``logits (N, C) -> scores (N,)``.

One vocabulary for every method: a class index, a class name (through ``model.class_index``), one class per
image, or ``None`` for each image's top-1 class. Gradient methods accept any callable with that signature;
CAM and occlusion need classes (they read classifier weights or cached logits), so they use
:class:`ClassTarget`.

Example:
    >>> import torch
    >>> t = ClassTarget([3, 1])
    >>> t(torch.arange(10.).view(2, 5)).tolist()
    [3.0, 6.0]
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

import numpy as np
import torch
from torch import nn

from ..models import class_index as _class_index_in

TargetLike = Union[None, int, str, Sequence[Union[int, str]], torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]


class ClassTarget:
    """The logit of one class per image: ``score_n = logits[n, classes[n]]``.

    Args:
        classes: a class index, or one index per image.
    """

    def __init__(self, classes: int | Sequence[int] | torch.Tensor):
        idx = torch.as_tensor(classes, dtype=torch.long).reshape(-1)
        if idx.numel() == 0:
            raise ValueError("classes is empty")
        self.classes = idx

    def indices(self, n: int) -> torch.Tensor:
        """The class of each of ``n`` images, as a ``(n,)`` long tensor."""
        if self.classes.numel() == 1:
            return self.classes.expand(n)
        if self.classes.numel() != n:
            raise ValueError(f"target gives {self.classes.numel()} classes for a batch of {n} images")
        return self.classes

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        idx = self.indices(logits.shape[0]).to(logits.device)
        return logits.gather(1, idx[:, None])[:, 0]

    def __repr__(self) -> str:
        return f"ClassTarget({self.classes.tolist()})"


def _categories(model: nn.Module) -> Sequence[str] | None:
    return getattr(model, "categories", None)


def class_of(model: nn.Module, target: int | str, num_classes: int | None = None) -> int:
    """One class index from an index or a name (names need a model with ``categories``)."""
    cats = _categories(model)
    if cats is not None:
        return _class_index_in(target, cats)
    if isinstance(target, (bool, np.bool_)):
        raise TypeError("target must be a class index or name, got a bool")
    if isinstance(target, str):
        raise ValueError(f"target={target!r} is a class name, but this model has no .categories; give an index")
    if isinstance(target, torch.Tensor) and target.numel() == 1 and not target.is_floating_point():
        target = int(target.item())
    if not isinstance(target, (int, np.integer)):
        raise TypeError(f"target must be a class index (int) or name (str), got {type(target).__name__}")
    if num_classes is not None and not 0 <= int(target) < num_classes:
        raise ValueError(f"target={int(target)} is out of range 0..{num_classes - 1}")
    return int(target)


def as_class_target(model: nn.Module, target: TargetLike, logits: torch.Tensor) -> ClassTarget:
    """Resolve ``target`` to a :class:`ClassTarget` for a batch with these ``logits`` ``(N, C)``.

    ``None`` means each image's top-1 class; an int or name means that class for every image; a list or
    tensor gives one class per image.
    """
    n, c = logits.shape[0], logits.shape[1]
    if target is None:
        return ClassTarget(logits.argmax(1).detach().cpu())
    if isinstance(target, ClassTarget):
        target.indices(n)  # checks the length
        if int(target.classes.max()) >= c or int(target.classes.min()) < 0:
            raise ValueError(f"target classes {target.classes.tolist()} are out of range 0..{c - 1}")
        return target
    if isinstance(target, torch.Tensor) and target.numel() > 1:
        target = target.reshape(-1).tolist()
    if isinstance(target, (list, tuple)):
        if len(target) != n:
            raise ValueError(f"target has {len(target)} entries for a batch of {n} images")
        return ClassTarget([class_of(model, t, c) for t in target])
    if callable(target) and not isinstance(target, (str, int, torch.Tensor)):
        raise TypeError("this method needs class targets (index, name, list, or None), not a callable")
    return ClassTarget(class_of(model, target, c))


def as_target(model: nn.Module, target: TargetLike, logits: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Like :func:`as_class_target`, but any callable ``logits -> (N,)`` scores is passed through."""
    if callable(target) and not isinstance(target, (ClassTarget, torch.Tensor)):
        return target
    return as_class_target(model, target, logits)
