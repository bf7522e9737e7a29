"""Measures of a stylised image: does it keep its photo, take its style, and paint no blobs?

Feed-forward style networks that are undertrained, or trained on too little content, paint **blobs**: solid
near-black "droplets" or flat patches of a saturated colour that neither the photo nor the style has.
:func:`blob_check` finds them; :func:`held_out_style_loss` and :func:`judge_ranks` measure style and content
on photos a network never saw.

Example:
    >>> report = blob_check(stylised, photo, style)          # doctest: +SKIP
    >>> report.ok, f"{report.largest:.2%}"                    # doctest: +SKIP
    (True, '0.12%')
"""
from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .._validate import check_number, seeded_rng
from ..images import load_image, resize, to_image, to_tensor
from .losses import _LUMA as _LUMA_WEIGHTS

_LUMA = np.array(_LUMA_WEIGHTS, dtype=np.float32)


@dataclass
class BlobReport:
    """What :func:`blob_check` found: the largest blob's share of the image, the blob mask, and the verdict."""

    largest: float
    mask: np.ndarray
    max_fraction: float

    @property
    def ok(self) -> bool:
        """``True`` when no blob covers more than ``max_fraction`` of the image."""
        return self.largest <= self.max_fraction


def _as_hwc(image, name: str) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        if image.dim() == 4:
            if image.shape[0] != 1:
                raise ValueError(f"{name} must be one image; got a batch of {image.shape[0]}")
            image = image[0]
        return to_image(image.detach().cpu())
    return load_image(image)


def _local_std(img: np.ndarray, radius: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    k = 2 * radius + 1
    mean = uniform_filter(img, (k, k, 1))
    sq = uniform_filter(img * img, (k, k, 1))
    return np.sqrt(np.clip(sq - mean * mean, 0, None)).mean(-1)


def _palette(style: np.ndarray, n: int = 512, seed: int = 0) -> np.ndarray:
    """``n`` colours sampled from the style image: its palette, enough to find colours it does not have."""
    pixels = style.reshape(-1, 3)
    idx = seeded_rng(seed).choice(len(pixels), size=min(n, len(pixels)), replace=False)
    return pixels[idx]


def _nearest_distance(img: np.ndarray, colours: np.ndarray) -> np.ndarray:
    flat = torch.from_numpy(np.ascontiguousarray(img.reshape(-1, 3)))
    d = torch.cdist(flat, torch.from_numpy(colours).float()).min(dim=1).values
    return d.numpy().reshape(img.shape[:2])


def blob_check(stylised, photo, style=None, *, max_fraction: float = 0.01, black: float = 0.1,
               dark_photo: float = 0.2, flat: float = 0.03, off_palette: float = 0.1) -> BlobReport:
    """Find solid blobs a style network painted: connected flat regions that are near-black, or of a colour
    that neither the style nor the photo has there, where the photo itself is not dark.

    A pixel belongs to a blob when all of these hold:

    * it is **flat**: the mean standard deviation of its 5 x 5 neighbourhood is below ``flat`` (paint has
      texture; a droplet does not);
    * the photo there is **not dark** (its blurred luminance is at least ``dark_photo``): a black coat may
      stay black;
    * it is **near-black** (every channel below ``black``) or **off-palette** (farther than ``off_palette``
      in RGB from every colour of the style image *and* from the photo's own colour there).

    Blobs are the 8-connected components of those pixels; the check fails when the largest covers more than
    ``max_fraction`` of the image.

    Args:
        stylised: the network's output (array, tensor ``(1, 3, H, W)`` / ``(3, H, W)``, path, ...).
        photo: the photo it was made from (resized to ``stylised``'s size).
        style: the style image (its colours are the allowed palette); ``None`` checks near-black only.
        max_fraction: the largest blob allowed, as a fraction of the image (1 %).

    Returns:
        A :class:`BlobReport` (``largest``, ``mask`` of the pixels in blobs, ``ok``).
    """
    from scipy.ndimage import binary_dilation, gaussian_filter, label

    max_fraction = check_number("max_fraction", max_fraction, 0, 1, low_open=True, high_open=True)
    out = _as_hwc(stylised, "stylised")
    h, w = out.shape[:2]
    ref = resize(_as_hwc(photo, "photo"), (h, w))
    photo_lum = gaussian_filter(ref @ _LUMA, 2)
    is_flat = _local_std(out, 2) < flat
    near_black = out.max(-1) < black
    candidate = near_black
    if style is not None:
        pal = _palette(_as_hwc(style, "style"))
        far_from_style = _nearest_distance(out, pal) > off_palette
        far_from_photo = np.linalg.norm(out - gaussian_filter(ref, (2, 2, 0)), axis=-1) > off_palette
        candidate = candidate | (far_from_style & far_from_photo)
    # The 5 x 5 flatness test misses a blob's 2-pixel rim; grow the flat cores back over candidate pixels.
    core = candidate & is_flat
    mask = candidate & binary_dilation(core, np.ones((5, 5), dtype=bool)) & (photo_lum >= dark_photo)
    labels, n = label(mask, structure=np.ones((3, 3), dtype=int))
    largest = float(np.bincount(labels.ravel())[1:].max()) / (h * w) if n else 0.0
    return BlobReport(largest=largest, mask=mask, max_fraction=max_fraction)


@torch.no_grad()
def held_out_style_loss(net: torch.nn.Module, photos: Sequence, style, *, size: int = 256,
                        loss_net=None) -> float:
    """Mean relative Gram distance to ``style`` of ``net``'s outputs on ``photos`` (each one image at a time,
    in eval mode, as a user would run it): the style loss on photos the network never saw."""
    from .artwork import style_batch
    from .gatys import style_distance
    from .lossnet import loss_network
    from .transformer import stylize

    loss_net = loss_network() if loss_net is None else loss_net
    s = style_batch(None, style, size)
    dists = []
    for p in photos:
        x = style_batch(net, p, size)
        dists.append(style_distance(loss_net, stylize(net, x).cpu(), s))
    return float(np.mean(dists))


@torch.no_grad()
def judge_ranks(images: Sequence[torch.Tensor], photos: Sequence, judge=None) -> list[tuple[str, int]]:
    """For each stylised image, the judge's top-1 class of its *photo* and that class's rank for the image
    (1 = top-1). The judge is EfficientNet-Lite2 (:func:`vizlab.load_judge`), a network style transfer never
    used, so a rank <= 5 means the content survived for an independent observer."""
    from ..models import load_judge

    judge = load_judge() if judge is None else judge
    out = []
    for img, photo in zip(images, photos):
        x = to_tensor(img)  # an (H, W, 3) array or a tensor, as a float32 batch
        p = load_image(photo) if not isinstance(photo, torch.Tensor) else photo
        cls = judge.predict(p, 1)[0][0]
        out.append((cls, int(judge.rank(x, cls)[0])))
    return out


@dataclass
class TransferRecord:
    """One style x photo pair of :func:`transfer_grid`: the result and its two measures."""

    style: str
    photo: str
    image: torch.Tensor
    fall: float          #: ``1 - d(result, style) / d(photo, style)``, d the relative Gram distance
    photo_class: str     #: the judge's top-1 class for the photo
    rank: int            #: that class's rank for the result (1 = top-1)
    seconds: float


#: settings transfer_grid passes to style_transfer itself, or uses itself: not a style's own to set
_GRID_OWN = ("content", "style", "size", "steps", "loss_net", "judge", "verbose")


def _style_scale(name: str, value) -> float:
    return check_number(name, value, low_open=True)   # a style scale


def _style_settings(st, value, style_transfer) -> dict:
    """transfer_grid's settings for one style, checked before any transfer runs."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"styles[{st!r}] must be a style scale (a number) or a dict of style_transfer "
                            f"settings, got {value!r}")
        return {"style_scale": _style_scale(f"styles[{st!r}]", value)}
    allowed = sorted(set(inspect.signature(style_transfer).parameters) - set(_GRID_OWN))
    for key in value:
        if key in _GRID_OWN:
            raise TypeError(f"styles[{st!r}] sets {key!r}, which transfer_grid sets for every style "
                            f"({', '.join(_GRID_OWN)}); a style's own settings may be: {', '.join(allowed)}")
        if key not in allowed:
            raise TypeError(f"styles[{st!r}] has {key!r}, which style_transfer does not take; "
                            f"a style's own settings may be: {', '.join(allowed)}")
    own = dict(value)
    if "style_scale" in own:
        own["style_scale"] = _style_scale(f"styles[{st!r}]['style_scale']", own["style_scale"])
    return own


def transfer_grid(styles: Sequence[str] | dict, photos: Sequence[str], *, size: int | None = None,
                  steps: int | None = None, loss_net=None, judge=None, verbose: bool = True,
                  **kwargs) -> list[TransferRecord]:
    """Gatys' style transfer for every style x photo pair, each measured twice: how far the Gram distance to
    the style fell (style taken) and where the judge ranks the photo's class (content kept).

    Tuning a recipe on one pair overfits that pair; this is the table to tune on. ``kwargs`` go to
    :func:`~vizlab.style.gatys.style_transfer` (``style_weight``, ``lr``, ``seed`` ...). ``styles`` may be a
    dict ``{name: style_scale}`` (a style with fine detail can be used at a larger scale); the Gram distance
    is then measured to the style image at that scale, the target the optimisation had. A value may also be a
    dict of that style's own :func:`~vizlab.style.gatys.style_transfer` settings, which take precedence over
    ``kwargs`` (e.g. ``{"waves": {"style_scale": 1.5, "content_weight": 8}}``); they are checked before any
    transfer runs (a style scale is a positive real number; ``size``, ``steps``, ``loss_net``, ``judge`` and
    ``verbose`` are the grid's own, not a style's). ``size`` and ``steps`` default to those ``loss_net.recipe``
    was tuned with.
    """
    from ..models import load_judge
    from .artwork import style_batch
    from .gatys import style_distance, style_transfer
    from .lossnet import loss_network

    loss_net = loss_network() if loss_net is None else loss_net
    judge = load_judge() if judge is None else judge
    recipe = loss_net.recipe
    size = (recipe.size if recipe else 256) if size is None else size
    kwargs.setdefault("progress", False)
    default_scale = _style_scale("style_scale", kwargs.pop("style_scale", 1.0))
    per_style = {st: _style_settings(st, value, style_transfer)
                 for st, value in (styles.items() if isinstance(styles, dict) else ((st, None) for st in styles))}
    records = []
    for st, own in per_style.items():
        scale = own.pop("style_scale", default_scale)
        settings = {**kwargs, **own}
        s = style_batch(None, st, max(16, round(size * scale)))
        for ph in photos:
            c = style_batch(None, ph, size)
            r = style_transfer(c, st, loss_net=loss_net, size=size, steps=steps, style_scale=scale, **settings)
            fall = 1 - style_distance(loss_net, r.image, s) / style_distance(loss_net, c, s)
            cls = judge.predict(c, 1)[0][0]
            rank = int(judge.rank(r.image, cls)[0])
            records.append(TransferRecord(st, ph, r.image, fall, cls, rank, r.seconds))
            if verbose:
                print(f"{st:10s} + {ph:10s}: Gram distance fell {fall:6.1%}; judge's rank of {cls!r}: {rank} "
                      f"({r.seconds:.0f} s)", flush=True)
    return records


@torch.no_grad()
def network_report(net: torch.nn.Module, style, photos: Sequence, *, size: int = 256, loss_net=None,
                   judge=None, photo_grams: dict | None = None, keep_images: bool = False,
                   style_fall: bool = True) -> list[dict]:
    """One row per photo for a trained style network, as notebook 08 measures it: ``fall`` (``1 -
    d(output, style) / d(photo, style)``, d the relative Gram distance on ``loss_net``'s style layers),
    ``blob`` (:func:`blob_check`'s largest blob) and, with a ``judge``, ``cls``/``rank`` (:func:`judge_ranks`).
    Photos and style are taken at ``size`` (anything :func:`~vizlab.style.artwork.style_image` takes).

    ``photo_grams``: a dict the call reads and fills with each named photo's Gram matrices (keyed by name and size),
    so that several networks measured on the same photos and ``loss_net`` pass each photo through it once.
    ``keep_images=True`` adds the stylised image (a ``(1, 3, H, W)`` tensor) to each row as ``"image"``;
    ``style_fall=False`` leaves ``fall`` out and runs no loss network (VGG-19 costs ~0.4 s of CPU per image).

    Use it on :data:`~vizlab.style.transformer.VALIDATION` photos to choose a checkpoint, and on the
    held-out photos once, for the chosen one.
    """
    from .artwork import style_batch
    from .gatys import gram_distance, style_grams
    from .lossnet import loss_network
    from .transformer import stylize

    def batch(name):
        return style_batch(None, name, size)

    device = next(net.parameters()).device
    s = batch(style)
    xs = [batch(p) for p in photos]
    outs = [stylize(net, x.to(device)).cpu() for x in xs]
    rows = [{"photo": str(p), "blob": blob_check(y, x, s).largest} for p, x, y in zip(photos, xs, outs)]
    if style_fall:
        loss_net = loss_network() if loss_net is None else loss_net
        target = style_grams(loss_net, s)   # once: one pass of the loss network per image in all
        photo_grams = {} if photo_grams is None else photo_grams
        if not isinstance(photo_grams, dict):
            raise TypeError(f"photo_grams must be a dict (filled by earlier calls) or None, got "
                            f"{type(photo_grams).__name__}")
        # Gram matrices of one loss network are no use to another: the dict remembers whose they are
        if photo_grams.setdefault("loss_net", loss_net) is not loss_net:
            raise ValueError("photo_grams was filled with another loss network's Gram matrices; pass a new dict "
                             "(or None) for this loss_net")
        for row, p, x, y in zip(rows, photos, xs, outs):
            key = (p, size) if isinstance(p, str) else None   # images given as arrays are measured every time
            grams = photo_grams[key] if key in photo_grams else style_grams(loss_net, x)
            if key is not None:
                photo_grams[key] = grams
            row["fall"] = 1 - gram_distance(style_grams(loss_net, y), target) / gram_distance(grams, target)
    if keep_images:
        for row, y in zip(rows, outs):
            row["image"] = y
    if judge is not None:
        for row, (cls, rank) in zip(rows, judge_ranks(outs, xs, judge)):
            row.update(cls=cls, rank=rank)
    return rows
