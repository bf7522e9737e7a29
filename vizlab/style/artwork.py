"""Style images that need no download: procedurally generated artwork, texture photos, or any image.

vizlab draws its own "paintings" with NumPy and PIL, seeded, so they are the same everywhere:

* ``swirls`` - blue and yellow vortices with bright streaks (a night sky in the manner of van Gogh);
* ``mosaic`` - Voronoi tiles in warm glazes with dark grout;
* ``brush`` - short thick brush strokes following a smooth flow field, in autumn colours;
* ``waves`` - layered breaking waves in indigo and foam white.

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
from PIL import Image, ImageDraw, ImageFilter

from ..images import load_image, resize

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
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


def _swirls(size: int, rng: np.random.Generator) -> np.ndarray:
    y, x = _grid(size)
    phase = np.zeros_like(x)
    for _ in range(5):
        cy, cx = rng.random(2)
        strength = rng.uniform(0.6, 1.4) * rng.choice([-1, 1])
        r = np.sqrt((y - cy) ** 2 + (x - cx) ** 2) + 0.03
        phase += strength * (np.arctan2(y - cy, x - cx) + 2.5 * np.log(r))
    noise = _smooth_noise(size, rng, 10)
    streaks = 0.5 + 0.5 * np.sin(9.0 * phase + 6.0 * noise)
    fine = 0.5 + 0.5 * np.sin(40.0 * phase + 3.0 * rng.random((size, size)).astype(np.float32))
    value = np.clip(0.75 * streaks + 0.25 * fine, 0, 1)
    img = _palette(value, [(10, 20, 70), (25, 60, 150), (70, 120, 200), (230, 210, 90), (250, 240, 170)])
    return img


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
    canvas = Image.new("RGB", (size, size), (110, 60, 30))
    draw = ImageDraw.Draw(canvas)
    flow = _smooth_noise(size, rng, 4) * 2 * np.pi
    colours = [(200, 70, 20), (240, 160, 40), (250, 220, 120), (120, 40, 20), (90, 110, 40), (230, 110, 60)]
    width = max(2, size // 40)
    length = size / 12
    for _ in range(size * 3):
        py, px = rng.integers(0, size, 2)
        angle = flow[py, px]
        dy, dx = np.sin(angle) * length / 2, np.cos(angle) * length / 2
        c = colours[rng.integers(len(colours))]
        jitter = rng.integers(-20, 21, 3)
        colour = tuple(int(np.clip(c[i] + jitter[i], 0, 255)) for i in range(3))
        draw.line([(px - dx, py - dy), (px + dx, py + dy)], fill=colour, width=int(width + rng.integers(0, 3)))
    canvas = canvas.filter(ImageFilter.SMOOTH)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _waves(size: int, rng: np.random.Generator) -> np.ndarray:
    y, x = _grid(size)
    noise = _smooth_noise(size, rng, 5)
    bands = np.zeros_like(x)
    for k in range(4):
        freq = 3 + 2 * k
        crest = 0.5 + 0.5 * np.sin(2 * np.pi * (freq * x + 0.6 * np.sin(2 * np.pi * (2 * y + k / 3))) + 4 * noise)
        bands += crest ** (3 + k) / 4
    curl = 0.5 + 0.5 * np.sin(30 * (y + 0.15 * np.sin(8 * np.pi * x)) + 5 * noise)
    value = np.clip(0.7 * bands + 0.3 * curl, 0, 1)
    return _palette(value, [(15, 25, 60), (30, 60, 120), (70, 120, 170), (200, 215, 220), (250, 250, 240)])


ARTWORKS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "swirls": _swirls, "mosaic": _mosaic, "brush": _brush, "waves": _waves,
}
TEXTURE_STYLES = ("brick", "gravel", "grass")


def artwork(name: str, size: int = 256, seed: int = 0) -> np.ndarray:
    """Draw one of :data:`ARTWORKS` as a ``(size, size, 3)`` float32 image in ``[0, 1]``."""
    if name not in ARTWORKS:
        raise ValueError(f"name must be one of {', '.join(ARTWORKS)}, got {name!r}")
    if not isinstance(size, int) or size < 16:
        raise ValueError(f"size must be an integer of at least 16, got {size!r}")
    rng = np.random.default_rng(seed)
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
