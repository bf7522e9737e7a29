"""A procedural labelled set of shapes and textures, and a tiny CNN that learns it on a CPU in a minute.

Every image is a dark, slightly noisy background with one foreground object - a ``circle``, ``square``,
``triangle``, ``cross``, ``stripes`` patch or ``checkers`` patch - at a random position, size and angle,
painted in one of six colours. The label is the shape; the colour is recorded as a second label
(``shapes.extra["colour"]``). Shape and colour are drawn independently, which makes the set a clean test of
the lecture's claim: raw pixel distance groups these images by colour, a trained network's features group
them by shape.

:class:`ShapesCNN` has a 7x7 first layer (big enough to see its filters), two more convolutions, global
average pooling and a linear classifier. :func:`train_shapes_cnn` trains it and records snapshots of the
first-layer filters. What those filters become depends on what the data make useful (:data:`RECIPES`):
trained plainly they end as colour blobs and noise, because colour alone separates an object from the dark
background; with colour and brightness scrambled at random (:func:`colour_jitter`) on upright shapes, only
edges stay informative and the filters turn gray, many of them oriented edges (not all: corners and checker
patterns are useful on this set too). On images twice the size with the first layer at step 2 and randomly
blurred training batches (recipe ``"strided"``), a 7x7 window mostly sees one straight edge, and most filters
become smooth oriented edges.

Example:
    >>> data = make_shapes(12, size=32, seed=0)
    >>> data.class_names
    ['circle', 'square', 'triangle', 'cross', 'stripes', 'checkers']
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..device import get_device, model_device
from ..toy import seeded
from .._validate import check_int, check_number, seeded_generator, seeded_rng
from .datasets import ImageSet

SHAPES = ("circle", "square", "triangle", "cross", "stripes", "checkers")
COLOURS = {"red": (0.9, 0.15, 0.1), "green": (0.15, 0.8, 0.2), "blue": (0.15, 0.3, 0.95),
           "yellow": (0.95, 0.85, 0.15), "magenta": (0.85, 0.2, 0.85), "cyan": (0.2, 0.85, 0.9)}


def _mask(shape: str, xx: np.ndarray, yy: np.ndarray, rng: np.random.Generator, size: int,
          angle_step: float | None = None, pattern_scale: float = 1.0) -> np.ndarray:
    """A soft foreground mask in [0, 1] for one object, on a grid of pixel-centre coordinates."""
    r = rng.uniform(0.22, 0.4) * size                     # half-extent of the object
    cx, cy = rng.uniform(r, size - r, size=2)
    angle = rng.uniform(0, np.pi)
    if angle_step:  # upright shapes: snap the angle, drawing the same random numbers as without
        angle = np.round(angle / angle_step) * angle_step
    # Coordinates relative to the centre, rotated by the object's angle.
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    if shape == "circle":
        return (u ** 2 + v ** 2 <= r ** 2).astype(np.float32)
    if shape == "square":
        s = r * 0.85
        return ((np.abs(u) <= s) & (np.abs(v) <= s)).astype(np.float32)
    if shape == "triangle":
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):  # three half-planes of an equilateral triangle with circumradius r
            a = 2 * np.pi * k / 3
            inside &= u * np.cos(a) + v * np.sin(a) <= r / 2
        return inside.astype(np.float32)
    if shape == "cross":
        w = r * 0.3
        return (((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))).astype(np.float32)
    region = (np.abs(u) <= r) & (np.abs(v) <= r)
    period = rng.uniform(3.0, 5.0) * size / 32 * pattern_scale
    if shape == "stripes":
        pattern = np.sin(2 * np.pi * u / period) > 0
    elif shape == "checkers":
        pattern = (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    else:  # pragma: no cover - guarded by make_shapes
        raise ValueError(shape)
    return (region & pattern).astype(np.float32)


def make_shapes(n: int = 1200, size: int = 32, *, seed: int = 0, shapes=SHAPES, noise: float = 0.04,
                supersample: int = 2, upright: bool = False, pattern_scale: float = 1.0,
                background: str = "flat", masks: bool = False) -> ImageSet:
    """``n`` labelled images of coloured shapes and textures (balanced over shapes), deterministic in ``seed``.

    Args:
        n: number of images.
        size: side length in pixels (at least 16).
        seed: seed of the private random generator (same seed, same pixels).
        shapes: which of :data:`SHAPES` to use (one class each).
        noise: standard deviation of the background noise.
        supersample: render at this factor and average down, for smooth edges.
        upright: draw every object at 0 or 90 degrees instead of a random angle (squares, crosses and
            checkers axis-aligned, triangles pointing along an axis). Position, size and colour are drawn
            as without, so only the angles differ. Straight edges then come in a few orientations, which is
            what lets a small CNN's first-layer filters specialise into oriented edges (:data:`RECIPES`).
        pattern_scale: multiplies the period of the stripes and checkers (3-5 pixels at 32 px). At 1.6 a
            checker square no longer fits a 7x7 filter twice over, so checkerboard filters stop paying off.
        background: ``"flat"`` (a dark gray level per image) or ``"photos"`` (a random crop of one of the
            sample photos, dimmed to a random contrast of 0.2-0.5): natural clutter, so an object's outline
            has to be found among the edges and textures of real images. The backgrounds come from their own
            random stream, so shapes, positions and colours are the same as with ``"flat"``.
        masks: also return each object's evidence mask, ``extra["mask"]``: a ``bool`` tensor ``(N, H, W)``,
            true where the object covers at least half a pixel (the pixels that carry the shape). The images
            are the same with or without it.

    Returns:
        An :class:`ImageSet` labelled by shape, with ``extra["colour"]`` (names in ``extra_names["colour"]``).
    """
    n = check_int("n", n)
    size = check_int("size", size, 16)
    pattern_scale = check_number("pattern_scale", pattern_scale, low_open=True)
    if background not in ("flat", "photos"):
        raise ValueError(f"background must be 'flat' or 'photos', got {background!r}")
    shapes = list(shapes)
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or not shapes:
        raise ValueError(f"shapes must be a non-empty selection of {SHAPES}, got {shapes}")
    rng = seeded_rng(seed)
    big = size * supersample
    coords = (np.arange(big) + 0.5) / supersample
    xx, yy = np.meshgrid(coords, coords)
    palette = np.array(list(COLOURS.values()), dtype=np.float32)
    labels = np.arange(n) % len(shapes)
    rng.shuffle(labels)
    colours = rng.integers(0, len(palette), size=n)
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    hard = np.zeros((n, size, size), dtype=bool) if masks else None
    clutter = _photo_backgrounds(n, size, seeded_rng(seed, 1)) if background == "photos" else None
    for i in range(n):
        mask = _mask(shapes[labels[i]], xx, yy, rng, size, np.pi / 2 if upright else None, pattern_scale)
        mask = mask.reshape(size, supersample, size, supersample).mean(axis=(1, 3))
        if hard is not None:
            hard[i] = mask >= 0.5
        level = rng.uniform(0.05, 0.3)
        colour = np.clip(palette[colours[i]] + rng.normal(0, 0.04, size=3), 0, 1)
        back = level if clutter is None else clutter[i]
        img = back * (1 - mask[None]) + colour[:, None, None] * mask[None]
        img = img + rng.normal(0, noise, size=img.shape)
        out[i] = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    extra = {"colour": torch.from_numpy(colours.astype(np.int64))}
    if hard is not None:
        extra["mask"] = torch.from_numpy(hard)
    return ImageSet(torch.from_numpy(out), torch.from_numpy(labels.astype(np.int64)), shapes,
                    f"{'upright ' if upright else ''}shapes{' on photos' if clutter is not None else ''} "
                    f"({n} images, {size}x{size})", extra=extra, extra_names={"colour": list(COLOURS)})


#: Photos whose crops make the ``"photos"`` backgrounds of :func:`make_shapes`.
CLUTTER_PHOTOS = ("cat", "espresso", "astronaut", "rocket", "motorcycle", "temple", "flower", "grace_hopper")


def _photo_backgrounds(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops of the :data:`CLUTTER_PHOTOS`, dimmed, as ``(n, 3, size, size)``."""
    from ..images import sample_image

    # Photos at 4x the image side: a crop then spans a quarter of a photo, a few objects' worth of edges.
    photos = [sample_image(name, 4 * size).transpose(2, 0, 1).astype(np.float32) for name in CLUTTER_PHOTOS]
    which = rng.integers(0, len(photos), size=n)
    top, left = rng.integers(0, 3 * size + 1, size=(2, n))
    contrast = rng.uniform(0.2, 0.5, size=n).astype(np.float32)
    offset = rng.uniform(0.0, 0.1, size=n).astype(np.float32)
    out = np.empty((n, 3, size, size), dtype=np.float32)
    for i in range(n):
        crop = photos[which[i]][:, top[i]:top[i] + size, left[i]:left[i] + size]
        out[i] = offset[i] + contrast[i] * crop
    return out


class ShapesCNN(nn.Module):
    """A tiny classifier for the shapes set; takes images in ``[0, 1]``.

    ``normalize`` (x - 0.5) / 0.25 -> ``conv1`` 7x7 (3 -> ``width``, step ``stride``) -> ``relu1`` ->
    ``pool1`` 2x2 -> ``conv2`` 3x3 -> ``bn2`` -> ``relu2`` -> ``pool2`` 2x2 -> ``conv3`` 3x3 -> ``bn3`` ->
    ``relu3`` -> ``pool`` (global average, the penultimate features) -> ``fc``. Module paths double as layer
    names. Batch norm after the deeper convolutions (not the first, whose filters we look at) roughly halves
    the epochs needed. ``stride=2`` makes the first layer AlexNet-like (7x7 at step 2): on images twice the
    size every layer after it sees the same map size as ``stride=1`` on the usual ones.
    """

    def __init__(self, num_classes: int = len(SHAPES), width: int = 16, class_names: list[str] | None = None,
                 stride: int = 1):
        super().__init__()
        self.name = "shapes_cnn"
        self.class_names = list(class_names) if class_names is not None else list(SHAPES[:num_classes])
        self.conv1 = nn.Conv2d(3, width, 7, stride=check_int("stride", stride), padding=3)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.relu3 = nn.ReLU()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 0.5) / 0.25
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.relu3(self.bn3(self.conv3(x)))
        return self.fc(self.pool(x))


def shapes_cnn(seed: int = 0, num_classes: int = len(SHAPES), width: int = 16, first_layer_scale: float = 0.01,
               class_names: list[str] | None = None, stride: int = 1) -> ShapesCNN:
    """A seeded :class:`ShapesCNN`; the first layer's initial weights are multiplied by ``first_layer_scale``.

    A small first layer starts the filters as faint noise, so whatever structure they show later was learned.
    """
    with seeded(seed):
        model = ShapesCNN(num_classes, width, class_names, stride)
    with torch.no_grad():
        model.conv1.weight.mul_(first_layer_scale)
    return model


@dataclass
class TrainHistory:
    """What :func:`train_classifier` recorded, one entry per epoch (plus ``filters[0]`` before training).

    Attributes:
        loss: mean training cross-entropy per epoch.
        train_accuracy / val_accuracy: fraction correct per epoch.
        filters: snapshots of the first conv layer's weights ``(out, in, k, k)`` on the CPU.
        filter_epochs: the epoch of each snapshot (0 = initialisation).
        seconds: wall-clock time of the whole run.
        stopped: ``True`` when a callback, a stop event or Ctrl-C ended training early.
    """

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    filters: list[torch.Tensor] = field(default_factory=list)
    filter_epochs: list[int] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False


@torch.no_grad()
def accuracy(model: nn.Module, data: ImageSet, batch_size: int = 256) -> float:
    """Fraction of ``data`` that ``model`` classifies correctly (eval mode, on the model's device)."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    correct = 0
    try:
        for start in range(0, len(data), batch_size):
            x = data.batch(slice(start, start + batch_size), device)
            correct += int((model(x).argmax(1).cpu() == data.labels[start:start + batch_size]).sum())
    finally:
        model.train(was_training)
    return correct / max(1, len(data))


def colour_jitter(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A batch ``(N, 3, H, W)`` in ``[0, 1]`` with colour and brightness scrambled per image.

    Each image becomes its negative ``1 - x`` with probability 1/2, gets its RGB channels in a random order,
    and is turned to gray (the channel mean) with probability 1/2. Edges survive all three (their polarity may
    flip); colours and brightness do not, so a network trained on such batches cannot rely on them.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"x must be a batch of RGB images (N, 3, H, W), got {getattr(x, 'shape', type(x))}")
    n = len(x)
    negate = (torch.rand(n, generator=generator) < 0.5).to(x.device)[:, None, None, None]
    x = torch.where(negate, 1 - x, x)
    order = torch.stack([torch.randperm(3, generator=generator) for _ in range(n)]).to(x.device)
    x = torch.gather(x, 1, order[:, :, None, None].expand_as(x))
    gray = (torch.rand(n, generator=generator) < 0.5).to(x.device)[:, None, None, None]
    return torch.where(gray, x.mean(1, keepdim=True).expand_as(x), x)


def random_blur(x: torch.Tensor, max_sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A batch ``(N, C, H, W)`` blurred by a Gaussian whose width is drawn per batch from ``[0, max_sigma]`` pixels.

    Blurring removes fine detail at random, so a filter cannot rely on single-pixel structure (grain).
    The kernel is normalised (flat regions keep their value) and the borders are reflected.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor (N, C, H, W), got {type(x).__name__}")
    if x.dim() != 4 or min(x.shape[-2:]) < 2:
        raise ValueError(f"x must be a batch (N, C, H, W) with H, W >= 2, got {tuple(x.shape)}")
    max_sigma = check_number("max_sigma", max_sigma)
    from ..optimize.regularizers import gaussian_kernel
    sigma = float(torch.rand(1, generator=generator)) * max_sigma
    if sigma < 0.2:   # narrower than a pixel: the kernel would be a delta anyway
        return x
    # Reflection padding needs radius < side; a wider kernel on a tiny image would only flatten it anyway.
    radius = min(max(1, int(np.ceil(2.5 * sigma))), min(x.shape[-2:]) - 1)
    k = gaussian_kernel(sigma, radius, device=x.device, dtype=x.dtype)
    c = x.shape[1]
    x = nn.functional.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = nn.functional.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return nn.functional.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def roughness(filters: torch.Tensor) -> torch.Tensor:
    """Per filter, the energy of its discrete Laplacian over its own energy: ``|Lap w|^2 / |w|^2`` (scale-free).

    0 for a constant filter, small for smooth ramps and edges, largest (up to 64 for a checkerboard) for
    pixel-scale grain. Differentiable, for use as a penalty.
    """
    w = filters.flatten(0, 1)[:, None]       # every channel of every filter as one image
    lap = torch.tensor([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]], dtype=w.dtype, device=w.device)
    rough = nn.functional.conv2d(w, lap.view(1, 1, 3, 3))   # interior only: no made-up border values
    per = (rough ** 2).flatten(1).sum(1).view(filters.shape[0], -1).sum(1)
    energy = (filters ** 2).flatten(1).sum(1)
    return per / energy.clamp_min(1e-12)


def _first_conv(model: nn.Module) -> nn.Conv2d | None:
    return next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)


def train_classifier(model: nn.Module, train: ImageSet, val: ImageSet | None = None, *, epochs: int = 10,
                     lr: float = 3e-3, weight_decay: float = 5e-4, batch_size: int = 64, seed: int = 0,
                     augment: bool = True, optimizer: str = "adamw", first_layer_decay: float | None = None,
                     colour_augment: bool = False, input_noise: float = 0.0, blur: float = 0.0,
                     first_layer_smoothness: float = 0.0,
                     callback: Callable[[int, nn.Module, TrainHistory], bool | None] | None = None,
                     stop: threading.Event | None = None, progress: bool = True) -> TrainHistory:
    """Train ``model`` in place with AdamW (or SGD) and cross-entropy on its device; returns the :class:`TrainHistory`.

    The learning rate follows a one-cycle schedule peaking at ``lr``.

    After every epoch the first conv layer's weights are snapshotted and ``callback(epoch, model, history)``
    is called; if it returns ``True`` training stops. A set ``stop`` event or Ctrl-C also stops it after the
    current batch, keeping everything learned so far. ``augment`` flips images left-right at random.

    ``first_layer_decay`` gives the first conv layer's weights their own (decoupled) weight decay.
    ``colour_augment`` makes colour and brightness nuisances: every training image gets its RGB channels in a
    random order, half of them are turned to gray and half of them to their negative (``1 - x``). What
    survives all three is where the intensity changes, not what it is.
    ``input_noise`` adds Gaussian pixel noise of that standard deviation to every training batch (a fresh draw
    each time), ``blur`` blurs each training batch with a Gaussian of a random width in ``[0, blur]`` pixels
    (:func:`random_blur`), and ``first_layer_smoothness`` adds that multiple of :func:`roughness` of the first
    conv layer's filters to the loss.
    """
    epochs = check_int("epochs", epochs, 0)
    batch_size = check_int("batch_size", batch_size)
    if optimizer not in ("adamw", "sgd"):
        raise ValueError(f"optimizer must be 'adamw' or 'sgd' (with Nesterov momentum 0.9), got {optimizer!r}")
    input_noise, blur = check_number("input_noise", input_noise), check_number("blur", blur)
    first_layer_smoothness = check_number("first_layer_smoothness", first_layer_smoothness)
    lr, weight_decay = check_number("lr", lr, low_open=True), check_number("weight_decay", weight_decay)
    from tqdm.auto import tqdm

    device = model_device(model)
    history = TrainHistory()
    conv = _first_conv(model)

    def snapshot(epoch: int) -> None:
        if conv is not None:
            history.filters.append(conv.weight.detach().cpu().clone())
            history.filter_epochs.append(epoch)

    snapshot(0)
    params = list(model.parameters())
    if first_layer_decay is not None and conv is not None:
        first = [conv.weight]
        params = [{"params": [p for p in params if p is not conv.weight]},
                  {"params": first, "weight_decay": first_layer_decay}]
    if optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay, nesterov=True)
    steps = max(1, epochs * -(-len(train) // batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    g = seeded_generator(seed)
    g_colour = seeded_generator(seed, 100)   # own stream: the flips stay as without colour_augment
    g_noise = seeded_generator(seed, 200)    # likewise for noise and blur
    start_time = time.perf_counter()
    bar = tqdm(total=epochs, desc="training", unit="epoch", disable=not progress)
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            perm = torch.randperm(len(train), generator=g)
            total, correct, seen = 0.0, 0, 0
            for b in range(0, len(train), batch_size):
                if stop is not None and stop.is_set():
                    raise KeyboardInterrupt
                idx = perm[b:b + batch_size]
                x, y = train.batch(idx, device), train.labels[idx].to(device)
                if colour_augment:
                    x = colour_jitter(x, g_colour)
                if augment:
                    flip = torch.rand(len(x), generator=g) < 0.5
                    x[flip.to(device)] = x[flip.to(device)].flip(-1)
                if blur > 0:
                    x = random_blur(x, blur, g_noise)
                if input_noise > 0:
                    x = x + input_noise * torch.randn(x.shape, generator=g_noise).to(device)
                out = model(x)
                loss = loss_fn(out, y)
                if first_layer_smoothness > 0 and conv is not None:
                    loss = loss + first_layer_smoothness * roughness(conv.weight).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(x)
                correct += int((out.argmax(1) == y).sum())
                seen += len(x)
            history.loss.append(total / seen)
            history.train_accuracy.append(correct / seen)
            if val is not None:
                history.val_accuracy.append(accuracy(model, val))
            snapshot(epoch)
            bar.update(1)
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}",
                            val=f"{history.val_accuracy[-1]:.2f}" if history.val_accuracy else "-")
            if callback is not None and callback(epoch, model, history):
                history.stopped = epoch < epochs
                break
    except KeyboardInterrupt:
        history.stopped = True
    finally:
        bar.close()
        model.eval()
        history.seconds = time.perf_counter() - start_time
    return history


#: Training recipes for :func:`train_shapes_cnn` (each can be overridden argument by argument).
#: The orientedness numbers below were measured before round 20, when :func:`~vizlab.inside.orientedness` summed
#: the colour channels before measuring (a red/green edge scored 0); since then every channel counts.
#: ``"faint"``: a first layer initialised at 1 % of the usual scale and strong weight decay everywhere; the
#: filters end as colour blobs and noise (median :func:`~vizlab.inside.orientedness` about 0.2-0.4), because on
#: the shapes set colour and brightness alone tell the object from the dark background.
#: ``"edges"``: the usual initialisation (different random filters break the symmetry between units, so
#: they can specialise), strong decoupled weight decay on the first layer only (what a filter does not
#: need decays away, which removes the noise), and :func:`colour_jitter` (random channel order, gray,
#: negative), so colour and brightness are nuisances and only edges - where intensity changes - are left
#: to detect. With upright shapes and coarser patterns (``make_shapes(upright=True, pattern_scale=1.6)``),
#: 15 epochs on 2400 images, the filters become gray and more edge-like (numbers over 5 seeds x 1, 2
#: threads in ``benchmarks/claims_figures.py``; random 7x7 filters 0.13, 0.07 since round 20). The rest are corner and checker
#: detectors, which squares, crosses and fine checkers make useful (with ``pattern_scale=1`` the median was
#: 0.27-0.60). With random angles the same recipe measured 0.37 (one seed): rotated edges average into blobs.
#: Tried and not kept (seeds 0 and 3, median orientedness; this recipe 0.36 / 0.48 with the same split):
#: an L1/L2 sparsity penalty on the first layer's activations (0.39 / 0.32; plain L1 only rescales them,
#: which the batch norm after conv2 undoes), plus a sparse reconstruction of the input from them (0.45 / 0.33),
#: a decorrelation penalty between filters (0.29 / 0.28), 30 epochs (0.46 / 0.47), the same steps on 12 000
#: fresh images (0.42 / 0.27), first-layer learning rate x3 (0.37 / 0.54) or x0.3 (0.23 / 0.31), weight
#: averaging (EMA 0.99: 0.34 / 0.53), unit-norm filters (0.17 / 0.27), no crosses or checkers (0.57 / 0.46;
#: with 30 epochs 0.65 / 0.49; it was notebook 02's second network in rounds 4-5, 0.36-0.71 over 5 seeds x 1, 2 threads).
#: Weak filters are not dead ones: norm and orientedness are uncorrelated.
#: ``"strided"`` (round 6): the ``"edges"`` recipe with the first layer at step 2 on images twice the size
#: (64 px; ``train_shapes_cnn`` makes them so when ``data`` is None), and every training batch blurred by a
#: random Gaussian up to 2 px wide (:func:`random_blur`). Objects, stripes and checkers are twice as many
#: pixels across, so a 7x7 window mostly sees one straight edge, not a corner or a whole checker, while every
#: later layer sees the same 32x32 map as before (same cost); the blur takes away the single-pixel detail
#: that left some filters grainy. Median orientedness over 5 seeds x 1, 2 threads: see
#: ``benchmarks/claims_figures.py``. Screened on seeds 0 / 3 with "edges" (their own splits: 0.36 / 0.34)
#: and not kept: shapes pasted on crops of the sample photos (``make_shapes(background="photos")``:
#: 0.32 / 0.42), input noise 0.1 (0.42 / 0.44), random blur up to 1.5 px (0.39 / 0.49), a Laplacian
#: :func:`roughness` penalty 0.02 on the first layer (0.45 / 0.37), step 2 on 32-pixel images (0.53 / 0.48).
#: Step 2 on 64 px without blur: 0.54-0.80 over seeds 0-4 (1 thread); on seeds 2 / 1, adding input noise 0.1
#: gave 0.67 / 0.70 (validation 0.93), noise 0.05 0.68 / -, the roughness penalty 0.47 / 0.47, step 3 on
#: 96 px 0.59 / 0.74, blur up to 2 px 0.76 / 0.84 (kept).
RECIPES = {
    "faint": dict(first_layer_scale=0.01, weight_decay=0.3, first_layer_decay=None, colour_augment=False, stride=1,
                  blur=0.0),
    "edges": dict(first_layer_scale=1.0, weight_decay=0.05, first_layer_decay=5.0, colour_augment=True, stride=1,
                  blur=0.0),
    "strided": dict(first_layer_scale=1.0, weight_decay=0.05, first_layer_decay=5.0, colour_augment=True, stride=2,
                    blur=2.0),
}


def train_shapes_cnn(epochs: int = 12, *, n: int = 2400, size: int | None = None, val_fraction: float = 0.2,
                     seed: int = 0, width: int = 16, recipe: str = "faint", first_layer_scale: float | None = None,
                     lr: float = 5e-3,
                     weight_decay: float | None = None, first_layer_decay: float | None = None,
                     colour_augment: bool | None = None, stride: int | None = None, blur: float | None = None,
                     batch_size: int = 64, optimizer: str = "adamw",
                     device: str | torch.device | None = None,
                     callback: Callable[[int, nn.Module, TrainHistory], bool | None] | None = None,
                     stop: threading.Event | None = None, progress: bool = True,
                     data: ImageSet | None = None) -> tuple[ShapesCNN, TrainHistory]:
    """Make the shapes set, train a :class:`ShapesCNN` on it, and return ``(model, history)``.

    ``recipe`` names a setting of :data:`RECIPES`; ``first_layer_scale``, ``weight_decay``,
    ``first_layer_decay``, ``colour_augment``, ``stride`` (of the first layer) and ``blur`` (the widest random
    blur of the training batches, :func:`random_blur`) override it one by one.
    ``size`` (of the images made when ``data`` is None) defaults to 32 pixels per step of the first layer.
    ``"faint"`` (the default; measured: 93 % validation accuracy after 12 epochs on 2400 images, about 30 s
    on one busy CPU core) ends with colour-blob and noise filters; ``"edges"`` on upright shapes with
    coarser patterns (``data=make_shapes(..., upright=True, pattern_scale=1.6)``; with ``data=None`` the set
    is made so) ends with gray filters, about half of them oriented edges, the rest corner and checker
    detectors; ``"strided"`` (the same at 64 px with the first layer at step 2 and random blur) ends with gray
    filters that are mostly oriented edges (see :data:`RECIPES` for the numbers) - notebook 02 uses it.
    Why: a filter becomes what the loss needs from it, and on the plain shapes set colour and brightness
    already tell the object from its background, so colour detectors suffice. Scrambling colour and
    brightness at random leaves only the edges informative, and upright shapes give the edges a few
    orientations for the filters to specialise on.

    ``history.filters`` holds the 7x7 first-layer filters after every epoch (``history.filter_epochs``), for
    showing filters being learned: ``vizlab.plotting.filter_grid(history.filters[-1])``. The validation
    split (``val_fraction`` of ``n``) gives ``history.val_accuracy``. Everything is seeded.

    Example:
        >>> model, hist = train_shapes_cnn(epochs=8)          # doctest: +SKIP
        >>> hist.val_accuracy[-1] > 0.9                         # doctest: +SKIP
        True
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
    given = dict(first_layer_scale=first_layer_scale, weight_decay=weight_decay, first_layer_decay=first_layer_decay,
                 colour_augment=colour_augment, stride=stride, blur=blur)
    settings = {k: (v if given[k] is None else given[k]) for k, v in RECIPES[recipe].items()}
    edges = recipe in ("edges", "strided")
    size = 32 * settings["stride"] if size is None else size
    data = data if data is not None else make_shapes(n, size, seed=seed, upright=edges,
                                                     pattern_scale=1.6 if edges else 1.0)
    train, val = data.split(val_fraction, seed=seed)
    model = shapes_cnn(seed, data.num_classes, width, settings["first_layer_scale"], class_names=data.class_names,
                       stride=settings["stride"])
    model = model.to(get_device(device))
    history = train_classifier(model, train, val, epochs=epochs, lr=lr, weight_decay=settings["weight_decay"],
                               first_layer_decay=settings["first_layer_decay"],
                               colour_augment=settings["colour_augment"], blur=settings["blur"],
                               batch_size=batch_size, seed=seed,
                               optimizer=optimizer, callback=callback, stop=stop, progress=progress)
    return model, history
