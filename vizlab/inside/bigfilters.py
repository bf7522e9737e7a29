"""A small AlexNet-like CNN with big (7x7) first-layer filters, distilled offline from EfficientNet-Lite0.

The lecture opens with the first-layer filters of AlexNet and ResNet: oriented edges and colour blobs. The
only offline ImageNet network here (EfficientNet-Lite0) has a 3x3 stem, too small to show shape, so vizlab
ships a small network of its own whose first layer is 7x7 with stride 2 (ResNet's stem), trained on this
machine without any labels: it imitates Lite0 (distillation) on augmented crops of the package photos and of
procedural textures. Its three convolutions and a 1x1 adapter predict Lite0's ``block3`` feature maps
(40 channels at stride 8): dense, spatial targets that a small student learns quickly on a CPU.

:func:`load_bigfilters` loads the shipped checkpoint ``data/networks/bigfilters.pt``. The script that made it
is this module: ``python -m vizlab.inside.bigfilters OUT.pt --minutes 50`` (checkpoints every few minutes,
resumable with ``--resume``).

Example:
    >>> net = load_bigfilters()                          # doctest: +SKIP
    >>> first_layer_filters(net).shape                   # doctest: +SKIP
    torch.Size([48, 3, 7, 7])
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._validate import check_int, seeded_generator, seeded_rng
from ..models import IMAGENET_MEAN, IMAGENET_STD, Normalize
from ..resources import is_installed_copy, shipped_dir
from ..toy import seeded

CHECKPOINT = shipped_dir("data", must_exist=False) / "networks" / "bigfilters.pt"  # see vizlab.resources
#: Extra photos from scikit-image used for training, besides the package's sample photos.
EXTRA_SKIMAGE = ("camera", "coins", "moon", "page", "text", "cell", "clock", "logo", "colorwheel")


class BigFilterNet(nn.Module):
    """An AlexNet-like stack of convolutions on ``[0, 1]`` images; layer names double as module paths.

    ``normalize`` -> ``conv1`` 7x7 stride 2 (3 -> ``width``, the filters we look at; no batch norm, so its
    weights are what multiplies the pixels) -> ``relu1`` -> ``pool1`` 3x3/2 -> ``conv2`` 3x3 -> ``bn2`` ->
    ``relu2`` -> ``pool2`` 2x2 -> ``conv3`` 3x3 -> ``bn3`` -> ``relu3`` (stride 8) -> ``adapter`` (1x1 conv to
    Lite0's 40 ``block3`` channels, whose maps it was trained to predict). No classifier: it is shipped for its
    first two layers, and small enough to train on a busy CPU.
    """

    def __init__(self, width: int = 48, teacher_channels: int = 40):
        super().__init__()
        self.name = "bigfilters"
        self.normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        w = width
        self.conv1 = nn.Conv2d(3, w, 7, stride=2, padding=3)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(3, 2, padding=1)
        self.conv2 = nn.Conv2d(w, 2 * w, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * w)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(2 * w, 3 * w, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(3 * w)
        self.relu3 = nn.ReLU()
        self.adapter = nn.Conv2d(3 * w, teacher_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted (standardised) Lite0 ``block3`` maps at stride 8 for ``[0, 1]`` images."""
        x = self.pool1(self.relu1(self.conv1(self.normalize(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        return self.adapter(self.relu3(self.bn3(self.conv3(x))))


def bigfilter_net(seed: int = 0, width: int = 48, first_layer_scale: float = 0.1) -> BigFilterNet:
    """A seeded :class:`BigFilterNet` whose first-layer weights start at ``first_layer_scale`` of the usual size.

    Small initial filters start as faint noise, so the structure they show after training was learned.
    """
    with seeded(seed):
        net = BigFilterNet(width)
    with torch.no_grad():
        net.conv1.weight.mul_(first_layer_scale)
    return net


def load_bigfilters(path: str | Path | None = None, device: str | torch.device | None = None) -> BigFilterNet:
    """The shipped distilled network (``data/networks/bigfilters.pt``), in eval mode, frozen.

    ``net.meta`` holds how it was trained (settings, steps, minutes, final losses).

    Raises:
        FileNotFoundError: the checkpoint is missing (re-create it with ``python -m vizlab.inside.bigfilters``).
    """
    from ..device import get_device

    path = Path(path) if path is not None else CHECKPOINT
    if not path.is_file():
        if is_installed_copy(path):  # never suggest writing into site-packages
            raise FileNotFoundError(f"no checkpoint at {path}: this installation of vizlab lacks its data; reinstall "
                                    f"it from a wheel built with data (`pip wheel .` in the repository), or train "
                                    f"one into a folder of your own (`python -m vizlab.inside.bigfilters "
                                    f"bigfilters.pt`) and pass path='bigfilters.pt'")
        raise FileNotFoundError(f"no checkpoint at {path}; train one with `python -m vizlab.inside.bigfilters {path}`")
    state = torch.load(path, map_location="cpu", weights_only=True)
    meta = state.get("meta", {})
    net = BigFilterNet(int(meta.get("width", 48)))
    net.load_state_dict({k: v.float() for k, v in state["model"].items()})
    net.meta = meta
    net.requires_grad_(False)
    return net.to(get_device(device)).eval()


# -- training data ------------------------------------------------------------------------------------------
def _source_images() -> list[np.ndarray]:
    """The package's sample photos plus a few more scikit-image pictures, as float RGB arrays."""
    import skimage.data

    from ..images import SAMPLES, as_float_image, sample_image

    images = [sample_image(name) for name in SAMPLES]
    for name in EXTRA_SKIMAGE:
        try:
            images.append(as_float_image(np.asarray(getattr(skimage.data, name)())))
        except Exception:  # noqa: BLE001 - an optional picture that a scikit-image version lacks
            continue
    return images


def procedural_texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """One random procedural texture ``(size, size, 3)`` in ``[0, 1]``: gratings, colour blobs or polygons.

    They add oriented structure at many frequencies and saturated colours, which the few photos lack.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    kind = rng.integers(0, 3)
    if kind == 0:  # sum of two or three coloured gratings at random angles and frequencies
        img = np.zeros((size, size, 3), np.float32)
        for _ in range(rng.integers(1, 4)):
            a = rng.uniform(0, np.pi)
            f = rng.uniform(2, 16)
            wave = np.sin(2 * np.pi * f * (xx * np.cos(a) + yy * np.sin(a)) + rng.uniform(0, 6.3))
            img += wave[..., None] * rng.uniform(-1, 1, 3).astype(np.float32)
        img = 0.5 + 0.25 * img / max(1e-6, np.abs(img).max())
    elif kind == 1:  # smooth colour blobs: low-pass filtered colour noise
        from scipy.ndimage import gaussian_filter

        noise = rng.normal(size=(size, size, 3)).astype(np.float32)
        sigma = rng.uniform(2, 10) * size / 112
        img = np.stack([gaussian_filter(noise[..., c], sigma, mode="wrap") for c in range(3)], -1)
        img = 0.5 + 0.4 * img / max(1e-6, np.abs(img).max())
    else:  # a few flat-coloured polygons on a coloured background
        from PIL import Image, ImageDraw

        pic = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(pic)
        for _ in range(rng.integers(2, 7)):
            pts = [tuple(float(v) for v in rng.uniform(-0.2, 1.2, 2) * size) for _ in range(rng.integers(3, 6))]
            draw.polygon(pts, fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        img = np.asarray(pic, dtype=np.float32) / 255
    return np.clip(img, 0, 1).astype(np.float32)


def augmented_crops(n: int, size: int = 112, *, seed: int = 0, procedural: float = 0.25) -> torch.Tensor:
    """``n`` random crops ``(n, 3, size, size)`` float in ``[0, 1]``: photos (random scale, aspect, flip, colour
    jitter, hue swaps, sometimes gray) and, with probability ``procedural``, procedural textures."""
    from PIL import Image

    rng = seeded_rng(seed)
    photos = _source_images()
    out = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        if rng.random() < procedural:
            img = procedural_texture(size, rng)
        else:
            src = photos[rng.integers(0, len(photos))]
            h, w = src.shape[:2]
            area = rng.uniform(0.02, 1.0) * h * w
            ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            ch = int(min(h, max(8, round(math.sqrt(area / ratio)))))
            cw = int(min(w, max(8, round(math.sqrt(area * ratio)))))
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            crop = (src[y:y + ch, x:x + cw] * 255).astype(np.uint8)
            img = np.asarray(Image.fromarray(crop).resize((size, size), Image.BICUBIC), np.float32) / 255
            if rng.random() < 0.5:
                img = img[:, ::-1]
            if rng.random() < 0.3:  # swap colour channels: hues the few photos do not have
                img = img[..., rng.permutation(3)]
            gray = img.mean(-1, keepdims=True)
            sat = rng.uniform(0.6, 1.6) if rng.random() > 0.1 else 0.0
            img = gray + sat * (img - gray)
            img = img * rng.uniform(0.7, 1.3) + rng.uniform(-0.1, 0.1)
        out[i] = np.clip(img, 0, 1).transpose(2, 0, 1)
    return torch.from_numpy(out)


@torch.no_grad()
def teacher_targets(crops: torch.Tensor, batch_size: int = 64, progress: bool = True) -> torch.Tensor:
    """Lite0's ``block3`` maps for ``crops`` (float16, each channel standardised over the set)."""
    from ..models import load_model

    teacher = load_model()
    net = teacher.net
    maps = []
    for start in range(0, len(crops), batch_size):
        # Only the layers up to block3 run: the rest of the teacher is not needed for these targets.
        x = net.bn1(net.conv_stem(teacher.normalize(crops[start:start + batch_size])))
        maps.append(net.blocks[:3](x).half())
        if progress and (start // batch_size) % 20 == 0:
            print(f"teacher {start + batch_size}/{len(crops)}", flush=True)
    m = torch.cat(maps).float()
    mean = m.mean((0, 2, 3), keepdim=True)
    std = m.std((0, 2, 3), keepdim=True).clamp_min(1e-3)
    return ((m - mean) / std).half()


def distill(net: BigFilterNet, crops: torch.Tensor, maps: torch.Tensor, *,
            steps: int, batch_size: int = 32, lr: float = 2e-3, weight_decay: float = 0.05, seed: int = 0, start_step: int = 0, optimizer_state: dict | None = None,
            checkpoint: Path | None = None, checkpoint_every: float = 240.0, minutes: float | None = None,
            meta: dict | None = None, log=print) -> dict:
    """Train ``net`` in place to predict the teacher's ``maps`` (mean squared error).

    AdamW with decoupled ``weight_decay`` (it removes what the first layer does not need, which cleans the
    filters) and a cosine schedule over ``steps``; random flips of each batch. Saves ``checkpoint`` every
    ``checkpoint_every`` seconds and at the end; stops after ``minutes`` (counting resumed time; the schedule then follows time). Returns the final ``meta``.
    """
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    if optimizer_state is not None:
        opt.load_state_dict(optimizer_state)
    g = seeded_generator(seed, check_int("start_step", start_step, 0))
    meta = dict(meta or {})
    t0 = time.perf_counter()
    last_save = t0
    running = None
    step = start_step
    net.train()

    def save(final: bool = False) -> None:
        if checkpoint is None:
            return
        meta.update(step=step, minutes=meta.get("minutes_before", 0.0) + (time.perf_counter() - t0) / 60,
                    loss=running)
        state = {"model": {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()},
                 "meta": meta}
        if not final:
            state["optimizer"] = opt.state_dict()
        tmp = Path(str(checkpoint) + ".tmp")
        torch.save(state, tmp)
        tmp.replace(checkpoint)

    while step < steps:
        # The cosine schedule runs on whichever budget (steps or minutes) is used up first, so a run on a
        # busy machine still ends with a small learning rate.
        done = step / steps
        if minutes is not None:
            done = max(done, (meta.get("minutes_before", 0.0) + (time.perf_counter() - t0) / 60) / minutes)
        if done >= 1:
            log(f"budget used up at step {step}", flush=True)
            break
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * done)) * min(1.0, (step + 1) / 100)
        idx = torch.randint(0, len(crops), (batch_size,), generator=g)
        x, m = crops[idx].float() / 255, maps[idx].float()
        flip = torch.rand(batch_size, generator=g) < 0.5
        x[flip], m[flip] = x[flip].flip(-1), m[flip].flip(-1)
        loss = F.mse_loss(net(x), m)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        running = float(loss.detach()) if running is None else 0.98 * running + 0.02 * float(loss.detach())
        if step % 50 == 0:
            log(f"step {step}/{steps}  loss {running:.3f}  lr {opt.param_groups[0]['lr']:.2e}  "
                f"{(time.perf_counter() - t0) / 60:.1f} min", flush=True)
        if time.perf_counter() - last_save > checkpoint_every:
            save()
            last_save = time.perf_counter()
    net.eval()
    save(final=False)
    return meta


def main(argv: list[str] | None = None) -> None:
    """Command line: make the crop pool and teacher targets (cached next to OUT), then distil."""
    parser = argparse.ArgumentParser(prog="python -m vizlab.inside.bigfilters", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--crops", type=int, default=12000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--first-layer-scale", type=float, default=0.1)
    parser.add_argument("--width", type=int, default=48)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    pool = args.out.with_suffix(".pool.pt")
    if pool.is_file():
        crops, maps = torch.load(pool, weights_only=True).values()
    else:
        t = time.perf_counter()
        crops = augmented_crops(args.crops, args.size, seed=args.seed)
        print(f"{len(crops)} crops in {(time.perf_counter() - t) / 60:.1f} min", flush=True)
        maps = teacher_targets(crops)
        crops = (crops * 255).round().to(torch.uint8)
        torch.save({"crops": crops, "maps": maps}, pool)
        print(f"pool of {len(crops)} crops and targets in {(time.perf_counter() - t) / 60:.1f} min", flush=True)
    net = bigfilter_net(args.seed, args.width, args.first_layer_scale)
    meta = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    start, opt_state = 0, None
    if args.resume and args.out.is_file():
        state = torch.load(args.out, map_location="cpu", weights_only=True)
        net.load_state_dict({k: v.float() for k, v in state["model"].items()})
        start, opt_state = state["meta"]["step"], state.get("optimizer")
        meta["minutes_before"] = state["meta"].get("minutes", 0.0)
    distill(net, crops, maps, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
            weight_decay=args.weight_decay, seed=args.seed, start_step=start, optimizer_state=opt_state,
            checkpoint=args.out, minutes=args.minutes, meta=meta)


if __name__ == "__main__":  # pragma: no cover
    main()
