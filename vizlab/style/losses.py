"""The losses of neural style transfer: content, Gram matrix, style and total variation.

Conventions (the same as CS231n's assignment, so these functions double as exercise references):

* content loss ``L_c = w * sum((F - P)**2)`` over all elements of the feature maps;
* Gram matrix ``G = F F^T / norm`` with ``F`` the features reshaped to ``(N, C, H*W)``;
* style loss ``L_s = sum_l w_l * sum((G_l - A_l)**2)``;
* total variation ``L_tv = w * (sum (x[i+1, j] - x[i, j])**2 + sum (x[i, j+1] - x[i, j])**2)``.

The Gram normalisation is explicit because it sets the scale of the style weight: implementations
disagree (``"none"``; ``"chw"``, CS231n's ``C*H*W``; ``"nchw"``, the PyTorch tutorial's ``N*C*H*W``).
A style weight tuned for one normalisation is off by a factor ``(C*H*W)**2`` (per layer!) for another.

Example:
    >>> f = torch.ones(1, 2, 3, 3)
    >>> gram_matrix(f, normalize="none")[0]
    tensor([[9., 9.],
            [9., 9.]])
"""
from __future__ import annotations

from typing import Sequence

import torch

from .._validate import check_int, check_number, seeded_generator

GRAM_NORMALIZATIONS = ("none", "chw", "nchw")


def _check_features(features: torch.Tensor, name: str = "features") -> None:
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(features).__name__}")
    if features.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W); got {tuple(features.shape)}")


class _Gram(torch.autograd.Function):
    """``F F^T`` for ``F`` of shape ``(N, C, L)``, with a backward that uses the symmetry of the product.

    Autograd's generic backward of ``F @ F.transpose`` computes two products, ``g F`` and ``(F^T g)^T``, and
    adds a transposed (strided, cache-unfriendly) tensor to a contiguous one. Since the result is ``F F^T``,
    ``dL/dF = (g + g^T) F``: one product, one contiguous result (measured in benchmarks/bench_style.py).
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(flat)
        return flat @ flat.transpose(1, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (flat,) = ctx.saved_tensors
        return (grad + grad.transpose(1, 2)) @ flat


def gram_matrix(features: torch.Tensor, normalize: str = "chw") -> torch.Tensor:
    """Gram matrices ``G[n] = F[n] F[n]^T / norm`` of feature maps, one per sample.

    Args:
        features: ``(N, C, H, W)`` activations.
        normalize: the divisor ``norm``: ``"none"`` (1), ``"chw"`` (``C*H*W``, CS231n), or ``"nchw"``
            (``N*C*H*W``, as the PyTorch neural-style tutorial, whose Gram of a batch of one is the same
            as ``"chw"``; for ``N > 1`` the tutorial mixes samples into one matrix, we keep one per sample).

    Returns:
        ``(N, C, C)`` symmetric positive semi-definite matrices; invariant to permuting positions.

    Example:
        >>> gram_matrix(torch.rand(2, 8, 5, 5)).shape
        torch.Size([2, 8, 8])
    """
    _check_features(features)
    if normalize not in GRAM_NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {GRAM_NORMALIZATIONS}, got {normalize!r}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    gram = _Gram.apply(flat) if torch.is_grad_enabled() and flat.requires_grad else flat @ flat.transpose(1, 2)
    if normalize == "chw":
        gram = gram / (c * h * w)
    elif normalize == "nchw":
        gram = gram / (n * c * h * w)
    return gram


def content_loss(current: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """``weight * sum((current - target)**2)``: squared distance between feature maps.

    Example:
        >>> content_loss(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2), weight=0.5)
        tensor(2.)
    """
    if not isinstance(current, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError("current and target must be torch.Tensors, got "
                        f"{type(current).__name__} and {type(target).__name__}")
    if current.shape != target.shape:
        raise ValueError(f"current and target must have the same shape; got {tuple(current.shape)} and "
                         f"{tuple(target.shape)}")
    return weight * (current - target).pow(2).sum()


def style_loss(feats: Sequence[torch.Tensor], target_grams: Sequence[torch.Tensor], weights: Sequence[float],
               normalize: str = "chw") -> torch.Tensor:
    """``sum_l weights[l] * sum((gram(feats[l]) - target_grams[l])**2)`` over the style layers.

    Args:
        feats: features of the image being optimised, one ``(N, C, H, W)`` tensor per style layer.
        target_grams: the style image's Gram matrices (``(C, C)`` or ``(N, C, C)``), same order.
        weights: one weight per layer.
        normalize: Gram normalisation, see :func:`gram_matrix` (must match how the targets were made).
    """
    feats, target_grams, weights = list(feats), list(target_grams), list(weights)
    if not (len(feats) == len(target_grams) == len(weights)):
        raise ValueError(f"feats, target_grams and weights must have the same length; got {len(feats)}, "
                         f"{len(target_grams)} and {len(weights)}")
    if not feats:
        raise ValueError("feats is empty: give at least one style layer")
    total = feats[0].new_zeros(())
    for f, a, w in zip(feats, target_grams, weights):
        g = gram_matrix(f, normalize)
        if a.shape[-2:] != g.shape[-2:]:
            raise ValueError(f"a target Gram matrix has shape {tuple(a.shape)}, but the features give "
                             f"{tuple(g.shape)}")
        total = total + w * (g - a).pow(2).sum()
    return total


def tv_loss(img: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Total variation ``weight * (sum of squared vertical + horizontal neighbour differences)``.

    Zero on a constant image; penalises high-frequency noise. No loops: two shifted differences.

    Example:
        >>> tv_loss(torch.tensor([[[[0., 1.], [0., 1.]]]]))
        tensor(2.)
    """
    _check_features(img, "img")
    # The same sum as :func:`vizlab.optimize.regularizers.total_variation` (a test holds them equal to the bit),
    # written here because importing ``vizlab.optimize`` loads matplotlib, which the style training must not need.
    return weight * ((img[..., 1:, :] - img[..., :-1, :]).pow(2).sum() + (img[..., :, 1:] - img[..., :, :-1]).pow(2).sum())


def relative_style_loss(feats: Sequence[torch.Tensor], target_grams: Sequence[torch.Tensor],
                        weights: Sequence[float], normalize: str = "chw") -> torch.Tensor:
    """Style loss with each layer divided by its target's energy: ``sum_l w_l ||G_l - A_l||^2 / ||A_l||^2``.

    This makes every layer count alike whatever its size and activation scale, so one style weight works
    across loss networks (used by vizlab's offline recipe). Per sample when ``feats`` hold a batch.
    """
    return relative_gram_loss([gram_matrix(f, normalize) for f in feats], target_grams, weights)


def relative_gram_loss(grams: Sequence[torch.Tensor], target_grams: Sequence[torch.Tensor],
                       weights: Sequence[float]) -> torch.Tensor:
    """:func:`relative_style_loss` on Gram matrices already computed: ``sum_l w_l ||G_l - A_l||^2 / ||A_l||^2``
    (``gatys.gram_distance`` is this with equal weights)."""
    total = grams[0].new_zeros(())
    for g, a, w in zip(grams, target_grams, weights):
        total = total + w * relative_gram_error(g, a).mean()
    return total


def relative_gram_error(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||G - A||^2 / ||A||^2`` per sample (Gram matrices in the last two dimensions): one layer's term of
    :func:`relative_style_loss`."""
    return (gram - target).pow(2).sum(dim=(-2, -1)) / target.pow(2).sum(dim=(-2, -1)).clamp_min(1e-12)


def relative_content_loss(current: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Content loss divided by the target's energy: ``w ||F - P||^2 / ||P||^2`` (per sample, averaged)."""
    dims = tuple(range(1, current.dim()))
    energy = target.pow(2).sum(dim=dims).clamp_min(1e-12)
    return weight * ((current - target).pow(2).sum(dim=dims) / energy).mean()


def style_palette(style: torch.Tensor, n: int = 64, iters: int = 15, seed: int = 0) -> torch.Tensor:
    """``(n, 3)`` colours that summarise a style image: k-means (Lloyd's iterations) on its pixels.

    Args:
        style: ``(3, H, W)`` or ``(1, 3, H, W)`` image in ``[0, 1]``.
        n: number of colours (fewer if the image has fewer pixels).
        iters: Lloyd iterations, started from ``n`` distinct random pixels (seeded).

    Example:
        >>> style_palette(torch.zeros(3, 4, 4), n=2).shape
        torch.Size([2, 3])
    """
    if not isinstance(style, torch.Tensor):
        raise TypeError(f"style must be a torch.Tensor, got {type(style).__name__}")
    if style.dim() == 4 and style.shape[0] == 1:
        style = style[0]
    if style.dim() != 3 or style.shape[0] != 3:
        raise ValueError(f"style must have shape (3, H, W) or (1, 3, H, W); got {tuple(style.shape)}")
    n = check_int("n", n)
    pixels = style.detach().reshape(3, -1).t().float()
    gen = seeded_generator(seed)
    centres = pixels[torch.randperm(len(pixels), generator=gen)[:n]].clone()
    for _ in range(iters):
        assign = torch.cdist(pixels, centres).argmin(dim=1)
        sums = torch.zeros_like(centres).index_add_(0, assign, pixels)
        counts = torch.bincount(assign, minlength=len(centres)).unsqueeze(1)
        # An empty cluster keeps its old centre (it is still a colour of the image).
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
    return centres


def palette_loss(img: torch.Tensor, palette: torch.Tensor, margin: float = 0.08,
                 weight: float = 1.0) -> torch.Tensor:
    """How far the pixels of ``img`` stray from a style's colours: ``weight * mean(relu(d - margin)**2)``.

    ``d`` is each pixel's RGB distance to its nearest ``palette`` colour (see :func:`style_palette`); pixels
    within ``margin`` of the palette cost nothing, so the term leaves the style's own colours (and shades
    between close palette entries) free and only pulls outliers back. The Gram loss alone cannot do that
    for a *flat* region: a constant patch adds almost nothing to a Gram matrix averaged over the image, so
    its colour drifts to tones the style lacks (vizlab's "blobs"). Gradient: each stray pixel is pulled
    straight towards its nearest palette colour.

    Example:
        >>> palette_loss(torch.full((1, 3, 2, 2), 0.5), torch.zeros(1, 3), margin=0.0)
        tensor(0.7500)
    """
    _check_features(img, "img")
    if not isinstance(palette, torch.Tensor) or palette.dim() != 2 or palette.shape[1] != img.shape[1]:
        raise ValueError(f"palette must be a (K, {img.shape[1]}) tensor of colours; got "
                         f"{tuple(palette.shape) if isinstance(palette, torch.Tensor) else type(palette).__name__}")
    margin = check_number("margin", margin)
    pixels = img.permute(0, 2, 3, 1).reshape(-1, img.shape[1])
    palette = palette.to(pixels)
    # Squared distances by expansion, clamped before the root: cdist's backward at a zero distance (a pixel
    # exactly on a palette colour) can give NaN, which relu's zero gradient would not cancel.
    d2 = pixels.pow(2).sum(1, keepdim=True) - 2 * pixels @ palette.t() + palette.pow(2).sum(1)
    d = d2.min(dim=1).values.clamp_min(1e-12).sqrt()
    return weight * torch.relu(d - margin).pow(2).mean()


#: Rec. 601 luminance weights (also :func:`vizlab.style.quality.blob_check`'s).
_LUMA = (0.299, 0.587, 0.114)


def darkening_loss(img: torch.Tensor, photo: torch.Tensor, black: float = 0.15, dark_photo: float = 0.2,
                   weight: float = 1.0) -> torch.Tensor:
    """Penalise near-black output where the photo is not dark: ``weight * mean(m * relu(black - max_c(img)))``.

    ``m`` is 1 where the photo's luminance is at least ``dark_photo`` and 0 elsewhere (a black coat may stay
    black); ``max_c`` is a pixel's brightest channel, so a pixel costs something only when *every* channel is
    below ``black`` - the near-black test of :func:`vizlab.style.quality.blob_check`, which counts such pixels
    as droplets. Why a separate term: the palette term cannot forbid near-black when the style image itself
    has near-black strokes, and instance-norm networks paint black droplets on saturated red and pink areas
    (their luminance is ~0.3, so the photo is not dark there). The hinge is linear, not squared, so a pixel
    deep in the tanh's saturation still gets a firm push back.

    Args:
        img: ``(N, 3, H, W)`` output in ``[0, 1]``.
        photo: ``(N, 3, H, W)`` the input it was made from (no gradient flows into it).
        black: brightest-channel level below which a pixel counts as near-black.
        dark_photo: photo luminance below which the photo is dark and black output is allowed.

    Example:
        >>> darkening_loss(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2), black=0.1)
        tensor(0.1000)
    """
    _check_features(img, "img")
    _check_features(photo, "photo")
    if img.shape[1] != 3 or photo.shape != img.shape:
        raise ValueError(f"img and photo must be RGB batches of one shape; got {tuple(img.shape)} and "
                         f"{tuple(photo.shape)}")
    black = check_number("black", black, 0, 1, low_open=True)
    dark_photo = check_number("dark_photo", dark_photo, 0, 1)
    luma = torch.tensor(_LUMA, dtype=photo.dtype, device=photo.device).view(1, 3, 1, 1)
    lit = ((photo.detach() * luma).sum(1) >= dark_photo).to(img.dtype)
    return weight * (lit * torch.relu(black - img.amax(dim=1))).mean()


def saturation_loss(logits: torch.Tensor, limit: float = 3.0, weight: float = 1.0) -> torch.Tensor:
    """Penalise a style network's pre-``tanh`` outputs beyond ``limit``: ``weight * mean(relu(|logits| - limit))``.

    A droplet is the visible end of an activation spike: instance norm divides every feature map by its own
    standard deviation, so a network can write a huge value into a small spot to set the statistics of the
    whole map (StyleGAN2 made the same diagnosis for its droplets). The spot comes out of the final ``tanh``
    fully saturated: pre-``tanh`` values up to 50-200 in vizlab's 1000-step ``impression`` network, while 96 %
    of its outputs stay within +-3. A penalty
    on one colour only moves the spike to another (forbidding near-black gave saturated red droplets), so
    this term bounds the spike itself, in any channel. ``limit = 3`` still allows every output in
    ``[0.0025, 0.9975]``, so the style's own near-black and white stay free. The hinge is linear: the
    spikes are two orders of magnitude past the limit and a squared hinge would swamp the other terms.

    Args:
        logits: ``(N, 3, H, W)`` values before the ``tanh`` (:meth:`TransformerNet.logits`).
        limit: the largest magnitude that costs nothing.

    Example:
        >>> saturation_loss(torch.tensor([0.0, 5.0, -13.0, 2.0]).view(1, 4, 1, 1), limit=3.0)
        tensor(3.)
    """
    _check_features(logits, "logits")
    limit = check_number("limit", limit, low_open=True)
    return weight * torch.relu(logits.abs() - limit).mean()
