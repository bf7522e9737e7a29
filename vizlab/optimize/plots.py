"""Figures for optimized images. Each returns a Figure (or draws into ``ax``); none calls ``plt.show()``."""
from __future__ import annotations

from typing import Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validate import check_int
from ..plotting import image_grid, show_image, subplots
from .fooling import FoolingResult
from .render import RenderResult


def show_result(result: RenderResult, ax: Axes | None = None, title: str | None = None) -> Axes:
    """The image of a render, titled with the class and ``p(target)`` when known, and the step count."""
    if title is None:
        info = result.info
        parts = []
        if "class_name" in info:
            parts.append(str(info["class_name"]))
        if "target_probability" in info:
            parts.append(f"p={info['target_probability']:.3f}")
        parts.append(f"step {result.steps}/{result.requested}" + (" (stopped)" if result.stopped else ""))
        title = ", ".join(parts)
    return show_image(result.image[:1], ax=ax, title=title)


def show_snapshots(result: RenderResult, ncols: int | None = None, size: float = 2.0) -> Figure:
    """The snapshots of a render, one panel per recorded step."""
    steps = sorted(result.snapshots)
    return image_grid([result.snapshots[s][:1] for s in steps], [f"step {s}" for s in steps], ncols=ncols, size=size)


def show_fooling(result: FoolingResult, categories: Sequence[str] | None = None, magnify: float = 10.0,
                 size: float = 2.6) -> Figure:
    """CS231n's four panels: original, fooling image, difference (stretched to full contrast), and the difference
    ``0.5 + magnify * d`` (CS231n shows it 10x; ``magnify=1``: at its true scale, a flat grey)."""
    name = categories[result.target] if categories is not None else str(result.target)
    diff = result.difference
    scaled = (diff - diff.min()) / (diff.max() - diff.min()).clamp_min(1e-12)
    fig, axes = subplots(1, 4, figsize=(4 * size, size + 0.4))
    show_image(result.original, axes[0], "original")
    show_image(result.fooled, axes[1], f"predicted '{name}' (p={result.probability:.2f})")
    show_image(scaled, axes[2], f"difference (rescaled; max |d| = {diff.abs().max():.3f})")
    show_image(result.magnified(magnify), axes[3],
               "difference at true scale" if magnify == 1 else f"difference x{magnify:g}")
    fig.tight_layout()
    return fig


def show_inversions(original: torch.Tensor, results: Sequence[RenderResult], size: float = 2.6) -> Figure:
    """The original next to reconstructions from several layers, titled with layer and pixel MSE."""
    images = [original[:1]] + [r.image[:1] for r in results]
    titles = ["original"] + [f"from {r.info.get('layer', '?')} (MSE {r.info.get('mse', float('nan')):.3f})"
                             for r in results]
    return image_grid(images, titles, size=size)


def show_units(units, *, size: float = 1.5, patches: int | None = None, padded: bool = True) -> Figure:
    """One row per unit: its optimised images, then its maximally activating natural patches; returns the Figure.

    Args:
        units: ``{label: (images, patches)}``: ``images`` an ``(n, 3, H, W)`` tensor (e.g.
            :func:`~vizlab.optimize.unit_visualization`'s ``result.image``) and ``patches`` a list of
            :class:`~vizlab.inside.Patch` (one channel's entry of :func:`~vizlab.inside.max_activating_patches`).
        size: side of one panel in inches.
        patches: show at most this many patches per unit (default: all).
        padded: show each patch at full field size (gray where the field leaves the image).

    Example:
        >>> r = unit_visualization(model, "block4", 12)                          # doctest: +SKIP
        >>> show_units({"block4:12": (r.image, found[12])})                      # doctest: +SKIP
    """
    if not hasattr(units, "items"):
        raise TypeError(f"units must be a mapping {{label: (images, patches)}}, got {type(units).__name__}")
    if not units:
        raise ValueError("units is empty")
    if patches is not None:
        patches = check_int("patches", patches, allowed=">= 1 (or None)")
    rows = []
    for label, entry in units.items():
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            raise TypeError(f"units[{label!r}] must be a pair (images, patches)")
        images, found = entry
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"units[{label!r}]: images must be an (n, 3, H, W) tensor")
        found = list(found)[:patches] if patches is not None else list(found)
        rows.append((str(label), images.detach().float().cpu().clamp(0, 1), found))
    n_img = max(len(r[1]) for r in rows)
    n_pat = max(len(r[2]) for r in rows)
    ncols = n_img + 1 + n_pat  # a narrow gap column between the two halves
    widths = [1.0] * n_img + [0.25] + [1.0] * n_pat
    fig, axes = subplots(len(rows), ncols, figsize=(size * (n_img + n_pat + 0.25), size * len(rows) + 0.35),
                         squeeze=False, gridspec_kw={"width_ratios": widths})
    for r, (label, images, found) in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            ax.set_axis_off()
            if c < len(images):
                ax.imshow(images[c].permute(1, 2, 0).numpy())
            elif c > n_img and c - n_img - 1 < len(found):
                p = found[c - n_img - 1]
                ax.imshow(p.padded if padded else p.pixels, interpolation="nearest")
        axes[r, 0].set_axis_on()
        axes[r, 0].set_xticks([])
        axes[r, 0].set_yticks([])
        for spine in axes[r, 0].spines.values():
            spine.set_visible(False)
        axes[r, 0].set_ylabel(label, fontsize=9)
    axes[0, 0].set_title("optimised", fontsize=9, loc="left")
    axes[0, n_img + 1].set_title("top natural patches", fontsize=9, loc="left")
    fig.tight_layout()
    return fig
