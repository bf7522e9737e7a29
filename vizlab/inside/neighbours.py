"""Nearest neighbours of an image in pixel space and in a network's feature space, side by side.

Pixel space compares images value by value: ``d(a, b) = ||a - b||`` over all ``3 * H * W`` pixels, so a red
circle is near a red square and far from a blue circle. Feature space compares the network's penultimate
activations, where images the network sees as "the same kind of thing" end up close.

Example:
    >>> idx, dist = nearest_neighbours(feats, query=0, k=5)      # doctest: +SKIP
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .datasets import ImageSet
from ..plotting import LABEL_SIZE, subplots

METRICS = ("euclidean", "cosine")


def _as_features(features, name: str = "features") -> torch.Tensor:
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"{name} must be a tensor or array (N, D), got {type(features).__name__}")
    if features.dim() < 2:
        raise ValueError(f"{name} must be (N, D) (one row per image), got shape {tuple(features.shape)}")
    return features.detach().float().cpu().flatten(1)


def distances(features, queries, metric: str = "euclidean") -> torch.Tensor:
    """Distances from each query row to every row of ``features``: ``(Q, N)``.

    ``"euclidean"``: ``||q - f||``; ``"cosine"``: ``1 - q.f / (|q| |f|)``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    f = _as_features(features)
    q = _as_features(queries, "queries")
    if metric == "cosine":
        f = torch.nn.functional.normalize(f, dim=1)
        q = torch.nn.functional.normalize(q, dim=1)
        return 1.0 - q @ f.T
    return torch.cdist(q, f)


def nearest_neighbours(features, query: int, k: int = 5, *, metric: str = "euclidean",
                       exclude_self: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` rows of ``features`` closest to row ``query``: ``(indices, distances)``, nearest first."""
    f = _as_features(features)
    if isinstance(query, bool) or not isinstance(query, (int, np.integer)) or not 0 <= query < len(f):
        raise ValueError(f"query must be an image index in 0..{len(f) - 1}, got {query!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < len(f):
        raise ValueError(f"k must be an int in 1..{len(f) - 1}, got {k!r}")
    d = distances(f, f[int(query)][None], metric)[0]
    if exclude_self:
        d[int(query)] = float("inf")
    values, idx = d.topk(k, largest=False)
    return idx, values


def neighbours_figure(images: ImageSet, queries: Sequence[int], spaces: dict[str, torch.Tensor], k: int = 5, *,
                      metric: str = "euclidean", cell: float = 1.1, title: str | None = None) -> Figure:
    """One row per query: the query image, then its ``k`` nearest neighbours in each space, side by side.

    ``spaces`` maps a name (e.g. ``"pixels"``, ``"features"``) to features ``(N, D)``. A neighbour's label is
    written green when it matches the query's, red otherwise.
    """
    if not spaces:
        raise ValueError("spaces is empty; pass e.g. {'pixels': ..., 'features': ...}")
    queries = [int(q) for q in queries]
    if not queries:
        raise ValueError("queries is empty")
    names = list(spaces)
    for name, feats in spaces.items():
        if len(feats) != len(images):
            raise ValueError(f"spaces[{name!r}] has {len(feats)} rows for {len(images)} images")
    # Columns: query, then per space a narrow spacer and its k neighbours.
    ratios = [1.0] + [0.25, *[1.0] * k] * len(names)
    fig, axes = subplots(len(queries), len(ratios), figsize=(cell * sum(ratios), cell * len(queries) + 0.5),
                             squeeze=False, gridspec_kw={"width_ratios": ratios})
    heads = []
    for r, q in enumerate(queries):
        for ax in axes[r]:
            ax.set_axis_off()
        axes[r, 0].imshow(images.image(q))
        axes[r, 0].set_title(f"query: {images.label_name(q)}", fontsize=LABEL_SIZE, fontweight="bold")
        for s, name in enumerate(names):
            col = 2 + s * (k + 1)
            idx, _ = nearest_neighbours(spaces[name], q, k, metric=metric)
            for c, n in enumerate(idx.tolist()):
                ax = axes[r, col + c]
                ax.imshow(images.image(n))
                same = int(images.labels[n]) == int(images.labels[q])
                ax.set_title(images.label_name(n), fontsize=LABEL_SIZE, color="green" if same else "red")
                if r == 0 and c == 0:
                    heads.append((ax, f"nearest in {name} \u2192"))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93 if title else 0.95))
    for ax, text in heads:  # column headings above the first row, placed after the layout is fixed
        box = ax.get_position()
        fig.text(box.x0, box.y1 + 0.6 * (1 - box.y1), text, fontsize=9, fontweight="bold", va="center")
    return fig
