"""Feature maps at named layers, and how sparse they are by depth.

Shallow layers keep spatial detail (many channels respond a little almost everywhere); deep layers are
sparse and semantic (few channels respond, in few places). :func:`sparsity` puts a number on it.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..hooks import capture
from ..models import VizModel, layer_names, model_input


def activated_layers(model: nn.Module) -> list[str]:
    """Layers whose outputs have passed a ReLU-like activation, shallow to deep.

    For the embedded EfficientNet-Lite0: ``stem``, ``block1_dw``, ``block2_expand`` ... ``block7_expand``,
    ``head`` (block outputs themselves are linear bottlenecks, not activations). For torchvision models:
    the ``relu*`` layers (VGG, AlexNet, SqueezeNet), ``stem`` and ``layer1..4`` (ResNet). For other
    models: every ``nn.ReLU``/``nn.ReLU6`` module by path.
    """
    if isinstance(model, VizModel):
        names = [n for n in model.layers
                 if n in ("stem", "head") or n.endswith(("_expand", "_dw")) or n.startswith(("relu", "fire"))
                 or (n.startswith("layer") and n[5:].isdigit())]
        if names:
            return names
    return [n for n, m in model.named_modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]


@torch.no_grad()
def feature_maps(model: nn.Module, images, layers: str | Sequence[str]) -> dict[str, torch.Tensor]:
    """Activations ``{layer: (N, C, H, W)}`` of image(s) at one or more layers, detached.

    Args:
        model: a :class:`~vizlab.models.VizModel` (takes sample names, paths, arrays, resized to its input
            size) or any ``nn.Module`` (takes tensors or same-sized images in ``[0, 1]``).
        images: one image or a batch.
        layers: friendly names or module paths.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    x = model_input(model, images)
    with capture(model, names) as cap:
        model(x)
    return {n: cap[n] for n in names}


def sparsity(model: nn.Module, images, layers: Sequence[str] | None = None, *, threshold: float = 0.0
             ) -> dict[str, float]:
    """Fraction of activations ``<= threshold`` at each layer (``0.0``: exactly zero after a ReLU).

    Args:
        layers: defaults to :func:`activated_layers` (sparsity only means something after an activation).

    Returns:
        ``{layer: fraction}`` in the order of ``layers``.
    """
    names = activated_layers(model) if layers is None else list(layers)
    if not names:
        raise ValueError("layers is empty and the model has no ReLU layers to default to")
    maps = feature_maps(model, images, names)
    return {n: float((maps[n] <= threshold).float().mean()) for n in names}


def channel_ranking(maps: torch.Tensor) -> list[int]:
    """Channels of one activation ``(C, H, W)`` or ``(1, C, H, W)`` from most to least active (mean)."""
    a = maps[0] if maps.dim() == 4 else maps
    if a.dim() != 3:
        raise ValueError(f"maps must be (C, H, W) or (1, C, H, W), got {tuple(maps.shape)}")
    return a.flatten(1).mean(1).argsort(descending=True).tolist()


__all__ = ["activated_layers", "feature_maps", "sparsity", "channel_ranking", "layer_names"]
