"""Figures of the sanity checks and faithfulness curves (return Figures/Axes, never ``plt.show()``)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..plotting import LABEL_SIZE, TITLE_SIZE, _new_ax, show_image, subplots
from .faithfulness import Curve
from .randomization import LabelRandomization, RandomizationResult


def _gray(ax: Axes, heat: torch.Tensor) -> None:
    """A map in gray, scaled by its 99.5th percentile of ``|map|`` (as saliency maps are usually shown)."""
    h = heat.detach().float().abs().cpu().numpy()
    ax.imshow(h / max(float(np.percentile(h, 99.5)), 1e-12), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def show_cascade(results: Sequence[RandomizationResult], image=None, n: int = 0, *, columns: Sequence[int] | None = None,
                 measure: str = "spearman", size: float = 1.6) -> Figure:
    """Rows = methods, columns = the trained model then the cascade steps (layers randomised so far).

    Each panel's title gives the similarity (``measure``) of that map with the trained model's map.

    Args:
        results: one :class:`RandomizationResult` per method (same images and layers).
        image: ``(N, 3, H, W)`` images, shown in a first column when given.
        n: which image of the batch.
        columns: which cascade steps to show (default all).
    """
    if not results:
        raise ValueError("results is empty; pass one RandomizationResult per method")
    steps = list(range(len(results[0].layers))) if columns is None else list(columns)
    extra = 1 if image is not None else 0
    fig, axes = subplots(len(results), extra + 1 + len(steps), figsize=(size * (extra + 1 + len(steps)),
                                                                       size * len(results) + 0.4), squeeze=False)
    for r, res in enumerate(results):
        if image is not None:
            show_image(image[n] if isinstance(image, torch.Tensor) and image.dim() == 4 else image, axes[r, 0])
            axes[r, 0].set_title("image" if r == 0 else "", fontsize=LABEL_SIZE)
        _gray(axes[r, extra], res.original[n])
        axes[r, extra].set_ylabel(res.method, fontsize=TITLE_SIZE)
        axes[r, extra].set_title("trained" if r == 0 else "", fontsize=LABEL_SIZE)
        for c, k in enumerate(steps):
            ax = axes[r, extra + 1 + c]
            _gray(ax, res.maps[k, n])
            sim = float(res.similarity[measure][k, n])
            head = f"…{res.layers[k]}\n" if r == 0 else ""
            label = {"spearman": "ρ", "ssim": "SSIM", "hog": "HOG"}.get(measure, measure)
            ax.set_title(f"{head}{label} {sim:.2f}", fontsize=LABEL_SIZE)
    fig.suptitle("cascading randomisation from the top (columns: randomised down to this layer)",
                 fontsize=TITLE_SIZE + 1)
    fig.tight_layout()
    return fig


def show_similarity(results: Sequence[RandomizationResult], measure: str = "spearman", ax: Axes | None = None) -> Axes:
    """Mean similarity per cascade step, one line per method."""
    ax = _new_ax(ax, (6, 3.2))
    for res in results:
        mean = res.similarity[measure].mean(1).numpy()
        ax.plot(range(len(mean)), mean, marker="o", label=res.method)
    ax.set_xticks(range(len(results[0].layers)))
    ax.set_xticklabels(results[0].layers, rotation=45, ha="right", fontsize=LABEL_SIZE)
    ax.set_ylabel(f"{measure} with trained map")
    ax.set_xlabel("randomised from the top down to")
    ax.axhline(0, color="gray", lw=0.5)
    ax.legend(fontsize=LABEL_SIZE)
    return ax


def show_curves(curves: Mapping[str, Curve], n: int = 0, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Several perturbation curves of one image (``{label: Curve}``), with each AUC in the legend."""
    ax = _new_ax(ax, (4.5, 3.2))
    for label, curve in curves.items():
        a = float(curve.auc[n])
        ax.plot(curve.fractions.numpy(), curve.scores[n].numpy(), label=f"{label} (AUC {a:.3f})")
    kinds = {c.kind for c in curves.values()}
    ax.set_xlabel("fraction of pixels " + ("inserted" if kinds == {"insertion"} else "removed"))
    ax.set_ylabel("probability of the class")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=LABEL_SIZE - 1)
    ax.set_title(title or " / ".join(sorted(kinds)), fontsize=TITLE_SIZE)
    return ax


def show_label_randomization(result: LabelRandomization, n: int = 0, size: float = 1.8) -> Figure:
    """Rows = methods; columns: image, map of the true-label network, map of the random-label network."""
    names = list(result.maps)
    fig, axes = subplots(len(names), 3, figsize=(3 * size, size * len(names) + 0.4), squeeze=False)
    for r, name in enumerate(names):
        a, b = result.maps[name]
        show_image(result.images[n], axes[r, 0])
        _gray(axes[r, 1], a[n])
        _gray(axes[r, 2], b[n])
        axes[r, 0].set_ylabel(name, fontsize=TITLE_SIZE)
        s = float(result.similarity[name]["spearman"][n])
        axes[r, 2].set_title(f"random labels (spear {s:.2f})" if r == 0 else f"spear {s:.2f}", fontsize=LABEL_SIZE)
        if r == 0:
            axes[r, 0].set_title("image", fontsize=LABEL_SIZE)
            axes[r, 1].set_title("true labels", fontsize=LABEL_SIZE)
    fig.tight_layout()
    return fig
