"""Objectives: what an optimized image should excite, as small objects that add and scale like numbers.

An objective reads the model's logits and the activations that :func:`vizlab.hooks.capture` recorded at the
layers it names, and returns one number to *maximise*. Objectives compose::

    obj = class_logit(130) - 0.5 * channel("block5", 7)       # flamingo, but not channel 7 of block 5
    obj.layers                                                # frozenset({'block5'})

The render loop (:func:`vizlab.optimize.render`) hooks exactly ``obj.layers`` for the whole run and removes
the hooks when it ends, also after an exception or a Stop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Callable, Mapping

import torch

from .._validate import check_int


@dataclass
class Context:
    """What an objective sees for one forward pass: ``logits`` ``(N, K)`` and ``acts[layer]`` ``(N, C, H, W)``."""

    logits: torch.Tensor
    acts: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def act(self, layer: str) -> torch.Tensor:
        try:
            return self.acts[layer]
        except KeyError:
            raise KeyError(f"layer {layer!r} was not captured; captured: {', '.join(self.acts) or 'none'}") from None


class Objective:
    """A scalar to maximise, ``f(context) -> tensor``, with the layers it needs.

    ``a + b``, ``a - b``, ``2 * a``, ``-a`` and ``sum([...])`` build new objectives; the layers are united.

    Args:
        fn: ``Context -> 0-d tensor``.
        layers: layer names (friendly names or module paths) whose activations ``fn`` reads.
        name: a short description, shown in progress bars and plots.
    """

    def __init__(self, fn: Callable[[Context], torch.Tensor], layers=(), name: str = "objective"):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.layers = frozenset(layers)
        self.name = name

    def __call__(self, ctx: Context) -> torch.Tensor:
        return self.fn(ctx)

    # -- arithmetic ------------------------------------------------------------------------------------------
    def __add__(self, other: "Objective | float") -> "Objective":
        if isinstance(other, Objective):
            return Objective(lambda c: self(c) + other(c), self.layers | other.layers, f"{self.name} + {other.name}")
        if isinstance(other, Real):
            return Objective(lambda c: self(c) + float(other), self.layers, f"{self.name} + {other:g}")
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, Real) and other == 0:  # so that sum([...]) works
            return self
        return self.__add__(other)

    def __mul__(self, factor: float) -> "Objective":
        if not isinstance(factor, Real) or isinstance(factor, bool):
            return NotImplemented
        return Objective(lambda c: float(factor) * self(c), self.layers, f"{factor:g}·({self.name})")

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> "Objective":
        if not isinstance(divisor, Real) or isinstance(divisor, bool):
            return NotImplemented
        if divisor == 0:
            raise ValueError("cannot divide an objective by zero")
        return self * (1.0 / float(divisor))

    def __neg__(self) -> "Objective":
        return Objective(lambda c: -self(c), self.layers, f"-({self.name})")

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __repr__(self) -> str:
        layers = f", layers={sorted(self.layers)}" if self.layers else ""
        return f"Objective({self.name!r}{layers})"


def as_objective(obj) -> Objective:
    """An :class:`Objective` from an objective or a class index (an ``int`` means :func:`class_logit`)."""
    if isinstance(obj, Objective):
        return obj
    if isinstance(obj, int) and not isinstance(obj, bool):
        return class_logit(obj)
    raise TypeError(f"objective must be an Objective (e.g. class_logit(130), channel('block5', 3)) or a class "
                    f"index, got {type(obj).__name__}")


def class_logit(target: int, *, batch: int | None = None) -> Objective:
    """The unnormalised score of class ``target``: ``s_y(x)`` (CS231n maximises this, not the softmax).

    Args:
        target: class index (use ``model.class_index("flamingo")`` for names).
        batch: only this image of the batch (default: sum over the batch).
    """
    target = check_int("target", target, 0)

    def fn(c: Context) -> torch.Tensor:
        if target >= c.logits.shape[1]:
            raise ValueError(f"target={target} is out of range for a model with {c.logits.shape[1]} classes")
        s = c.logits[:, target]
        if batch is not None and not 0 <= batch < s.shape[0]:
            raise ValueError(f"batch={batch} is out of range for a batch of {s.shape[0]} images")
        return s.sum() if batch is None else s[batch]

    return Objective(fn, (), f"logit {target}")


def class_log_probability(target: int) -> Objective:
    """``log p(target | x)``: raises the target and lowers every other class (used for fooling images)."""
    target = check_int("target", target, 0)
    return Objective(lambda c: c.logits.log_softmax(dim=1)[:, target].sum(), (), f"log p({target})")


def channel(layer: str, index: int) -> Objective:
    """Mean activation of channel ``index`` of ``layer``: ``mean_{h,w} A[c, h, w]``."""
    index = check_int("index", index, 0)

    def fn(c: Context) -> torch.Tensor:
        a = c.act(layer)
        if a.dim() < 2 or index >= a.shape[1]:
            raise ValueError(f"channel index={index} is out of range for layer {layer!r} with shape {tuple(a.shape)}")
        v = a[:, index]
        return (v.flatten(1).mean(dim=1) if v.dim() > 1 else v).sum()

    return Objective(fn, (layer,), f"{layer}:{index}")


def neuron(layer: str, index: int, y: int | None = None, x: int | None = None) -> Objective:
    """One unit: channel ``index`` of ``layer`` at position ``(y, x)`` (default: the centre)."""
    index = check_int("index", index, 0)

    def fn(c: Context) -> torch.Tensor:
        a = c.act(layer)
        if a.dim() != 4:
            raise ValueError(f"neuron needs a spatial layer (N, C, H, W); {layer!r} has shape {tuple(a.shape)}")
        yy = a.shape[2] // 2 if y is None else y
        xx = a.shape[3] // 2 if x is None else x
        for arg, value, limit in (("index", index, a.shape[1]), ("y", yy, a.shape[2]), ("x", xx, a.shape[3])):
            if not 0 <= value < limit:
                raise ValueError(f"neuron {arg}={value} is out of range 0..{limit - 1} for layer {layer!r} "
                                 f"with shape {tuple(a.shape)}")
        return a[:, index, yy, xx].sum()

    return Objective(fn, (layer,), f"{layer}:{index}@({y},{x})")


def diversity(layer: str) -> Objective:
    """Minus the mean cosine similarity of the Gram matrices of ``layer`` between the images of a batch.

    Added (with a weight) to a channel or neuron objective when several images are optimised at once, it pushes
    them apart in *style* (which features occur together) while each still excites the unit, so the batch
    shows several facets of what the unit responds to (the "diversity" term of the Distill article "Feature
    Visualization"). ``-1`` for identical images, ``0`` for images with orthogonal Gram matrices; a batch of one
    gives ``0``. Example: ``opt.channel("block5", 7) + 0.5 * opt.diversity("block4")`` on a ``(4, 3, H, W)``
    parameterization.
    """
    def fn(c: Context) -> torch.Tensor:
        a = c.act(layer)
        if a.dim() != 4:
            raise ValueError(f"diversity needs a spatial layer (N, C, H, W); {layer!r} has shape {tuple(a.shape)}")
        n = a.shape[0]
        if n < 2:
            return a.sum() * 0.0
        flat = a.flatten(2)
        gram = torch.bmm(flat, flat.transpose(1, 2)).flatten(1) / flat.shape[-1]
        gram = torch.nn.functional.normalize(gram, dim=1)
        sim = gram @ gram.T
        off = sim.sum() - sim.diagonal().sum()
        return -off / (n * (n - 1))

    return Objective(fn, (layer,), f"diversity {layer}")


def layer_activation(layer: str) -> Objective:
    """DeepDream's objective: the mean squared activation of a layer, ``mean(A**2)`` (its gradient is ``A``)."""
    return Objective(lambda c: c.act(layer).pow(2).mean(), (layer,), f"{layer}²")


def feature_match(layer: str, target: torch.Tensor) -> Objective:
    """Feature inversion: ``-||A(x) - A(x0)||² / ||A(x0)||²`` (maximising it matches the target features)."""
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a tensor of features, got {type(target).__name__}")
    target = target.detach()
    norm = target.pow(2).sum().clamp_min(1e-12)

    def fn(c: Context) -> torch.Tensor:
        a = c.act(layer)
        if a.shape != target.shape:
            raise ValueError(f"features of {layer!r} have shape {tuple(a.shape)}, the target {tuple(target.shape)}; "
                             f"use an image of the same size as the original")
        return -(a - target.to(a.device)).pow(2).sum() / norm

    return Objective(fn, (layer,), f"match {layer}")


def guided(layer: str, guide_features: torch.Tensor, match: str = "mean") -> Objective:
    """Guided DeepDream: move the layer's features towards a guide image's features.

    ``match="mean"`` (default): ``mean_i <a_i, g_mean> / ||g_mean||``, the projection of every position's
    feature vector ``a_i`` on the guide's average feature - smooth, and it borrows the guide's overall look.
    ``match="best"``: ``mean_i max_j <a_i, g_j>``, each position towards the guide feature it already matches
    best (Mordvintsev's variant; piecewise linear, so it needs small steps).

    Args:
        layer: the layer (same as the dream's).
        guide_features: ``(1, C, H, W)`` activations of the guide image at ``layer``.
        match: ``"mean"`` or ``"best"``.
    """
    if not isinstance(guide_features, torch.Tensor) or guide_features.dim() != 4:
        raise TypeError("guide_features must be a (1, C, H, W) tensor of the guide image's activations")
    if match not in ("mean", "best"):
        raise ValueError(f"match must be 'mean' or 'best', got {match!r}")
    g = guide_features.detach().flatten(2)[0]  # (C, Hg*Wg)
    direction = g.mean(dim=1)
    direction = direction / direction.norm().clamp_min(1e-12)

    def fn(c: Context) -> torch.Tensor:
        a = c.act(layer)
        if a.shape[1] != g.shape[0]:
            raise ValueError(f"guide has {g.shape[0]} channels, layer {layer!r} has {a.shape[1]}")
        flat = a.flatten(2)  # (N, C, H*W)
        if match == "mean":
            return torch.einsum("nci,c->ni", flat, direction.to(a.device)).mean(dim=1).sum()
        dots = torch.einsum("nci,cj->nij", flat, g.to(a.device))
        return dots.max(dim=2).values.mean(dim=1).sum()

    return Objective(fn, (layer,), f"guided {layer}")
