"""Boxes around things the lecture points at (faces, text), and how strongly one channel prefers a box.

"This deep channel fires on faces" is a claim about *where* a channel is active. :func:`box_contrast`
measures it: the channel's mean activation inside a box divided by its mean activation outside it.
:func:`box_channels` ranks a layer's channels by the smallest such ratio over several images, so the chosen
channel prefers the box on every image, not on one by chance.

Boxes are ``(top, bottom, left, right)`` as fractions of the square, centre-cropped image that models see
(``sample_image(name, size)``), so they hold at any size.

Example:
    >>> image, box = text_composite(224)
    >>> box_pixels(box, 224)
    (112, 224, 0, 224)
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_int

Box = tuple[float, float, float, float]

#: Faces in the sample photos (square centre crops), read off the pictures: skin from hairline to chin.
FACE_BOXES: dict[str, Box] = {
    "astronaut": (18 / 224, 82 / 224, 72 / 224, 128 / 224),
    "grace_hopper": (50 / 224, 128 / 224, 70 / 224, 156 / 224),
}


def box_pixels(box: Box, size: int | tuple[int, int]) -> tuple[int, int, int, int]:
    """A fractional box as integer pixel bounds ``(top, bottom, left, right)`` on an image of ``size``."""
    h, w = (size, size) if isinstance(size, int) else size
    top, bottom, left, right = _check_box(box)
    return round(top * h), round(bottom * h), round(left * w), round(right * w)


def _check_box(box) -> Box:
    try:
        top, bottom, left, right = (float(v) for v in box)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"box must be four numbers (top, bottom, left, right), got {box!r}") from exc
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1) or (bottom - top) * (right - left) >= 1:
        raise ValueError(f"box must be fractions 0 <= top < bottom <= 1, 0 <= left < right <= 1, and leave part of "
                         f"the image outside; got {box!r}")
    return top, bottom, left, right


def box_mask(box: Box, size: tuple[int, int]) -> torch.Tensor:
    """Fraction of each cell of an ``(h, w)`` grid covered by the box (area weights in ``[0, 1]``)."""
    top, bottom, left, right = _check_box(box)
    h, w = size
    ys = torch.linspace(0, 1, h + 1)
    xs = torch.linspace(0, 1, w + 1)
    cover_y = (torch.minimum(ys[1:], torch.tensor(bottom)) - torch.maximum(ys[:-1], torch.tensor(top))).clamp(min=0) * h
    cover_x = (torch.minimum(xs[1:], torch.tensor(right)) - torch.maximum(xs[:-1], torch.tensor(left))).clamp(min=0) * w
    return cover_y[:, None] * cover_x[None, :]


def box_contrast(maps: torch.Tensor, box: Box, eps: float = 1e-6) -> torch.Tensor:
    """Mean activation inside the box over mean activation outside it, per channel.

    Args:
        maps: one image's activations ``(C, h, w)`` or ``(1, C, h, w)`` (after a ReLU: non-negative).
        box: fractional ``(top, bottom, left, right)``; each map cell counts by the share of it inside the box.
        eps: added to the outside mean, so a channel silent outside gets a large finite ratio.

    Returns:
        ``(C,)`` ratios; 1 means no preference, 3 means three times as active inside.
    """
    a = maps[0] if maps.dim() == 4 else maps
    if a.dim() != 3:
        raise ValueError(f"maps must be (C, h, w) or (1, C, h, w), got shape {tuple(maps.shape)}")
    a = a.detach().float().cpu()
    inside = box_mask(box, tuple(a.shape[-2:]))
    outside = 1 - inside
    mean_in = (a * inside).sum((1, 2)) / inside.sum()
    mean_out = (a * outside).sum((1, 2)) / outside.sum()
    return mean_in / (mean_out + eps)


def box_channels(model: nn.Module, images: Sequence, boxes: Sequence[Box], layer: str, *, n: int = 5,
                 min_activation: float = 0.05) -> list[tuple[int, float]]:
    """The ``n`` channels of ``layer`` that prefer the boxes most: ``[(channel, worst ratio), ...]``.

    A channel's score is its smallest :func:`box_contrast` over the images, so it must prefer the box on every
    image. Channels whose mean activation inside the boxes is below ``min_activation`` times the layer's
    largest such mean are skipped: a near-silent channel can have a large ratio of two tiny numbers.
    """
    from .activations import feature_maps

    if len(images) != len(boxes) or len(boxes) == 0:
        raise ValueError(f"images and boxes must be non-empty and of equal length, got {len(images)} and {len(boxes)}")
    maps = feature_maps(model, images if isinstance(images, torch.Tensor) else list(images), layer)[layer]
    ratios = torch.stack([box_contrast(maps[i], b) for i, b in enumerate(boxes)])
    strength = torch.stack([(maps[i] * box_mask(b, tuple(maps.shape[-2:]))).sum((1, 2)) / box_mask(
        b, tuple(maps.shape[-2:])).sum() for i, b in enumerate(boxes)]).min(0).values
    worst = ratios.min(0).values.masked_fill(strength < min_activation * float(strength.max()), 0.0)
    order = worst.argsort(descending=True)[:n]
    return [(int(c), float(worst[c])) for c in order]


def text_composite(size: int = 224, photo: str = "temple", text: str = "page") -> tuple[np.ndarray, Box]:
    """A photo in the top half and printed text (scikit-image's ``page`` or ``text``) in the bottom half.

    Returns ``(image, box)``: the ``(size, size, 3)`` image in ``[0, 1]`` and the fractional box of the text.
    The two halves make "does this channel fire on text?" measurable: the text lies inside the box only.
    """
    import skimage.data

    from ..images import as_float_image, resize, sample_image

    if text not in ("page", "text"):
        raise ValueError(f"text must be 'page' or 'text' (scikit-image pictures), got {text!r}")
    size = check_int("size", size, 32)
    half = size // 2
    top = resize(sample_image(photo), (half, size))
    page = as_float_image(np.asarray(getattr(skimage.data, text)()))
    if text == "page":
        page = page[28:185, 5:380]  # the printed lines, without the empty margin and the code line's rule
    bottom = resize(page, (size - half, size))
    return np.concatenate([top, bottom], axis=0).astype(np.float32), (half / size, 1.0, 0.0, 1.0)


def typical_channels(maps: torch.Tensor, n: int = 16) -> list[int]:
    """``n`` channels that together look like the layer: a sample spread evenly over its channels' sparsity.

    Channels are sorted by their fraction of zeros and the ones at the quantiles ``(i + 0.5) / n`` are taken,
    so the middle ones have the median sparsity and the grid as a whole has about the layer's share of zeros
    (the ``n`` *most active* channels would make a sparse layer look dense). Returned from sparsest to densest.
    ``maps``: ``(C, h, w)`` or ``(1, C, h, w)``.
    """
    a = maps[0] if maps.dim() == 4 else maps
    if a.dim() != 3:
        raise ValueError(f"maps must be (C, h, w) or (1, C, h, w), got shape {tuple(maps.shape)}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= a.shape[0]:
        raise ValueError(f"n must be an int in 1..{a.shape[0]}, got {n!r}")
    zeros = (a <= 0).float().flatten(1).mean(1)
    # Ties (e.g. many channels with no zeros) are broken by activity, so the pick is deterministic.
    order = sorted(range(a.shape[0]), key=lambda c: (-float(zeros[c]), -float(a[c].mean())))
    picks = [order[int((i + 0.5) * a.shape[0] / n)] for i in range(n)]
    return picks


def sparsity_of(maps: torch.Tensor, channels: Sequence[int] | None = None) -> float:
    """Fraction of zeros (``<= 0``) in one activation, over all channels or the given ones."""
    a = maps[0] if maps.dim() == 4 else maps
    if channels is not None:
        a = a[list(channels)]
    return float((a <= 0).float().mean())


__all__ = ["FACE_BOXES", "box_pixels", "box_mask", "box_contrast", "box_channels", "text_composite",
           "typical_channels", "sparsity_of"]
