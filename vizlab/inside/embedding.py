"""Embeddings of image sets (PCA, t-SNE) and numbers for how well a space groups the labels.

"Semantic distance, not pixel distance" is measured here, not only shown:

- :func:`knn_accuracy` - leave-one-out k-nearest-neighbour accuracy: each image gets the majority label of
  its ``k`` nearest other images; the fraction that gets its own label right.
- :func:`telling_queries` - images whose k-NN vote is right in one space and wrong in another, to show.
- :func:`silhouette` - scikit-learn's silhouette score ``mean((b - a) / max(a, b))`` with ``a`` the mean
  distance to the own class and ``b`` to the nearest other class: near 1 tight separate groups, near 0
  overlapping ones.

:func:`grouping_scores` reports both for several spaces (e.g. raw pixels and penultimate features);
:func:`scatter_thumbnails` draws a 2-D embedding with small images at the points.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validate import check_number, seeded_rng
from .datasets import ImageSet
from .neighbours import _as_features, distances
from ..plotting import LABEL_SIZE, subplots


def _labels(labels, n: int) -> np.ndarray:
    lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).astype(np.int64).ravel()
    if len(lab) != n:
        raise ValueError(f"labels has {len(lab)} entries for {n} feature rows")
    return lab


def pca(features, n_components: int = 2, *, seed: int = 0) -> torch.Tensor:
    """Project onto the ``n_components`` directions of largest variance (scikit-learn ``PCA``)."""
    from sklearn.decomposition import PCA

    f = _as_features(features).numpy()
    if isinstance(n_components, bool) or not isinstance(n_components, int) or not 1 <= n_components <= min(f.shape):
        raise ValueError(f"n_components must be an int in 1..{min(f.shape)}, got {n_components!r}")
    return torch.from_numpy(PCA(n_components, random_state=seed).fit_transform(f).astype(np.float32))


def tsne(features, n_components: int = 2, *, perplexity: float = 30.0, seed: int = 0,
         pca_dims: int | None = 50) -> torch.Tensor:
    """t-SNE embedding (scikit-learn ``TSNE``, PCA initialisation), seeded.

    High-dimensional inputs are first reduced to ``pca_dims`` with PCA (the usual speed-up; ``None`` skips
    it). ``perplexity`` is capped at ``(N - 1) / 3`` so that small sets work.
    """
    from sklearn.manifold import TSNE

    f = _as_features(features).numpy()
    if len(f) < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {len(f)}")
    perplexity = check_number("perplexity", perplexity, low_open=True)
    if pca_dims is not None and f.shape[1] > pca_dims and len(f) > pca_dims:
        f = pca(f, pca_dims, seed=seed).numpy()
    perplexity = min(float(perplexity), (len(f) - 1) / 3)
    emb = TSNE(n_components, perplexity=perplexity, init="pca", random_state=seed).fit_transform(f)
    return torch.from_numpy(emb.astype(np.float32))


def knn_votes(features, labels, k: int = 5, *, metric: str = "euclidean") -> np.ndarray:
    """Leave-one-out k-NN label of every row: the majority label of its ``k`` nearest *other* rows, ``(N,)``.

    Ties go to the label of the nearest neighbour among the tied labels.
    """
    f = _as_features(features)
    lab = _labels(labels, len(f))
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < len(f):
        raise ValueError(f"k must be an int in 1..{len(f) - 1}, got {k!r}")
    voted = np.empty(len(f), dtype=np.int64)
    for start in range(0, len(f), 1024):  # blocks keep the distance matrix small
        d = distances(f, f[start:start + 1024], metric)
        rows = torch.arange(start, min(start + 1024, len(f)))
        d[rows - start, rows] = float("inf")
        idx = d.topk(k, largest=False).indices.numpy()
        for r, neighbours in zip(rows.tolist(), idx):
            votes = lab[neighbours]
            counts = np.bincount(votes)
            best = np.flatnonzero(counts == counts.max())
            voted[r] = next(v for v in votes if v in best)  # the nearest among tied labels
    return voted


def knn_accuracy(features, labels, k: int = 5, *, metric: str = "euclidean") -> float:
    """Leave-one-out k-NN accuracy: the fraction of rows whose ``k`` nearest *other* rows vote their label.

    Ties go to the label of the nearest neighbour among the tied labels (see :func:`knn_votes`).
    """
    lab = _labels(labels, len(_as_features(features)))
    return float((knn_votes(features, lab, k, metric=metric) == lab).mean())


def telling_queries(better, worse, labels, n: int = 3, k: int = 5, *, metric: str = "euclidean") -> list[int]:
    """Queries whose neighbours show the difference between two spaces, chosen by computation.

    A row qualifies when its leave-one-out k-NN vote (:func:`knn_votes`) is right in ``better`` and wrong in
    ``worse``; the result is the first qualifying row (by index) of each label, for the first ``n`` labels that
    have one. So a neighbours figure of these queries shows the claim "``better`` groups the labels better"
    instead of rows where both spaces already agree. Fewer than ``n`` indices come back when fewer labels have
    such a row.

    Example:
        >>> queries = telling_queries(crop_features, crop_pixels, crops.labels, n=3)   # doctest: +SKIP
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    lab = _labels(labels, len(_as_features(better, "better")))
    if len(_as_features(worse, "worse")) != len(lab):
        raise ValueError(f"better and worse must have one row per image: {len(lab)} and "
                         f"{len(_as_features(worse, 'worse'))} rows")
    good = (knn_votes(better, lab, k, metric=metric) == lab) & (knn_votes(worse, lab, k, metric=metric) != lab)
    chosen: dict[int, int] = {}
    for i in np.flatnonzero(good).tolist():
        chosen.setdefault(int(lab[i]), i)
        if len(chosen) == n:
            break
    return list(chosen.values())


def silhouette(features, labels, *, metric: str = "euclidean", sample_size: int | None = 2000, seed: int = 0) -> float:
    """scikit-learn's silhouette score of the labels in this space (on at most ``sample_size`` rows)."""
    from sklearn.metrics import silhouette_score

    f = _as_features(features).numpy()
    lab = _labels(labels, len(f))
    if len(np.unique(lab)) < 2:
        raise ValueError("silhouette needs at least two different labels")
    size = sample_size if sample_size is not None and sample_size < len(f) else None
    return float(silhouette_score(f, lab, metric=metric, sample_size=size, random_state=seed))


def grouping_scores(spaces: dict[str, torch.Tensor], labels, *, k: int = 5,
                    metric: str = "euclidean") -> dict[str, dict[str, float]]:
    """``{space: {"knn": accuracy, "silhouette": score}}`` for each named feature space."""
    if not spaces:
        raise ValueError("spaces is empty; pass e.g. {'pixels': ..., 'features': ...}")
    return {name: {"knn": knn_accuracy(f, labels, k, metric=metric), "silhouette": silhouette(f, labels, metric=metric)}
            for name, f in spaces.items()}


def format_scores(scores: dict[str, dict[str, float]], chance: float | None = None) -> str:
    """A small text table of :func:`grouping_scores` results."""
    lines = [f"{'space':<22}{'k-NN acc':>10}{'silhouette':>12}"]
    for name, s in scores.items():
        lines.append(f"{name:<22}{s['knn']:>10.3f}{s['silhouette']:>12.3f}")
    if chance is not None:
        lines.append(f"{'(chance)':<22}{chance:>10.3f}")
    return "\n".join(lines)


def scatter_thumbnails(coords, images: ImageSet | None = None, labels=None, *, class_names: Sequence[str] | None = None,
                       ax: Axes | None = None, thumbnails: int = 60, thumb_size: float = 40.0, seed: int = 0,
                       title: str | None = None) -> Axes:
    """Scatter a 2-D embedding coloured by label, with image thumbnails at up to ``thumbnails`` points.

    Thumbnails are framed in their label's colour, so clusters of one class are easy to see. Each is
    ``thumb_size`` points wide: at least that many pixels on any screen of 72 dpi or more, big enough to see
    what an image shows (the thumbnails are drawn over the points they stand for, strongest last).
    """
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    xy = _as_features(coords, "coords").numpy()
    if xy.shape[1] != 2:
        raise ValueError(f"coords must be (N, 2), got {xy.shape}")
    if labels is None and images is not None:
        labels = images.labels
    lab = _labels(labels, len(xy)) if labels is not None else np.zeros(len(xy), dtype=np.int64)
    if class_names is None and images is not None and labels is images.labels:
        class_names = images.class_names
    if ax is None:
        _, ax = subplots(figsize=(6, 6))
    cmap = plt.get_cmap("tab10" if lab.max() < 10 else "tab20")
    for c in np.unique(lab):
        sel = lab == c
        name = class_names[c] if class_names is not None and c < len(class_names) else str(c)
        ax.scatter(xy[sel, 0], xy[sel, 1], s=8, color=cmap(c % cmap.N), label=name)
    if images is not None and thumbnails > 0:
        if len(images) != len(xy):
            raise ValueError(f"images has {len(images)} entries for {len(xy)} points")
        rng = seeded_rng(seed)
        chosen = rng.choice(len(xy), size=min(thumbnails, len(xy)), replace=False)
        thumb_size = check_number("thumb_size", thumb_size, low_open=True)   # points
        side = images.size[0]
        for i in chosen:
            box = OffsetImage(images.image(int(i)), zoom=thumb_size / side)
            ab = AnnotationBbox(box, xy[i], frameon=True, pad=0.1,
                                bboxprops={"edgecolor": cmap(lab[i] % cmap.N), "linewidth": 1.2})
            ax.add_artist(ab)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=LABEL_SIZE - 1, markerscale=2, loc="best", framealpha=0.7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def embedding_figure(embeddings: dict[str, torch.Tensor], images: ImageSet, labels=None, *,
                     class_names: Sequence[str] | None = None, scores: dict[str, dict[str, float]] | None = None,
                     thumbnails: int = 60, thumb_size: float = 40.0, size: float = 6.5) -> Figure:
    """Several 2-D embeddings side by side (e.g. t-SNE of pixels and of features), titled with ``scores[name]``."""
    if not embeddings:
        raise ValueError("embeddings is empty")
    fig, axes = subplots(1, len(embeddings), figsize=(size * len(embeddings), size), squeeze=False)
    for ax, (name, xy) in zip(axes[0], embeddings.items()):
        title = name
        if scores is not None and name in scores:
            s = scores[name]
            title += f"\nk-NN {s['knn']:.2f}, silhouette {s['silhouette']:.2f}"
        scatter_thumbnails(xy, images, labels, class_names=class_names, ax=ax, thumbnails=thumbnails,
                           thumb_size=thumb_size, title=title)
    fig.tight_layout()
    return fig
