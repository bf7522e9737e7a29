"""Maximally activating patches: which parts of which images drive one channel of a layer the most.

For a layer and channel, :func:`top_units` finds the ``k`` strongest activations over an image set (by
default the strongest location of each image, so that ``k`` different images show up), and
:func:`patches_for` cuts out the exact input window each of those units sees, computed from the layer's
receptive field (:mod:`vizlab.inside.receptive_field`).

Borders: a unit near the image border has a field that reaches into the padding. Its patch is *clipped*
to the image (``Patch.pixels`` is smaller than the field); ``Patch.padded`` puts the clipped pixels at their
place inside a field-sized canvas filled with gray (0.5), so every patch of a layer has the same size and
the unit sits at the centre. Deep layers of a big network have fields larger than the whole image: their
patch is the whole image inside a gray frame.

Example:
    >>> patches = max_activating_patches(model, crops, "block3", channels=[0, 1], k=6)   # doctest: +SKIP
    >>> fig = patch_grid(patches)                                                         # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from .datasets import ImageSet
from .features import extract_features, resize_batch
from .receptive_field import ReceptiveField, receptive_field
from ..plotting import LABEL_SIZE, TITLE_SIZE, subplots
from .._validate import check_int, check_number, seeded_generator

PAD_VALUE = 0.5


@dataclass
class Patch:
    """One maximally activating unit and the input it sees.

    Attributes:
        image_index: index into the image set.
        unit: ``(i, j)`` location in the layer's feature map.
        value: the activation.
        box: the window in the (resized) image, half-open ``(y0, y1, x0, x1)``, clipped to the image.
        pixels: the clipped window, ``(h, w, 3)`` float in ``[0, 1]``.
        padded: the window at full field size, the part outside the image filled with gray.
    """

    image_index: int
    unit: tuple[int, int]
    value: float
    box: tuple[int, int, int, int]
    pixels: np.ndarray
    padded: np.ndarray


def top_units(activations: torch.Tensor, channel: int, k: int = 8, *, one_per_image: bool = True,
              allowed: torch.Tensor | None = None, field: ReceptiveField | None = None,
              max_overlap: float | None = None, sources: torch.Tensor | None = None
              ) -> list[tuple[int, int, int, float]]:
    """The ``k`` largest activations of one channel: ``[(image, i, j, value), ...]``, strongest first.

    Args:
        activations: spatial activations ``(N, C, h, w)`` of one layer over an image set.
        channel: which channel.
        k: how many.
        one_per_image: keep only each image's strongest location, so that ``k`` different images appear.
        allowed: optional boolean mask ``(h, w)`` of the locations that may be picked (see :func:`full_field_mask`).
        field, max_overlap: suppress overlapping windows instead (``one_per_image`` is then ignored): go down
            the activations from the strongest and keep a unit only if its field overlaps every kept field of
            the same image by at most ``max_overlap`` (intersection over union; 0: no overlap at all). So an
            image can give several patches, but each region of it at most one.
        sources: with ``max_overlap``, an ``(N,)`` id per image of the photo it shows (crops of one photo share
            it): once a patch is kept from one image, other images of the same source give none, since their
            windows may show the same region at another scale.
    """
    if not isinstance(activations, torch.Tensor) or activations.dim() != 4:
        shape = tuple(activations.shape) if isinstance(activations, torch.Tensor) else type(activations).__name__
        raise ValueError(f"activations must be spatial (N, C, h, w), got {shape}; use pool=None")
    n, c, h, w = activations.shape
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < c:
        raise ValueError(f"channel must be an int in 0..{c - 1}, got {channel!r}")
    k = check_int("k", k)
    maps = activations[:, int(channel)].reshape(n, h * w).float()
    if allowed is not None:
        if tuple(allowed.shape) != (h, w) or not bool(allowed.any()):
            raise ValueError(f"allowed must be a boolean mask of shape {(h, w)} with at least one True entry")
        maps = maps.masked_fill(~allowed.reshape(1, h * w).to(maps.device), float("-inf"))
    if max_overlap is not None:
        if field is None:
            raise ValueError("max_overlap needs the layer's receptive field (field=receptive_field(...))")
        max_overlap = check_number("max_overlap", max_overlap, 0, 1, high_open=True)
        return _suppressed(maps, k, field, max_overlap, w, sources)
    if one_per_image:
        best, where = maps.max(dim=1)
        order = best.argsort(descending=True)[:k]
        return [(int(i), int(where[i]) // w, int(where[i]) % w, float(best[i])) for i in order]
    flat = maps.flatten()
    values, idx = flat.topk(min(k, flat.numel()))
    return [(int(f) // (h * w), (int(f) % (h * w)) // w, int(f) % w, float(v)) for v, f in zip(values, idx)]


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    dy = min(a[1], b[1]) - max(a[0], b[0])
    dx = min(a[3], b[3]) - max(a[2], b[2])
    if dy <= 0 or dx <= 0:
        return 0.0
    inter = dy * dx
    return inter / ((a[1] - a[0]) * (a[3] - a[2]) + (b[1] - b[0]) * (b[3] - b[2]) - inter)


def _suppressed(maps: torch.Tensor, k: int, field: ReceptiveField, max_overlap: float, w: int,
                sources: torch.Tensor | None = None) -> list[tuple[int, int, int, float]]:
    """Greedy suppression of overlapping windows over the flattened ``(N, h*w)`` maps of one channel."""
    if sources is not None and len(sources) != maps.shape[0]:
        raise ValueError(f"sources has {len(sources)} entries for {maps.shape[0]} images")
    source_of = sources.tolist() if sources is not None else list(range(maps.shape[0]))
    flat = maps.flatten()
    finite = int(torch.isfinite(flat).sum())
    kept: list[tuple[int, int, int, float]] = []
    boxes: dict[int, list[tuple[int, int, int, int]]] = {}
    # Look at a growing number of candidates: most channels fill k from the first few dozen.
    for limit in (min(finite, 32 * k), finite):
        values, idx = flat.topk(limit)
        kept, boxes = [], {}
        image_of_source: dict[int, int] = {}
        for v, f in zip(values.tolist(), idx.tolist()):
            n, pos = divmod(int(f), maps.shape[1])
            i, j = divmod(pos, w)
            box = field.box(i, j, clip=True)
            if image_of_source.setdefault(source_of[n], n) != n:
                continue       # another image of this photo already gave a patch
            if all(_iou(box, other) <= max_overlap for other in boxes.get(n, [])):
                boxes.setdefault(n, []).append(box)
                kept.append((n, i, j, float(v)))
                if len(kept) == k:
                    return kept
    return kept


def full_field_mask(field: ReceptiveField) -> torch.Tensor:
    """Boolean ``(h, w)`` mask of the units whose whole receptive field lies inside the image (no padding)."""
    h, w = field.output_size
    rows = torch.tensor([field.box(i, 0, clip=False)[0] >= 0 and field.box(i, 0, clip=False)[1] <= field.input_size[0]
                         for i in range(h)])
    cols = torch.tensor([field.box(0, j, clip=False)[2] >= 0 and field.box(0, j, clip=False)[3] <= field.input_size[1]
                         for j in range(w)])
    return rows[:, None] & cols[None, :]


def _image_at(images: ImageSet, index: int, size: int | None) -> np.ndarray:
    x = resize_batch(images.batch([index]), size)[0]
    return x.permute(1, 2, 0).numpy()


def patch_at(image: np.ndarray, field: ReceptiveField, i: int, j: int, pad_value: float = PAD_VALUE):
    """``(box, clipped pixels, padded pixels)`` of unit ``(i, j)``'s field in ``image`` (``(H, W, 3)``)."""
    if tuple(image.shape[:2]) != tuple(field.input_size):
        raise ValueError(f"image is {image.shape[:2]} but the receptive field was computed for {field.input_size}")
    y0, y1, x0, x1 = field.box(i, j, clip=True)
    uy0, _, ux0, _ = field.box(i, j, clip=False)
    pixels = image[y0:y1, x0:x1]
    padded = np.full((*field.size, 3), pad_value, dtype=np.float32)
    padded[y0 - uy0:y1 - uy0, x0 - ux0:x1 - ux0] = pixels
    return (y0, y1, x0, x1), np.ascontiguousarray(pixels), padded


def patches_for(images: ImageSet, units: Sequence[tuple[int, int, int, float]], field: ReceptiveField,
                size: int | None = None) -> list[Patch]:
    """Cut out the input window of each unit ``(image, i, j, value)`` (see :func:`top_units`)."""
    out = []
    for index, i, j, value in units:
        box, pixels, padded = patch_at(_image_at(images, index, size), field, i, j)
        out.append(Patch(index, (i, j), value, box, pixels, padded))
    return out


def layer_activations(model: nn.Module, images: ImageSet, layer: str, *, size: int | None = None,
                      batch_size: int = 64, cache: bool = True, cache_folder=None,
                      progress: bool = True) -> torch.Tensor:
    """Spatial activations ``(N, C, h, w)`` of ``layer`` over the image set (cached, see ``extract_features``)."""
    acts = extract_features(model, images, layer, pool=None, size=size, batch_size=batch_size, cache=cache,
                            cache_folder=cache_folder, progress=progress)
    if acts.dim() != 4:
        raise ValueError(f"layer {layer!r} has no spatial output (shape {tuple(acts.shape)}); "
                         f"pick a convolutional layer")
    return acts


def max_activating_patches(model: nn.Module, images: ImageSet, layer: str, channels: int | Sequence[int] | None = None,
                           k: int = 8, *, size: int | None = None, one_per_image: bool = True,
                           full_fields: bool = False, max_overlap: float | None = None,
                           sources: torch.Tensor | None = None, cache: bool = True,
                           cache_folder=None, progress: bool = True,
                           activations: torch.Tensor | None = None) -> dict[int, list[Patch]]:
    """The ``k`` maximally activating patches of each channel: ``{channel: [Patch, ...]}``, strongest first.

    Args:
        model: a network taking ``[0, 1]`` images.
        images: the image set to search.
        layer: a spatial layer (friendly name or module path).
        channels: one channel, several, or ``None`` for the 8 channels with the largest peak activations.
        k: patches per channel.
        size: resize images to this side first (as the model then sees them).
        one_per_image: at most one patch per image.
        full_fields: only units whose whole field lies inside the image. Zero padding makes border units of
            many channels fire strongly; this keeps their half-gray patches out.
        max_overlap: instead of one patch per image, at most one per image *region*: windows of one image
            may overlap by at most this intersection over union (see :func:`top_units`).
        sources: with ``max_overlap``, the photo each image shows (``images.extra["source"]`` of
            :func:`~vizlab.inside.datasets.patch_pool`): at most one image per photo gives patches.
        cache, cache_folder: the feature cache (see :func:`~vizlab.inside.features.extract_features`).
        activations: reuse spatial activations computed before (skips the forward passes).
    """
    if activations is None:
        activations = layer_activations(model, images, layer, size=size, cache=cache, cache_folder=cache_folder,
                                        progress=progress)
    acts = activations
    if channels is None:
        channels = strongest_channels(acts, 8)
    elif isinstance(channels, (int, np.integer)) and not isinstance(channels, bool):
        channels = [int(channels)]
    side = size if size is not None else images.size
    field = receptive_field(model, layer, side)
    if field.output_size != tuple(acts.shape[-2:]):
        raise ValueError(f"layer {layer!r}: activations are {tuple(acts.shape[-2:])} but the receptive field walk "
                         f"found {field.output_size}")
    allowed = None
    if full_fields:
        allowed = full_field_mask(field)
        if not bool(allowed.any()):
            raise ValueError(f"full_fields=True, but no unit of {layer!r} has its whole {field.size[0]}-pixel field "
                             f"inside the {side}-pixel image; use full_fields=False or a larger size")
    return {int(c): patches_for(images, top_units(acts, int(c), k, one_per_image=one_per_image, allowed=allowed,
                                                  field=field, max_overlap=max_overlap, sources=sources),
                                field, size)
            for c in channels}


def channel_coherence(activations: torch.Tensor, k: int = 8, *, field: ReceptiveField | None = None,
                      max_overlap: float | None = None, sources: torch.Tensor | None = None,
                      allowed: torch.Tensor | None = None,
                      n_random: int = 256, seed: int = 0) -> torch.Tensor:
    """How alike each channel's top ``k`` patches are, beyond what any ``k`` random patches share: ``(C,)``.

    Each patch is described by the layer's whole feature vector at its unit, *without* the channel itself
    (every top patch has a large value there, which says nothing about their similarity otherwise). The
    coherence of channel ``c`` is the mean pairwise cosine similarity of its top patches' vectors minus the
    mean pairwise cosine similarity of ``n_random`` random units (from the allowed locations of random
    images), both with channel ``c`` left out. Near 0: a mixed bag; larger: the patches share features.

    Args:
        activations: ``(N, C, h, w)`` spatial activations of one layer over an image set.
        k, field, max_overlap, sources, allowed: which top units, as in :func:`top_units` (one per image by
            default).
        n_random: random units for the baseline.
        seed: for the random units.
    """
    if not isinstance(activations, torch.Tensor) or activations.dim() != 4:
        raise ValueError("activations must be spatial (N, C, h, w)")
    n, c, h, w = activations.shape
    acts = activations.float()
    mask = allowed if allowed is not None else torch.ones(h, w, dtype=torch.bool)
    positions = mask.nonzero()
    g = seeded_generator(seed)
    rand_img = torch.randint(0, n, (n_random,), generator=g)
    rand_pos = positions[torch.randint(0, len(positions), (n_random,), generator=g)]
    random_vecs = acts[rand_img, :, rand_pos[:, 0], rand_pos[:, 1]]           # (n_random, C)
    out = torch.empty(c)
    for ch in range(c):
        units = top_units(activations, ch, k, allowed=allowed, field=field, max_overlap=max_overlap, sources=sources)
        top = torch.stack([acts[u[0], :, u[1], u[2]] for u in units])
        out[ch] = _mean_pairwise_cosine(top, ch) - _mean_pairwise_cosine(random_vecs, ch)
    return out


def _mean_pairwise_cosine(vectors: torch.Tensor, leave_out: int) -> float:
    v = vectors.clone()
    v[:, leave_out] = 0
    v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sim = v @ v.T
    m = len(v)
    return float((sim.sum() - sim.diagonal().sum()) / max(1, m * (m - 1)))


def strongest_channels(activations: torch.Tensor, n: int = 8) -> list[int]:
    """The ``n`` channels whose peak activation over the set is largest (on average over images)."""
    peaks = activations.flatten(2).amax(dim=2).mean(dim=0)
    return peaks.argsort(descending=True)[:n].tolist()


def selective_channels(features: torch.Tensor, labels, per_class: int = 1) -> dict[int, int]:
    """Channels that prefer one class: ``{channel: class}``, ``per_class`` channels for each class.

    A channel's preference for class ``c`` is ``(mean over c - mean over all) / std over all`` of its pooled
    activation (``features`` is ``(N, C)``, e.g. ``extract_features(..., pool="max")``); each class takes its
    most preferring channels that no earlier class took (the last classes get fewer when channels run out).
    """
    f = torch.as_tensor(features).float()
    if f.dim() != 2:
        raise ValueError(f"features must be pooled (N, C), got shape {tuple(f.shape)}")
    lab = torch.as_tensor(labels).long()
    if len(lab) != len(f):
        raise ValueError(f"labels has {len(lab)} entries for {len(f)} feature rows")
    z = torch.stack([(f[lab == c].mean(0) - f.mean(0)) / (f.std(0) + 1e-6) for c in lab.unique()])
    chosen: dict[int, int] = {}
    for row, c in enumerate(lab.unique().tolist()):
        for channel in z[row].argsort(descending=True).tolist():
            if channel not in chosen:
                chosen[channel] = c
                if sum(v == c for v in chosen.values()) == per_class:
                    break
    return chosen


def label_count(patches: Sequence[Patch], labels, label: int) -> int:
    """How many of ``patches`` were cut from an image whose label is ``label`` (``labels``: one per image).

    A channel chosen for its *mean* preference for a class (:func:`selective_channels`) need not have that class
    among its strongest patches; this count says how many of them do, so a figure's row label can state it.
    """
    lab = torch.as_tensor(labels).long().flatten()
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"label must be an int (a class index), got {type(label).__name__}")
    for p in patches:
        if not 0 <= p.image_index < len(lab):
            raise ValueError(f"a patch's image_index {p.image_index} is outside labels (0..{len(lab) - 1})")
    return sum(int(lab[p.image_index]) == int(label) for p in patches)


def patch_grid(patches: dict[int, list[Patch]], *, padded: bool = True, size: float = 1.0,
               title: str | None = None, row_labels: dict[int, str] | None = None) -> Figure:
    """One row per channel, its patches left to right (strongest first); returns the Figure.

    ``padded=True`` shows every patch at full field size (gray where the field leaves the image).
    ``row_labels`` adds a word to a channel's row label (e.g. the class it prefers).
    """
    if not patches:
        raise ValueError("patches is empty")
    rows = list(patches)
    ncols = max(len(v) for v in patches.values())
    fig, axes = subplots(len(rows), ncols, figsize=(size * ncols + 0.6, size * len(rows) + (0.4 if title else 0)),
                             squeeze=False)
    for r, channel in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(patches[channel]):
                p = patches[channel][c]
                ax.imshow(p.padded if padded else p.pixels, interpolation="nearest")
            if c == 0:
                extra = f"\n{row_labels[channel]}" if row_labels and channel in row_labels else ""
                ax.set_ylabel(f"ch {channel}{extra}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def patch_figure(images: ImageSet, patches: Sequence[Patch], *, size: int | None = None, title: str | None = None,
                 cell: float = 1.4) -> Figure:
    """Two rows: the patches (at field size), and below each its whole image with the field drawn as a box.

    Each panel has a title (the activation above, the image's label below); the constrained layout and a line
    of height per row keep the lower titles clear of the patches above them.
    """
    patches = list(patches)
    if not patches:
        raise ValueError("patches is empty")
    n = len(patches)
    fig, axes = subplots(2, n, figsize=(cell * n, 2 * cell + 0.6 + (0.4 if title else 0)), squeeze=False,
                         layout="constrained")
    for c, p in enumerate(patches):
        top: Axes = axes[0, c]
        top.imshow(p.padded, interpolation="nearest")
        top.set_title(f"{p.value:.2f}", fontsize=LABEL_SIZE)
        bottom: Axes = axes[1, c]
        bottom.imshow(_image_at(images, p.image_index, size))
        y0, y1, x0, x1 = p.box
        bottom.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="yellow", lw=1.5))
        bottom.set_title(images.label_name(p.image_index), fontsize=LABEL_SIZE)
        for ax in (top, bottom):
            ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    return fig
