"""Occlusion: slide a patch over the image, replace it by a baseline, and watch the class score drop.

For each patch position ``(i, j)`` the occluded image ``x_ij`` equals ``x`` except that the window
``[top_i : top_i + patch, left_j : left_j + patch]`` holds the baseline. The grid map is the drop

    D_c[i, j] = S_c(x) - S_c(x_ij),   S_c = softmax probability (``score="prob"``) or logit (``"logit"``),

so a high value means "this region supports class c". The logits of *every* occluded image are kept, so
:meth:`OcclusionResult.for_class` re-draws the map for any other class without running the model again.

Example:
    >>> res = occlusion(model, "cat_and_espresso", "espresso", patch=32, stride=16)   # doctest: +SKIP
    >>> res.map.shape, res.grid.shape                                                 # doctest: +SKIP
    (torch.Size([1, 224, 224]), torch.Size([1, 13, 13]))
    >>> res.for_class("Egyptian cat").most_damaging[0]    # no model call              # doctest: +SKIP
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_number
from ..models import IMAGENET_MEAN
from ._common import as_batch, check_int
from .targets import ClassTarget, TargetLike, as_class_target, class_of

BASELINES = ("gray", "mean", "blur", "zero")
SCORES = ("prob", "logit")
METHODS = ("auto", "full", "incremental")
FIRST = 4  # windows run alone before a parallel sweep fans out (see _run_parallel)


def make_baseline(x: torch.Tensor, baseline, patch: int = 32) -> torch.Tensor:
    """The image that replaces the occluded window, shaped like ``x`` ``(N, 3, H, W)``.

    Args:
        x: the images, in ``[0, 1]``.
        baseline: ``"gray"`` (0.5), ``"mean"`` (the ImageNet mean colour), ``"blur"`` (``x`` blurred by a
            Gaussian with ``sigma = patch / 4`` pixels: removes detail at the patch's scale, keeps colour),
            ``"zero"`` (black), a number (a gray level in ``[0, 1]``), an RGB colour ``(r, g, b)`` in ``[0, 1]``, or a tensor
            broadcastable to ``x`` (e.g. another image).
        patch: the patch side, used by ``"blur"``.
    """
    if isinstance(baseline, str):
        key = baseline.lower()
        if key in ("gray", "grey"):
            return torch.full_like(x, 0.5)
        if key == "zero" or key == "black":
            return torch.zeros_like(x)
        if key == "mean":
            return torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1).expand_as(x).clone()
        if key == "blur":
            from torchvision.transforms.functional import gaussian_blur

            sigma = max(patch / 4.0, 1.0)
            k = 2 * int(math.ceil(2 * sigma)) + 1
            k = min(k, 2 * ((min(x.shape[-2:]) - 1) // 2) + 1)  # the kernel must fit the image
            return gaussian_blur(x, [k, k], [sigma, sigma])
        raise ValueError(f"baseline={baseline!r} is unknown; use one of {', '.join(BASELINES)}, a gray level, "
                         f"an (r, g, b) colour in [0, 1], or a tensor")
    if isinstance(baseline, bool):
        raise TypeError("baseline must be a name, a number, an (r, g, b) colour or a tensor, got a bool")
    if isinstance(baseline, numbers.Real):
        return torch.full_like(x, check_number("baseline", baseline, 0, 1))
    if isinstance(baseline, (list, tuple)):
        if len(baseline) != 3:
            raise ValueError(f"baseline colour must be three numbers (r, g, b) in [0, 1], got {baseline!r}")
        rgb = [check_number(f"baseline's {c}", v, 0, 1) for c, v in zip("rgb", baseline)]
        return torch.tensor(rgb, dtype=x.dtype, device=x.device).view(1, 3, 1, 1).expand_as(x).clone()
    if isinstance(baseline, torch.Tensor):
        b = baseline.to(device=x.device, dtype=x.dtype)
        if b.dim() == 1 and b.numel() == 3:
            b = b.view(1, 3, 1, 1)
        try:
            return torch.broadcast_to(b, x.shape).clone()
        except RuntimeError as exc:
            raise ValueError(f"baseline tensor of shape {tuple(baseline.shape)} does not broadcast to the image "
                             f"shape {tuple(x.shape)}") from exc
    raise TypeError(f"baseline must be a name ({', '.join(BASELINES)}), a number, an (r, g, b) colour or a "
                    f"tensor, got {type(baseline).__name__}")


def positions(size: int, patch: int, stride: int) -> list[int]:
    """Top (or left) edges of the patches along one side: ``0, stride, ...`` while the patch fits."""
    return list(range(0, size - patch + 1, stride))


@dataclass
class OcclusionResult:
    """Everything an occlusion sweep measured; maps for any class are derived from the kept logits.

    Attributes:
        logits: ``(N, Gh, Gw, C)`` logits of every occluded image (CPU, float32).
        base_logits: ``(N, C)`` logits of the unoccluded images.
        done: ``(N, Gh, Gw)`` which positions were computed (all, unless the sweep was stopped).
        tops, lefts: patch positions along the rows and columns.
        patch, stride: window side and step, in pixels.
        size: ``(H, W)`` of the images.
        classes: ``(N,)`` the class each map explains.
        score: ``"prob"`` (softmax probability) or ``"logit"``.
        baseline: what filled the window (a name or ``"custom"``).
        categories: class names, when the model has them.
    """

    logits: torch.Tensor
    base_logits: torch.Tensor
    done: torch.Tensor
    tops: list[int]
    lefts: list[int]
    patch: int
    stride: int
    size: tuple[int, int]
    classes: torch.Tensor
    score: str = "prob"
    baseline: str = "gray"
    categories: Sequence[str] | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        """``True`` unless the sweep was stopped early."""
        return bool(self.done.all())

    def _scores(self, values: torch.Tensor) -> torch.Tensor:
        return values.softmax(-1) if self.score == "prob" else values

    def class_index(self, target: int | str) -> int:
        if self.categories is not None:
            from ..models import class_index

            return class_index(target, self.categories)
        return class_of(nn.Module(), target, self.logits.shape[-1])

    def for_class(self, target: int | str | Sequence[int | str]) -> "OcclusionResult":
        """The same sweep explaining another class (one for all images, or one per image); no model call."""
        if isinstance(target, (list, tuple)):
            if len(target) != self.logits.shape[0]:
                raise ValueError(f"target has {len(target)} entries for {self.logits.shape[0]} images")
            classes = torch.tensor([self.class_index(t) for t in target])
        else:
            classes = torch.tensor([self.class_index(target)] * self.logits.shape[0])
        return replace(self, classes=classes)

    @property
    def base_score(self) -> torch.Tensor:
        """``(N,)`` score of the explained class on the unoccluded images."""
        return self._scores(self.base_logits).gather(1, self.classes[:, None])[:, 0]

    @property
    def occluded_scores(self) -> torch.Tensor:
        """``(N, Gh, Gw)`` score of the explained class on each occluded image (0 drop where not computed)."""
        idx = self.classes.view(-1, 1, 1, 1).expand(-1, *self.logits.shape[1:3], 1)
        s = self._scores(self.logits).gather(3, idx)[..., 0]
        return torch.where(self.done, s, self.base_score.view(-1, 1, 1).expand_as(s))

    @property
    def grid(self) -> torch.Tensor:
        """``(N, Gh, Gw)`` drop of the score per patch position: ``S_c(x) - S_c(x_ij)``."""
        return self.base_score.view(-1, 1, 1) - self.occluded_scores

    @property
    def map(self) -> torch.Tensor:
        """``(N, H, W)`` at input resolution: each pixel averages the drops of the patches that cover it.

        Pixels that no patch covers (a border when ``(H - patch) % stride != 0``) get 0. A sparse sweep
        (``stride > patch``, e.g. the explorer's first picture) leaves gaps between its windows: there each pixel
        takes the drop of the window whose centre is nearest, so the map reads as a coarse grid of cells.
        """
        if self.stride > self.patch:
            return self._nearest_map()
        g = self.grid[:, None]
        kernel = torch.ones(1, 1, self.patch, self.patch, dtype=g.dtype)
        total = F.conv_transpose2d(g, kernel, stride=self.stride)
        count = F.conv_transpose2d(self.done[:, None].to(g.dtype), kernel, stride=self.stride)
        avg = torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))
        h, w = self.size
        return F.pad(avg, (0, w - avg.shape[-1], 0, h - avg.shape[-2]))[:, 0]

    def _nearest_map(self) -> torch.Tensor:
        h, w = self.size

        def nearest(edges: list[int], n: int) -> torch.Tensor:
            centres = torch.tensor(edges, dtype=torch.float32) + self.patch / 2
            return torch.bucketize(torch.arange(n) + 0.5, (centres[1:] + centres[:-1]) / 2)

        return self.grid[:, nearest(self.tops, h)][:, :, nearest(self.lefts, w)]

    @property
    def most_damaging(self) -> list[tuple[int, int, int, int]]:
        """Per image, the window whose occlusion lowers the score most: ``(top, left, height, width)``."""
        flat = self.grid.flatten(1).argmax(1)
        gw = len(self.lefts)
        return [(self.tops[int(k) // gw], self.lefts[int(k) % gw], self.patch, self.patch) for k in flat]

    def class_name(self, n: int = 0) -> str:
        c = int(self.classes[n])
        return self.categories[c] if self.categories is not None else str(c)


def occlusion(model: nn.Module, image, target: TargetLike = None, patch: int = 32, stride: int = 16,
              baseline="gray", *, score: str = "prob", method: str = "auto", batch_size: int | None = None,
              reuse: OcclusionResult | None = None, fast: bool | None = None, progress: bool = False, callback: Callable[[float], None] | None = None,
              stop=None, workers: int | None = None, preview: int | None = None,
              on_preview: Callable[["OcclusionResult"], None] | None = None) -> OcclusionResult:
    """Occlusion sensitivity (Zeiler & Fergus 2014) for a batch of images, keeping every logit.

    Args:
        model: a classifier taking ``[0, 1]`` images (a ``VizModel`` also takes sample names, paths, arrays).
        image: ``(N, 3, H, W)`` or ``(3, H, W)`` tensor in ``[0, 1]``, or anything ``model.to_input`` takes.
        target: class index or name for all images, one per image, or ``None`` for each top-1 class.
        patch: side of the square window in pixels (``1..min(H, W)``).
        stride: step between windows in pixels (``>= 1``).
        baseline: ``"gray"``, ``"mean"``, ``"blur"``, ``"zero"``, a gray level, an ``(r, g, b)`` colour, or a
            tensor (see :func:`make_baseline`).
        score: ``"prob"`` (drop of the softmax probability) or ``"logit"``.
        method: ``"full"`` runs the network on every occluded image; ``"incremental"`` recomputes only the
            window of each feature map that the patch changes (exact up to float rounding; the embedded
            EfficientNet-Lite only, see :mod:`vizlab.attribution.incremental`); ``"auto"`` picks incremental
            when the model supports it.
        batch_size: occluded images per forward pass (default: 2 on a CPU for ``"full"``, where larger batches
            were slower per image in our measurements, 32 for ``"incremental"``, 64 on a GPU).
        reuse: an earlier result for the same images, patch and baseline (e.g. a coarser stride): positions
            it computed are copied instead of run again.
        fast: run on the inference fast path (:func:`vizlab.fastpath.inference_model`: batch norm folded,
            ``channels_last``; equal up to float rounding). ``None``: for a :class:`~vizlab.models.VizModel`;
            ``False`` calls ``model`` itself (its hooks fire), e.g. for a wrapper that counts calls.
        progress: show a ``tqdm`` bar.
        callback: called with the fraction done after each batch.
        stop: an object with ``is_set()`` (e.g. ``threading.Event``); when set, the sweep ends and the partial
            result is returned (``result.complete`` is ``False``).
        workers: batches run at once, each on one CPU thread (default: torch's thread count for a sweep on the
            fast path on a CPU, else 1). Small batches of 7 x 7 and 14 x 14 maps keep only one core busy with
            torch's own threads; one batch per core does not share that limit.
        preview: a coarser stride, a multiple of ``stride``: its windows (a subset of this sweep's) run first,
            and ``on_preview`` receives their result (an :class:`OcclusionResult` at stride ``preview``) as soon
            as they are done, while the rest of the sweep goes on. One sweep, no window run twice: the
            occlusion explorer's first picture.
        on_preview: called once, from the calling thread, with the preview's result (needs ``preview``); not
            called when the sweep is stopped before the preview's windows are done.

    Returns:
        An :class:`OcclusionResult`: ``.grid`` ``(N, Gh, Gw)``, ``.map`` ``(N, H, W)``, ``.most_damaging``,
        ``.for_class(c)``.
    """
    x = as_batch(model, image)
    n, _, h, w = x.shape
    check_int("patch", patch, 1, min(h, w))
    check_int("stride", stride, 1)
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; use one of {', '.join(METHODS)}")
    from ..fastpath import inference_model
    from ..models import VizModel
    from .incremental import occluded_logits, supports_incremental

    incremental = method == "incremental" or (method == "auto" and supports_incremental(model))
    if method == "incremental" and not supports_incremental(model):
        raise ValueError("method='incremental' needs the embedded EfficientNet-Lite (a VizModel around timm's "
                         "EfficientNet without squeeze-excitation, in eval mode); use method='full'")
    if fast not in (None, True, False):
        raise TypeError(f"fast must be None, True or False, got {fast!r}")
    if fast is None:
        fast = isinstance(model, VizModel)
    net = inference_model(model) if fast else model  # forward-only: the cached, folded copy
    if batch_size is None:
        batch_size = 64 if x.device.type != "cpu" else (32 if incremental else 2)
    check_int("batch_size", batch_size, 1)
    if score not in SCORES:
        raise ValueError(f"score={score!r} is unknown; use one of {', '.join(SCORES)}")
    if preview is not None:
        check_int("preview", preview, stride)
        if preview % stride:
            raise ValueError(f"preview={preview} must be a multiple of stride={stride} (its windows are this sweep's)")
        if not callable(on_preview):
            raise TypeError(f"on_preview must be callable when preview is given, got {type(on_preview).__name__}")
    elif on_preview is not None:
        raise ValueError("on_preview needs preview (the coarser stride whose windows run first)")
    base = make_baseline(x, baseline, patch)
    tops, lefts = positions(h, patch, stride), positions(w, patch, stride)
    with torch.inference_mode():
        base_logits = net(x).float()
    num_classes = base_logits.shape[1]
    classes = as_class_target(model, target, base_logits).indices(n).cpu().clone()
    logits = torch.zeros(n, len(tops), len(lefts), num_classes)
    done = torch.zeros(n, len(tops), len(lefts), dtype=torch.bool)

    jobs = [(k, i, j) for k in range(n) for i in range(len(tops)) for j in range(len(lefts))]
    name = baseline if isinstance(baseline, str) else "custom"
    if reuse is not None:
        if not isinstance(reuse, OcclusionResult):
            raise TypeError(f"reuse must be an OcclusionResult, got {type(reuse).__name__}")
        same = (reuse.baseline == name != "custom" and reuse.score == score and reuse.patch == patch
                and tuple(reuse.size) == (h, w) and reuse.base_logits.shape == base_logits.shape
                and torch.allclose(reuse.base_logits, base_logits.cpu(), atol=1e-4))
        if same:  # otherwise it is another sweep (other image or baseline): run everything
            jobs = _take_from(reuse, jobs, logits, done, tops, lefts)
    early: list = []
    if preview is not None:  # the preview's windows first; its positions are the multiples of `preview`
        early = [job for job in jobs if tops[job[1]] % preview == 0 and lefts[job[2]] % preview == 0]
    early_set = set(early)
    jobs = early + [job for job in jobs if job not in early_set]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=f"occlusion {patch}/{stride}", leave=False)
    total = max(len(jobs), 1)
    caches: dict[int, dict] = {}  # incremental: the clean maps of each image, shared by its chunks
    if workers is None:
        workers = torch.get_num_threads() if fast and x.device.type == "cpu" else 1
    check_int("workers", workers, 1)

    def run(chunk):
        if incremental:
            parts = []
            for k in sorted({k for k, _, _ in chunk}):  # one clean image per call
                wins = [(tops[i], lefts[j]) for kk, i, j in chunk if kk == k]
                parts.append(occluded_logits(net, x[k:k + 1], base[k:k + 1], wins, patch,
                                             cache=caches.setdefault(k, {})))
            return torch.cat(parts).float().cpu()
        idx = torch.tensor([k for k, _, _ in chunk], device=x.device)
        batch = x.index_select(0, idx)  # a copy
        for b, (k, i, j) in enumerate(chunk):
            t, l = tops[i], lefts[j]
            batch[b, :, t:t + patch, l:l + patch] = base[k, :, t:t + patch, l:l + patch]
        with torch.inference_mode():
            return net(batch).float().cpu()

    finished = 0
    early_left = len(early)

    def result(at: int = stride) -> OcclusionResult:
        ti = [i for i, t in enumerate(tops) if t % at == 0]
        tj = [j for j, l in enumerate(lefts) if l % at == 0]
        pick = (lambda t: t) if at == stride else (lambda t: t[:, ti][:, :, tj].clone())
        return OcclusionResult(logits=pick(logits), base_logits=base_logits.cpu(), done=pick(done),
                               tops=[tops[i] for i in ti], lefts=[lefts[j] for j in tj], patch=patch, stride=at,
                               size=(h, w), classes=classes.clone(), score=score, baseline=name,
                               categories=getattr(model, "categories", None))

    def store(chunk, out):
        nonlocal finished, early_left
        for b, (k, i, j) in enumerate(chunk):
            logits[k, i, j] = out[b]
            done[k, i, j] = True
        finished += len(chunk)
        if bar is not None:
            bar.update(len(chunk))
        if callback is not None:
            callback(min(1.0, finished / total))
        if early_left > 0:
            early_left -= sum(1 for job in chunk if job in early_set)
            if early_left == 0:
                on_preview(result(preview))

    if preview is not None and not early:  # every preview window came from `reuse`
        on_preview(result(preview))
    try:
        if workers == 1 or len(jobs) <= 2 * FIRST:
            # the preview's windows end a chunk of their own, so its picture comes as soon as they are done
            bounds = sorted(set(range(0, len(early), batch_size)) | set(range(len(early), len(jobs), batch_size)))
            for start, end in zip(bounds, bounds[1:] + [len(jobs)]):
                if stop is not None and stop.is_set():
                    break
                chunk = jobs[start:end]
                store(chunk, run(chunk))
        else:
            _run_parallel(_chunks(jobs, len(early), batch_size, workers), run, store, workers, stop)
    finally:
        if bar is not None:
            bar.close()
    return result()


def _chunks(jobs: list, early: int, batch_size: int, workers: int) -> list[list]:
    """How a parallel sweep splits its windows: a few first, alone (they fill the first image's cached clean
    maps that later chunks read; another image's are filled by its first chunk, and two chunks at once compute
    them twice, correctly); then the ``early`` (preview) windows spread over every worker; then the rest in
    chunks of ``batch_size`` that shrink towards the end, so no worker waits long for the last one.
    """
    first = jobs[:FIRST]
    head, tail = jobs[FIRST:max(early, FIRST)], jobs[max(early, FIRST):]
    chunks = [first]
    if head:
        size = min(batch_size, math.ceil(len(head) / workers))
        chunks += [head[start:start + size] for start in range(0, len(head), size)]
    start = 0
    while start < len(tail):
        # "guided" sizes: a share of what is left per worker, at most batch_size, at least 4 (or what is left)
        size = max(min(batch_size, math.ceil((len(tail) - start) / (2 * workers))), min(4, len(tail) - start))
        chunks.append(tail[start:start + size])
        start += size
    return chunks


def _run_parallel(chunks, run, store, workers: int, stop) -> None:
    """Run ``chunks`` on ``workers`` threads, each with one torch thread; ``store`` results as they finish.

    The first chunk runs alone, with all of torch's threads; then the calling thread runs at one thread too while
    the workers run, and torch's thread counts are restored afterwards (:class:`vizlab.device.one_thread_pool`,
    which also keeps overlapping sweeps and class images from leaving one thread behind).
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    from ..device import one_thread_pool

    store(chunks[0], run(chunks[0]))
    chunks = chunks[1:]
    if stop is not None and stop.is_set():
        return

    def one(chunk):
        with torch.inference_mode():
            return run(chunk)

    with one_thread_pool(workers, "vizlab-occlusion") as pool:
        pending = {}
        todo = iter(chunks)

        def top_up() -> None:  # one chunk per idle worker: a stop leaves little queued work to wait for
            for chunk in todo:
                pending[pool.submit(one, chunk)] = chunk
                if len(pending) >= workers:
                    return

        top_up()
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            results = [(pending.pop(future), future.result()) for future in finished]
            if stop is None or not stop.is_set():  # once stopped, the running chunks finish, no more start
                top_up()  # before storing: a store that draws (the preview) leaves no worker idle
            for chunk, out in results:
                store(chunk, out)


def _take_from(reuse: OcclusionResult, jobs, logits, done, tops, lefts):
    old_t = {t: i for i, t in enumerate(reuse.tops)}
    old_l = {l: j for j, l in enumerate(reuse.lefts)}
    left = []
    for k, i, j in jobs:
        oi, oj = old_t.get(tops[i]), old_l.get(lefts[j])
        if oi is not None and oj is not None and bool(reuse.done[k, oi, oj]):
            logits[k, i, j] = reuse.logits[k, oi, oj]
            done[k, i, j] = True
        else:
            left.append((k, i, j))
    return left


def print_progress(every: float = 2.0, label: str = "occlusion") -> Callable[[float], None]:
    """A ``callback`` for :func:`occlusion` that prints the fraction done at most every ``every`` seconds.

    Notebook runners (nbval) wait only a few seconds between outputs; printing keeps a long cell alive.
    """
    import time

    state = {"last": time.perf_counter(), "start": time.perf_counter()}

    def callback(frac: float) -> None:
        now = time.perf_counter()
        if now - state["last"] >= every or frac >= 1.0:
            state["last"] = now
            print(f"{label}: {frac:.0%} after {now - state['start']:.1f} s", flush=True)

    return callback
