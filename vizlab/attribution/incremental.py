"""Incremental inference for occlusion: recompute only the part of each feature map that a patch changes.

Occluding a ``p x p`` patch changes only a window of every early feature map: a ``k x k`` convolution with
stride ``s`` turns a changed window of ``h`` rows into at most ``(h + k - 2) // s + 1`` changed rows, and
pointwise layers (batch norm, ReLU6, 1x1 convolutions) keep it. So each occluded image is carried through the
network as *the clean image's feature map plus one window*, and only the window is recomputed, from a crop of
the clean map with the previous window pasted in (the idea of Krypton, Nakandala et al., SIGMOD 2019). The
result is exact up to floating-point summation order. Once the window covers the whole map (the last stages
at 7 x 7) the computation is an ordinary batched forward pass.

Supported: networks made only of local operations up to global average pooling — timm EfficientNet-Lite
(``tf_efficientnet_lite0``, the embedded model: no squeeze-excitation), i.e. convolutions, batch norm with
activation, and residual additions. :func:`supports_incremental` says whether a model qualifies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Windowed:
    """A batch of ``B`` maps equal to ``base`` ``(1, C, H, W)`` except ``win[b]`` ``(C, h, w)`` at ``(top[b], left[b])``."""

    base: torch.Tensor
    win: torch.Tensor
    top: list[int]
    left: list[int]

    def crops(self, pad: tuple[int, int, int, int], tops: list[int], lefts: list[int], hh: int, ww: int) -> torch.Tensor:
        """``(B, C, hh, ww)`` crops at ``(tops[b], lefts[b])`` of each map zero-padded by ``pad = (l, r, t, b)``."""
        pl, pr, pt, pb = pad
        padded = F.pad(self.base, (pl, pr, pt, pb)) if any(pad) else self.base
        h, w = self.win.shape[-2:]
        # in the base's memory format: oneDNN's depthwise convolutions are ~3x slower on NCHW crops of NHWC maps
        fmt = torch.channels_last if _is_nhwc(self.base) else torch.contiguous_format
        out = torch.empty((len(tops), padded.shape[1], hh, ww), dtype=padded.dtype, device=padded.device,
                          memory_format=fmt)
        for b, (r, c) in enumerate(zip(tops, lefts)):
            out[b] = padded[0, :, r:r + hh, c:c + ww]
            wr, wc = self.top[b] + pt, self.left[b] + pl  # the window in padded coordinates
            r0, r1, c0, c1 = max(r, wr), min(r + hh, wr + h), max(c, wc), min(c + ww, wc + w)
            if r0 < r1 and c0 < c1:
                out[b, :, r0 - r:r1 - r, c0 - c:c1 - c] = self.win[b, :, r0 - wr:r1 - wr, c0 - wc:c1 - wc]
        return out

    def full(self) -> torch.Tensor:
        """The ``B`` complete maps."""
        h, w = self.base.shape[-2:]
        return self.crops((0, 0, 0, 0), [0] * len(self.top), [0] * len(self.top), h, w)


class _Base(dict):
    """The clean image's map after each module, computed once per image and shared by all its chunks."""

    def of(self, module: nn.Module, x: torch.Tensor, fn=None) -> torch.Tensor:
        key = id(module)
        if key not in self:
            self[key] = (fn or module)(x)
        return self[key]


def _pointwise(module: nn.Module, s: Windowed, base: _Base) -> Windowed:
    return Windowed(base.of(module, s.base), module(s.win), s.top, s.left)


def _is_nhwc(t: torch.Tensor) -> bool:
    return t.dim() == 4 and t.shape[1] > 1 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


def _conv(conv: nn.Conv2d, s: Windowed, cache: _Base) -> Windowed:
    k, st = conv.kernel_size[0], conv.stride[0]
    if conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding in ((0, 0), "valid"):
        # a pointwise convolution changes exactly the window it is given: no crop of the base map needed
        return Windowed(cache.of(conv, s.base), conv(s.win), s.top, s.left)
    H, W = s.base.shape[-2:]
    if type(conv).__name__ == "Conv2dSame":  # TensorFlow "same" padding, computed from the input size
        ph = max((math.ceil(H / st) - 1) * st + k - H, 0)
        pw = max((math.ceil(W / st) - 1) * st + k - W, 0)
        pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    else:
        p = conv.padding[0]
        pad = (p, p, p, p)
    base = cache.of(conv, s.base)
    ho, wo = base.shape[-2:]
    h, w = s.win.shape[-2:]
    hh, ww = min(ho, (h + k - 2) // st + 1), min(wo, (w + k - 2) // st + 1)
    tops = [min(max(-((k - 1 - t - pad[2]) // st), 0), ho - hh) for t in s.top]      # ceil((t + pt - k + 1) / s)
    lefts = [min(max(-((k - 1 - l - pad[0]) // st), 0), wo - ww) for l in s.left]
    crop = s.crops(pad, [t * st for t in tops], [l * st for l in lefts], (hh - 1) * st + k, (ww - 1) * st + k)
    win = F.conv2d(crop, conv.weight, conv.bias, stride=st, groups=conv.groups)
    return Windowed(base, win, tops, lefts)


def _add(shortcut: Windowed, main: Windowed) -> Windowed:
    # (main.base + shortcut.base is cheap next to the convolutions; it is not cached)
    h, w = main.win.shape[-2:]
    inside = all(mt <= t and t + shortcut.win.shape[-2] <= mt + h and ml <= l and l + shortcut.win.shape[-1] <= ml + w
                 for t, l, mt, ml in zip(shortcut.top, shortcut.left, main.top, main.left))
    if not inside:  # never seen with stride-1 blocks; fall back to whole maps, still exact
        H, W = main.base.shape[-2:]
        zeros = [0] * len(main.top)
        return Windowed(main.base + shortcut.base, main.full() + shortcut.full(), zeros, zeros)
    return Windowed(main.base + shortcut.base, main.win + shortcut.crops((0, 0, 0, 0), main.top, main.left, h, w),
                    main.top, main.left)


def _check_block(block: nn.Module) -> None:
    kind = type(block).__name__
    if kind not in ("DepthwiseSeparableConv", "InvertedResidual"):
        raise ValueError(f"incremental occlusion does not know blocks of type {kind}")
    if getattr(block, "conv_s2d", None) is not None or not isinstance(block.se, nn.Identity) \
            or not isinstance(block.aa, nn.Identity):
        raise ValueError(f"incremental occlusion needs blocks without squeeze-excitation or anti-aliasing ({kind})")


def supports_incremental(model: nn.Module) -> bool:
    """``True`` for a :class:`~vizlab.models.VizModel` around a timm EfficientNet without squeeze-excitation."""
    net = getattr(model, "net", None)
    if net is None or type(net).__name__ != "EfficientNet" or not hasattr(model, "normalize"):
        return False
    if model.training:
        return False  # batch norm must be a per-channel affine map
    try:
        for stage in net.blocks:
            for block in stage:
                _check_block(block)
    except (ValueError, AttributeError):
        return False
    return True


def _is_nhwc_model(model: nn.Module) -> bool:
    w = model.net.conv_stem.weight
    return not w.is_contiguous() and w.is_contiguous(memory_format=torch.channels_last)


def _covers(s: Windowed) -> bool:
    return tuple(s.win.shape[-2:]) == tuple(s.base.shape[-2:])


def _in_chunks(fn, x: torch.Tensor, size: int) -> torch.Tensor:
    # On a CPU, small batches of whole maps ran faster per image than large ones (cache-bound).
    return fn(x) if x.shape[0] <= size else torch.cat([fn(part) for part in x.split(size)])


def _block(block: nn.Module, s: Windowed, cache: _Base, chunk: int) -> Windowed:
    if _covers(s):  # the window is the whole map: an ordinary batched forward pass, without crops
        return Windowed(cache.of(block, s.base), _in_chunks(block, s.win, chunk), s.top, s.left)
    shortcut = s
    if type(block).__name__ == "DepthwiseSeparableConv":
        s = _conv(block.conv_dw, s, cache)
        s = _pointwise(block.bn1, s, cache)
        s = _conv(block.conv_pw, s, cache)
        s = _pointwise(block.bn2, s, cache)
    else:
        s = _conv(block.conv_pw, s, cache)
        s = _pointwise(block.bn1, s, cache)
        s = _conv(block.conv_dw, s, cache)
        s = _pointwise(block.bn2, s, cache)
        s = _conv(block.conv_pwl, s, cache)
        s = _pointwise(block.bn3, s, cache)
    return _add(shortcut, s) if block.has_skip else s


@torch.inference_mode()
def occluded_logits(model: nn.Module, image: torch.Tensor, baseline: torch.Tensor, windows: list[tuple[int, int]],
                    patch: int, cache: dict | None = None, chunk: int | None = None) -> torch.Tensor:
    """Logits ``(B, C)`` of ``image`` ``(1, 3, H, W)`` with each ``(top, left)`` window replaced by ``baseline``.

    Equals ``model(occluded_batch)`` up to float summation order; see the module docstring.

    Args:
        cache: a dict kept between calls for the *same* image: the clean image's maps are computed once.
        chunk: images per pass once windows cover whole maps (default all; 2 on a CPU for a model with NCHW
            weights, where larger batches were slower per image; the fast path's NHWC weights gain from batches).
    """
    if not supports_incremental(model):
        raise ValueError("incremental occlusion needs the embedded EfficientNet-Lite (timm, no squeeze-excitation) "
                         "in eval mode; use method='full'")
    if cache is None:
        cache = _Base()
    elif not isinstance(cache, _Base):
        cache.setdefault("maps", _Base())
        cache = cache["maps"]
    if chunk is None:
        chunk = 2 if image.device.type == "cpu" and not _is_nhwc_model(model) else len(windows)
    win = torch.stack([baseline[0, :, t:t + patch, l:l + patch] for t, l in windows])
    if _is_nhwc_model(model):  # keep every map NHWC, as the fast path's weights (see vizlab.fastpath)
        image = image.contiguous(memory_format=torch.channels_last)
        win = win.contiguous(memory_format=torch.channels_last)
    s = Windowed(image, win, [t for t, _ in windows], [l for _, l in windows])
    net = model.net
    s = _pointwise(model.normalize, s, cache)
    s = _conv(net.conv_stem, s, cache)
    s = _pointwise(net.bn1, s, cache)
    for stage in net.blocks:
        for block in stage:
            s = _block(block, s, cache, chunk)
    if _covers(s):
        return _in_chunks(lambda t: net.forward_head(net.bn2(net.conv_head(t))), s.win, chunk)
    s = _conv(net.conv_head, s, cache)
    s = _pointwise(net.bn2, s, cache)
    return net.forward_head(s.full())
