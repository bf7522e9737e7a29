"""Occlusion explorer: slide a gray (or mean, blurred, black) patch over the image and see what matters.

Thin over :func:`vizlab.attribution.occlusion`: a change of patch, stride or baseline runs one sweep in the
background whose windows at a coarse stride run first (at most 6 x 6 of them, so the first picture comes
quickly; drawn while the sweep goes on), then the rest of the chosen stride's windows. The sweep keeps the
logits of every occluded image, so picking another class re-draws at once without running the model.

Example:
    >>> OcclusionExplorer(model, "cat_and_espresso")          # doctest: +SKIP
"""
from __future__ import annotations

import math
import threading
import time

import ipywidgets as W
import torch

from ..attribution._common import first_image
from ..attribution.occlusion import BASELINES, OcclusionResult, occlusion
from ..attribution.plot import show_occlusion
from .base import Explorer
from .classes import ClassPicker


# At most 6 x 6 windows for the first picture: 7 x 7 windows of 32 px (49 occluded images) took 0.30-0.40 s on 2
# idle cores plus 0.13-0.27 s for the figure, 0.43-0.62 s in all, over the 0.5 s goal; 5 x 5 or 6 x 6 is under it.
PREVIEW_SIDE = 6


def preview_stride(side: int, patch: int, stride: int) -> int:
    """Stride of the first picture: a multiple of ``stride`` (the fine sweep re-uses its windows), at least
    ``patch`` (windows that tile the image), and large enough for at most 6 x 6 windows. When so few windows
    of ``patch`` cannot tile the image, they sit apart and each stands for its cell (see
    :attr:`~vizlab.attribution.OcclusionResult.map`).
    """
    tiling = math.ceil(patch / stride)
    few = (side - patch) // (PREVIEW_SIDE * stride) + 1
    return stride * max(tiling, few)


class OcclusionExplorer(Explorer):
    """Controls: ``patch`` and ``stride`` sliders, ``baseline`` dropdown, class dropdown (top-k) and search.

    Args:
        model: a classifier with ``categories`` (e.g. ``vizlab.load_model()``).
        image: a sample name, path, array or ``(1, 3, H, W)`` tensor.
        target: the class shown first (default: top-1).
        patch, stride: initial window side and step in pixels.
        baseline: one of ``"gray"``, ``"mean"``, ``"blur"``, ``"zero"``.
        size: resize the image to this side first (smaller is faster).
        refine: draw a coarse map first (stride = a multiple of ``stride`` that is at least ``patch`` and leaves at
            most 6 x 6 windows, see :func:`preview_stride`), from the first windows of the one sweep.
        background: run sweeps in a worker thread (the kernel stays responsive; ``wait()`` joins it).
        batch_size: occluded images per forward pass (default: see :func:`~vizlab.attribution.occlusion`).
        method: ``"auto"``, ``"full"`` or ``"incremental"`` (see :func:`~vizlab.attribution.occlusion`).

    Attributes:
        result: the latest :class:`~vizlab.attribution.OcclusionResult` (coarse, then fine).
        sweeps: how many sweeps have run (a class change adds none).
    """

    def __init__(self, model, image="cat_and_espresso", target=None, *, patch: int = 32, stride: int = 16,
                 baseline: str = "gray", size: int | None = None, refine: bool = True, background: bool = True,
                 batch_size: int | None = None, method: str = "auto", k: int = 5):
        super().__init__()
        self.model = model
        self.x = first_image(model, image, size)
        side = min(self.x.shape[-2:])
        if baseline not in BASELINES:
            raise ValueError(f"baseline={baseline!r} is unknown; use one of {', '.join(BASELINES)}")
        with torch.no_grad():
            probs = model(self.x).softmax(1)[0]
        value = None if target is None else model.class_index(target)
        self.picker = ClassPicker(model, probs, k=k, value=value, on_error=self._search_error)
        self.patch = W.IntSlider(value=min(patch, side), min=4, max=side, step=2, description="patch",
                                 continuous_update=False)
        self.stride = W.IntSlider(value=stride, min=2, max=side, step=2, description="stride",
                                  continuous_update=False)
        self.baseline = W.Dropdown(options=list(BASELINES), value=baseline, description="baseline",
                                   layout=W.Layout(width="220px"))
        self.stop_button = W.Button(description="Stop", button_style="warning", layout=W.Layout(width="80px"))
        self.stop_button.on_click(lambda _: self.stop())
        self.controls = [self.patch, self.stride, self.baseline, *self.picker.widgets, self.stop_button]
        self.refine = refine
        self.background = background
        self.batch_size = batch_size
        self.method = method
        self.result: OcclusionResult | None = None
        self.sweeps = 0
        for control in (self.patch, self.stride, self.baseline):
            control.observe(lambda _: self.recompute(), names="value")
        self.picker.dropdown.observe(lambda _: self.redraw("class"), names="value")
        self.recompute()

    # -- events ----------------------------------------------------------------------------------------------
    def _search_error(self, message: str) -> None:
        self.set_status(f"<b>search:</b> {message}")

    def recompute(self) -> None:
        """Start a sweep for the current patch, stride and baseline (stopping one that is running)."""
        if self.running:
            self.stop()
            self.wait()
        if self.background:
            self.start(self._sweep)
        else:
            self._stop.clear()
            self._sweep(self._stop)

    def redraw(self, note: str = "class") -> None:
        """Draw the latest sweep for the selected class (no model call)."""
        result = self.result
        if result is None:
            return
        res = result.for_class(self.picker.value)
        self.show_figure(show_occlusion(self.x, res), note)

    # -- the sweep -------------------------------------------------------------------------------------------
    def _sweep(self, stop: threading.Event) -> None:
        patch, stride, baseline = self.patch.value, self.stride.value, self.baseline.value
        patch = min(patch, min(self.x.shape[-2:]))
        self.sweeps += 1
        args = dict(target=self.picker.value, patch=patch, baseline=baseline, batch_size=self.batch_size, stop=stop,
                    method=self.method)
        coarse_stride = preview_stride(min(self.x.shape[-2:]), patch, stride)
        start = time.perf_counter()
        shown = []

        def show_preview(coarse: OcclusionResult) -> None:
            # called by the sweep as soon as the preview's windows are done; the workers go on meanwhile
            shown.append(coarse)
            self.result = coarse
            self.redraw("coarse")
            what = "coarse map" if coarse_stride <= patch else "preview (one window per cell)"
            self.set_status(f"{what} (stride {coarse_stride}, {int(coarse.done.sum())} patches) "
                            f"in {time.perf_counter() - start:.1f} s; refining to patch {patch}, stride {stride} ...")

        def progress(frac: float) -> None:
            if shown:
                self.set_status(f"coarse map shown; refining to stride {stride}: {frac:.0%} ...")

        if self.refine and coarse_stride != stride:
            args.update(preview=coarse_stride, on_preview=show_preview)
        fine = occlusion(self.model, self.x, stride=stride, callback=progress, **args)
        if stop.is_set() and not fine.done.any():
            self.set_status("stopped")
            return
        self.result = fine
        self.redraw("fine" if fine.complete else "stopped")
        res = fine.for_class(self.picker.value)
        top, left, _, _ = res.most_damaging[0]
        word = "done" if fine.complete else "stopped (partial map)"
        self.set_status(f"{word}: {int(fine.done.sum())} occluded images in {time.perf_counter() - start:.1f} s; "
                        f"most damaging patch at (top {top}, left {left}) lowers p({res.class_name()}) by {float(res.grid.max()):.3f}")
