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
    dv = img[:, :, 1:, :] - img[:, :, :-1, :]
    dh = img[:, :, :, 1:] - img[:, :, :, :-1]
    return weight * (dv.pow(2).sum() + dh.pow(2).sum())


def relative_style_loss(feats: Sequence[torch.Tensor], target_grams: Sequence[torch.Tensor],
                        weights: Sequence[float], normalize: str = "chw") -> torch.Tensor:
    """Style loss with each layer divided by its target's energy: ``sum_l w_l ||G_l - A_l||^2 / ||A_l||^2``.

    This makes every layer count alike whatever its size and activation scale, so one style weight works
    across loss networks (used by vizlab's offline recipe). Per sample when ``feats`` hold a batch.
    """
    total = feats[0].new_zeros(())
    for f, a, w in zip(feats, target_grams, weights):
        g = gram_matrix(f, normalize)
        energy = a.pow(2).sum(dim=(-2, -1)).clamp_min(1e-12)
        total = total + w * ((g - a).pow(2).sum(dim=(-2, -1)) / energy).mean()
    return total


def relative_content_loss(current: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Content loss divided by the target's energy: ``w ||F - P||^2 / ||P||^2`` (per sample, averaged)."""
    dims = tuple(range(1, current.dim()))
    energy = target.pow(2).sum(dim=dims).clamp_min(1e-12)
    return weight * ((current - target).pow(2).sum(dim=dims) / energy).mean()
