"""Figures for attribution results (compute lives in the other modules; nothing here calls ``plt.show()``)."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..plotting import overlay, show_image, subplots
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
    """
    if axes is None:
        fig, axes = subplots(1, 3, figsize=(10.5, 3.6))
    else:
        fig = axes[0].figure
    img = _image_array(image)
    name = result.class_name(n)
    score = "p" if result.score == "prob" else "logit"
    show_image(img, axes[0], title=f"{name}: {score} = {float(result.base_score[n]):.3f}")
    t, l, h, w = result.most_damaging[n]
    show_box(axes[0], (t, l, h, w))
    drop = float(result.grid[n].max())
    axes[0].text(l, t - 2, f"drop {drop:+.3f}", color="red", fontsize=8, va="bottom")
    heat = result.map[n].clamp(min=0)  # where hiding the patch lowers the score
    axes[1].imshow(overlay(img, heat, alpha=alpha) if float(heat.max()) > 0 else img)
    axes[1].set_axis_off()
    axes[1].set_title(f"drop at input resolution (patch {result.patch}, stride {result.stride})", fontsize=8)
    g = result.grid[n].numpy()
    lim = max(float(np.abs(g).max()), 1e-12)
    im = axes[2].imshow(g, cmap="coolwarm", vmin=-lim, vmax=lim)
    axes[2].set_title(f"grid {g.shape[0]}x{g.shape[1]}: {score} drop (red = evidence)", fontsize=8)
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def show_maps(image, maps: Mapping[str, torch.Tensor], n: int = 0, *, alpha: float = 0.5,
              overlay_keys: tuple[str, ...] | None = None, title: str | None = None, size: float = 3.2) -> Figure:
    """The image, then one panel per map: overlaid on the image (CAM-like) or drawn alone (saliency-like).

    Args:
        image: ``(H, W, 3)`` array or ``(1, 3, H, W)`` tensor.
        maps: ``{title: (N, H, W) map}``.
        overlay_keys: which maps to overlay (default: those whose title contains "CAM").
    """
    img = _image_array(image)
    fig, axes = subplots(1, 1 + len(maps), figsize=(size * (1 + len(maps)), size + 0.3), squeeze=False)
    axes = axes[0]
    show_image(img, axes[0], title="image")
    for ax, (key, m) in zip(axes[1:], maps.items()):
        heat = m[n] if m.dim() == 3 else m
        over = ("CAM" in key) if overlay_keys is None else key in overlay_keys
        if over:
            ax.imshow(overlay(img, heat.clamp(min=0), alpha=alpha) if float(heat.max()) > 0 else img)
        else:
            h = heat.detach().float().cpu().numpy()
            ax.imshow(h / max(float(np.percentile(h, 99.5)), 1e-12), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(key, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_box(ax: Axes, box: tuple[int, int, int, int], colour: str = "red") -> Axes:
    """Outline a ``(top, left, height, width)`` window on an image axis."""
    t, l, h, w = box
    ax.add_patch(Rectangle((l - 0.5, t - 0.5), w, h, fill=False, edgecolor=colour, linewidth=2))
    return ax
