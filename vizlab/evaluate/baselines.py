"""Maps that explain nothing about the model, to compare every method with.

- :func:`edge_map`: the Sobel gradient magnitude of the image (max over colour channels): what a method that
  only finds edges would draw. Adebayo et al. (2018) found guided backprop close to it.
- :func:`random_map`: uniform noise (seeded): the floor of any faithfulness score.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..attribution._common import safe_normalize
from .._validate import seeded_generator


def _images(images) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor (N, 3, H, W), got {type(images).__name__}")
    x = images[None] if images.dim() == 3 else images
    if x.dim() != 4:
        raise ValueError(f"images must have shape (3, H, W) or (N, C, H, W), got {tuple(images.shape)}")
    return x.detach().float()


def edge_map(images: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` Sobel magnitude ``sqrt(gx^2 + gy^2)``, max over channels, scaled to ``[0, 1]`` per image."""
    x = _images(images)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], device=x.device)
    k = torch.stack([kx, kx.t()])[:, None]                      # (2, 1, 3, 3)
    n, c, h, w = x.shape
    g = F.conv2d(F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate"), k)
    mag = g.pow(2).sum(1).sqrt().view(n, c, h, w).amax(1)
    return safe_normalize(mag, "edge map")


def random_map(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``(N, H, W)`` uniform noise in ``[0, 1)`` from a private generator (same seed, same map)."""
    x = _images(images)
    g = seeded_generator(seed)
    return torch.rand(x.shape[0], *x.shape[-2:], generator=g).to(x.device)
