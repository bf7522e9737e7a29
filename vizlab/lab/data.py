"""A planted shortcut: procedural shapes with a coloured mark that gives the class away, and evidence masks.

Each image is one of vizlab's shapes (:func:`vizlab.inside.make_shapes`) with a small square *mark* painted on
it. In the training set the mark's colour names the class (:class:`Cue`: one colour per class, at a fixed corner
or anywhere), so a network can get every label right without looking at the shape. Test sets come from the
same seed with the same shapes, colours and positions, and differ only in the mark (``mode``):

- ``"match"``: the mark of the image's own class (like training);
- ``"none"``: no mark (what the shape alone tells);
- ``"swap"``: the mark of another class, chosen at random (the cue now lies);
- ``"random"``: the mark of a random class (the cue says nothing; used to train a model that cannot rely on it).

Every image carries its evidence masks: ``extra["mask"]`` the shape's pixels (minus any the mark covers) and
``extra["cue_mask"]`` the mark's pixels, both ``bool`` ``(N, H, W)``; ``extra["cue"]`` is the class the mark
stands for (``-1``: no mark).

Example:
    >>> train = make_shortcut(60, seed=0)
    >>> bool((train.extra["cue"] == train.labels).all()), tuple(train.extra["cue_mask"].shape)
    (True, (60, 32, 32))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._validate import check_int, seeded_rng
from ..inside.datasets import ImageSet
from ..inside.shapes import COLOURS, SHAPES, make_shapes

#: Where the mark may sit: a fixed corner (2 pixels in from both edges) or anywhere (per image).
PLACES = ("top-left", "top-right", "bottom-left", "bottom-right", "anywhere")
MODES = ("match", "none", "swap", "random")
#: The four classes of the lab (a 4-way task learns in seconds on a CPU and leaves chance at 25 %).
LAB_SHAPES = ("circle", "square", "triangle", "cross")
#: Offset of a corner mark from both edges, in pixels.
MARGIN = 2


@dataclass(frozen=True)
class Cue:
    """The planted cue: a ``size`` x ``size`` mark whose colour ``colours[k]`` stands for class ``k``.

    Args:
        colours: one colour name of :data:`vizlab.inside.shapes.COLOURS` per class, all different.
        place: one of :data:`PLACES`.
        size: side of the mark in pixels.
    """

    colours: tuple[str, ...] = ("red", "green", "blue", "yellow")
    place: str = "top-left"
    size: int = 4

    def __post_init__(self) -> None:
        if isinstance(self.colours, str) or not isinstance(self.colours, (tuple, list)):
            raise TypeError(f"colours must be a tuple of colour names, got {type(self.colours).__name__}")
        object.__setattr__(self, "colours", tuple(self.colours))
        unknown = [c for c in self.colours if c not in COLOURS]
        if unknown or len(set(self.colours)) != len(self.colours) or len(self.colours) < 2:
            raise ValueError(f"colours must be at least two different names of {list(COLOURS)}, got {self.colours}")
        if self.place not in PLACES:
            raise ValueError(f"place must be one of {PLACES}, got {self.place!r}")
        check_int("size", self.size, 1)

    def corner(self, image_size: int) -> tuple[int, int] | None:
        """``(row, col)`` of the mark's top-left pixel for a fixed place; ``None`` for ``"anywhere"``."""
        far = image_size - MARGIN - self.size
        return {"top-left": (MARGIN, MARGIN), "top-right": (MARGIN, far), "bottom-left": (far, MARGIN),
                "bottom-right": (far, far)}.get(self.place)

    def centre(self, image_size: int) -> tuple[float, float] | None:
        """``(row, col)`` of the mark's centre in pixel coordinates (``None`` for ``"anywhere"``)."""
        corner = self.corner(image_size)
        return None if corner is None else (corner[0] + (self.size - 1) / 2, corner[1] + (self.size - 1) / 2)


def class_shapes(k: int) -> list[str]:
    """The ``k`` class names for a cue with ``k`` colours: the first of :data:`LAB_SHAPES`, then of ``SHAPES``."""
    k = check_int("k", k, 2)
    names = list(LAB_SHAPES) + [s for s in SHAPES if s not in LAB_SHAPES]
    if k > len(names):
        raise ValueError(f"at most {len(names)} classes, got k={k}")
    return names[:k]


def make_shortcut(n: int = 1200, size: int = 32, *, seed: int = 0, cue: Cue | None = None, mode: str = "match",
                  shapes=None, noise: float = 0.04) -> ImageSet:
    """``n`` shape images with a planted cue and evidence masks (see the module docstring).

    The same ``seed`` gives the same shapes, colours, noise and mark positions in every ``mode``, so
    ``make_shortcut(..., mode="none")`` is the training distribution with the cue erased, image for image.

    Args:
        n: number of images; size: side in pixels (at least 16).
        seed: seed of the private random generators.
        cue: the :class:`Cue` (default ``Cue()``: red, green, blue, yellow at the top left); its number of
            colours must equal the number of ``shapes``.
        mode: one of :data:`MODES`.
        shapes: the classes (names of :data:`vizlab.inside.shapes.SHAPES`; default :func:`class_shapes`).
        noise: pixel noise of the background (and of the mark).

    Returns:
        An :class:`~vizlab.inside.ImageSet` with ``extra["mask"]``, ``extra["cue_mask"]`` (``bool`` ``(N, H, W)``),
        ``extra["cue"]`` and ``extra["colour"]`` (the shape's colour).
    """
    cue = Cue() if cue is None else cue
    if not isinstance(cue, Cue):
        raise TypeError(f"cue must be a vizlab.lab.Cue, got {type(cue).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    shapes = class_shapes(len(cue.colours)) if shapes is None else list(shapes)
    if len(cue.colours) != len(shapes):
        raise ValueError(f"cue has {len(cue.colours)} colours but there are {len(shapes)} classes {shapes}; "
                         "give one colour per class")
    size = check_int("size", size, 16)
    if cue.size > size - 2 * MARGIN:
        raise ValueError(f"cue.size={cue.size} does not fit a {size}-pixel image")
    base = make_shapes(n, size, seed=seed, shapes=shapes, noise=noise, masks=True)
    k = len(shapes)
    # The cue's own random stream, drawn the same way in every mode (paired images).
    rng = seeded_rng(seed, 28)
    other = (base.labels.numpy() + rng.integers(1, k, size=n)) % k
    random_class = rng.integers(0, k, size=n)
    where = rng.integers(0, size - cue.size + 1, size=(n, 2))
    jitter = rng.normal(0, noise, size=(n, 3, cue.size, cue.size))
    fixed = cue.corner(size)
    if fixed is not None:
        where[:] = fixed
    labels = base.labels.numpy()
    cue_class = {"match": labels, "none": np.full(n, -1), "swap": other, "random": random_class}[mode]
    images = base.images.numpy().copy()
    palette = np.array([COLOURS[c] for c in cue.colours], dtype=np.float32)
    rgb = np.where(cue_class[:, None] >= 0, palette[np.maximum(cue_class, 0)], np.nan)
    cue_mask = paint_marks(images, rgb, where, jitter)
    shape_mask = base.extra["mask"].numpy() & ~cue_mask
    extra = {"mask": torch.from_numpy(shape_mask), "cue_mask": torch.from_numpy(cue_mask),
             "cue": torch.from_numpy(cue_class.astype(np.int64)), "colour": base.extra["colour"]}
    return ImageSet(torch.from_numpy(images), base.labels, shapes,
                    f"shapes with a {cue.place} cue ({mode}; {n} images, {size}x{size})", extra=extra,
                    extra_names={"colour": list(COLOURS), "cue": list(cue.colours)})


def paint_marks(images: np.ndarray, rgb: np.ndarray, where: np.ndarray, jitter: np.ndarray) -> np.ndarray:
    """Paint one square mark per image, as the lab's datasets draw the cue; returns the marks' ``bool`` masks.

    Args:
        images: ``uint8`` ``(N, 3, H, W)``, changed in place.
        rgb: ``(N, 3)`` colours in ``[0, 1]``; a row of NaN leaves its image without a mark.
        where: ``(N, 2)`` row and column of each mark's top-left pixel.
        jitter: ``(N, 3, s, s)`` noise added to the colour; ``s`` is the mark's side.
    """
    n, _, height, width = images.shape
    s = jitter.shape[-1]
    mask = np.zeros((n, height, width), dtype=bool)
    for i in range(n):
        if np.isnan(rgb[i]).any():
            continue
        r, c = where[i]
        patch = np.clip(np.asarray(rgb[i], dtype=np.float32)[:, None, None] + jitter[i], 0, 1)
        images[i, :, r:r + s, c:c + s] = (patch * 255 + 0.5).astype(np.uint8)
        mask[i, r:r + s, c:c + s] = True
    return mask


def paired_sets(n: int = 300, size: int = 32, *, seed: int = 1, cue: Cue | None = None,
                shapes=None) -> dict[str, ImageSet]:
    """The three paired test sets ``{"match", "none", "swap"}``: the same images with the cue, without it, lying."""
    cue = Cue() if cue is None else cue
    shapes = class_shapes(len(cue.colours)) if shapes is None else shapes
    return {mode: make_shortcut(n, size, seed=seed, cue=cue, mode=mode, shapes=shapes)
            for mode in ("match", "none", "swap")}


__all__ = ["Cue", "PLACES", "MODES", "LAB_SHAPES", "MARGIN", "make_shortcut", "paint_marks", "paired_sets", "class_shapes",
           "SHAPES"]
