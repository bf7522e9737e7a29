"""First-layer filters, and filters learned from natural-image patches without any labels.

The lecture's claim: first-layer filters of almost any CNN look like oriented edges and colour blobs. The
same shapes appear when a linear unsupervised method (ICA, sparse coding) is fitted to small patches of
natural photos, which is one reason why: they are the statistically independent parts of natural images.
Three numbers make the claim measurable: :func:`orientedness` (edges), :func:`colour_fraction` and
:func:`smoothness` (blobs: chromatic, unoriented *and* smooth; :func:`colour_blobs` combines the three, so that
random noise, which is chromatic and unoriented too, is not counted as a blob).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..images import load_image
from ..models import first_conv
from .._validate import check_int, check_number, seeded_rng


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """The weights ``(out, in, k, k)`` of the model's first convolution, detached, on the CPU."""
    return first_conv(model).weight.detach().float().cpu().clone()


def extract_patches(images: Sequence, patch_size: int = 8, n_patches: int = 20000, seed: int = 0) -> np.ndarray:
    """Random ``patch_size`` x ``patch_size`` RGB patches, flattened to ``(n_patches, 3 * p * p)``.

    Args:
        images: images (arrays, sample names, paths); each must be at least ``patch_size`` on both sides.
        patch_size: side of each square patch in pixels.
        n_patches: how many patches, drawn evenly from the images.
        seed: for the random positions.
    """
    patch_size = check_int("patch_size", patch_size, 2)
    n_patches = check_int("n_patches", n_patches)
    arrays = [load_image(im) for im in images]
    if not arrays:
        raise ValueError("images is empty")
    for i, a in enumerate(arrays):
        if min(a.shape[:2]) < patch_size:
            raise ValueError(f"image {i} ({a.shape[0]}x{a.shape[1]}) is smaller than patch_size={patch_size}")
    rng = seeded_rng(seed)
    out = np.empty((n_patches, 3 * patch_size * patch_size), dtype=np.float32)
    which = rng.integers(0, len(arrays), size=n_patches)
    for row, idx in enumerate(which):
        a = arrays[idx]
        y = rng.integers(0, a.shape[0] - patch_size + 1)
        x = rng.integers(0, a.shape[1] - patch_size + 1)
        out[row] = a[y:y + patch_size, x:x + patch_size].transpose(2, 0, 1).ravel()
    return out


def learn_patch_filters(images: Sequence, n_filters: int = 32, patch_size: int = 8, *, method: str = "ica",
                        n_patches: int = 20000, seed: int = 0) -> torch.Tensor:
    """Filters learned without labels from natural-image patches, shaped like conv weights ``(n, 3, p, p)``.

    The patches' mean patch is removed, then:
    ``"ica"``: FastICA (after PCA whitening) finds ``n_filters`` statistically independent components;
    ``"dictionary"``: mini-batch dictionary learning (sparse coding) finds ``n_filters`` atoms.
    Both give oriented edges and colour-opponent blobs on photos.

    Example:
        >>> w = learn_patch_filters(["cat", "temple", "flower"], n_filters=16, n_patches=5000)  # doctest: +SKIP
        >>> w.shape                                                                            # doctest: +SKIP
        torch.Size([16, 3, 8, 8])
    """
    from sklearn.decomposition import FastICA, MiniBatchDictionaryLearning

    if method not in ("ica", "dictionary"):
        raise ValueError(f"method must be 'ica' or 'dictionary', got {method!r}")
    dim = 3 * patch_size * patch_size
    if not isinstance(n_filters, int) or not 1 <= n_filters <= dim:
        raise ValueError(f"n_filters must be an integer in 1..{dim} for patch_size={patch_size}, got {n_filters!r}")
    patches = extract_patches(images, patch_size, n_patches, seed)
    patches = patches - patches.mean(axis=0, keepdims=True)
    if method == "ica":
        ica = FastICA(n_components=n_filters, whiten="unit-variance", random_state=seed, max_iter=400, tol=1e-3)
        ica.fit(patches)
        filters = ica.components_
    else:
        dl = MiniBatchDictionaryLearning(n_components=n_filters, alpha=0.1, batch_size=256, random_state=seed,
                                         max_iter=10)
        dl.fit(patches / (patches.std() + 1e-8))
        filters = dl.components_
    return torch.from_numpy(np.ascontiguousarray(filters, dtype=np.float32)).view(n_filters, 3, patch_size, patch_size)


def orientedness(filters: torch.Tensor) -> torch.Tensor:
    """How edge-like each filter is: the coherence of its structure tensor, in ``[0, 1]`` per filter.

    With gradients ``gx, gy`` of each colour channel of the filter and the colour structure tensor
    ``J = sum over channels and pixels of [[gx², gx·gy], [gx·gy, gy²]]`` (Di Zenzo's) with eigenvalues
    ``l1 >= l2``, coherence is ``(l1 - l2) / (l1 + l2)``: 1 for a straight edge or grating, near 0 for isotropic
    blobs and noise. Each channel's gradients enter squared, so a colour-opponent edge (red on one side, green on
    the other) is as oriented as a gray one; summing the channels first would cancel it to nothing.
    """
    w = _check_filters(filters)
    gy, gx = torch.gradient(w, dim=(2, 3))  # central differences: no bias towards one corner
    jxx, jyy, jxy = (gx * gx).sum((1, 2, 3)), (gy * gy).sum((1, 2, 3)), (gx * gy).sum((1, 2, 3))
    trace = jxx + jyy
    diff = torch.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2)
    return torch.where(trace > 0, diff / trace.clamp_min(1e-12), torch.zeros_like(trace))


def colour_fraction(filters: torch.Tensor) -> torch.Tensor:
    """The fraction of each RGB filter's energy that is chromatic (not shared by all three channels).

    ``w = g + c`` with ``g`` the per-pixel mean over channels (the gray part); the result is
    ``|c|² / |w|²``: 0 for a gray filter, near 1 for a colour-opponent one (red vs green, blue vs yellow).
    """
    w = _check_filters(filters)
    if w.shape[1] != 3:
        raise ValueError(f"colour_fraction needs RGB filters (in_channels=3), got {w.shape[1]}")
    chroma = w - w.mean(dim=1, keepdim=True)
    total = (w * w).sum((1, 2, 3))
    return torch.where(total > 0, (chroma * chroma).sum((1, 2, 3)) / total.clamp_min(1e-12), torch.zeros_like(total))


def smoothness(filters: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """The share of each filter's energy at low spatial frequency, in ``[0, 1]`` per filter.

    With ``F`` the 2-D DFT of each of the filter's channels and ``f = sqrt(fx² + fy²)`` the frequency in cycles
    per pixel (``0.5`` is the finest pattern a grid holds), the result is ``sum_{f <= cutoff} |F|² / sum |F|²``,
    summed over channels. A smooth blob or a soft edge keeps most of its energy below ``cutoff``, and a one-pixel
    checkerboard has none. White noise spreads its energy evenly over the ``k × k`` frequencies of the DFT, so
    its expected share is the fraction of them at or below ``cutoff``, which depends on the kernel size: with
    the default, 1/9 ≈ 0.11 at 3x3, 5/25 = 0.2 at 5x5, 9/49 ≈ 0.18 at 7x7, 13/64 ≈ 0.2 at 8x8 and
    21/121 ≈ 0.17 at 11x11 (it tends to the low disc's part of the frequency square, ``pi * 0.25² ≈ 0.2``,
    for large kernels). Compare with random filters of the same size.

    On a 3x3 kernel (the first layer of the embedded EfficientNet-Lite0) the frequencies are 0 and ±1/3 cycle
    per pixel, so for any ``cutoff < 1/3`` the only low frequency is 0: the measure is the share of the energy
    in each channel's mean (the DC share), high for a filter close to a constant per channel.
    """
    w = _check_filters(filters)
    cutoff = check_number("cutoff", cutoff, 0.0, 0.5 * 2 ** 0.5, low_open=True)
    energy = torch.fft.fft2(w).abs().square().sum(1)                       # (N, k, k)
    fy = torch.fft.fftfreq(w.shape[-2])[:, None]
    fx = torch.fft.fftfreq(w.shape[-1])[None, :]
    low = (fy.square() + fx.square()).sqrt() <= cutoff
    total = energy.sum((1, 2))
    return torch.where(total > 0, (energy * low).sum((1, 2)) / total.clamp_min(1e-12), torch.zeros_like(total))


def colour_blobs(filters: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Which filters are colour blobs, ``(N,)`` bool: chromatic, unoriented and smooth.

    ``colour_fraction > threshold``, ``orientedness < threshold`` and ``smoothness > threshold`` (see each).
    The first two alone count random noise as a blob (it is chromatic and has no orientation); what noise lacks
    is smoothness. On a 3x3 kernel smoothness is the share of the channels' means (see :func:`smoothness`), so a
    blob there is a filter close to one colour, constant over its 3x3 window.
    """
    threshold = check_number("threshold", threshold, 0.0, 1.0)
    return ((colour_fraction(filters) > threshold) & (orientedness(filters) < threshold)
            & (smoothness(filters) > threshold))


def _check_filters(filters) -> torch.Tensor:
    if isinstance(filters, np.ndarray):
        filters = torch.from_numpy(filters)
    if not isinstance(filters, torch.Tensor):
        raise TypeError(f"filters must be a tensor (out, in, k, k), got {type(filters).__name__}")
    if filters.dim() != 4 or filters.shape[-1] < 2 or filters.shape[-2] < 2:
        raise ValueError(f"filters must have shape (out, in, k, k) with k >= 2, got {tuple(filters.shape)}")
    return filters.detach().float().cpu()
