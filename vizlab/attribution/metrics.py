"""Small numbers that make claims about maps checkable: where the heat is, how gridded, how rough.

Example:
    >>> m = torch.zeros(1, 4, 4); m[:, :2] = 1
    >>> heat_fraction(m, rows=(0, 2)).tolist()
    [1.0]
"""
from __future__ import annotations

import torch


def _maps(maps: torch.Tensor, name: str = "maps") -> torch.Tensor:
    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, H, W), got {type(maps).__name__}")
    if maps.dim() == 2:
        maps = maps[None]
    if maps.dim() != 3:
        raise ValueError(f"{name} must have shape (N, H, W) or (H, W), got {tuple(maps.shape)}")
    return maps.detach().float()


def heat_fraction(maps: torch.Tensor, rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
    """``(N,)`` share of the (non-negative) heat inside a region: ``sum_region M / sum M`` (0 for an empty map).

    The region is ``rows=(start, stop)`` and/or ``cols=(start, stop)``, or a boolean ``mask`` ``(H, W)``.
    """
    m = _maps(maps).clamp(min=0)
    if mask is None:
        mask = torch.zeros(m.shape[-2:], dtype=torch.bool, device=m.device)
        r = slice(*rows) if rows is not None else slice(None)
        c = slice(*cols) if cols is not None else slice(None)
        mask[r, c] = True
    elif mask.shape != m.shape[-2:]:
        raise ValueError(f"mask has shape {tuple(mask.shape)}, the maps {tuple(m.shape[-2:])}")
    total = m.flatten(1).sum(1)
    inside = (m * mask.to(m.device, m.dtype)).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-30), torch.zeros_like(total))


def phase_means(maps: torch.Tensor, period: int = 2) -> torch.Tensor:
    """``(N, period, period)`` mean of the map over pixels ``(i, j)`` with the same ``(i % period, j % period)``,
    divided by the overall mean. A map without a grid gives ones; a stride-2 checkerboard does not."""
    m = _maps(maps)
    n, h, w = m.shape
    h, w = h - h % period, w - w % period
    blocks = m[:, :h, :w].reshape(n, h // period, period, w // period, period).mean((1, 3))
    return blocks / blocks.mean((1, 2), keepdim=True).clamp_min(1e-30)


def grid_strength(maps: torch.Tensor, period: int = 2) -> torch.Tensor:
    """``(N,)`` spread of :func:`phase_means`: ``(max - min) / mean`` over the ``period x period`` phases."""
    p = phase_means(maps, period).flatten(1)
    return p.amax(1) - p.amin(1)


def roughness(maps: torch.Tensor) -> torch.Tensor:
    """``(N,)`` mean absolute difference between neighbouring pixels, relative to the mean of the map."""
    m = _maps(maps)
    m = m / m.flatten(1).mean(1).clamp_min(1e-30)[:, None, None]
    return (m[:, 1:] - m[:, :-1]).abs().flatten(1).mean(1) + (m[:, :, 1:] - m[:, :, :-1]).abs().flatten(1).mean(1)
