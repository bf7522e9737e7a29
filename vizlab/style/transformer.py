"""Fast feed-forward style transfer: Johnson et al.'s transformation network, its training and its files.

One network per style is trained once with the *perceptual loss* (content + style + TV losses measured by
a frozen loss network, see :mod:`vizlab.style.lossnet`) over many content images; afterwards stylising is
one forward pass instead of hundreds of optimisation steps.

Architecture (Johnson, Alahi & Fei-Fei, ECCV 2016, with Ulyanov et al.'s instance normalisation and
resize-convolutions instead of transposed convolutions, which avoid checkerboard artefacts)::

    9x9 conv 32 -> 3x3 conv 64 /2 -> 3x3 conv 128 /2 -> 5 residual blocks -> up x2 conv 64 -> up x2 conv 32
    -> 9x9 conv 3 -> (tanh + 1) / 2

Example:
    >>> net = TransformerNet(norm="instance")
    >>> net(torch.rand(1, 3, 64, 80)).shape
    torch.Size([1, 3, 64, 80])
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_int, check_number, seeded_rng
from ..device import model_device
from ..toy import seeded
from ..images import SAMPLES, TEXTURES, image_batch, load_image, resize
from .artwork import DATA_DIR, style_batch
from .lossnet import LossNetwork, loss_network
from .losses import (darkening_loss, gram_matrix, palette_loss, relative_content_loss, relative_style_loss,
                     saturation_loss, style_palette, tv_loss)

NETWORK_DIR = DATA_DIR / "networks"
#: The shipped style networks a name loads by default: each style's network trained on the normalised VGG-19's
#: perceptual loss (Johnson et al.'s layers; issue 25, round 14). The files stay in ``vgg19/``, so
#: ``"vgg19/swirls"`` loads the same network as ``"swirls"``.
DEFAULT_NETWORKS = {"impression": "vgg19/impression", "swirls": "vgg19/swirls"}
#: Files that were top-level networks before round 14 -> the name that loads them now: the networks trained on
#: EfficientNet-Lite0's features, kept for notebook 08's comparison (they paint droplets and colour grades).
MOVED_NETWORKS = {"impression.pt": "lite0/impression", "swirls.pt": "lite0/swirls"}
NORMS = ("instance", "batch")
#: The smallest height and width :class:`TransformerNet` takes, for every width and number of blocks (so every
#: shipped network): a side is padded to a multiple of 4, and the first 9x9 layer's reflection padding of 4 needs
#: a side above 4. Found by test over 1-9 px (tests/test_style_transformer.py); smaller raises a ValueError.
MIN_SIDE = 5
#: Sample photos kept out of the offline training set, to judge networks on unseen images.
HELD_OUT = ("cat", "astronaut", "espresso", "motorcycle", "temple", "grace_hopper")
#: Photos for choosing among checkpoints, disjoint from :data:`HELD_OUT` and from :func:`training_content`,
#: so that the held-out photos judge a network once, after it was chosen. ``rocket`` (sky: the flat area
#: where undertrained networks paint blobs) was moved here out of the training content in round 4; the two
#: scikit-image files are never trained on. ``retina`` (saturated red-orange, where networks paint black
#: droplets) was moved here in round 5; networks before round 5 were trained on it, round 5's later steps not.
VALIDATION = ("rocket", "cell", "color", "retina")


def _skimage_file(name: str) -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / name


def _mpl_file(name: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / name


#: More offline content for training (images that ship inside installed packages but are not vizlab samples):
#: grey photos and scans give the networks edges, text and flat areas to learn on. Paths, found when used.
EXTRA_CONTENT = {"camera": lambda: _skimage_file("camera.png"), "coins": lambda: _skimage_file("coins.png"),
                 "moon": lambda: _skimage_file("moon.png"), "page": lambda: _skimage_file("page.png"),
                 "text": lambda: _skimage_file("text.png"), "clock": lambda: _skimage_file("clock_motion.png"),
                 "present": lambda: _mpl_file("Minduka_Present_Blue_Pack.png")}
_VALIDATION_FILES = {"cell": lambda: _skimage_file("cell.png"), "color": lambda: _skimage_file("color.png")}


def validation_photos() -> list:
    """:data:`VALIDATION` as things :func:`vizlab.images.load_image` takes (sample names and file paths)."""
    return [str(_VALIDATION_FILES[n]()) if n in _VALIDATION_FILES else n for n in VALIDATION]


def training_content() -> list:
    """The offline training set: every sample photo except :data:`HELD_OUT`, the textures, and
    :data:`EXTRA_CONTENT` files that exist in this installation."""
    names: list = [n for n in SAMPLES if n not in HELD_OUT and n not in VALIDATION]
    for make in EXTRA_CONTENT.values():
        try:
            path = make()
        except Exception:  # a package without its sample data: train on the rest
            continue
        if path.exists():
            names.append(path)
    return names
_STALE_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Instance normalisation without affine parameters: ``(x - mean) / sqrt(var + eps)``.

    Mean and (biased) variance are taken over ``H, W`` separately for every sample and channel, so each
    output map has zero mean and unit variance: the image's contrast is normalised away, which is why it
    suits style transfer better than batch normalisation (Ulyanov et al., 2016).

    Example:
        >>> y = instance_norm(torch.rand(2, 3, 8, 8) * 5 + 2)
        >>> bool(y.mean(dim=(2, 3)).abs().max() < 1e-5)
        True
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"x must have shape (N, C, H, W); got {tuple(x.shape)}")
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


class InstanceNorm(nn.Module):
    """:func:`instance_norm` plus a learned per-channel scale and shift; no running statistics."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return instance_norm(x, self.eps) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _norm(kind: str, channels: int) -> nn.Module:
    return InstanceNorm(channels) if kind == "instance" else nn.BatchNorm2d(channels)


class ConvLayer(nn.Sequential):
    """Reflection padding (no dark borders), convolution, optionally upsampling first."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: int = 1):
        layers: list[nn.Module] = []
        if upsample > 1:
            layers.append(nn.Upsample(scale_factor=upsample, mode="nearest"))
        layers += [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride)]
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """``x + norm(conv(relu(norm(conv(x)))))``: two 3x3 convolutions that learn a correction."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.conv1, self.norm1 = ConvLayer(channels, channels, 3), _norm(norm, channels)
        self.conv2, self.norm2 = ConvLayer(channels, channels, 3), _norm(norm, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x)))))


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network; maps ``[0, 1]`` images to ``[0, 1]`` images.

    Args:
        norm: ``"instance"`` (default, Ulyanov et al.) or ``"batch"`` (Johnson et al.'s original).
        width: channels of the first layer (32 in the paper); the others are 2x and 4x that.
        blocks: number of residual blocks (5 in the paper).

    Any input of at least :data:`MIN_SIDE` (5) pixels in height and width works; the output has the input's
    size (sides that are not a multiple of 4 are padded and cropped back). A smaller side is a ValueError.
    """

    def __init__(self, norm: str = "instance", width: int = 32, blocks: int = 5):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        width, blocks = check_int("width", width), check_int("blocks", blocks, 0)
        self.config = {"norm": norm, "width": width, "blocks": blocks}
        w = width
        self.encoder = nn.Sequential(
            ConvLayer(3, w, 9), _norm(norm, w), nn.ReLU(),
            ConvLayer(w, 2 * w, 3, stride=2), _norm(norm, 2 * w), nn.ReLU(),
            ConvLayer(2 * w, 4 * w, 3, stride=2), _norm(norm, 4 * w), nn.ReLU())
        self.residual = nn.Sequential(*[ResidualBlock(4 * w, norm) for _ in range(blocks)])
        self.decoder = nn.Sequential(
            ConvLayer(4 * w, 2 * w, 3, upsample=2), _norm(norm, 2 * w), nn.ReLU(),
            ConvLayer(2 * w, w, 3, upsample=2), _norm(norm, w), nn.ReLU(),
            ConvLayer(w, 3, 9))

    @property
    def norm(self) -> str:
        return self.config["norm"]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The output before the final ``tanh``: ``forward(x) == (tanh(logits(x)) + 1) / 2``."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x must have shape (N, 3, H, W); got {tuple(x.shape)}")
        check_side("x", x)
        h, w = x.shape[-2:]
        # Two stride-2 layers: pad to a multiple of 4 so that the decoder gives back the input size.
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        return self.decoder(self.residual(self.encoder(x)))[..., :h, :w]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(self.logits(x)) + 1) / 2


def check_side(name: str, x: torch.Tensor, low: int = MIN_SIDE, what: str = "TransformerNet") -> None:
    """A ValueError naming ``name`` when the batch ``x`` (``(..., H, W)``) is under ``low`` pixels in height or width
    (the reflection paddings of the style networks need that much; torch's own error does not say so)."""
    if x.dim() < 2:
        raise ValueError(f"{name} must be an image batch shaped (..., H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if min(h, w) < low:
        raise ValueError(f"{name} must be at least {low}x{low} pixels for {what}, got {w}x{h} (width x height)")


# -- content images ------------------------------------------------------------------------------------------
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class ContentCrops:
    """An endless source of random square crops of content images (random scale, position, mirror).

    Args:
        folder: a directory of images (searched recursively, e.g. COCO's ``train2014``); ``None`` uses
            :func:`training_content` (offline default: sample photos except :data:`HELD_OUT`, textures, extras).
        size: side of the crops in pixels.
        seed: seeds the crops.
        max_side: large images are shrunk to this shorter side when loaded (keeps memory small).
        flat_patches: probability that a crop gets one to three flat rectangles of a random colour (each
            10-40 % of the side): flat areas of any tone to learn on, so that a network meets sky- and
            wall-like regions in colours the few training photos lack.
    """

    def __init__(self, folder: str | Path | None = None, size: int = 256, seed: int = 0, max_side: int = 512,
                 flat_patches: float = 0.0):
        self.flat_patches = check_number("flat_patches", flat_patches, 0, 1)   # a probability
        self.size = check_int("size", size, 16)
        self.rng = seeded_rng(seed)
        self.max_side = max_side
        if folder is None:
            self.sources: list = training_content()
        else:
            root = Path(folder).expanduser()
            if not root.is_dir():
                raise ValueError(f"folder={str(folder)!r} is not a directory of images")
            self.sources = sorted(p for p in root.rglob("*") if p.suffix.lower() in _EXTENSIONS)
            if not self.sources:
                raise ValueError(f"folder={str(folder)!r} contains no images ({', '.join(_EXTENSIONS)})")
        self._cache: dict[int, np.ndarray] = {}

    def _image(self, i: int) -> np.ndarray:
        if i not in self._cache:
            img = load_image(self.sources[i])
            if min(img.shape[:2]) > self.max_side:
                h, w = img.shape[:2]
                s = self.max_side / min(h, w)
                img = resize(img, (round(h * s), round(w * s)))
            if len(self.sources) <= 64:  # the offline set: keep all in memory; a large folder: stream
                self._cache[i] = img
            return img
        return self._cache[i]

    def crop(self) -> np.ndarray:
        img = self._image(int(self.rng.integers(len(self.sources))))
        h, w = img.shape[:2]
        side = max(16, int(min(h, w) * self.rng.uniform(0.35, 1.0)))  # crops at several scales
        top, left = int(self.rng.integers(0, h - side + 1)), int(self.rng.integers(0, w - side + 1))
        out = resize(img[top:top + side, left:left + side], (self.size, self.size))
        out = out[:, ::-1].copy() if self.rng.random() < 0.5 else out
        if self.flat_patches and self.rng.random() < self.flat_patches:
            out = out.copy()
            for _ in range(int(self.rng.integers(1, 4))):
                ph, pw = (int(self.size * self.rng.uniform(0.1, 0.4)) for _ in range(2))
                top, left = int(self.rng.integers(0, self.size - ph + 1)), int(self.rng.integers(0, self.size - pw + 1))
                out[top:top + ph, left:left + pw] = self.rng.uniform(0, 1, 3).astype(out.dtype)
        return out

    def batch(self, n: int) -> torch.Tensor:
        """``(n, 3, size, size)`` crops in ``[0, 1]``."""
        return torch.from_numpy(np.stack([self.crop() for _ in range(n)]).transpose(0, 3, 1, 2).copy())


# -- training ------------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train_transformer` returns: the network (eval mode) and its loss history."""

    net: TransformerNet
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    stopped: bool = False
    config: dict = field(default_factory=dict)


def perceptual_targets(loss_net: LossNetwork, style, size: int, normalize: str = "chw"):
    """Gram matrices ``{layer: (1, C, C)}`` of a style image (or several blended) at ``size``."""
    recipe = loss_net.recipe
    style_layers = list(recipe.style_layers) if recipe else loss_net.layer_names
    img = style_batch(loss_net, style, size)
    with torch.no_grad():
        feats = loss_net(img)
    return {name: gram_matrix(feats[name], normalize) for name in style_layers}


def train_transformer(style, *, content: str | Path | None = None, size: int = 256, batch_size: int = 4,
                      steps: int = 300, lr: float = 1e-3, style_weight: float = 5.0, content_weight: float = 1.0,
                      tv_weight: float = 1e-4, norm: str = "instance", width: int = 32, blocks: int = 5,
                      loss_net: LossNetwork | None = None, style_size: int | None = None,
                      checkpoint: str | Path | None = None, checkpoint_every: int = 100, seed: int = 0,
                      callback: Callable[[int, dict], None] | None = None,
                      stop_event: threading.Event | None = None, progress: bool = True,
                      net: TransformerNet | None = None, resume: bool = False, palette_weight: float = 0.0,
                      palette_margin: float = 0.08, flat_patches: float = 0.0,
                      dark_weight: float = 0.0, saturation_weight: float = 0.0,
                      saturation_limit: float = 3.0) -> TrainResult:
    """Train a :class:`TransformerNet` for one style with the perceptual loss.

    Loss per batch (each term divided by its target's energy, as in vizlab's offline recipe)::

        L = content_weight * ||F(y) - F(x)||^2 / ||F(x)||^2
          + style_weight * sum_l w_l ||G_l(y) - A_l||^2 / ||A_l||^2 + tv_weight * TV(y) / N
          + palette_weight * mean_pixels relu(d(y, palette) - palette_margin)^2
          + dark_weight * mean_pixels [lum(x) >= 0.2] relu(0.15 - max_channel(y))
          + saturation_weight * mean relu(|logits(x)| - saturation_limit)

    with ``y = net(x)``, ``F`` the content layer and ``G_l`` the Gram matrices of the style layers.

    Args:
        style: a style image (see :func:`~vizlab.style.artwork.style_image`).
        content: a folder of content images; ``None`` = crops of the sample photos (offline).
        size: side of the training crops. batch_size, steps, lr: Adam's schedule.
        norm: ``"instance"`` or ``"batch"``. width, blocks: network size.
        loss_net: default: the embedded EfficientNet-Lite0 with its recipe.
        style_size: side of the style image (default ``size``).
        checkpoint: a path written every ``checkpoint_every`` steps and at the end (half precision).
        callback: ``callback(step, losses)`` after every step.
        stop_event: when set, training stops and the partial network is returned (``stopped=True``).
        net: continue training this network instead of a new one.
        resume: if ``checkpoint`` exists, continue from it: its network (its architecture wins over
            ``norm``/``width``/``blocks``), Adam's state, its step count and loss history; ``steps`` is the
            total to reach (nothing is trained when the file already has that many). Without ``resume`` an
            existing checkpoint is overwritten.
        palette_weight, palette_margin: the palette term (:func:`~vizlab.style.losses.palette_loss` against
            64 k-means colours of the style image); 0 turns it off.
        flat_patches: probability of flat random-colour rectangles in a crop (see :class:`ContentCrops`).
        dark_weight: weight of the near-black term (:func:`~vizlab.style.losses.darkening_loss`: no black
            droplets where the photo is not dark); 0 turns it off. (Tried in round 5 on its own: the network
            painted its droplets saturated red instead.)
        saturation_weight, saturation_limit: the spike term (:func:`~vizlab.style.losses.saturation_loss` on
            the pre-``tanh`` output): bounds the activation spikes that droplets come from; 0 turns it off.

    Returns:
        A :class:`TrainResult`.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    steps, batch_size = check_int("steps", steps), check_int("batch_size", batch_size)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every)
    from tqdm.auto import tqdm

    loss_net = loss_network() if loss_net is None else loss_net
    recipe = loss_net.recipe
    if recipe is None:
        raise ValueError("loss_net has no recipe; build it with vizlab.style.loss_network(...)")
    device = model_device(loss_net)
    done, history, seconds_before, opt_state = 0, [], 0.0, None
    if resume and checkpoint is not None and Path(checkpoint).exists():
        blob = _read_checkpoint(checkpoint)
        net = _build(blob, checkpoint)
        meta = blob.get("meta", {})
        done = int(meta.get("steps_done", 0))
        seconds_before = float(meta.get("seconds", 0.0))
        history = _unpack_history(meta.get("history"))
        opt_state = blob.get("optimizer")
    with seeded(seed):
        net = TransformerNet(norm, width, blocks) if net is None else net
    net = net.to(device).train()
    # A resumed run draws new crops (seeded by where it resumes), not the first run's again.
    crops = ContentCrops(content, size, seed + done, flat_patches=flat_patches)
    targets = perceptual_targets(loss_net, style, style_size or size)
    palette = style_palette(style_batch(None, style, style_size or size), 64).to(device) if palette_weight else None
    layer_w = recipe.weights()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    if opt_state is not None:
        opt.load_state_dict(_float_state(opt_state, device))
        for group in opt.param_groups:
            group["lr"] = lr  # the learning rate given now wins
    config = {"style": str(style), "content": "sample photos" if content is None else str(content), "size": size,
              "batch_size": batch_size, "steps": steps, "lr": lr, "style_weight": style_weight,
              "content_weight": content_weight, "tv_weight": tv_weight, "palette_weight": palette_weight,
              "palette_margin": palette_margin, "flat_patches": flat_patches, "dark_weight": dark_weight,
              "saturation_weight": saturation_weight, "saturation_limit": saturation_limit,
              "loss_net": recipe.model, **net.config}
    result = TrainResult(net=net, config=config, history=history, steps=done)

    def save(step: int, seconds: float) -> None:
        save_transformer(net, checkpoint, optimizer=opt,
                         meta={**config, "steps_done": step, "seconds": seconds_before + seconds,
                               "last": result.history[-1] if result.history else {},
                               "history": _pack_history(result.history)})

    start = time.perf_counter()
    bar = tqdm(range(done, max(done, steps)), desc=f"train {net.norm}-norm net", disable=not progress,
               initial=done, total=max(done, steps))
    trained = False
    try:
        for step in bar:
            if stop_event is not None and stop_event.is_set():
                result.stopped = True
                break
            x = crops.batch(batch_size).to(device)
            with torch.no_grad():
                content_feats = loss_net(x)
            logits = net.logits(x)
            y = (torch.tanh(logits) + 1) / 2
            feats = loss_net(y)
            lc = sum(relative_content_loss(feats[n], content_feats[n], content_weight) for n in recipe.content_layers)
            ls = relative_style_loss([feats[n] for n in recipe.style_layers],
                                     [targets[n] for n in recipe.style_layers], layer_w) * style_weight
            lt = tv_loss(y, tv_weight) / y.shape[0]
            lp = palette_loss(y, palette, palette_margin, palette_weight) if palette is not None else lt.new_zeros(())
            ld = darkening_loss(y, x, weight=dark_weight) if dark_weight else lt.new_zeros(())
            lsat = (saturation_loss(logits, saturation_limit, saturation_weight) if saturation_weight
                    else lt.new_zeros(()))
            loss = lc + ls + lt + lp + ld + lsat
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            trained = True
            losses = {"step": step + 1, "content": lc.item(), "style": ls.item(), "tv": lt.item(), "palette": lp.item(),
                      "dark": ld.item(), "saturation": lsat.item(), "total": loss.item()}
            result.history.append(losses)
            result.steps = step + 1
            bar.set_postfix(content=f"{losses['content']:.3g}", style=f"{losses['style']:.3g}")
            if callback is not None:
                callback(step + 1, losses)
            if checkpoint is not None and (step + 1) % checkpoint_every == 0:
                save(step + 1, time.perf_counter() - start)
    except KeyboardInterrupt:
        result.stopped = True
    finally:
        bar.close()
        result.seconds = seconds_before + time.perf_counter() - start
        net.eval()
    if checkpoint is not None and trained:
        save(result.steps, time.perf_counter() - start)
    return result


_HISTORY_KEYS = ("content", "style", "tv", "palette", "dark", "saturation", "total")


def _pack_history(history: list[dict]) -> dict:
    # Column lists of rounded floats: a 1000-step history stays a few tens of kB in the checkpoint.
    return {k: [float(f"{h.get(k, 0.0):.5g}") for h in history] for k in _HISTORY_KEYS} if history else {}


def _unpack_history(packed) -> list[dict]:
    if not packed:
        return []
    # Files from before the palette term have no "palette" column: it was zero then.
    return [{"step": i + 1, **{k: packed[k][i] if k in packed else 0.0 for k in _HISTORY_KEYS}}
            for i in range(len(packed["total"]))]


def _float_state(state: dict, device) -> dict:
    """An optimizer state dict read from disk, with its tensors back in float32 on ``device``."""
    def conv(v):
        if isinstance(v, torch.Tensor):
            return v.float().to(device) if v.is_floating_point() else v.to(device)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return {"state": {int(k): conv(v) for k, v in state["state"].items()}, "param_groups": state["param_groups"]}


# -- files ---------------------------------------------------------------------------------------------------
def save_transformer(net: TransformerNet, path: str | Path, meta: dict | None = None, half: bool = True,
                     optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Save a network with its configuration (and ``meta``); half precision by default (half the size).

    With ``optimizer`` its state goes along (in bfloat16: Adam's squared-gradient averages are too small for
    float16, and bfloat16 keeps float32's range), so that training can resume where it stopped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu()
             for k, v in net.state_dict().items()}
    blob = {"state_dict": state, "config": dict(net.config), "meta": dict(meta or {})}
    if optimizer is not None:
        opt = optimizer.state_dict()
        blob["optimizer"] = {
            "state": {k: {n: (t.detach().to(torch.bfloat16) if t.is_floating_point() and t.dim() else t.detach()).cpu()
                          if isinstance(t, torch.Tensor) else t for n, t in v.items()}
                      for k, v in opt["state"].items()},
            "param_groups": opt["param_groups"]}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)  # a crash mid-write never leaves a broken checkpoint behind
    return path


def network_names() -> list[str]:
    """Names of the style networks shipped in ``data/networks``: the defaults (:data:`DEFAULT_NETWORKS`, the
    VGG-19-trained networks) and any other top-level file saved by :func:`save_transformer`. The networks in
    subfolders (``vgg19/``, the Lite0-trained ``lite0/`` and the instance-vs-batch-norm study ``norm_study/``)
    load by their path-like name (``"lite0/swirls"``) but are not listed."""
    names = {n for n, rel in DEFAULT_NETWORKS.items() if (NETWORK_DIR / f"{rel}.pt").is_file()}
    for p in sorted(NETWORK_DIR.glob("*.pt")):
        try:
            blob = torch.load(p, map_location="cpu", weights_only=True)
        except Exception:
            continue
        if isinstance(blob, dict) and set(blob.get("config", {})) == {"norm", "width", "blocks"}:
            names.add(p.stem)
    return sorted(names)


def network_file(name: str) -> Path:
    """The file a shipped network's name loads: ``"swirls"`` -> ``data/networks/vgg19/swirls.pt`` (a default,
    :data:`DEFAULT_NETWORKS`, which wins over a top-level file of the same name), ``"lite0/swirls"`` ->
    ``data/networks/lite0/swirls.pt``, ``"mine"`` -> ``data/networks/mine.pt``.

    Raises:
        ValueError: no shipped network has that name (the message lists the names).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    # only the names the error lists: not other models kept there (bigfilters), nor a path out of the folder
    if name in DEFAULT_NETWORKS or name in _subfolder_names() or name in network_names():
        path = NETWORK_DIR / f"{DEFAULT_NETWORKS.get(name, name)}.pt"
        if path.is_file():
            return path
    raise ValueError(f"name={name!r} is not a shipped network ({_known_names()})")


def _subfolder_names() -> list[str]:
    """The networks in ``data/networks``' subfolders, by name (``"lite0/swirls"``, ``"vgg19/swirls"`` ...)."""
    return sorted(p.relative_to(NETWORK_DIR).with_suffix("").as_posix() for p in NETWORK_DIR.glob("*/*.pt"))


def _known_names() -> str:
    """The names a user can load, for error messages: the listed defaults and the subfolders' networks."""
    sub = _subfolder_names()
    return f"shipped: {', '.join(network_names()) or 'none found'}; in subfolders: {', '.join(sub) or 'none'}"


def _moved(path: Path) -> str | None:
    """The new name of a pre-round-14 network file that no longer exists (``data/networks/swirls.pt``)."""
    try:
        same_dir = path.parent.resolve() == NETWORK_DIR.resolve()
    except OSError:
        return None
    return MOVED_NETWORKS.get(path.name) if same_dir and not path.exists() else None


def load_transformer(source: str | Path, device: str | torch.device | None = None) -> TransformerNet:
    """Load a network saved by :func:`save_transformer`, by shipped name or path.

    Names: ``"swirls"`` and ``"impression"`` are the default networks, trained on VGG-19's perceptual loss
    (:data:`DEFAULT_NETWORKS`; also ``"vgg19/swirls"``); ``"lite0/swirls"`` and ``"lite0/impression"`` the older
    ones trained on EfficientNet-Lite0's features; :func:`network_names` lists the defaults.

    Also accepts a bare state dict. Stale running-statistics keys of instance-norm layers (written by
    ``nn.InstanceNorm2d(track_running_stats=True)`` in old PyTorch) are dropped instead of failing.
    The file's ``meta`` ends up in ``net.meta``.

    Example:
        >>> net = load_transformer("swirls")          # data/networks/vgg19/swirls.pt
        >>> net.meta["loss_net"].startswith("vgg19_normalised")
        True
    """
    from ..device import get_device

    if not isinstance(source, (str, Path)):
        raise TypeError(f"source must be a network name or a path, got {type(source).__name__}")
    path = Path(source)
    if not path.is_file() and isinstance(source, str):   # a folder named like a network (an output folder) is not one
        try:
            path = network_file(source)
        except ValueError:
            pass
    if not path.is_file():
        moved = _moved(path)
        if moved is not None:
            raise ValueError(f"source={str(source)!r} no longer exists: that network (trained on EfficientNet-Lite0's "
                             f"features) moved in round 14; load it as {moved!r}. The name "
                             f"{moved.split('/')[1]!r} now loads the VGG-19-trained network")
        raise ValueError(f"source={str(source)!r} is neither a file nor a shipped network ({_known_names()})")
    net = _build(_read_checkpoint(path), path)
    return net.to(get_device(device)).eval()


def _read_checkpoint(path: str | Path) -> dict:
    """``torch.load`` of a network file; a file that is not one (truncated, corrupt, another format) gives a
    one-line ``ValueError`` instead of an unpickling traceback."""
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # zip errors, unpickling errors, EOF: all mean "not a readable checkpoint"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path} is not a readable network file (corrupt or not saved by "
                         f"vizlab.style.save_transformer): {first[:160]}") from exc
    if not isinstance(blob, dict):
        raise ValueError(f"{path} does not contain a state dict")
    return blob


def _build(blob: dict, path) -> TransformerNet:
    """A :class:`TransformerNet` with the weights of a checkpoint read by :func:`_read_checkpoint`."""
    state = blob.get("state_dict", blob)
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not contain a state dict")
    config = blob.get("config") if "state_dict" in blob else None
    if config is None:  # a bare state dict: infer what we can
        has_running = any(k.endswith("running_var") for k in state)
        width = int(state["encoder.0.1.weight"].shape[0]) if "encoder.0.1.weight" in state else 32
        blocks = len({k.split(".")[1] for k in state if k.startswith("residual.")})
        config = {"norm": "batch" if has_running and not _is_instance_checkpoint(state) else "instance",
                  "width": width, "blocks": blocks}
    net = TransformerNet(**config)
    ours = net.state_dict()
    clean = {}
    for key, value in state.items():
        if key not in ours and key.endswith(_STALE_SUFFIXES):
            continue  # stale running stats of an instance-norm layer
        clean[key] = value
    missing = [k for k in ours if k not in clean]
    unexpected = [k for k in clean if k not in ours]
    if missing or unexpected:
        raise ValueError(f"{path} does not fit TransformerNet({config}): missing {missing[:4]}, "
                         f"unexpected {unexpected[:4]}")
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in clean.items()})
    net.meta = dict(blob.get("meta", {})) if "state_dict" in blob else {}
    return net


def _is_instance_checkpoint(state: dict) -> bool:
    # nn.InstanceNorm2d with running stats stores running_var but is still instance norm; vizlab's files
    # always carry a config, so this only matters for bare state dicts: assume instance norm when every
    # running_var is exactly ones (never updated), as old InstanceNorm checkpoints typically are.
    variances = [v for k, v in state.items() if k.endswith("running_var")]
    return bool(variances) and all(torch.all(v == 1) for v in variances)


@torch.no_grad()
def stylize(net: TransformerNet, image, size: int | None = None) -> torch.Tensor:
    """One forward pass: ``(N, 3, H, W)`` stylised images in ``[0, 1]`` on the network's device.

    ``image``: anything :func:`vizlab.images.load_image` takes (resized so its shorter side is ``size``,
    keeping the aspect ratio), or a ``(N, 3, H, W)`` tensor in ``[0, 1]`` (used at its own size). Height and width
    must be at least :data:`MIN_SIDE` (5) pixels, else a ValueError naming ``image``.
    """
    x = image_batch(image, size)  # a tensor is used as it is; size applies to images it loads
    check_side("image", x)
    return net.eval()(x.to(model_device(net)).float())
