"""Image sets: one small container for every collection of labelled images that vizlab looks at.

An :class:`ImageSet` holds ``N`` same-sized RGB images as a ``uint8`` tensor ``(N, 3, H, W)`` (compact; a
batch is turned into ``[0, 1]`` floats when it is used), integer labels, class names and a name. It is a
``torch.utils.data.Dataset`` (``set[i] -> (image, label)``) and has a content fingerprint, which the
feature cache (:mod:`vizlab.inside.features`) uses to notice when the images change.

Where image sets come from:

- :func:`photo_crops` - the offline default: many augmented crops of the sample photos, labelled by
  the photo they come from, generated deterministically from a seed (no files, no network).
- :func:`image_folder` - any folder in ``ImageFolder`` layout (``root/<class>/<image>``).
- :func:`cifar10`, :func:`imagenette` - through torchvision's own download code when online; offline
  and not on disk, they fail within seconds with :class:`DatasetUnavailableError`.
- :func:`vizlab.inside.shapes.make_shapes` - procedural shapes and textures in random colours.

Example:
    >>> crops = photo_crops(per_class=4, size=32)
    >>> len(crops), crops.class_names[:2]
    (40, ['cat', 'espresso'])
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..images import load_image, resize, sample_image
from .._validate import check_int, check_number, seeded_generator, seeded_rng
from ..models import reachable

#: The photos the offline default is cut from (the textures are grayscale and left out).
PHOTOS = ("cat", "espresso", "astronaut", "rocket", "motorcycle", "temple", "flower", "grace_hopper", "hubble",
          "retina")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class DatasetUnavailableError(RuntimeError):
    """A data set is not on disk and cannot be downloaded (offline, or the download failed)."""


@dataclass(eq=False)
class ImageSet(Dataset):
    """Labelled same-sized RGB images.

    Attributes:
        images: ``uint8`` tensor ``(N, 3, H, W)`` (0..255); :meth:`batch` gives ``[0, 1]`` floats.
        labels: ``int64`` tensor ``(N,)`` of class indices into ``class_names``.
        class_names: one name per class.
        name: a short description, e.g. ``"photo crops (10 classes)"``.
        extra: further per-image label tensors (e.g. ``extra["colour"]`` for the shapes set) with their
            names in ``extra_names``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    name: str = "images"
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    extra_names: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.images, torch.Tensor) or self.images.dim() != 4 or self.images.shape[1] != 3:
            shape = tuple(self.images.shape) if isinstance(self.images, torch.Tensor) else type(self.images).__name__
            raise ValueError(f"images must be a tensor (N, 3, H, W), got {shape}")
        if self.images.is_floating_point():
            # Accept [0, 1] floats too; store compactly.
            self.images = (self.images.detach().clamp(0, 1) * 255 + 0.5).to(torch.uint8)
        elif self.images.dtype != torch.uint8:
            raise TypeError(f"images must be uint8 (0..255) or floating point in [0, 1], got {self.images.dtype}")
        self.images = self.images.cpu().contiguous()
        self.labels = torch.as_tensor(self.labels, dtype=torch.int64).cpu()
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},), got {tuple(self.labels.shape)}")
        self.class_names = list(self.class_names)
        if len(self.labels) and not 0 <= int(self.labels.min()) <= int(self.labels.max()) < len(self.class_names):
            raise ValueError(f"labels must lie in 0..{len(self.class_names) - 1} (one per class name), "
                             f"got {int(self.labels.min())}..{int(self.labels.max())}")
        self._fingerprint: str | None = None

    # -- Dataset protocol ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index].float() / 255.0, int(self.labels[index])

    def __repr__(self) -> str:
        h, w = self.size
        return f"ImageSet({self.name!r}, {len(self)} images {h}x{w}, {len(self.class_names)} classes)"

    # -- access --------------------------------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of every image."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def batch(self, index=None, device: torch.device | str | None = None) -> torch.Tensor:
        """Images as floats in ``[0, 1]``, shape ``(n, 3, H, W)``: all, a slice, or a list/tensor of indices."""
        imgs = self.images if index is None else self.images[index]
        if imgs.dim() == 3:
            imgs = imgs[None]
        return imgs.to(device).float().div_(255.0) if device is not None else imgs.float() / 255.0

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as vizlab's ``(H, W, 3)`` float array."""
        return self.images[i].permute(1, 2, 0).numpy().astype(np.float32) / 255.0

    def label_name(self, i: int) -> str:
        return self.class_names[int(self.labels[i])]

    def subset(self, index) -> "ImageSet":
        """A new set with the chosen images (indices, slice or boolean mask)."""
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        index = torch.as_tensor(index)
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        return ImageSet(self.images[index], self.labels[index], self.class_names, self.name,
                        {k: v[index] for k, v in self.extra.items()}, dict(self.extra_names))

    def split(self, fraction: float = 0.2, seed: int = 0) -> tuple["ImageSet", "ImageSet"]:
        """Shuffle with ``seed`` and split into ``(train, validation)``; ``fraction`` goes to validation."""
        fraction = check_number("fraction", fraction, 0, 1, low_open=True, high_open=True)
        perm = torch.randperm(len(self), generator=seeded_generator(seed))
        n_val = max(1, int(round(len(self) * fraction)))
        return self.subset(perm[n_val:]), self.subset(perm[:n_val])

    def fingerprint(self) -> str:
        """A hash of the pixels and labels: equal for equal content, different when anything changes."""
        if self._fingerprint is None:
            h = hashlib.sha1()
            h.update(str((tuple(self.images.shape), self.class_names)).encode())
            h.update(self.images.numpy().tobytes())
            h.update(self.labels.numpy().tobytes())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint


def from_arrays(images: Sequence[np.ndarray], labels: Sequence[int], class_names: Sequence[str],
                name: str = "images") -> ImageSet:
    """An :class:`ImageSet` from same-sized ``(H, W, 3)`` float arrays in ``[0, 1]``."""
    if len(images) == 0:
        raise ValueError("images is empty")
    shapes = {np.shape(a) for a in images}
    if len(shapes) != 1:
        raise ValueError(f"images must all have one size; got {sorted(shapes)[:4]}")
    arr = np.stack([np.asarray(a, dtype=np.float32) for a in images])
    t = torch.from_numpy((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)).permute(0, 3, 1, 2)
    return ImageSet(t, torch.as_tensor(list(labels)), list(class_names), name)


# -- the offline default ------------------------------------------------------------------------------------
def _random_crop(photo: torch.Tensor, rng: np.random.Generator, size: int, scale: tuple[float, float]) -> torch.Tensor:
    """A random-resized crop (area fraction in ``scale``, aspect 3/4..4/3), maybe flipped, colour-jittered."""
    _, h, w = photo.shape
    for _ in range(20):
        area = rng.uniform(*scale) * h * w
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        ch, cw = int(round(np.sqrt(area / aspect))), int(round(np.sqrt(area * aspect)))
        if 8 <= ch <= h and 8 <= cw <= w:
            break
    else:
        ch = cw = min(h, w)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = photo[None, :, y:y + ch, x:x + cw]
    crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    if rng.random() < 0.5:
        crop = crop.flip(-1)
    # Mild brightness/contrast jitter, so that identical pixels never repeat across crops.
    brightness, contrast = rng.uniform(0.85, 1.15), rng.uniform(0.85, 1.15)
    mean = crop.mean()
    return ((crop - mean) * contrast + mean * brightness).clamp(0, 1)


def photo_crops(per_class: int = 40, size: int = 64, *, photos: Sequence[str] = PHOTOS, seed: int = 0,
                scale: tuple[float, float] = (0.08, 0.5)) -> ImageSet:
    """The offline default image set: ``per_class`` augmented crops of each sample photo.

    Each crop covers a random ``scale`` fraction of its photo's area, is resized to ``size`` x ``size``,
    randomly flipped and jittered in brightness/contrast. Its label is the photo it was cut from, so a good
    feature space puts crops of one photo (fur, whiskers and eyes of the cat) near each other although
    their pixels differ. The same ``seed`` gives the same pixels.

    Args:
        per_class: crops per photo.
        size: side length of every crop.
        photos: sample-image names (see :func:`vizlab.images.sample_names`), one class each.
        seed: seed of the private random generator.
        scale: ``(min, max)`` fraction of the photo's area that one crop covers.
    """
    per_class = check_int("per_class", per_class)
    size = check_int("size", size, 8)
    if not (0 < scale[0] <= scale[1] <= 1):
        raise ValueError(f"scale must be (min, max) with 0 < min <= max <= 1, got {scale}")
    photos = list(photos)
    if not photos:
        raise ValueError("photos is empty")
    rng = seeded_rng(seed)
    images, labels = [], []
    for label, name in enumerate(photos):
        photo = torch.from_numpy(sample_image(name)).permute(2, 0, 1).float()
        for _ in range(per_class):
            images.append(_random_crop(photo, rng, size, scale))
            labels.append(label)
    stacked = (torch.stack(images) * 255 + 0.5).to(torch.uint8)
    return ImageSet(stacked, torch.tensor(labels), photos, f"photo crops ({len(photos)} photos x {per_class})")


def patch_pool(size: int = 224, *, crops_per_photo: int = 6, shapes: int = 24, seed: int = 0) -> ImageSet:
    """A larger offline pool for maximally activating patches: every sample photo, crops of them, and shapes.

    Whole photos give parts in context, crops (scale 0.08-0.5 of a photo) give parts at a larger scale, and
    the procedural shapes (rendered at ``size``) add clean edges, corners and colours. The label says where
    an image comes from: its photo's name, or ``"shapes"``; ``extra["source"]`` numbers the photo (crops share
    their photo's number, every shape image has its own), for one patch per photo region
    (``max_activating_patches(..., sources=pool.extra["source"])``).

    Args:
        size: side of every image.
        crops_per_photo: crops of each photo (0: none).
        shapes: how many shape images (0: none).
        seed: for the crops and shapes.
    """
    from ..images import SAMPLES
    from .shapes import make_shapes

    size = check_int("size", size, 16)
    crops_per_photo = check_int("crops_per_photo", crops_per_photo, 0)
    shapes = check_int("shapes", shapes, 0)
    names = list(SAMPLES)
    parts = [torch.stack([torch.from_numpy(resize(sample_image(n), size)).permute(2, 0, 1) for n in names])]
    labels = [torch.arange(len(names))]
    parts[0] = (parts[0] * 255 + 0.5).to(torch.uint8)
    sources = [torch.arange(len(names))]
    if crops_per_photo:
        crops = photo_crops(crops_per_photo, size, photos=names, seed=seed)
        parts.append(crops.images)
        labels.append(crops.labels)
        sources.append(crops.labels)
    class_names = names
    if shapes:
        drawn = make_shapes(shapes, size=size, seed=seed, supersample=1)
        parts.append(drawn.images)
        labels.append(torch.full((shapes,), len(names)))
        sources.append(len(names) + torch.arange(shapes))
        class_names = names + ["shapes"]
    return ImageSet(torch.cat(parts), torch.cat(labels), class_names,
                    f"patch pool ({len(names)} photos, {crops_per_photo} crops each, {shapes} shapes, {size} px)",
                    extra={"source": torch.cat(sources)})


# -- folders ------------------------------------------------------------------------------------------------
def image_folder(root: str | Path, size: int = 64, *, per_class: int | None = None,
                 name: str | None = None) -> ImageSet:
    """Read a folder in ``ImageFolder`` layout: ``root/<class name>/<image file>``.

    Classes are the sub-folders in sorted order; images are read with :func:`vizlab.images.load_image`,
    resized (shorter side to ``size``, then centre crop) and kept in sorted file order. ``per_class``
    keeps only the first images of each class (to stay small on a CPU).
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root={str(root)!r} is not a folder; expected root/<class>/<image> (ImageFolder layout)")
    size = check_int("size", size, 8)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"root={str(root)!r} has no class sub-folders; expected root/<class>/<image>")
    images, labels = [], []
    for label, cls in enumerate(classes):
        files = sorted(p for p in (root / cls).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if per_class is not None:
            files = files[:check_int("per_class", per_class)]
        for path in files:
            images.append(resize(load_image(path), size))
            labels.append(label)
    if not images:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
    return from_arrays(images, labels, classes, name or f"{root.name} ({len(classes)} classes)")


# -- torchvision data sets ----------------------------------------------------------------------------------
def _download_guard(url: str, what: str, root: Path, timeout: float) -> None:
    if not reachable(url, timeout):
        raise DatasetUnavailableError(
            f"{what} is not in {root} and {url} cannot be reached (offline?). Use the offline default "
            f"vizlab.inside.photo_crops() or the shapes set vizlab.inside.make_shapes(), or put the data set "
            f"into {root} (or pass root=) and call again.")


def _from_torchvision(ds, n: int | None, seed: int, size: int | None, name: str) -> ImageSet:
    count = len(ds)
    index = np.arange(count)
    if n is not None and n < count:
        index = np.sort(seeded_rng(seed).choice(count, size=check_int("n", n), replace=False))
    images, labels = [], []
    for i in index:
        img, label = ds[int(i)]
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        images.append(resize(arr, size) if size is not None else arr)
        labels.append(int(label))
    return from_arrays(images, labels, list(ds.classes), name)


def cifar10(root: str | Path = "data/cifar10", *, train: bool = False, n: int | None = 2000, seed: int = 0,
            size: int | None = None, download: bool = True, timeout: float = 3.0) -> ImageSet:
    """CIFAR-10 (32 x 32, 10 classes) through ``torchvision.datasets.CIFAR10``.

    Args:
        root: where torchvision keeps (or downloads) the data set.
        train: the 50 000 training images, or the 10 000 test images.
        n: a random subset of this many images (``None``: all).
        size: resize to this side (``None``: keep 32).
        download: download when missing (only when the server answers within ``timeout`` seconds).

    Raises:
        DatasetUnavailableError: not on disk and cannot be downloaded; says what to use instead.
    """
    from torchvision.datasets import CIFAR10

    root = Path(root)
    try:
        ds = CIFAR10(str(root), train=train, download=False)
    except RuntimeError as missing:
        if not download:
            raise DatasetUnavailableError(f"CIFAR-10 is not in {root} and download=False") from missing
        _download_guard(CIFAR10.url, "CIFAR-10", root, timeout)
        try:
            ds = CIFAR10(str(root), train=train, download=True)
        except Exception as exc:  # URLError, HTTPError, checksum errors...
            raise DatasetUnavailableError(f"downloading CIFAR-10 into {root} failed: {exc}") from exc
    return _from_torchvision(ds, n, seed, size, f"CIFAR-10 {'train' if train else 'test'}")


def imagenette(root: str | Path = "data/imagenette", *, split: str = "val", image_size: str = "160px",
               n: int | None = 1000, seed: int = 0, size: int = 128, download: bool = True,
               timeout: float = 3.0) -> ImageSet:
    """Imagenette (10 easy ImageNet classes) through ``torchvision.datasets.Imagenette``.

    Args:
        root: where torchvision keeps (or downloads) it: ``root/imagenette2-160/{train,val}/<wnid>/*.JPEG``.
        split: ``"train"`` or ``"val"``.
        image_size: torchvision's variant: ``"full"``, ``"320px"`` or ``"160px"``.
        n: a random subset of this many images (``None``: all).
        size: side length after resizing (shorter side, then centre crop).

    Raises:
        DatasetUnavailableError: not on disk and cannot be downloaded; says what to use instead.
    """
    from torchvision.datasets import Imagenette

    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if image_size not in ("full", "320px", "160px"):
        raise ValueError(f"image_size must be 'full', '320px' or '160px', got {image_size!r}")
    root = Path(root)
    try:
        ds = Imagenette(str(root), split=split, size=image_size, download=False)
    except RuntimeError as missing:
        if not download:
            raise DatasetUnavailableError(f"Imagenette ({image_size}) is not in {root} and download=False") from missing
        url = Imagenette._ARCHIVES[image_size][0]
        _download_guard(url, f"Imagenette ({image_size})", root, timeout)
        try:
            ds = Imagenette(str(root), split=split, size=image_size, download=True)
        except Exception as exc:
            raise DatasetUnavailableError(f"downloading Imagenette into {root} failed: {exc}") from exc
    # torchvision gives each class as a tuple of synonyms; the first reads best.
    ds.classes = [c[0] if isinstance(c, tuple) else c for c in ds.classes]
    return _from_torchvision(ds, n, seed, size, f"Imagenette {split}")
