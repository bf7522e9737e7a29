"""Random transforms applied to the image before the model sees it (transformation robustness).

An image that excites the model only at one exact pixel alignment is full of high-frequency tricks;
asking it to work under small random shifts, scalings and rotations removes most of them. Each transform is
differentiable and takes the image and a ``random.Random`` (the render loop's seeded generator), and they
compose: ``compose(pad(8), jitter(8), scale((0.95, 1.05)), rotate(range(-5, 6)))``.

:class:`Jitter` is CS231n's: a circular ``torch.roll`` by ``(dy, dx)`` drawn from ``0..pixels``. A roll is a
permutation of pixels, so it is undone exactly (:meth:`Jitter.undo`), and the gradient that flows back through
it lands on the unshifted pixels: optimizing through the transform is the same as CS231n's
jitter-in-place, step, unjitter-in-place.
"""
from __future__ import annotations

import math
import random
from typing import Sequence

import torch
import torch.nn.functional as F

from .._validate import check_int, check_number


class Transform:
    """Base class: ``t(x, rng) -> x'`` for a ``(N, C, H, W)`` tensor."""

    def __call__(self, x: torch.Tensor, rng: random.Random) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def roll(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Circular shift by ``dy`` rows and ``dx`` columns (``roll(roll(x, dy, dx), -dy, -dx) == x`` exactly)."""
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))


class Jitter(Transform):
    """CS231n jitter: roll by ``(dy, dx)``, each drawn uniformly from ``0..pixels``; :meth:`undo` inverts it."""

    def __init__(self, pixels: int = 16):
        self.pixels = check_int("pixels", pixels, 0)
        self.last: tuple[int, int] = (0, 0)

    def __call__(self, x, rng):
        if self.pixels == 0:
            self.last = (0, 0)
            return x
        dx, dy = rng.randint(0, self.pixels), rng.randint(0, self.pixels)
        self.last = (dy, dx)
        return roll(x, dy, dx)

    def undo(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the last shift exactly."""
        dy, dx = self.last
        return roll(x, -dy, -dx)


class Pad(Transform):
    """Pad by ``pixels`` on every side (``mode="constant"`` with ``value``, or ``"reflect"``)."""

    def __init__(self, pixels: int = 8, mode: str = "constant", value: float = 0.5):
        self.pixels = check_int("pixels", pixels, 0)
        if mode not in ("constant", "reflect", "replicate"):
            raise ValueError(f"mode must be 'constant', 'reflect' or 'replicate', got {mode!r}")
        self.mode, self.value = mode, check_number("value", value, None)

    def __call__(self, x, rng):
        if self.pixels == 0:
            return x
        p = (self.pixels,) * 4
        return F.pad(x, p, mode=self.mode, value=self.value) if self.mode == "constant" else F.pad(x, p, mode=self.mode)


class Scale(Transform):
    """Resize by a factor drawn from ``factors`` (bilinear)."""

    def __init__(self, factors: Sequence[float] = (0.95, 1.0, 1.05)):
        factors = tuple(float(f) for f in factors)
        if not factors or min(factors) <= 0:
            raise ValueError(f"factors must be positive numbers, got {factors!r}")
        self.factors = factors

    def __call__(self, x, rng):
        f = rng.choice(self.factors)
        if f == 1.0:
            return x
        h, w = x.shape[-2:]
        size = (max(8, round(h * f)), max(8, round(w * f)))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class Rotate(Transform):
    """Rotate about the centre by an angle (degrees) drawn from ``degrees``; corners are filled by reflection."""

    def __init__(self, degrees: Sequence[float] = (-5, 0, 5)):
        degrees = tuple(float(d) for d in degrees)
        if not degrees:
            raise ValueError("degrees must contain at least one angle")
        self.degrees = degrees

    def __call__(self, x, rng):
        angle = math.radians(rng.choice(self.degrees))
        if angle == 0.0:
            return x
        cos, sin = math.cos(angle), math.sin(angle)
        theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=x.dtype, device=x.device)
        grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


class Crop(Transform):
    """A random square crop, resized to ``size`` (input diversity): its side is a fraction of the image's side drawn
    uniformly from ``[smallest, 1]``, its corner uniformly where it fits; ``size=None`` keeps the input's side.

    A smaller ``size`` also makes each step cheaper: the model sees fewer pixels.
    """

    def __init__(self, smallest: float = 1.0, size: int | None = None):
        smallest = check_number("smallest", smallest, 0, 1, low_open=True)
        if size is not None:
            size = check_int("size", size, 8)
        self.smallest, self.size = smallest, size

    def __call__(self, x, rng):
        h, w = x.shape[-2:]
        frac = rng.uniform(self.smallest, 1.0)
        side = max(8, min(h, w, round(min(h, w) * frac)))
        top, left = rng.randint(0, h - side), rng.randint(0, w - side)
        x = x[..., top:top + side, left:left + side]
        out = self.size or min(h, w)
        if side == out:
            return x
        return F.interpolate(x, size=(out, out), mode="bilinear", align_corners=False, antialias=side > out)


class Compose(Transform):
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]):
        for t in transforms:
            if not callable(t):
                raise TypeError(f"every transform must be callable, got {type(t).__name__}")
        self.transforms = list(transforms)

    def __call__(self, x, rng):
        for t in self.transforms:
            x = t(x, rng)
        return x

    def at_step(self, step: int, total: int) -> None:
        """Tell every scheduled member (one with ``at_step``, e.g. :class:`Shrinking`) where the run is."""
        for t in self.transforms:
            if hasattr(t, "at_step"):
                t.at_step(step, total)


class Shrinking(Transform):
    """Pad, jitter, scale, rotate and jitter again, with ranges that shrink over the run: from ``start`` at the
    first step linearly to ``end`` at the last, each a ``(jitter pixels, scale half-width, degrees)`` triple. The
    scale factor is drawn uniformly from ``[1 - a, 1 + a]``, the angle from ``[-d, d]``, the shifts as
    :class:`Jitter`'s (the second jitter half as far, at least 1 pixel). The constant padding does not shrink: it
    stays the larger of the two jitters throughout. Large changes early make the coarse shape robust, small ones
    late let the detail settle (issue 24, lever 3). :func:`~vizlab.optimize.render.render` calls
    :meth:`at_step` before every step; before any call the ranges are ``start``'s.
    """

    def __init__(self, start: Sequence[float] = (16, 0.25, 20.0), end: Sequence[float] = (8, 0.1, 10.0),
                 pad_value: float = 0.5):
        triples = []
        for name, triple in (("start", start), ("end", end)):
            if isinstance(triple, (str, bytes)) or not hasattr(triple, "__iter__"):
                raise TypeError(f"{name} must be a (jitter pixels, scale half-width, degrees) triple, got "
                                f"{type(triple).__name__} {triple!r}")
            triples.append(tuple(triple))
        start, end = triples
        for name, triple in (("start", start), ("end", end)):
            if len(triple) != 3:
                raise ValueError(f"{name} must be (jitter pixels, scale half-width, degrees), got {triple!r}")
            check_int(f"{name}'s jitter", triple[0], 0)
            check_number(f"{name}'s scale half-width", triple[1], 0, 1, high_open=True)
            check_number(f"{name}'s degrees", triple[2], 0, 180)
        self.start, self.end = start, end
        self.pad = Pad(int(max(start[0], end[0])), "constant", check_number("pad_value", pad_value, None))
        self.progress = 0.0

    def at_step(self, step: int, total: int) -> None:
        """Set the ranges for step ``step`` (0-based) of a ``total``-step run."""
        self.progress = min(1.0, max(0.0, step / max(1, total - 1)))

    def ranges(self) -> tuple[int, float, float]:
        """The current ``(jitter pixels, scale half-width, degrees)``."""
        u = self.progress
        j, a, d = (s + (e - s) * u for s, e in zip(self.start, self.end))
        return round(j), a, d

    def __call__(self, x, rng):
        j, a, d = self.ranges()
        x = Jitter(j)(self.pad(x, rng), rng)
        x = Scale((rng.uniform(1 - a, 1 + a),))(x, rng)
        x = Rotate((rng.uniform(-d, d),))(x, rng)
        return Jitter(max(1, j // 2))(x, rng)


def jitter(pixels: int = 16) -> Jitter:
    return Jitter(pixels)


def pad(pixels: int = 8, mode: str = "constant", value: float = 0.5) -> Pad:
    return Pad(pixels, mode, value)


def scale(factors: Sequence[float] = (0.95, 1.0, 1.05)) -> Scale:
    return Scale(factors)


def rotate(degrees: Sequence[float] = (-5, 0, 5)) -> Rotate:
    return Rotate(degrees)


def compose(*transforms: Transform) -> Compose:
    return Compose(transforms)


def standard(jitter_px: int = 8) -> Compose:
    """The robust set used by the high-quality mode: pad, jitter, scale, rotate, a little more jitter."""
    return compose(pad(jitter_px), jitter(jitter_px), scale((0.9, 0.95, 1.0, 1.05, 1.1)),
                   rotate(tuple(range(-10, 11, 2))), jitter(max(1, jitter_px // 2)))


def strong(jitter_px: int = 16) -> Compose:
    """A harsher robust set: pad, jitter, scale 0.75-1.25, rotate up to 20 degrees, jitter again.

    The image must keep its class under larger changes of size and angle than :func:`standard`'s, which favours
    whole objects over patterns tied to one position and scale.
    """
    return compose(pad(jitter_px), jitter(jitter_px), scale(tuple(0.75 + 0.05 * i for i in range(11))),
                   rotate(tuple(range(-20, 21, 4))), jitter(max(1, jitter_px // 2)))


def shrinking(jitter_px: int = 16) -> Shrinking:
    """:func:`strong`'s ranges at the first step (jitter ``jitter_px``, scale 0.75-1.25, 20 degrees) shrinking
    linearly to the ranges of :func:`standard` at the last (jitter half as far, scale 0.9-1.1, 10 degrees). Not
    :func:`standard` itself at the end: scale and angle are drawn from continuous ranges (standard picks from 5
    scales and 11 angles), and the padding stays ``jitter_px`` wide (:class:`Shrinking`)."""
    jitter_px = check_int("jitter_px", jitter_px, 0)
    return Shrinking((jitter_px, 0.25, 20.0), (jitter_px // 2, 0.1, 10.0))


class Backdrop(Transform):
    """Put a random ground behind a windowed image: ``x + (1 - mask) * (colour - ground)`` with a fresh uniform
    random colour per step (for :func:`~vizlab.optimize.params.windowed`, whose image is
    ``mask * x + (1 - mask) * ground``). The object then has to carry the class on any ground, not the
    ground itself (as in the Distill "Differentiable image parameterizations" article's random backgrounds)."""

    def __init__(self, mask: torch.Tensor, ground: float = 0.5):
        if not isinstance(mask, torch.Tensor) or mask.dim() != 4 or mask.shape[:2] != (1, 1):
            raise TypeError("mask must be a (1, 1, H, W) tensor")
        self.mask, self.ground = mask, float(ground)

    def __call__(self, x, rng):
        colour = torch.tensor([rng.random() for _ in range(3)], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return x + (1 - self.mask.to(x.device, x.dtype)) * (colour - self.ground)


class ZoomOut(Transform):
    """Add a zoomed-out copy of each image to the batch: the image shrunk to a fraction of its side drawn
    uniformly from ``[smallest, largest]``, placed in the middle of a frame of the same side whose border repeats
    the shrunk image's edge pixels (the ground around a windowed object). Output: ``(2N, C, H, W)``, the images
    first, their zoomed-out copies after (``keep=False``: only the zoomed-out copies, ``(N, C, H, W)``).

    The objective (summed over the batch) then asks the image to show the class both as seen and small, in the
    middle of a wider frame: a part that fills the view (a head, a muzzle, a lens) scores at one scale, the whole
    object at both (issue 24, round 14).
    """

    def __init__(self, smallest: float = 0.45, largest: float = 0.6, keep: bool = True):
        if not isinstance(keep, bool):
            raise TypeError(f"keep must be a bool, got {type(keep).__name__}")
        self.keep = keep
        smallest = check_number("smallest", smallest, 0, 1, low_open=True, high_open=True)
        largest = check_number("largest", largest, 0, 1, low_open=True, high_open=True)
        if smallest > largest:
            raise ValueError(f"smallest must be <= largest, got smallest={smallest}, largest={largest}")
        self.smallest, self.largest = smallest, largest

    def __call__(self, x, rng):
        h, w = x.shape[-2:]
        frac = rng.uniform(self.smallest, self.largest)
        sh, sw = max(8, round(h * frac)), max(8, round(w * frac))
        small = F.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False, antialias=True)
        top, left = (h - sh) // 2, (w - sw) // 2
        framed = F.pad(small, (left, w - sw - left, top, h - sh - top), mode="replicate")
        return torch.cat([x, framed]) if self.keep else framed
