"""Figures: images, grids, filters, feature maps and heatmap overlays.

Compute functions elsewhere return tensors; these functions draw them. Each takes ``ax=None`` (or makes its
own figure) and returns the ``Axes`` or ``Figure``; none calls ``plt.show()``.
"""
from __future__ import annotations

import math
import threading
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colorbar import Colorbar
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ._validate import check_number
from .images import as_float_image, to_image

HEAT_CMAP = "inferno"
"""Default colour map of heatmaps drawn over images: perceptually uniform, dark (nothing) to pale yellow (the
most), one hue path, so that brighter always means more and no heat colour passes for an object's own red or blue
(jet did both wrong: its yellow-green band looks brighter than its red top, and it shares the lab's cue colours)."""
TITLE_SIZE = 10
"""Panel titles, in points: readable from the back of a lecture hall when a figure fills a projector."""
LABEL_SIZE = 9
"""Smaller labels (row labels, values under bars, legends), in points; nothing a student must read is smaller."""


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``plt.subplots`` on the main thread; a pyplot-free ``Figure`` on any other thread.

    Explorers draw from worker threads. pyplot's figure registry is global and not thread-safe, and the
    inline backend displays and closes every registered figure when a cell ends, so a figure made by a
    worker could show up as a stray output in a notebook cell. Off the main thread we therefore build the
    figure directly (it is rendered to PNG by the explorer and never needs pyplot).
    """
    if threading.current_thread() is threading.main_thread():
        return plt.subplots(nrows, ncols, **kwargs)
    fig = Figure(figsize=kwargs.pop("figsize", None), layout=kwargs.pop("layout", None))
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _as_array(image) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        return to_image(image)
    return as_float_image(np.asarray(image))


def _as_2d(heat, name: str = "heatmap") -> np.ndarray:
    if isinstance(heat, torch.Tensor):
        heat = heat.detach().float().cpu().numpy()
    heat = np.asarray(heat, dtype=np.float32)
    heat = np.squeeze(heat)
    if heat.ndim != 2:
        raise ValueError(f"{name} must be 2-D (H, W) after squeezing, got shape {heat.shape}")
    return heat


def normalize_map(heat, *, symmetric: bool = False) -> np.ndarray:
    """Scale a map to ``[0, 1]`` (or ``[-1, 1]`` with ``symmetric``); a constant map becomes zeros."""
    h = _as_2d(heat)
    if symmetric:
        m = float(np.abs(h).max())
        return h / m if m > 0 else np.zeros_like(h)
    lo, hi = float(h.min()), float(h.max())
    return (h - lo) / (hi - lo) if hi > lo else np.zeros_like(h)


def upsample_map(heat, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D map to ``size = (H, W)``."""
    h = torch.from_numpy(_as_2d(heat))[None, None]
    if tuple(h.shape[-2:]) == tuple(size):
        return h[0, 0].numpy()
    return F.interpolate(h, size=tuple(size), mode="bilinear", align_corners=False)[0, 0].numpy()


def grey_copy(image) -> np.ndarray:
    """The image's luminance as ``(H, W, 3)`` gray RGB: a background for heat that no colour of the image can
    be mistaken for (Rec. 601 weights)."""
    img = _as_array(image)
    lum = img[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(lum[..., None], 3, axis=2).astype(np.float32)


def overlay(image, heat, *, alpha: float = 0.5, cmap: str = HEAT_CMAP, normalize: bool = True,
            grey: bool = False) -> np.ndarray:
    """Blend a heatmap over an RGB image at the image's resolution; returns ``(H, W, 3)`` float RGB.

    Args:
        image: ``(H, W, 3)`` array in ``[0, 1]`` or a ``(1, 3, H, W)`` tensor.
        heat: a 2-D map of any size (upsampled bilinearly).
        alpha: weight of the heatmap, ``0`` (image only) to ``1`` (heatmap only).
        cmap: a matplotlib colormap name (default :data:`HEAT_CMAP`, ``"inferno"``).
        normalize: scale ``heat`` to ``[0, 1]`` first (``0`` = its min, ``1`` = its max); otherwise it must
            already be in ``[0, 1]`` (values outside are clipped), e.g. ``heat / shared_max``.
        grey: blend over a gray copy of the image (:func:`grey_copy`), so the image's own colours cannot be
            read as heat.
    """
    alpha = check_number("alpha", alpha, 0, 1)
    if not isinstance(grey, bool):
        raise TypeError(f"grey must be True or False, got {type(grey).__name__}")
    img = grey_copy(image) if grey else _as_array(image)
    h = upsample_map(heat, img.shape[:2])
    h = normalize_map(h) if normalize else np.clip(h, 0.0, 1.0)
    try:
        colours = plt.get_cmap(cmap)(h)[..., :3]  # matplotlib colormaps give RGB(A), the image is RGB too
    except ValueError as exc:
        raise ValueError(f"cmap={cmap!r} is not a matplotlib colormap") from exc
    return ((1.0 - alpha) * img + alpha * colours).astype(np.float32)


def heat_colorbar(axes, *, cmap: str = HEAT_CMAP, vmax: float | None = None, label: str | None = None,
                  ends: tuple[str, str] = ("0", "max"), **kwargs) -> Colorbar:
    """One colour bar for heatmaps drawn on ``axes`` (an Axes, a list or an array of them), saying what the scale is.

    With ``vmax=None`` every map was scaled to its own maximum (what :func:`overlay` does by default): the bar
    runs from ``0`` to ``max`` (``ends``: the two tick labels; ``("min", "max")`` for :func:`overlay`'s
    default min-max scaling) and its label says so. With a number, the maps share one scale ``0 .. vmax``
    (draw them with ``overlay(..., normalize=False)`` on ``heat / vmax``) and the bar shows the values.
    Extra keywords go to ``Figure.colorbar`` (e.g. ``shrink``).
    """
    many = isinstance(axes, (list, tuple, np.ndarray))
    ax_list = list(np.ravel(np.asarray(axes, dtype=object))) if many else [axes]
    if not all(isinstance(a, Axes) for a in ax_list):
        raise TypeError("axes must be an Axes or a non-empty list of Axes")
    if not ax_list:
        raise ValueError("axes must be an Axes or a non-empty list of Axes, got an empty one")
    if not isinstance(ends, (tuple, list)) or not all(isinstance(e, str) for e in ends):
        raise TypeError(f"ends must be a pair of strings (the tick labels), got {ends!r}")
    if len(ends) != 2:
        raise ValueError(f"ends must be a pair of strings (the bottom and top tick labels), got {len(ends)}: "
                         f"{tuple(ends)!r}")
    if vmax is not None:
        vmax = check_number("vmax", vmax, 0, low_open=True)
    try:
        cm = plt.get_cmap(cmap)
    except ValueError as exc:
        raise ValueError(f"cmap={cmap!r} is not a matplotlib colormap") from exc
    mappable = ScalarMappable(norm=Normalize(0.0, 1.0 if vmax is None else vmax), cmap=cm)
    fig = ax_list[0].figure
    kwargs.setdefault("shrink", 0.8)
    bar = fig.colorbar(mappable, ax=ax_list if len(ax_list) > 1 else ax_list[0], **kwargs)
    if vmax is None:
        bar.set_ticks([0.0, 1.0], labels=list(ends))
        label = f"each map: {ends[0]} \u2026 its own {ends[1]}" if label is None else label
    if label:
        bar.set_label(label, fontsize=LABEL_SIZE)
    bar.ax.tick_params(labelsize=LABEL_SIZE)
    return bar


def _new_ax(ax: Axes | None, figsize=(4, 4)) -> Axes:
    if ax is None:
        _, ax = subplots(figsize=figsize)
    return ax


def show_image(image, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw one image without ticks."""
    ax = _new_ax(ax)
    ax.imshow(_as_array(image))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    return ax


def show_heatmap(image, heat, ax: Axes | None = None, *, alpha: float = 0.5, cmap: str = HEAT_CMAP,
                 title: str | None = None, colorbar: bool = False, grey: bool = False) -> Axes:
    """Draw ``overlay(image, heat)`` (the map scaled from its min to its max); ``colorbar`` adds a bar saying so."""
    ax = _new_ax(ax)
    ax.imshow(overlay(image, heat, alpha=alpha, cmap=cmap, grey=grey))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    if colorbar:
        heat_colorbar(ax, cmap=cmap, ends=("min", "max"), label="this map's min \u2026 max")
    return ax


def image_grid(images: Sequence, titles: Sequence[str] | None = None, *, ncols: int | None = None,
               size: float = 2.2, cmap: str | None = None, suptitle: str | None = None,
               captions: Sequence[str] | None = None, title_size: float = TITLE_SIZE) -> Figure:
    """Draw images (RGB arrays/tensors, or 2-D maps drawn with ``cmap``) in a grid; returns the Figure.

    ``titles`` go above each image at ``title_size`` points; ``captions`` below it, in larger type (14 pt: a
    class name under a class image). The layout is matplotlib's constrained layout, which keeps every row's
    titles clear of the images above.
    """
    title_size = check_number("title_size", title_size, 1, 72)
    images = list(images)
    if not images:
        raise ValueError("images is empty")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries for {len(images)} images")
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"captions has {len(captions)} entries for {len(images)} images")
    n = len(images)
    ncols = ncols or min(n, 8)
    nrows = math.ceil(n / ncols)
    extra = 0.3 * nrows if titles is not None else 0.0  # room for a line of title above each row
    extra += 0.35 * nrows if captions is not None else 0.0
    fig, axes = subplots(nrows, ncols, figsize=(size * ncols, size * nrows + extra + (0.4 if suptitle else 0)),
                         squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        img = images[i]
        arr = img.detach().float().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
        arr = np.squeeze(arr)
        if arr.ndim == 2:
            ax.imshow(arr, cmap=cmap or "viridis")
        else:
            ax.imshow(_as_array(img))
        if titles is not None:
            ax.set_title(titles[i], fontsize=title_size)
        if captions is not None:
            ax.text(0.5, -0.02, captions[i], transform=ax.transAxes, ha="center", va="top", fontsize=14)
    if suptitle:
        fig.suptitle(suptitle, fontsize=TITLE_SIZE + 2)
    return fig


def filter_images(weights: torch.Tensor, *, scale: str = "each") -> list[np.ndarray]:
    """Turn conv weights ``(out, in, k, k)`` into displayable images.

    3 input channels give RGB images; other counts show the first input channel in gray.
    ``scale="each"`` stretches every filter to ``[0, 1]`` on its own; ``"all"`` uses one range for all,
    so that filters' relative strengths stay visible. Zero maps to mid-gray in both.
    """
    if scale not in ("each", "all"):
        raise ValueError(f"scale must be 'each' or 'all', got {scale!r}")
    w = weights.detach().float().cpu()
    if w.dim() != 4:
        raise ValueError(f"weights must be a conv weight (out, in, k, k), got shape {tuple(w.shape)}")
    w = w if w.shape[1] == 3 else w[:, :1].expand(-1, 3, -1, -1)
    out = []
    global_max = float(w.abs().max()) or 1.0
    for f in w:
        m = float(f.abs().max()) if scale == "each" else global_max
        m = m or 1.0
        out.append(np.ascontiguousarray((f / (2 * m) + 0.5).permute(1, 2, 0).numpy()))
    return out


def filter_grid(weights, *, ncols: int = 8, scale: str = "each", size: float = 0.9, title: str | None = None) -> Figure:
    """A grid of first-layer filters (see :func:`filter_images`), upsampled without smoothing."""
    if isinstance(weights, np.ndarray):
        weights = torch.from_numpy(weights)
    imgs = filter_images(weights, scale=scale)
    n = len(imgs)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(imgs[i], interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    fig.tight_layout()
    return fig


def feature_map_grid(maps: torch.Tensor, channels: Sequence[int] | None = None, *, ncols: int = 8,
                     size: float = 1.3, cmap: str = "viridis", title: str | None = None) -> Figure:
    """Draw channels of one activation ``(C, H, W)`` (or ``(1, C, H, W)``); default: the 16 most active."""
    a = maps.detach().float().cpu()
    if a.dim() == 4 and a.shape[0] == 1:
        a = a[0]
    if a.dim() != 3:
        raise ValueError(f"maps must be (C, H, W) or (1, C, H, W), got shape {tuple(maps.shape)}")
    if channels is None:
        channels = a.flatten(1).mean(1).argsort(descending=True)[:16].tolist()
    channels = list(channels)
    bad = [c for c in channels if not 0 <= int(c) < a.shape[0]]
    if bad:
        raise ValueError(f"channels {bad} out of range 0..{a.shape[0] - 1}")
    titles = [f"ch {c}" for c in channels]
    fig = image_grid([a[c] for c in channels], titles, ncols=min(ncols, len(channels)), size=size, cmap=cmap,
                     suptitle=title)
    return fig


def topk_bar(predictions: Sequence[tuple[str, float]], ax: Axes | None = None, title: str | None = None) -> Axes:
    """Horizontal bars of ``(class name, probability)`` pairs, best on top."""
    ax = _new_ax(ax, figsize=(4, 2.5))
    names = [n for n, _ in predictions][::-1]
    probs = [p for _, p in predictions][::-1]
    ax.barh(names, probs, color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    return ax
