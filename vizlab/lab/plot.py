"""Figures of the lab: a heatmap with the evidence masks drawn on it, a grid of methods, TCAV scores, unit patches."""
from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np
import torch
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..plotting import HEAT_CMAP, LABEL_SIZE, TITLE_SIZE, grey_copy, heat_colorbar, subplots

SHAPE_COLOUR = "white"
CUE_COLOUR = "#00ff66"
#: a unit's region in the dissection figure: white with a black rim, visible on any of the probes' colours
UNIT_COLOUR, UNIT_LINEWIDTH, UNIT_RIM = "white", 1.5, 1.0


def draw_masks(ax: Axes, shape_mask, cue_mask, *, linewidth: float = 1.2) -> None:
    """Outline the shape's mask (white) and the cue's mask (bright green) on ``ax``."""
    for mask, colour in ((shape_mask, SHAPE_COLOUR), (cue_mask, CUE_COLOUR)):
        if mask is None:
            continue
        m = np.asarray(torch.as_tensor(mask).float().cpu())
        if m.any():
            ax.contour(m, levels=[0.5], colors=[colour], linewidths=linewidth)


def show_evidence(image, heat, shape_mask=None, cue_mask=None, ax: Axes | None = None, *, title: str | None = None,
                  alpha: float = 0.55, cmap: str = HEAT_CMAP) -> Axes:
    """``image`` (``(3, H, W)`` tensor or ``(H, W, 3)`` array) under ``heat`` (``(H, W)``, ``0`` to its maximum,
    in ``cmap``; ``None``: the image alone, in colour) with the masks outlined: the picture the lab asks about (is
    the heat on the cue or on the shape?). Under heat the image is drawn as a dimmed gray copy, so that a red,
    green, blue or yellow cue cannot be read as heat, nor heat as a cue."""
    if ax is None:
        _, ax = subplots(figsize=(3, 3))
    img = torch.as_tensor(image).detach().float().cpu()
    if img.dim() == 3 and img.shape[0] == 3:
        img = img.permute(1, 2, 0)
    img = img.numpy().clip(0, 1)
    if heat is None:
        ax.imshow(img, interpolation="nearest")
    else:
        ax.imshow(0.75 * grey_copy(img), vmin=0, vmax=1, interpolation="nearest")
        h = torch.as_tensor(heat).detach().float().cpu().clamp_min(0)
        h = (h / h.max().clamp_min(1e-12)).numpy()
        ax.imshow(h, cmap=cmap, alpha=alpha * np.clip(h * 1.5, 0.15, 1.0), vmin=0, vmax=1, interpolation="bilinear")
    draw_masks(ax, shape_mask, cue_mask)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    return ax


def method_grid(images: torch.Tensor, maps: dict[str, torch.Tensor], shape_masks, cue_masks, *,
                row_titles: Sequence[str] | None = None, size: float = 1.35, cmap: str = HEAT_CMAP,
                colorbar: bool = True) -> Figure:
    """One row per image, one column per method: :func:`show_evidence` panels (column titles: the methods), and
    with ``colorbar`` one bar saying that each map runs from 0 to its own max."""
    n, names = len(images), list(maps)
    fig, axes = subplots(n, len(names), figsize=(size * len(names) + (0.8 if colorbar else 0), size * n + 0.5),
                         squeeze=False, layout="constrained")
    for i in range(n):
        for j, name in enumerate(names):
            show_evidence(images[i], maps[name][i], shape_masks[i], cue_masks[i], axes[i, j],
                          title=textwrap.fill(name, 13) if i == 0 else None, cmap=cmap)  # 10 pt fits ~13 chars
        if row_titles is not None:
            axes[i, 0].text(-0.08, 0.5, row_titles[i], transform=axes[i, 0].transAxes, rotation=90, va="center",
                            ha="right", fontsize=LABEL_SIZE)
    if colorbar:
        heat_colorbar(axes, cmap=cmap, label="each map: 0 \u2026 its own max", shrink=0.6)
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.01, hspace=0.01)
    return fig


def show_tcav(results: dict, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Per group (``{label: TCAVResult}``) one bar per concept: its effect on the logit (:func:`~vizlab.lab.concepts.
    tcav`: first order, minus the pseudo-concept's) with a 95 % interval, the band ``+-min_effect`` an effect must
    leave to count in gray, a star over significant concepts, and the TCAV score (share of images) under each
    bar."""
    if ax is None:
        _, ax = subplots(figsize=(7, 3))
    labels = list(results)
    concepts = list(next(iter(results.values())).concepts)
    width = 0.8 / len(concepts)
    top = 1.0
    for g, label in enumerate(labels):
        res = results[label]
        band = max(res.min_effect, 1e-9)
        ax.fill_between([g - 0.42, g + 0.42], -band, band, color="0.85", zorder=0, lw=0,
                        label=f"|effect| < {res.min_effect:g} (does not count)" if g == 0 else None)
        for k, c in enumerate(concepts):
            r = res[c]
            x = g + (k - (len(concepts) - 1) / 2) * width
            ax.bar(x, r.effect, width * 0.9, yerr=2 * r.stderr, color=f"C{k}", label=c if g == 0 else None,
                   capsize=2)
            if r.significant:
                ax.text(x, r.effect + (0.1 if r.effect >= 0 else -0.45), "*", ha="center", fontsize=12)
            ax.text(x, -0.3 if r.effect >= 0 else 0.1, f"{r.mean:.2f}", ha="center", fontsize=LABEL_SIZE - 1,
                    color="0.25")
            top = max(top, abs(r.effect) + 2 * r.stderr)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(labels)), labels, fontsize=LABEL_SIZE)
    ax.tick_params(axis="y", labelsize=LABEL_SIZE)
    ax.set_ylim(-top - 0.6, top + 0.6)
    ax.set_ylabel("effect on the logit\n(TCAV, first order)", fontsize=LABEL_SIZE)
    ax.legend(fontsize=LABEL_SIZE - 1, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE)
    return ax


def unit_patches(images: torch.Tensor, maps: torch.Tensor, units: dict[int, tuple[str, float]], thresholds, *,
                 k: int = 5, size: float = 1.3) -> Figure:
    """For each labelled unit (``{unit: (concept, IoU)}``), its ``k`` top images with the region above the unit's
    threshold outlined. ``maps`` ``(N, C, H, W)`` are the upsampled activations
    (:func:`~vizlab.lab.concepts.unit_maps`). The outline is white on a black rim (``UNIT_COLOUR``, ``UNIT_RIM``):
    the probes come in every colour, and a one-colour line vanishes on shapes of its own colour."""
    rows = list(units)
    fig, axes = subplots(len(rows), k, figsize=(size * k, size * len(rows) + 0.2), squeeze=False)
    for i, unit in enumerate(rows):
        peak = maps[:, unit].flatten(1).amax(1)
        top = peak.topk(min(k, len(peak))).indices.tolist()
        for j in range(k):
            ax = axes[i, j]
            ax.set_axis_off()
            if j >= len(top):
                continue
            n = top[j]
            ax.imshow(images[n].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            region = ax.contour((maps[n, unit] > thresholds[unit]).float().numpy(), levels=[0.5],
                                colors=[UNIT_COLOUR], linewidths=UNIT_LINEWIDTH)
            region.set_path_effects([patheffects.Stroke(linewidth=UNIT_LINEWIDTH + 2 * UNIT_RIM, foreground="black"),
                                     patheffects.Normal()])
        concept, iou = units[unit]
        axes[i, 0].set_title(f"unit {unit}: {concept} (IoU {iou:.2f})", fontsize=LABEL_SIZE, loc="left")
    fig.tight_layout(pad=0.2)
    return fig
