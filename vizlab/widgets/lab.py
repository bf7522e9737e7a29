"""Ground-truth explorer: pick a model and a method, see where the heat goes, with the shape and the cue outlined.

Thin over :mod:`vizlab.lab`: each choice of (model, method, test set, image) computes one map with
:func:`vizlab.lab.lab_attribute` (cached), draws it with :func:`vizlab.lab.plot.show_evidence` beside the image,
and states the share of the heat on the cue and on the shape and where the hottest pixel lies.

Example:
    >>> LabExplorer({"shortcut": lab_model("shortcut"), "clean": lab_model("clean")}, paired_sets(40))  # doctest: +SKIP
"""
from __future__ import annotations

import time

import ipywidgets as W
import torch

from ..device import model_device
from ..lab.metrics import BASELINE_METHODS, LAB_METHODS, lab_attribute, mask_share, pointing_game
from ..lab.plot import show_evidence
from ..plotting import show_image, subplots
from .base import Explorer

DEFAULT_METHODS = tuple(LAB_METHODS) + tuple(BASELINE_METHODS)


class LabExplorer(Explorer):
    """Controls: ``model``, ``method``, ``test set`` (cue as in training, removed, swapped) and ``image``.

    Args:
        models: ``{name: model}`` (e.g. the lab's shortcut and clean models).
        sets: ``{name: ImageSet}`` from :func:`vizlab.lab.paired_sets` (with masks).
        method: the method shown first.
        methods: the methods offered (names of :data:`vizlab.lab.LAB_METHODS` and the baselines).

    Attributes:
        computed: how many maps were computed (cache misses), for tests.
    """

    def __init__(self, models: dict, sets: dict, *, method: str = "Grad-CAM", methods=DEFAULT_METHODS,
                 index: int = 0):
        super().__init__()
        if not isinstance(models, dict) or not models:
            raise TypeError("models must be a non-empty dict {name: model}")
        if not isinstance(sets, dict) or not sets:
            raise TypeError("sets must be a non-empty dict {name: ImageSet} (vizlab.lab.paired_sets)")
        unknown = [m for m in methods if m not in LAB_METHODS and m not in BASELINE_METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; use names of vizlab.lab.LAB_METHODS or BASELINE_METHODS")
        if method not in methods:
            raise ValueError(f"method={method!r} is not one of {', '.join(methods)}")
        n = min(len(s) for s in sets.values())
        if not 0 <= index < n:
            raise ValueError(f"index must be in 0..{n - 1}, got {index}")
        self.models, self.sets = models, sets
        self.model = W.Dropdown(options=list(models), description="model", layout=W.Layout(width="200px"))
        self.method = W.Dropdown(options=list(methods), value=method, description="method",
                                 layout=W.Layout(width="260px"))
        self.set = W.Dropdown(options=list(sets), description="test set", layout=W.Layout(width="200px"))
        self.index = W.IntSlider(value=index, min=0, max=n - 1, description="image", continuous_update=False)
        self.controls = [self.model, self.method, self.set, self.index]
        self._cache: dict[tuple[str, str, str, int], tuple[torch.Tensor, int]] = {}
        self.computed = 0
        for control in self.controls:
            control.observe(lambda change, c=control: self.update(c.description), names="value")
        self.update("start")

    def compute(self, model: str, method: str, test_set: str, index: int) -> tuple[torch.Tensor, int]:
        """``(map (H, W) on the CPU, predicted class)`` for one choice (cached); the image goes to the model's
        device."""
        key = (model, method, test_set, index)
        if key not in self._cache:
            net = self.models[model]
            # devices follow the model (as in vizlab.lab.ground_truth_table); the map comes back for the plots
            x = self.sets[test_set].batch([index], model_device(net))
            with torch.no_grad():
                pred = int(net(x).argmax(1)[0])
            self._cache[key] = (lab_attribute(net, x, [pred], method)[0].cpu(), pred)
            self.computed += 1
        return self._cache[key]

    def update(self, note: str = "") -> None:
        start = time.perf_counter()
        model, method, test_set, i = self.model.value, self.method.value, self.set.value, self.index.value
        data = self.sets[test_set]
        try:
            heat, pred = self.compute(model, method, test_set, i)
        except (ValueError, RuntimeError) as exc:
            self.set_status(f"<b>error:</b> {exc}")
            return
        shape, cue = data.extra["mask"][i], data.extra["cue_mask"][i]
        cue_share = float(mask_share(heat[None], cue[None])[0])
        shape_share = float(mask_share(heat[None], shape[None])[0])
        at = "the cue" if pointing_game(heat[None], cue[None], 1)[0] else \
            "the shape" if pointing_game(heat[None], shape[None], 1)[0] else "the background"
        fig, axes = subplots(1, 2, figsize=(6.4, 3.3))
        show_image(data.batch([i])[0].permute(1, 2, 0).numpy(), axes[0],
                   title=f"{data.label_name(i)} (cue: {test_set})")
        show_evidence(data.batch([i])[0], heat, shape, cue, axes[1],
                      title=f"{method} of '{data.class_names[pred]}' ({model})")
        fig.tight_layout()
        self.show_figure(fig, note)
        self.set_status(f"{model} predicts <b>{data.class_names[pred]}</b>; {method}: {cue_share:.0%} of the heat "
                        f"on the cue (green), {shape_share:.0%} on the shape (white); the hottest pixel is on {at} "
                        f"({time.perf_counter() - start:.2f} s)")
