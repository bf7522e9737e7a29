"""Figures for attribution results (compute lives in the other modules; nothing here calls ``plt.show()``)."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .._validate import check_int
from ..plotting import HEAT_CMAP, LABEL_SIZE, TITLE_SIZE, grey_copy, heat_colorbar, overlay, show_image, subplots
from .occlusion import OcclusionResult


def _image_array(image) -> np.ndarray:
    from ..plotting import _as_array

    if isinstance(image, torch.Tensor) and image.dim() == 4:
        image = image[0]
    return _as_array(image)


def show_occlusion(image, result: OcclusionResult, n: int = 0, *, alpha: float = 0.5, axes=None,
                   title: str | None = None) -> Figure:
    """Three panels: the image with the most damaging patch, the map at input resolution, the grid of drops.

    Args:
        image: the occluded image (``(H, W, 3)`` array or ``(1, 3, H, W)`` tensor).
        result: what :func:`~vizlab.attribution.occlusion` returned (for any class, see ``for_class``).
        n: which image of the batch.
        alpha: heatmap weight in the overlay.
        axes: three Axes to draw into (default: a new figure).

    The middle panel's colour bar gives the drop in score units, ``0`` to the largest drop.
    """
    if axes is None:
        fig, axes = subplots(1, 3, figsize=(11.5, 3.9), layout="constrained")
    else:
        fig = axes[0].figure
    img = _image_array(image)
    name = result.class_name(n)
    score = "p" if result.score == "prob" else "logit"
    show_image(img, axes[0], title=f"{name}: {score} = {float(result.base_score[n]):.3f}")
    t, l, h, w = result.most_damaging[n]
    show_box(axes[0], (t, l, h, w))
    drop = float(result.grid[n].max())
    # white with a dark outline: red text vanished on the cat's brown fur (r19 figures finding 15)
    axes[0].text(l, t - 2, f"drop {drop:+.3f}", color="white", fontsize=9, fontweight="bold", va="bottom",
                 path_effects=[patheffects.withStroke(linewidth=2.5, foreground="black")])
    heat = result.map[n].clamp(min=0)  # where hiding the patch lowers the score
    top = float(heat.max())
    axes[1].imshow(overlay(img, heat / top, alpha=alpha, normalize=False) if top > 0 else img)
    axes[1].set_axis_off()
    axes[1].set_title(f"drop at input resolution\n(patch {result.patch}, stride {result.stride})", fontsize=TITLE_SIZE)
    if top > 0:
        heat_colorbar(axes[1], vmax=top, label=f"{score} drop", fraction=0.046, pad=0.04)
    g = result.grid[n].numpy()
    lim = max(float(np.abs(g).max()), 1e-12)
    im = axes[2].imshow(g, cmap="coolwarm", vmin=-lim, vmax=lim)
    axes[2].set_title(f"grid {g.shape[0]}x{g.shape[1]}: {score} drop\n(red = evidence)", fontsize=TITLE_SIZE)
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    bar = fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
    bar.ax.tick_params(labelsize=LABEL_SIZE)
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    return fig


def clip_map(heat: torch.Tensor, low: float = 80.0, high: float = 99.0) -> torch.Tensor:
    """Percentile clipping for display: ``(clamp(M, p_low, p_high) - p_low) / (p_high - p_low)``, per map.

    Pixel saliency has a few huge values and a floor of small ones everywhere; drawn linearly it is a black
    picture with a few white dots. Clipping at the ``high`` percentile lifts the strong evidence to white, and
    subtracting the ``low`` percentile removes the floor, so the outline of what matters shows.
    ``heat`` is ``(H, W)`` or ``(N, H, W)``; the result has the same shape, in ``[0, 1]``.
    """
    if not 0 <= low < high <= 100:
        raise ValueError(f"need 0 <= low < high <= 100 (percentiles), got low={low}, high={high}")
    h = heat.detach().float()
    flat = h.reshape(-1, h.shape[-2] * h.shape[-1]) if h.dim() == 3 else h.reshape(1, -1)
    lo = torch.quantile(flat, low / 100, dim=1)
    hi = torch.quantile(flat, high / 100, dim=1)
    scaled = (flat.clamp(min=lo[:, None]).minimum(hi[:, None]) - lo[:, None]) / (hi - lo).clamp_min(1e-12)[:, None]
    return scaled.reshape(h.shape)


def box_filter(heat: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Average each pixel with its neighbours in a ``width`` x ``width`` window (same size out).

    A 2x2 box exactly cancels a pattern of period 2, such as the checkerboard that a stride-2 first layer
    leaves in gradient maps (see :func:`~vizlab.attribution.grid_strength`), and keeps detail at 2 pixels and
    more. ``heat`` is ``(H, W)`` or ``(N, H, W)``.
    """
    width = check_int("width", width)
    h = heat.detach().float()
    x = h.reshape(-1, 1, *h.shape[-2:])
    pad = (width // 2, (width - 1) // 2, width // 2, (width - 1) // 2)
    x = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, pad, mode="replicate"), width, stride=1)
    return x.reshape(h.shape)


def show_maps(image, maps: Mapping[str, torch.Tensor], n: int = 0, *, alpha: float = 0.5,
              overlay_keys: tuple[str, ...] | None = None, title: str | None = None, size: float = 3.2,
              clip: tuple[float, float] | Mapping[str, tuple[float, float]] = (0.0, 99.5),
              cmap: str = "gray", heat_cmap: str = HEAT_CMAP, scale: str = "each", colorbar: bool = True) -> Figure:
    """The image, then one panel per map: overlaid on the image (CAM-like) or drawn alone (saliency-like).

    Overlays show the positive part of each map, ``0`` (dark) to its maximum (pale yellow) in ``heat_cmap``;
    ``colorbar`` adds a bar under them that says which scale it is: one under each run of neighbouring overlays,
    so that no bar runs under a map drawn alone (put the overlays side by side for a single bar).

    Args:
        image: ``(H, W, 3)`` array or ``(1, 3, H, W)`` tensor.
        maps: ``{title: (N, H, W) map}``.
        overlay_keys: which maps to overlay (default: those whose title contains "CAM").
        clip: display percentiles ``(low, high)`` of the maps drawn alone (see :func:`clip_map`), or
            ``{title: (low, high)}`` per map (titles not in it get ``(0, 99.5)``).
        cmap: colormap of the maps drawn alone.
        heat_cmap: colormap of the overlays (default :data:`~vizlab.plotting.HEAT_CMAP`, ``"inferno"``).
        scale: ``"each"``: every overlay from 0 to its own max; ``"shared"``: all overlays on one scale, 0 to the
            largest max among them (for maps in the same units, e.g. one method at several layers).
        colorbar: colour bars for the overlays, one per run of neighbouring overlays (none when no map is
            overlaid).
    """
    if scale not in ("each", "shared"):
        raise ValueError(f"scale must be 'each' or 'shared', got {scale!r}")
    img = _image_array(image)
    heats = {key: (m[n] if m.dim() == 3 else m).detach().float().cpu() for key, m in maps.items()}
    over = {key: ("CAM" in key) if overlay_keys is None else key in overlay_keys for key in heats}
    shared = max([float(h.clamp(min=0).max()) for k, h in heats.items() if over[k]], default=0.0)
    bar = colorbar and any(over.values())
    # with a bar: a second, thin row of the grid holds the bars, each under its own columns
    fig, grid = subplots(2 if bar else 1, 1 + len(maps), figsize=(size * (1 + len(maps)), size + (1.1 if bar else 0.5)),
                         squeeze=False, layout="constrained", height_ratios=[1.0, 0.05] if bar else None)
    axes = grid[0]
    for ax in grid[1:].ravel():
        ax.remove()
    for ax in axes if bar else []:
        ax.set_anchor("S")  # the panels sit on the bars' row (a square image is shorter than its cell)
    show_image(img, axes[0], title="image")
    overlaid = []
    for ax, (key, heat) in zip(axes[1:], heats.items()):
        if over[key]:
            h = heat.clamp(min=0)
            top = shared if scale == "shared" else float(h.max())
            ax.imshow(overlay(img, h / top, alpha=alpha, cmap=heat_cmap, normalize=False) if top > 0 else img)
            overlaid.append(ax)
        else:
            low_high = clip.get(key, (0.0, 99.5)) if isinstance(clip, Mapping) else clip
            ax.imshow(clip_map(heat, *low_high).cpu().numpy(), cmap=cmap, vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(key, fontsize=TITLE_SIZE)
    # under the overlays only, so it cannot be read as the scale of a map drawn alone: one bar under each run of
    # neighbouring overlays (a map drawn alone between two overlays splits it)
    for first, last in _runs([ax in overlaid for ax in axes]) if bar else []:
        # in the bars' row, under columns first..last; labelled as matplotlib labels the bars it makes
        where = dict(cax=fig.add_subplot(grid[0, 0].get_gridspec()[1, first:last + 1], label="<colorbar>"),
                     location="bottom")
        if scale == "shared" and shared > 0:
            heat_colorbar(list(axes), cmap=heat_cmap, vmax=shared, label="heat, one scale for all maps", **where)
        else:
            label = "0 \u2026 this map's max" if last == first else "each map: 0 \u2026 its own max"
            heat_colorbar(list(axes), cmap=heat_cmap, label=label, **where)
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    return fig


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """The ``(first, last)`` index of every run of neighbouring true flags: ``[F, T, T, F, T]`` ->
    ``[(1, 2), (4, 4)]``."""
    runs: list[tuple[int, int]] = []
    for i, flag in enumerate(flags):
        if flag:
            runs.append((runs.pop()[0], i) if runs and runs[-1][1] == i - 1 else (i, i))
    return runs


def show_box(ax: Axes, box: tuple[int, int, int, int], colour: str = "red") -> Axes:
    """Outline a ``(top, left, height, width)`` window on an image axis."""
    t, l, h, w = box
    ax.add_patch(Rectangle((l - 0.5, t - 0.5), w, h, fill=False, edgecolor=colour, linewidth=2))
    return ax


def show_baselines(image, grids: Mapping[str, torch.Tensor], *, label: str = "score drop", alpha: float = 0.6,
                   size: float = 2.6, title: str | None = None) -> Figure:
    """The image, then one occlusion grid per baseline drawn over it, on one shared colour scale with a bar.

    Args:
        image: ``(H, W, 3)`` array or ``(1, 3, H, W)`` tensor (the occluded image).
        grids: ``{baseline name: (h, w) grid of drops}`` (e.g. ``occlusion(...).grid[0]``), each cell covering
            an equal share of the image.
        label: what a grid value is, for the colour bar.
        alpha: opacity of the grid over the (grayed) image.
    """
    if not grids:
        raise ValueError("grids is empty")
    img = _image_array(image)
    h, w = img.shape[:2]
    arrays = {k: np.asarray(g.detach().float().cpu() if isinstance(g, torch.Tensor) else g, dtype=np.float32)
              for k, g in grids.items()}
    lim = max(max(float(np.abs(g).max()) for g in arrays.values()), 1e-12)
    fig, axes = subplots(1, 1 + len(arrays), figsize=(size * (1 + len(arrays)) + 0.8, size + 0.4), squeeze=False)
    axes = axes[0]
    show_image(img, axes[0], title="image")
    gray = grey_copy(img)
    im = None
    for ax, (key, g) in zip(axes[1:], arrays.items()):
        ax.imshow(gray)
        im = ax.imshow(g, cmap="coolwarm", vmin=-lim, vmax=lim, alpha=alpha, extent=(-0.5, w - 0.5, h - 0.5, -0.5),
                       interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"baseline {key}", fontsize=TITLE_SIZE)
    fig.colorbar(im, ax=list(axes[1:]), fraction=0.025, pad=0.02, label=label)
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE + 1)
    return fig
