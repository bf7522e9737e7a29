"""Style images that need no download: procedurally generated artwork, texture photos, or any image.

vizlab draws its own "paintings" with NumPy and PIL, seeded, so they are the same everywhere:

* ``swirls`` - blue and yellow vortex bands painted with strokes that swirl along them (a night sky in the
  manner of van Gogh);
* ``mosaic`` - Voronoi tiles in warm glazes with dark grout;
* ``brush`` - autumn colour patches painted with thick strokes along a slowly turning flow field;
* ``waves`` - layered breaking waves in indigo and foam white, painted with strokes along the crests;
* ``impression`` - the sample photo ``flower`` painted with strokes that follow its edges (impressionist).

All but ``mosaic`` are painted by :func:`paint_strokes` (coarse-to-fine curved strokes with bristles, after
Hertzmann 1998), so they have texture at three scales: strokes, bristles and the canvas grain.

Small PNGs of them ship in ``data/styles/`` (made by :func:`save_artwork`); :func:`style_image` reads a
shipped file, or draws it when the file is missing. It also takes scikit-image textures (``"brick"``,
``"gravel"``, ``"grass"``), any sample name, file path or URL (see :func:`vizlab.images.load_image`).

Example:
    >>> img = artwork("swirls", size=64)
    >>> img.shape, img.dtype
    ((64, 64, 3), dtype('float32'))
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torch import nn

from .._validate import check_int, seeded_rng
from ..images import load_image, resize, to_image, to_tensor
from ..resources import shipped_dir

DATA_DIR = shipped_dir("data", must_exist=False)  # the wheel's copy, or the checkout's data/ (vizlab.resources)
STYLE_DIR = DATA_DIR / "styles"


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return y, x


def _smooth_noise(size: int, rng: np.random.Generator, cells: int = 6) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically."""
    coarse = rng.random((cells + 3, cells + 3)).astype(np.float32)
    img = Image.fromarray(coarse, mode="F").resize((size + size // cells * 3, size + size // cells * 3),
                                                    Image.Resampling.BICUBIC)
    arr = np.asarray(img)[:size, :size]
    return (arr - arr.min()) / (np.ptp(arr) + 1e-8)


def _palette(values: np.ndarray, colours: list[tuple[int, int, int]]) -> np.ndarray:
    """Map values in [0, 1] through a piecewise-linear colour ramp."""
    stops = np.linspace(0, 1, len(colours))
    cols = np.asarray(colours, dtype=np.float32) / 255.0
    return np.stack([np.interp(values, stops, cols[:, c]) for c in range(3)], axis=-1).astype(np.float32)


def _blur(img: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur (sigma ``radius``) of an ``(H, W, C)`` or ``(H, W)`` float image, per channel."""
    from scipy.ndimage import gaussian_filter

    if radius <= 0:
        return img
    sigma = (radius, radius, 0) if img.ndim == 3 else radius
    return gaussian_filter(img.astype(np.float32), sigma, mode="reflect")


def paint_strokes(source: np.ndarray, rng: np.random.Generator, radii: tuple[int, ...] = (8, 4, 2),
                  length: float = 4.0, threshold: float = 0.06, flow: np.ndarray | None = None,
                  jitter: float = 0.06, canvas_colour: tuple[float, float, float] = (0.55, 0.5, 0.42)) -> np.ndarray:
    """Paint ``source`` with curved brush strokes, coarse to fine (Hertzmann's painterly rendering, 1998).

    For each brush radius ``r`` (largest first) the canvas is visited on a jittered grid of spacing ``r``;
    where it still differs from the source blurred at ``r`` by more than ``threshold``, a stroke of width
    ``2r`` starts there and follows the *isophotes* (perpendicular to the luminance gradient, or along
    ``flow`` angles if given) for up to ``length * r`` pixels, in the blurred source's colour plus a little
    random jitter. Each stroke is drawn as a few parallel bristles of slightly different shade, so the
    painting has texture at the scale of the strokes *and* of the bristles.

    Args:
        source: ``(H, W, 3)`` float image in ``[0, 1]`` (a photo or a procedural colour field).
        rng: random generator (the painting is seeded).
        radii: brush radii in pixels, coarse to fine. length: stroke length in radii.
        threshold: colour error (mean absolute, 0..1) above which a finer brush repaints.
        flow: optional ``(H, W)`` stroke angles in radians (default: from the source's gradients).
        jitter: standard deviation of the per-stroke colour jitter. canvas_colour: the ground.

    Returns:
        ``(H, W, 3)`` float32 image in ``[0, 1]``.
    """
    h, w = source.shape[:2]
    canvas = Image.new("RGB", (w, h), tuple(int(255 * c) for c in canvas_colour))
    draw = ImageDraw.Draw(canvas)
    lum_full = source @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    for r in radii:
        ref = _blur(source, r / 2)
        if flow is None:
            lum = _blur(lum_full, r)
            gy, gx = np.gradient(lum)
            angle = np.arctan2(gy, gx) + np.pi / 2  # along the edge, not across it
            strength = np.hypot(gx, gy)
            # Where the gradient is weak its direction is noise: fall back to a smooth swirl.
            calm = _smooth_noise(max(h, w), rng, 5)[:h, :w] * 2 * np.pi
            weak = strength < np.percentile(strength, 30)
            angle = np.where(weak, calm, angle)
        else:
            angle = flow
        current = np.asarray(canvas, dtype=np.float32) / 255.0
        error = np.abs(current - ref).mean(-1)
        ys, xs = np.mgrid[r // 2:h:r, r // 2:w:r]
        pts = np.stack([ys.ravel(), xs.ravel()], 1) + rng.integers(-(r // 2), r // 2 + 1, (ys.size, 2))
        pts = np.clip(pts, 0, [h - 1, w - 1])[rng.permutation(ys.size)]
        first = r == radii[0]
        for py, px in pts:
            if not first and error[py, px] < threshold:
                continue
            colour = np.clip(ref[py, px] + rng.normal(0, jitter, 3), 0, 1)
            path = [(float(px), float(py))]
            y, x, prev = float(py), float(px), None
            for _ in range(int(length)):
                a = angle[int(y), int(x)]
                d = np.array([np.sin(a), np.cos(a)])
                if prev is not None and d @ prev < 0:
                    d = -d  # keep going the same way along the line field
                y, x = y + d[0] * r, x + d[1] * r
                if not (0 <= y < h and 0 <= x < w) or np.abs(ref[int(y), int(x)] - colour).mean() > 3 * threshold:
                    break
                path.append((x, y))
                prev = d
            if len(path) == 1:
                path.append((px + 0.5, py + 0.5))
            # Bristles: parallel offsets across the stroke, each a slightly different shade.
            n = 3 if r >= 3 else 1
            for b in range(n):
                off = (b - (n - 1) / 2) * (2 * r / n)
                shade = np.clip(colour * (1 + rng.normal(0, 0.07)), 0, 1)
                a0 = angle[int(py), int(px)] + np.pi / 2
                ox, oy = np.cos(a0) * off, np.sin(a0) * off
                draw.line([(x_ + ox, y_ + oy) for x_, y_ in path], fill=tuple(int(255 * c) for c in shade),
                          width=max(1, int(round(2 * r / n + 1))), joint="curve")
    out = np.asarray(canvas, dtype=np.float32) / 255.0
    # A faint canvas weave, the finest scale of texture.
    grain = rng.normal(0, 0.025, (h, w, 1)).astype(np.float32)
    return np.clip(out + grain, 0, 1)


def _swirls(size: int, rng: np.random.Generator) -> np.ndarray:
    # Vortices in the manner of van Gogh's night sky: a blue/yellow field of spiralling bands, then painted
    # with strokes that follow the bands (the isolines of the vortex phase), so the strokes themselves swirl.
    y, x = _grid(size)
    phase = np.zeros_like(x)
    for _ in range(5):
        cy, cx = rng.random(2)
        strength = rng.uniform(0.6, 1.4) * rng.choice([-1, 1])
        r = np.sqrt((y - cy) ** 2 + (x - cx) ** 2) + 0.03
        phase += strength * (np.arctan2(y - cy, x - cx) + 2.5 * np.log(r))
    noise = _smooth_noise(size, rng, 6)
    value = np.clip(0.5 + 0.5 * np.sin(2.0 * phase + 5.0 * noise), 0, 1)
    field = _palette(value, [(10, 20, 70), (25, 60, 150), (70, 120, 200), (230, 210, 90), (250, 240, 170)])
    gy, gx = np.gradient(phase)
    flow = np.arctan2(gy, gx) + np.pi / 2
    s = max(1, size // 128)
    return paint_strokes(field, rng, radii=(3 * s, 3 * s // 2 or 1, s), length=8, threshold=0.05, flow=flow,
                         jitter=0.05)


def _impression(size: int, rng: np.random.Generator) -> np.ndarray:
    # An impressionist painting of the sample photo "flower": strokes along its edges, coarse to fine.
    from ..images import sample_image

    s = max(1, size // 128)
    return paint_strokes(sample_image("flower", size), rng, radii=(4 * s, 2 * s, s), length=4, threshold=0.06,
                         jitter=0.06)


def _mosaic(size: int, rng: np.random.Generator) -> np.ndarray:
    n = max(12, size // 6)
    seeds = rng.random((n, 2)).astype(np.float32)
    y, x = _grid(size)
    d = (y[..., None] - seeds[:, 0]) ** 2 + (x[..., None] - seeds[:, 1]) ** 2
    order = np.argsort(d, axis=-1)
    nearest = order[..., 0]
    d_sorted = np.take_along_axis(d, order[..., :2], axis=-1)
    edge = np.sqrt(d_sorted[..., 1]) - np.sqrt(d_sorted[..., 0])
    colours = _palette(rng.random(n), [(150, 30, 20), (210, 110, 30), (235, 190, 80), (40, 110, 100),
                                        (30, 60, 120)])
    img = colours[nearest] * (0.85 + 0.15 * _smooth_noise(size, rng, 12)[..., None])
    grout = np.clip(edge * size / 2.0, 0, 1)[..., None]
    return (img * grout + 0.08 * (1 - grout)).astype(np.float32)


def _brush(size: int, rng: np.random.Generator) -> np.ndarray:
    # Autumn foliage: patches of warm colour (value noise at two scales through an autumn palette), painted
    # with thick strokes along a slowly turning flow field, then finer strokes where the colour changes.
    value = np.clip(0.65 * _smooth_noise(size, rng, 5) + 0.35 * _smooth_noise(size, rng, 16), 0, 1)
    field = _palette(value, [(90, 30, 15), (200, 70, 20), (240, 160, 40), (250, 220, 120), (120, 120, 40),
                             (60, 80, 30)])
    flow = _smooth_noise(size, rng, 4) * 2 * np.pi
    s = max(1, size // 128)
    return paint_strokes(field, rng, radii=(5 * s, 3 * s, s), length=5, threshold=0.04, flow=flow, jitter=0.08,
                         canvas_colour=(0.43, 0.24, 0.12))


def _waves(size: int, rng: np.random.Generator) -> np.ndarray:
    # Breaking waves in indigo and foam (in the manner of a woodcut seascape), painted with strokes that
    # run along the crests: the isolines of the wave field.
    y, x = _grid(size)
    noise = _smooth_noise(size, rng, 5)
    bands = np.zeros_like(x)
    for k in range(4):
        freq = 3 + 2 * k
        crest = 0.5 + 0.5 * np.sin(2 * np.pi * (freq * x + 0.6 * np.sin(2 * np.pi * (2 * y + k / 3))) + 4 * noise)
        bands += crest ** (3 + k) / 4
    curl = 0.5 + 0.5 * np.sin(30 * (y + 0.15 * np.sin(8 * np.pi * x)) + 5 * noise)
    value = np.clip(0.7 * bands + 0.3 * curl, 0, 1)
    field = _palette(value, [(15, 25, 60), (30, 60, 120), (70, 120, 170), (200, 215, 220), (250, 250, 240)])
    s = max(1, size // 128)
    return paint_strokes(field, rng, radii=(4 * s, 2 * s, s), length=6, threshold=0.05, jitter=0.05,
                         canvas_colour=(0.1, 0.15, 0.3))


ARTWORKS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "swirls": _swirls, "mosaic": _mosaic, "brush": _brush, "waves": _waves, "impression": _impression,
}
TEXTURE_STYLES = ("brick", "gravel", "grass")


def artwork(name: str, size: int = 256, seed: int = 0) -> np.ndarray:
    """Draw one of :data:`ARTWORKS` as a ``(size, size, 3)`` float32 image in ``[0, 1]``."""
    if name not in ARTWORKS:
        raise ValueError(f"name must be one of {', '.join(ARTWORKS)}, got {name!r}")
    size = check_int("size", size, 16)
    rng = seeded_rng(seed)
    return np.clip(ARTWORKS[name](size, rng), 0, 1).astype(np.float32)


def save_artwork(directory: str | Path = STYLE_DIR, size: int = 256) -> list[Path]:
    """Write every artwork as ``<name>.png`` into ``directory`` (what ships in ``data/styles``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ARTWORKS:
        path = directory / f"{name}.png"
        Image.fromarray((artwork(name, size) * 255 + 0.5).astype(np.uint8)).save(path, optimize=True)
        paths.append(path)
    return paths


def style_names() -> list[str]:
    """Names :func:`style_image` knows without a path: the artworks, then the texture photos."""
    return [*ARTWORKS, *TEXTURE_STYLES]


def style_image(source, size: int | None = 256) -> np.ndarray:
    """A style image as ``(H, W, 3)`` float32: an artwork name, a texture, a sample, a path or a URL.

    Args:
        source: ``"swirls"``, ``"mosaic"``, ``"brush"``, ``"waves"`` (the shipped PNG, else drawn),
            ``"brick"``/``"gravel"``/``"grass"``, or anything :func:`vizlab.images.load_image` takes.
        size: shorter side then centre crop (``None`` keeps the size).
    """
    if isinstance(source, str) and source in ARTWORKS:
        path = STYLE_DIR / f"{source}.png"
        img = load_image(path) if path.exists() else artwork(source, 256)
        return img if size is None else resize(img, size)
    return load_image(source, size)


def style_batch(model: nn.Module | None, style, size: int | None = 256) -> torch.Tensor:
    """A style image (or a photo) as a float32 batch in ``[0, 1]`` on ``model``'s device: ``(1, 3, size, size)``
    for an image, ``(N, 3, H, W)`` as given for a batch tensor, the image's own size for ``size=None``.

    The one way the style code turns an image into the batch a loss network or a style network takes:
    :func:`style_image` at ``size`` (shorter side, then centre crop), then :func:`vizlab.models.model_input`.
    A tensor is used as it is unless it is one image of another size, which is centre-cropped to ``size``
    like every other input.

    Args:
        model: the network the batch is for (its device is used); ``None`` for the CPU.
        style: a name :func:`style_image` knows (artwork, texture, sample photo), a path, a URL, a PIL image,
            an ``(H, W, 3)`` array or a ``(3, H, W)`` / ``(N, 3, H, W)`` tensor in ``[0, 1]``.
        size: the side in pixels (``None`` keeps the image's size).

    Example:
        >>> style_batch(None, "swirls", 64).shape
        torch.Size([1, 3, 64, 64])
    """
    from ..models import model_input

    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module or None, got {type(model).__name__}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise TypeError(f"size must be an int or None, got {type(size).__name__}")
    if size is not None and size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    if isinstance(style, torch.Tensor):
        if style.dim() not in (3, 4) or style.shape[-3] != 3:
            raise ValueError(f"style tensor must have shape (3, H, W) or (N, 3, H, W); got {tuple(style.shape)}")
        try:
            x = to_tensor(style)  # checks the dtype and the [0, 1] range
        except (TypeError, ValueError) as exc:  # the same error, naming the argument
            raise type(exc)(f"style: {exc}") from None
        if size is not None and x.shape[0] == 1 and tuple(x.shape[-2:]) != (size, size):
            x = to_tensor(resize(to_image(x), size))
    elif isinstance(style, (str, Path, np.ndarray, Image.Image)):
        x = to_tensor(style_image(style, size))
    else:
        raise TypeError("style must be a name, a path, a URL, a PIL image, an array or a tensor; "
                        f"got {type(style).__name__}")
    return x.cpu() if model is None else model_input(model, x)
