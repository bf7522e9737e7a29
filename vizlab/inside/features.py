"""Features of a whole image set at one layer: batched, on the model's device, cached on disk.

:func:`extract_features` runs a model over an :class:`~vizlab.inside.datasets.ImageSet` in batches (with a
``tqdm.auto`` progress bar), records one layer with :func:`vizlab.hooks.capture`, and returns the activations
either spatially ``(N, C, h, w)`` or pooled over space ``(N, C)``. The result is saved under the cache folder
(``.vizlab-cache/`` in the working directory, or ``$VIZLAB_CACHE``) with a key made of

- the model's name and a hash of all its weights and buffers (so retraining or editing a weight misses),
- the layer and the pooling,
- the image set's content fingerprint (pixels and labels),
- the preprocessing (resize to ``size`` with antialiased bilinear interpolation, or none),

so a notebook re-run is instant and any change to one of them recomputes. Each file also stores a SHA-256
checksum of the features; a file whose bytes changed (a flipped bit, a truncated copy) is recomputed, never
trusted. Files are written under a unique temporary name and moved into place atomically, so two processes
(two notebooks, parallel tests) computing the same key at once both succeed.

Speed (forward-only): a :class:`~vizlab.models.VizModel` runs on the inference fast path
(:func:`vizlab.fastpath.inference_model`: batch norm folded, ``channels_last``), on a CPU in sub-batches of
:data:`CPU_CHUNK` images (larger batches were slower per image), and the forward pass stops right after the
recorded layer. Measured speed-ups are in ``benchmarks/README.md``.

Example:
    >>> feats = extract_features(model, photo_crops(), "pool")        # doctest: +SKIP
    >>> feats.shape                                                    # doctest: +SKIP
    torch.Size([400, 1280])
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_int
from ..device import model_device
from ..hooks import capture
from ..models import VizModel, resolve_layer
from .datasets import ImageSet

POOLS = ("avg", "max", None)
_FORMAT = 2  # bump when the stored layout changes (2: with a checksum of the features)
CPU_CHUNK = 8  # images per forward pass on a CPU: per image, batches of 64 cost 1.5x (fast path) to 3x more


def cache_dir(path: str | Path | None = None) -> Path:
    """The feature cache folder: ``path``, else ``$VIZLAB_CACHE``, else ``./.vizlab-cache``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("VIZLAB_CACHE", "").strip()
    return Path(env) if env else Path.cwd() / ".vizlab-cache"


def clear_cache(path: str | Path | None = None) -> int:
    """Delete the cached feature files (``features-*.pt``); returns how many were removed."""
    folder = cache_dir(path)
    removed = 0
    for file in folder.glob("features-*.pt") if folder.is_dir() else []:
        file.unlink()
        removed += 1
    for file in folder.glob(".features-*.tmp") if folder.is_dir() else []:  # left by a killed writer
        file.unlink(missing_ok=True)
    return removed


def model_name(model: nn.Module) -> str:
    """``model.name`` when it has one (VizModel, ShapesCNN), else the class name."""
    name = getattr(model, "name", None)
    return name if isinstance(name, str) and name else type(model).__name__


def weights_id(model: nn.Module) -> str:
    """A hash of every parameter and buffer (names, shapes, dtypes, values): it changes with any weight."""
    h = hashlib.sha1()
    for key, tensor in model.state_dict().items():
        t = tensor.detach()
        h.update(f"{key}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def penultimate_layer(model: nn.Module) -> str:
    """The layer whose output feeds the final classifier: ``"pool"`` where it exists, else the module that runs
    just before the last ``nn.Linear`` (as listed by ``named_modules``)."""
    if isinstance(model, VizModel):
        if "pool" in model.layers:
            return "pool"
    names = dict(model.named_modules())
    if "pool" in names:
        return "pool"
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    linear = [i for i, (_, m) in enumerate(leaves) if isinstance(m, nn.Linear)]
    if not linear or linear[-1] == 0:
        raise ValueError(f"cannot find the penultimate layer of {type(model).__name__}: it has no final nn.Linear "
                         f"with a module before it; name a layer explicitly")
    return leaves[linear[-1] - 1][0]


def _check(model, images, layer, pool, size, batch_size) -> tuple[str, int | None, int]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(images, ImageSet):
        raise TypeError(f"images must be an ImageSet (see vizlab.inside.photo_crops / image_folder / make_shapes), "
                        f"got {type(images).__name__}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    if size is not None:
        size = check_int("size", size, 8, allowed=">= 8 (or None to keep the images' size)")
    batch_size = check_int("batch_size", batch_size)
    if layer == "penultimate":
        layer = penultimate_layer(model)
    name, _ = resolve_layer(model, layer)  # raises a helpful ValueError for unknown layers
    return name, size, batch_size   # size and batch_size as Python ints (a NumPy size goes into the cache key)


def cache_key(model: nn.Module, images: ImageSet, layer: str, pool: str | None, size: int | None) -> dict:
    """What the cached features depend on (see the module docstring); hashed into the file name."""
    preprocessing = "none" if size is None else f"resize {size}x{size} bilinear antialias"
    return {"format": _FORMAT, "model": model_name(model), "weights": weights_id(model), "layer": layer,
            "pool": pool, "images": images.fingerprint(), "preprocessing": preprocessing}


def cache_file(key: dict, folder: str | Path | None = None) -> Path:
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir(folder) / f"features-{key['model']}-{digest}.pt"


def _pool(act: torch.Tensor, pool: str | None) -> torch.Tensor:
    if act.dim() != 4 or pool is None:
        return act
    return act.mean(dim=(2, 3)) if pool == "avg" else act.amax(dim=(2, 3))


def resize_batch(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """The preprocessing of :func:`extract_features`: antialiased bilinear resize to ``size`` (None: unchanged)."""
    if size is None or tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)


@torch.no_grad()
def extract_features(model: nn.Module, images: ImageSet, layer: str = "penultimate", *, pool: str | None = "avg",
                     size: int | None = None, batch_size: int = 64, cache: bool = True,
                     cache_folder: str | Path | None = None, progress: bool = True,
                     callback: Callable[[int, int], bool | None] | None = None,
                     stop: threading.Event | None = None, fast: bool | None = None) -> torch.Tensor:
    """Activations of ``layer`` for every image of ``images``, as a float32 CPU tensor.

    Args:
        model: any network taking ``[0, 1]`` images ``(N, 3, H, W)`` (a VizModel normalises them itself).
        images: the image set.
        layer: friendly name, module path, or ``"penultimate"`` (see :func:`penultimate_layer`).
        pool: ``"avg"`` (mean over space) or ``"max"`` gives ``(N, C)``; ``None`` keeps ``(N, C, h, w)``.
            Layers with flat outputs are returned as they are.
        size: resize images to ``size`` x ``size`` before the model (``None``: as stored).
        batch_size: images per forward pass.
        cache: read and write the disk cache (see the module docstring).
        cache_folder: cache location (default :func:`cache_dir`).
        progress: show a ``tqdm.auto`` bar.
        callback: ``callback(done, total)`` after each batch; returning ``True`` stops.
        stop: an event that stops extraction after the current batch.
        fast: use the inference fast path (see the module docstring); ``None``: for a VizModel. ``False``
            calls ``model`` itself, so its own hooks fire.

    Returns:
        The features in image order. When stopped early, the rows computed so far (not cached).
    """
    layer, size, batch_size = _check(model, images, layer, pool, size, batch_size)
    if fast not in (None, True, False):
        raise TypeError(f"fast must be None, True or False, got {fast!r}")
    key = cache_key(model, images, layer, pool, size) if cache else None
    path = cache_file(key, cache_folder) if cache else None
    if cache:
        stored = _load(path, key)
        if stored is not None:
            return stored
    from tqdm.auto import tqdm

    from ..fastpath import exact_at, inference_model

    device = model_device(model)
    was_training = model.training
    model.eval()
    net = model
    if fast if fast is not None else isinstance(model, VizModel):
        candidate = inference_model(model)
        if exact_at(candidate, layer_path(model, layer)):  # a folded convolution's output would include its BN
            net = candidate
    chunk = CPU_CHUNK if device.type == "cpu" else batch_size
    module = resolve_layer(net, layer)[1]
    calls = [0]
    early = {"stop": False}  # stop after the layer once it is known to run once per pass

    def after_layer(mod, inputs, output):
        calls[0] += 1
        if early["stop"]:
            raise _LayerDone

    chunks: list[torch.Tensor] = []
    done, stopped = 0, False
    bar = tqdm(total=len(images), desc=f"features {layer}", unit="img", disable=not progress)
    try:
        with capture(net, layer) as cap:
            handle = module.register_forward_hook(after_layer)  # after capture's hook: the output is recorded
            try:
                for start in range(0, len(images), batch_size):
                    if stop is not None and stop.is_set():
                        stopped = True
                        break
                    x = resize_batch(images.batch(slice(start, start + batch_size), device), size)
                    for part in x.split(chunk):
                        calls[0] = 0
                        try:
                            net(part)
                        except _LayerDone:
                            pass
                        chunks.append(_pool(cap[layer], pool).float().cpu())
                        early["stop"] = calls[0] == 1
                    done += len(x)
                    bar.update(len(x))
                    if callback is not None and callback(done, len(images)):
                        stopped = done < len(images)
                        break
            finally:
                handle.remove()
    except KeyboardInterrupt:
        stopped = True
    finally:
        bar.close()
        model.train(was_training)
    features = torch.cat(chunks) if chunks else torch.empty(0)
    if features.dim() == 4:
        features = features.contiguous()  # NHWC maps of the fast path, back to the usual layout
    if cache and not stopped:
        _save(path, key, features)
    return features


class _LayerDone(Exception):
    """Raised by a hook to end a forward pass once the recorded layer has run (nothing after it is needed)."""


def layer_path(model: nn.Module, layer: str) -> str:
    """The module path of ``layer`` (friendly name or path) inside ``model``."""
    module = resolve_layer(model, layer)[1]
    return next(name for name, m in model.named_modules() if m is module)


def checksum(features: torch.Tensor) -> str:
    """SHA-256 of a tensor's shape, dtype and bytes (what a cache file's contents are checked against)."""
    t = features.detach().cpu().contiguous()
    h = hashlib.sha256(f"{tuple(t.shape)}:{t.dtype}".encode())
    if t.numel():
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _load(path: Path, key: dict) -> torch.Tensor | None:
    """The cached features, or ``None`` when missing, foreign, unreadable, or failing their checksum."""
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if stored.get("key") != key or stored.get("checksum") != checksum(stored["features"]):
            return None  # another key (hash collision), an old format, or changed bytes: recompute
        return stored["features"]
    except Exception:  # a truncated or foreign file is recomputed and overwritten
        return None


def _save(path: Path, key: dict, features: torch.Tensor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name per writer: two processes saving the same key never share (or steal) a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"key": key, "features": features, "checksum": checksum(features)}, handle)
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never a half-written one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pixel_features(images: ImageSet, size: int | None = None) -> torch.Tensor:
    """Raw pixels as feature vectors ``(N, 3 * H * W)`` in ``[0, 1]`` (optionally resized to ``size`` first).

    The baseline for "semantic distance, not pixel distance": Euclidean distance between these vectors is
    the distance between images pixel by pixel.
    """
    if not isinstance(images, ImageSet):
        raise TypeError(f"images must be an ImageSet, got {type(images).__name__}")
    return resize_batch(images.batch(), size).flatten(1)
