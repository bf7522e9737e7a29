"""Receptive fields: which input pixels can influence one unit of a layer.

Along each axis a layer's units see input windows of one ``size``, placed every ``stride`` input pixels
(the "jump"), the first one starting at ``start`` (negative when padding reaches outside the image). They
follow from the network's convolutions and pooling layers, composed in forward order:

    size_out  = size_in + (k_eff - 1) * stride_in,      k_eff = dilation * (kernel - 1) + 1
    stride_out = stride_in * s
    start_out = start_in - pad_before * stride_in

with ``size = stride = 1, start = 0`` at the input. Unit ``i`` of a layer then sees input pixels
``start + i * stride`` to ``start + i * stride + size - 1``; its centre (the "offset") is
``start + i * stride + (size - 1) / 2``.

:func:`receptive_fields` finds the layers by running the model once on a dummy input with a forward hook on
every module, so that it sees the modules in the order they run and the real padding of each one: timm's
``Conv2dSame`` (TensorFlow "SAME" padding, used by EfficientNet-Lite0) pads by an amount that depends on the
input size, and ``padding="same"`` convolutions too. Explicit pad layers (``nn.ReflectionPad2d`` before each
unpadded 3x3 convolution of the style-transfer VGG-19) move the start like a convolution's own padding;
reflected and replicated pixels come from inside the field, so its clipped box still holds every pixel that
can reach the unit. Branches: a module whose input does not have the
spatial size of the main path so far (a squeeze-excitation 1x1 conv, a residual shortcut that downsamples)
is skipped; residual additions do not change the field, because the main path's field contains the
shortcut's. Global pooling gives a field that covers the whole input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..device import model_device
from ..models import VizModel, resolve_layer


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of every unit of one layer, per axis ``(rows, columns)``.

    Attributes:
        size: side lengths of each unit's field in input pixels.
        stride: input pixels between the fields of neighbouring units (the jump).
        start: input coordinate of the first pixel of unit ``(0, 0)``'s field (negative: it starts in padding).
        input_size: the input size the field was computed for.
        output_size: the layer's spatial size at that input size.
    """

    size: tuple[int, int]
    stride: tuple[int, int]
    start: tuple[int, int]
    input_size: tuple[int, int]
    output_size: tuple[int, int]

    @property
    def offset(self) -> tuple[float, float]:
        """Centre of unit ``(0, 0)``'s field in input coordinates: ``start + (size - 1) / 2``."""
        return tuple(s + (n - 1) / 2 for s, n in zip(self.start, self.size))

    def box(self, i: int, j: int, *, clip: bool = True) -> tuple[int, int, int, int]:
        """Input window of unit ``(i, j)`` as half-open ``(y0, y1, x0, x1)``.

        With ``clip`` (default) it is cut to the image; near the border the window is then smaller than
        :attr:`size`, because the rest of the field lies in the padding.
        """
        y0 = self.start[0] + i * self.stride[0]
        x0 = self.start[1] + j * self.stride[1]
        y1, x1 = y0 + self.size[0], x0 + self.size[1]
        if clip:
            h, w = self.input_size
            y0, x0, y1, x1 = max(0, y0), max(0, x0), min(h, y1), min(w, x1)
        return int(y0), int(y1), int(x0), int(x1)

    def center(self, i: int, j: int) -> tuple[float, float]:
        """Centre of unit ``(i, j)``'s field in input coordinates."""
        return (self.offset[0] + i * self.stride[0], self.offset[1] + j * self.stride[1])


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _same_pad(size: int, k: int, s: int, d: int) -> int:
    """Padding before the input under TensorFlow's "SAME" rule (what timm's ``*Same`` layers do)."""
    total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2


# Pad layers that keep each pixel where it was; circular padding (which wraps the far edge in) is not among them.
_PADS = (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)


def _geometry(module: nn.Module, in_hw: tuple[int, int], out_hw: tuple[int, int]):
    """``[(k_eff, stride, pad_before)] * 2`` for a layer that moves or widens fields, else ``None``."""
    name = type(module).__name__
    dynamic_same = "Same" in name  # timm: Conv2dSame, MaxPool2dSame, AvgPool2dSame
    if isinstance(module, nn.Conv2d) or isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = _pair(module.kernel_size)
        s = _pair(module.stride if module.stride is not None else module.kernel_size)
        d = _pair(getattr(module, "dilation", 1))
        padding = module.padding
        result = []
        for axis in range(2):
            if dynamic_same:
                pad = _same_pad(in_hw[axis], k[axis], s[axis], d[axis])
            elif padding == "same":
                pad = d[axis] * (k[axis] - 1) // 2
            elif padding == "valid":
                pad = 0
            else:
                pad = _pair(padding)[axis]
            result.append((d[axis] * (k[axis] - 1) + 1, s[axis], pad))
        return result
    if isinstance(module, _PADS) and len(module.padding) == 4:
        # An explicit pad layer (VGG-19 of style transfer: reflection pad, then a conv with padding 0) moves the
        # fields' start by its before-padding and widens nothing; (left, right, top, bottom) -> rows, columns.
        # (Reflected pixels come from inside the field only while the pad is at most (k - 1) / 2 of the conv after
        # it, as in VGG-19's pad 1 before each 3x3 conv.)
        left, _, top, _ = (int(p) for p in module.padding)
        return [(1, 1, top), (1, 1, left)]
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        result = []
        for axis in range(2):
            n_in, n_out = in_hw[axis], out_hw[axis]
            if n_in % n_out == 0:
                result.append((n_in // n_out, n_in // n_out, 0))
            else:  # uneven windows: the widest window and the smallest step (an upper bound)
                result.append((math.ceil(n_in / n_out) + 1, n_in // n_out, 0))
        return result
    return None


def _hw(t) -> tuple[int, int] | None:
    if isinstance(t, (tuple, list)):
        t = t[0] if t else None
    if isinstance(t, torch.Tensor) and t.dim() == 4:
        return int(t.shape[2]), int(t.shape[3])
    return None


def _input_size(model: nn.Module, input_size) -> tuple[int, int]:
    if input_size is None:
        input_size = getattr(model, "input_size", None) or 224
    hw = _pair(input_size) if isinstance(input_size, (int, tuple, list)) else None
    if hw is None or min(hw) < 1:
        raise ValueError(f"input_size must be an int or (H, W) of positive ints, got {input_size!r}")
    return hw


@torch.no_grad()
def receptive_fields(model: nn.Module, input_size: int | tuple[int, int] | None = None) -> dict[str, ReceptiveField]:
    """The receptive field of every module's output, by module path (and friendly name for a VizModel).

    Args:
        model: any network taking ``(N, 3, H, W)`` images.
        input_size: ``H`` (square) or ``(H, W)``; default: the model's ``input_size`` or 224.

    Example:
        >>> from vizlab.toy import tiny_cnn
        >>> receptive_fields(tiny_cnn(), 16)["conv2"].size    # 3x3, then 3x3 with stride 2
        (5, 5)
    """
    hw = _input_size(model, input_size)
    state = {"hw": hw, "size": [1, 1], "stride": [1, 1], "start": [0, 0]}
    fields: dict[str, ReceptiveField] = {}
    handles = []

    def field() -> ReceptiveField:
        return ReceptiveField(tuple(state["size"]), tuple(state["stride"]), tuple(state["start"]), hw, state["hw"])

    def make_hook(path: str):
        def hook(module, inputs, output):
            in_hw, out_hw = _hw(inputs), _hw(output)
            geometry = _geometry(module, in_hw, out_hw) if in_hw is not None and out_hw is not None else None
            on_path = in_hw == state["hw"] or (in_hw is None and state["hw"] == (1, 1))
            if (geometry is None and in_hw == state["hw"] and out_hw is not None and out_hw != in_hw
                    and next(module.children(), None) is None):
                # A leaf on the main path that resizes with no known geometry (circular padding, a module that
                # pads or resamples with torch.nn.functional): every field after it would be silently wrong.
                raise ValueError(f"receptive fields: layer {path!r} ({type(module).__name__}) changes the map from "
                                 f"{in_hw} to {out_hw} and its geometry is not known; vizlab knows convolutions, "
                                 f"pooling and zero/constant/reflection/replication pad layers")
            if geometry is not None and in_hw == state["hw"]:
                for axis, (k_eff, s, pad) in enumerate(geometry):
                    state["start"][axis] -= pad * state["stride"][axis]
                    state["size"][axis] += (k_eff - 1) * state["stride"][axis]
                    state["stride"][axis] *= s
                state["hw"] = out_hw
            # A leaf module is on the main path when its input was; a container (a block) when its output is.
            # A flat output (after global pooling and flattening) keeps the pooled field.
            flat = out_hw is None and isinstance(output, torch.Tensor) and state["hw"] == (1, 1)
            is_leaf = next(module.children(), None) is None
            if (out_hw == state["hw"] or flat) and (on_path or not is_leaf):
                fields[path] = field()
        return hook

    try:
        for path, module in model.named_modules():
            if path:
                handles.append(module.register_forward_hook(make_hook(path)))
        was_training = model.training
        model.eval()
        try:
            model(torch.zeros(1, 3, *hw, device=model_device(model)))
        finally:
            model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    if isinstance(model, VizModel):
        for friendly, path in model.layers.items():
            if path in fields:
                fields[friendly] = fields[path]
    return fields


def receptive_field(model: nn.Module, layer: str | nn.Module,
                    input_size: int | tuple[int, int] | None = None) -> ReceptiveField:
    """The receptive field of one layer (friendly name, module path or module); see :func:`receptive_fields`.

    Raises:
        ValueError: the layer is unknown, did not run, or is on a side branch whose size differs from the
            main path's.
    """
    name, module = resolve_layer(model, layer)
    path = next(p for p, m in model.named_modules() if m is module)
    fields = receptive_fields(model, input_size)
    if path not in fields:
        raise ValueError(f"layer {name!r} has no receptive field on the main path (it did not run, or it is on a "
                         f"side branch such as squeeze-excitation); pick a layer of the main path")
    return fields[path]
