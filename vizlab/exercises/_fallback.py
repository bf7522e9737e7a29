"""Temporary stand-ins for vizlab.style functions that are not on main yet (removed once they land)."""
from __future__ import annotations

import torch


def gram_matrix(features: torch.Tensor, normalize: str = "chw") -> torch.Tensor:
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    gram = flat @ flat.transpose(1, 2)
    return gram / {"none": 1, "chw": c * h * w, "nchw": n * c * h * w}[normalize]


def content_loss(current, target, weight=1.0):
    return weight * (current - target).pow(2).sum()


def style_loss(feats, target_grams, weights, normalize="chw"):
    total = feats[0].new_zeros(())
    for f, a, w in zip(feats, target_grams, weights):
        total = total + w * (gram_matrix(f, normalize) - a).pow(2).sum()
    return total


def tv_loss(img, weight=1.0):
    dv = img[:, :, 1:, :] - img[:, :, :-1, :]
    dh = img[:, :, :, 1:] - img[:, :, :, :-1]
    return weight * (dv.pow(2).sum() + dh.pow(2).sum())


def instance_norm(x, eps=1e-5):
    mean = x.mean((2, 3), keepdim=True)
    return (x - mean) / (x.var((2, 3), keepdim=True, unbiased=False) + eps).sqrt()
