"""Images: named samples from package data, loading any file or URL, and conversion to tensors.

vizlab's image type is a NumPy array of shape ``(H, W, 3)``, dtype ``float32``, RGB, values in ``[0, 1]``.
Models take tensors of shape ``(N, 3, H, W)`` in ``[0, 1]``; each model's ``preprocess`` normalises them.
Every sample ships inside an installed package (scikit-image, scikit-learn, matplotlib): nothing is downloaded.

Example:
    >>> cat = sample_image("cat", size=224)
    >>> cat.shape
    (224, 224, 3)
"""
from __future__ import annotations

import io
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ._validate import check_int

ImageLike = "str | Path | np.ndarray | Image.Image | torch.Tensor"
#: The largest side :func:`resize` makes, and the most pixels a loaded file may have: beyond them a float32 RGB
#: copy takes gigabytes (a 14000 x 14000 photo: 2.4 GB), so they are refused with a clear error instead.
MAX_SIDE = 8192
MAX_PIXELS = 8192 * 8192


def check_unit_range(tensor: torch.Tensor, name: str = "image") -> None:
    """Refuse a float image tensor that is plainly not in ``[0, 1]`` (e.g. a 0..255 image), instead of clamping it.

    Slight overshoot (an optimised image at 1.02) passes; a maximum above 2 cannot be a ``[0, 1]`` image.
    """
    if tensor.is_floating_point() and tensor.numel():
        hi = float(tensor.detach().amax())
        if not hi <= 2.0:  # also NaN
            lo = float(tensor.detach().amin())
            raise ValueError(f"{name} must have values in [0, 1]; got range [{lo:.4g}, {hi:.4g}]. A 0..255 image? "
                             "Divide it by 255 (or pass the uint8 array itself).")


@dataclass(frozen=True)
class Sample:
    """A named sample image: where it comes from and under which licence."""

    name: str
    source: str
    licence: str
    description: str
    loader: Callable[[], np.ndarray]


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)

    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def _stereo_left() -> np.ndarray:
    import skimage.data

    return skimage.data.stereo_motorcycle()[0]


_SAMPLES = [
    Sample("cat", "skimage.data.chelsea", "CC0 (Stefan van der Walt)", "Chelsea the cat, a close-up", _skimage("chelsea")),
    Sample("espresso", "skimage.data.coffee", "CC0 (Rachel Michetti)", "a cup of espresso on a saucer", _skimage("coffee")),
    Sample("astronaut", "skimage.data.astronaut", "public domain (NASA)", "astronaut Eileen Collins", _skimage("astronaut")),
    Sample("rocket", "skimage.data.rocket", "public domain (released by SpaceX)", "a Falcon 9 rocket on its pad", _skimage("rocket")),
    Sample("motorcycle", "skimage.data.stereo_motorcycle (left view)", "Middlebury 2014 stereo benchmark (Scharstein et al.), as shipped by scikit-image",
           "a motorcycle in a workshop", _stereo_left),
    Sample("temple", "sklearn.datasets.load_sample_image('china.jpg')", "CC BY 2.0 (Flickr user danielbuechele)",
           "a Chinese temple", _sklearn("china.jpg")),
    Sample("flower", "sklearn.datasets.load_sample_image('flower.jpg')", "CC BY 2.0 (Flickr user danielbuechele)",
           "a flower", _sklearn("flower.jpg")),
    Sample("grace_hopper", "matplotlib sample_data/grace_hopper.jpg", "public domain (US Navy)",
           "Rear Admiral Grace Hopper", _grace_hopper),
    Sample("hubble", "skimage.data.hubble_deep_field", "public domain (NASA)", "the Hubble deep field", _skimage("hubble_deep_field")),
    Sample("ihc", "skimage.data.immunohistochemistry", "no known copyright restrictions", "an immunohistochemistry stain", _skimage("immunohistochemistry")),
    Sample("retina", "skimage.data.retina", "CC0 (Wikimedia Commons)", "a human retina", _skimage("retina")),
    Sample("brick", "skimage.data.brick", "CC0", "texture: a brick wall (grayscale)", _skimage("brick")),
    Sample("gravel", "skimage.data.gravel", "CC0", "texture: gravel (grayscale)", _skimage("gravel")),
    Sample("grass", "skimage.data.grass", "CC0", "texture: grass (grayscale)", _skimage("grass")),
]
SAMPLES: dict[str, Sample] = {s.name: s for s in _SAMPLES}
TEXTURES = ("brick", "gravel", "grass")
#: Aliases with the original package names, so ``sample_image("chelsea")`` works too.
_ALIASES = {"chelsea": "cat", "coffee": "espresso", "china": "temple", "stereo_motorcycle": "motorcycle",
            "hubble_deep_field": "hubble", "immunohistochemistry": "ihc", "grace": "grace_hopper"}


def sample_names() -> list[str]:
    """Names accepted by :func:`sample_image` (plus ``"cat_and_espresso"``)."""
    return [*SAMPLES, "cat_and_espresso"]


def as_float_image(array: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Convert an array to vizlab's image type: ``(H, W, 3)`` float32 RGB in ``[0, 1]``.

    Accepts ``(H, W)`` grayscale, ``(H, W, 1|3|4)`` (alpha is composited on white), integer types (scaled by
    their maximum: 255 for uint8, 65535 for uint16) and floats already in ``[0, 1]``.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(array).__name__}")
    a = array
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"{name} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {array.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {array.shape}")
    if a.dtype == np.bool_:
        a = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.integer):
        if a.min(initial=0) < 0:
            raise ValueError(f"{name} has negative integer pixels; expected unsigned values")
        a = a.astype(np.float32) / float(np.iinfo(a.dtype).max if a.dtype != np.uint8 else 255)
        if array.dtype != np.uint8 and np.iinfo(array.dtype).max > 65535 and a.max() > 0:
            a = a / a.max()  # 32-bit integer images rarely use their full range
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if a.min() < -1e-3 or a.max() > 1 + 1e-3:
            raise ValueError(f"float {name} must have values in [0, 1]; got range [{a.min():.3g}, {a.max():.3g}]")
        a = np.clip(a, 0.0, 1.0)
    else:
        raise TypeError(f"{name} has unsupported dtype {array.dtype}; use uint8, uint16 or float in [0, 1]")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        rgb, alpha = a[:, :, :3], a[:, :, 3:4]
        a = rgb * alpha + (1.0 - alpha)
    return np.ascontiguousarray(a, dtype=np.float32)


def _pil_to_float(img: Image.Image) -> np.ndarray:
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.uint16)
        return as_float_image(arr)
    if mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if mode == "I" and lo >= 0 and hi <= 65535:
            return as_float_image((arr / (255.0 if hi <= 255 else 65535.0)).astype(np.float32))
        return as_float_image(((arr - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        return as_float_image(np.asarray(img.convert("RGBA")))
    return as_float_image(np.asarray(img.convert("RGB")))


def _read_url(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - user-given URL, by design
            return resp.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ValueError(f"could not download image from {url!r}: {exc}. Are you offline? "
                         f"Use a local path or a sample name ({', '.join(sample_names())}).") from exc


def load_image(source, size: int | tuple[int, int] | None = None, *, timeout: float = 10.0) -> np.ndarray:
    """Load an image as ``(H, W, 3)`` float32 RGB in ``[0, 1]``.

    Args:
        source: a sample name (see :func:`sample_names`), a file path, an ``http(s)://`` URL, a PIL image,
            a NumPy array or a ``(3, H, W)`` / ``(1, 3, H, W)`` tensor in ``[0, 1]``. Files may be RGB, RGBA
            (composited on white), grayscale, 16-bit, palette or EXIF-rotated.
        size: optional; see :func:`resize`.
        timeout: seconds to wait for a URL.

    Raises:
        ValueError: the source cannot be found or read, with what was tried.
        TypeError: the source is of an unsupported type.
    """
    if isinstance(source, torch.Tensor):
        check_unit_range(source, "source")
        img = to_image(source)
    elif isinstance(source, np.ndarray):
        img = as_float_image(source, name="source")
    elif isinstance(source, Image.Image):
        img = _pil_to_float(source)
    elif isinstance(source, (str, Path)):
        text = str(source)
        key = _ALIASES.get(text, text)
        if key in SAMPLES or key == "cat_and_espresso":
            return sample_image(key, size)
        if text.startswith(("http://", "https://")):
            data = _read_url(text, timeout)
            try:
                pil = Image.open(io.BytesIO(data))
                _check_pixels(pil, text)
                img = _pil_to_float(pil)
            except Image.DecompressionBombError as exc:
                raise ValueError(f"the image at {text!r} is too large to load: {exc}") from exc
            except (UnidentifiedImageError, OSError) as exc:
                raise ValueError(f"the data at {text!r} is not an image PIL can read") from exc
        else:
            path = Path(text).expanduser()
            if not path.exists():
                raise ValueError(f"source={text!r} is neither an existing file, an http(s) URL, "
                                 f"nor a sample name ({', '.join(sample_names())})")
            if path.is_dir():
                raise ValueError(f"source={text!r} is a directory, not an image file")
            try:
                with Image.open(path) as pil:
                    _check_pixels(pil, text)
                    pil.load()
                    img = _pil_to_float(pil)
            except Image.DecompressionBombError as exc:
                raise ValueError(f"{text!r} is too large to load: {exc}") from exc
            except (UnidentifiedImageError, OSError, SyntaxError) as exc:
                raise ValueError(f"could not read {text!r} as an image: {exc}") from exc
    else:
        raise TypeError(f"source must be a path, URL, sample name, PIL image, NumPy array or tensor; "
                        f"got {type(source).__name__}")
    return img if size is None else resize(img, size)


def _check_pixels(pil: Image.Image, where: str) -> None:
    w, h = pil.size
    if w * h > MAX_PIXELS:
        raise ValueError(f"{where!r} is {w} x {h} pixels, more than vizlab loads ({MAX_PIXELS} pixels, e.g. "
                         f"{MAX_SIDE} x {MAX_SIDE}); make a smaller copy first")


def resize(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an image.

    ``size=int``: scale the shorter side to ``size`` and centre-crop to ``size x size`` (what classifiers
    expect). ``size=(h, w)``: resize to exactly that shape, without cropping.
    """
    image = as_float_image(image)
    h, w = image.shape[:2]
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size < 8 or size > MAX_SIDE:
            raise ValueError(f"size must be between 8 and {MAX_SIDE} pixels, got {size}")
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        out = _pil_resize(image, (nh, nw))
        top, left = (nh - size) // 2, (nw - size) // 2
        return np.ascontiguousarray(out[top:top + size, left:left + size])
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, (int, np.integer)) for s in size):
        if min(size) < 1 or max(size) > MAX_SIDE:
            raise ValueError(f"size must be between 1 and {MAX_SIDE} pixels per side, got {size}")
        return _pil_resize(image, (int(size[0]), int(size[1])))
    raise TypeError(f"size must be an int (shorter side, centre crop) or a (height, width) pair, got {size!r}")


def _pil_resize(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == hw:
        return image.copy()
    channels = [Image.fromarray(image[:, :, c], mode="F").resize((hw[1], hw[0]), Image.Resampling.BICUBIC)
                for c in range(3)]
    return np.clip(np.stack([np.asarray(c) for c in channels], axis=2), 0.0, 1.0).astype(np.float32)


def sample_image(name: str, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """One of the shipped sample images by name (see :func:`sample_names`), optionally resized."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    key = _ALIASES.get(name, name)
    if key == "cat_and_espresso":
        return cat_and_espresso(224 if size is None else size)
    if key not in SAMPLES:
        raise ValueError(f"unknown sample image {name!r}; choose one of {', '.join(sample_names())}")
    img = as_float_image(SAMPLES[key].loader(), name=key)
    return img if size is None else resize(img, size)


def cat_and_espresso(size: int | tuple[int, int] = 224) -> np.ndarray:
    """A composite for class-discriminative demos: the cat in the top half, the espresso in the bottom half.

    The crops keep each object's aspect ratio (no squashing): the cat's eyes and nose, and the whole cup.
    Returns a ``size x size`` image (or ``(h, w)``).
    """
    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if min(h, w) < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    cat = sample_image("cat")[60:260, 25:425]       # 200 x 400: eyes and nose, 2:1
    cup = sample_image("espresso")[20:300, 20:580]  # 280 x 560: cup and saucer, 2:1
    top = h // 2
    return np.concatenate([resize(cat, (top, w)), resize(cup, (h - top, w))], axis=0)


def to_tensor(images, device: torch.device | str | None = None) -> torch.Tensor:
    """Image(s) to a float tensor ``(N, 3, H, W)`` in ``[0, 1]``.

    Accepts one image (array, PIL image, path, sample name), a list of same-sized images, or a tensor
    ``(3, H, W)`` / ``(N, 3, H, W)`` (returned as a float32 batch, moved to ``device``).
    """
    if isinstance(images, torch.Tensor):
        t = images
        if t.dim() == 3:
            t = t.unsqueeze(0)
        if t.dim() != 4 or t.shape[1] != 3:
            raise ValueError(f"image tensor must have shape (3, H, W) or (N, 3, H, W); got {tuple(images.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"image tensor must be floating point in [0, 1], got {t.dtype}")
        check_unit_range(t, "image tensor")
        # Models are float32: a float64 tensor (torch.from_numpy of a NumPy image) would fail deep in conv2d.
        return t.to(device=device, dtype=torch.float32)
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("images is an empty list")
        arrays = [load_image(im) for im in images]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"images in a batch must have the same size; got {sorted(shapes)}. Pass size= to resize.")
        batch = np.stack(arrays)
    else:
        batch = load_image(images)[None]
    t = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))
    return t.to(device) if device is not None else t


def image_batch(image, size: int | None = None) -> torch.Tensor:
    """A ``(N, 3, H, W)`` CPU batch in ``[0, 1]`` at a photo's own aspect ratio.

    A tensor is used as it is (its shape checked by :func:`to_tensor`; ``size`` does not apply); anything
    :func:`load_image` takes is resized so that its shorter side is ``size`` pixels (``None`` keeps its size).

    Example:
        >>> image_batch("cat", 160).shape
        torch.Size([1, 3, 160, 160])
    """
    if size is not None:
        size = check_int("size", size, 16, allowed=">= 16 pixels (or None)")
    if isinstance(image, torch.Tensor):
        return to_tensor(image)
    img = load_image(image)
    if size is not None:
        h, w = img.shape[:2]
        s = size / min(h, w)
        img = resize(img, (max(1, round(h * s)), max(1, round(w * s))))
    return to_tensor(img)


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """A ``(3, H, W)`` or ``(1, 3, H, W)`` tensor in ``[0, 1]`` to vizlab's ``(H, W, 3)`` float32 array.

    Values are clipped to ``[0, 1]``; the tensor is detached and moved to the CPU.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    t = tensor.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"to_image takes one image; got a batch of {t.shape[0]} (index it first)")
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"tensor must have shape (3, H, W) or (1, 3, H, W); got {tuple(tensor.shape)}")
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return np.ascontiguousarray(t.float().clamp(0, 1).permute(1, 2, 0).cpu().numpy())


def save_image(image, path: str | Path) -> Path:
    """Save an image (array or tensor in ``[0, 1]``) as PNG/JPEG; returns the path."""
    arr = to_image(image) if isinstance(image, torch.Tensor) else as_float_image(image)
    path = Path(path)
    Image.fromarray((arr * 255 + 0.5).astype(np.uint8)).save(path)
    return path


def samples(names: Sequence[str] | None = None, size: int = 224) -> dict[str, np.ndarray]:
    """Several samples at one size, as ``{name: image}`` (default: every photo, no textures)."""
    if names is None:
        names = [n for n in SAMPLES if n not in TEXTURES]
    return {n: sample_image(n, size) for n in names}
