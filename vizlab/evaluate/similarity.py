"""How alike are two maps? The three measures of Adebayo et al. (2018), per image.

- :func:`spearman`: rank correlation of ``|map|`` (ties get their average rank).
- :func:`ssim`: structural similarity of the maps scaled to ``[0, 1]``.
- :func:`hog_similarity`: Pearson correlation of the maps' histograms of oriented gradients (shape of the
  edges, not their exact values).

All take two ``(N, H, W)`` (or ``(H, W)``) stacks and return ``(N,)`` float tensors.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata
from skimage.feature import hog
from skimage.metrics import structural_similarity


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    for name, m in (("a", a), ("b", b)):
        if not isinstance(m, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (N, H, W), got {type(m).__name__}")
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    a, b = (a[None] if a.dim() == 2 else a), (b[None] if b.dim() == 2 else b)
    if a.dim() != 3 or a.shape != b.shape:
        raise ValueError(f"a and b must both be (N, H, W) of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return a.numpy().astype(np.float64), b.numpy().astype(np.float64)


def _scaled(m: np.ndarray) -> np.ndarray:
    lo, hi = m.min(), m.max()
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def _corr(u: np.ndarray, v: np.ndarray) -> float:
    u, v = u - u.mean(), v - v.mean()
    den = np.sqrt((u * u).sum() * (v * v).sum())
    return float((u * v).sum() / den) if den > 0 else 0.0  # a constant map carries no ranking: no agreement


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(N,)`` Spearman rank correlation of ``|a|`` and ``|b|`` per image (0 when one map is constant)."""
    a, b = _pair(a, b)
    return torch.tensor([_corr(rankdata(np.abs(u).ravel()), rankdata(np.abs(v).ravel())) for u, v in zip(a, b)])


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(N,)`` SSIM of the maps, each min-max scaled to ``[0, 1]`` (``data_range=1``)."""
    a, b = _pair(a, b)
    return torch.tensor([float(structural_similarity(_scaled(u), _scaled(v), data_range=1.0)) for u, v in zip(a, b)])


def hog_similarity(a: torch.Tensor, b: torch.Tensor, cell: int = 16) -> torch.Tensor:
    """``(N,)`` Pearson correlation of the HOG features (``cell`` x ``cell`` pixel cells, 9 orientations)."""
    a, b = _pair(a, b)
    if min(a.shape[-2:]) < 2 * cell:
        cell = max(2, min(a.shape[-2:]) // 4)  # small maps: smaller cells so there are at least a few blocks

    def feats(m):
        return hog(_scaled(m), orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))

    return torch.tensor([_corr(feats(u), feats(v)) for u, v in zip(a, b)])


MEASURES = {"spearman": spearman, "ssim": ssim, "hog": hog_similarity}
