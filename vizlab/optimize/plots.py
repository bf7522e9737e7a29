"""Figures for optimized images. Each returns a Figure (or draws into ``ax``); none calls ``plt.show()``."""
from __future__ import annotations

from typing import Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..plotting import image_grid, show_image, subplots
from .fooling import FoolingResult
from .render import RenderResult


def show_result(result: RenderResult, ax: Axes | None = None, title: str | None = None) -> Axes:
    """The image of a render, titled with the class and ``p(target)`` when known, and the step count."""
    if title is None:
        info = result.info
        parts = []
        if "class_name" in info:
            parts.append(str(info["class_name"]))
        if "target_probability" in info:
            parts.append(f"p={info['target_probability']:.3f}")
        parts.append(f"step {result.steps}/{result.requested}" + (" (stopped)" if result.stopped else ""))
        title = ", ".join(parts)
    return show_image(result.image[:1], ax=ax, title=title)


def show_snapshots(result: RenderResult, ncols: int | None = None, size: float = 2.0) -> Figure:
    """The snapshots of a render, one panel per recorded step."""
    steps = sorted(result.snapshots)
    return image_grid([result.snapshots[s][:1] for s in steps], [f"step {s}" for s in steps], ncols=ncols, size=size)


def show_fooling(result: FoolingResult, categories: Sequence[str] | None = None, magnify: float = 10.0,
                 size: float = 2.6) -> Figure:
    """CS231n's four panels: original, fooling image, difference, and the difference magnified."""
    name = categories[result.target] if categories is not None else str(result.target)
    diff = result.difference
    scaled = (diff - diff.min()) / (diff.max() - diff.min()).clamp_min(1e-12)
    fig, axes = subplots(1, 4, figsize=(4 * size, size + 0.4))
    show_image(result.original, axes[0], "original")
    show_image(result.fooled, axes[1], f"predicted '{name}' (p={result.probability:.2f})")
    show_image(scaled, axes[2], f"difference (rescaled; max |d| = {diff.abs().max():.3f})")
    show_image(result.magnified(magnify), axes[3], f"difference x{magnify:g}")
    fig.tight_layout()
    return fig


def show_inversions(original: torch.Tensor, results: Sequence[RenderResult], size: float = 2.6) -> Figure:
    """The original next to reconstructions from several layers, titled with layer and pixel MSE."""
    images = [original[:1]] + [r.image[:1] for r in results]
    titles = ["original"] + [f"from {r.info.get('layer', '?')} (MSE {r.info.get('mse', float('nan')):.3f})"
                             for r in results]
    return image_grid(images, titles, size=size)
