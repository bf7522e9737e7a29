"""Trust explorer: a method's map beside its deletion curve, and a slider that randomises the network from the top.

Thin over :mod:`vizlab.evaluate`: pick a method and a layer (CAM methods read it), see the map and the deletion
curve of the predicted class; move "randomise down to" to re-initialise the top ``k`` layer groups
(:func:`vizlab.evaluate.randomization_layers`) and watch the map change — or not (guided backprop). The model's
weights are restored after every drawing. Maps and curves are cached per (method, layer, k).

Example:
    >>> TrustExplorer(model, "cat_and_espresso")          # doctest: +SKIP
"""
from __future__ import annotations

import time
import warnings

import ipywidgets as W
import torch

from ..attribution._common import first_image
from ..attribution.cam import default_layer
from ..evaluate import (METHODS, attribute, cascade_step, deletion, preserved_weights, randomization_layers,
                        show_curves, spearman)
from ..evaluate.methods import canonical_name
from ..plotting import HEAT_CMAP, show_image, subplots
from .base import Explorer
from .gradcam import spatial_layers


def _known(name: str) -> str | None:
    """The :data:`METHODS` key for a display or snake_case name, or ``None``."""
    try:
        return canonical_name(name)
    except ValueError:
        return None


DEFAULT_METHODS = ("gradient", "guided backprop", "Grad-CAM", "LayerCAM", "HiResCAM", "XGrad-CAM", "EigenCAM",
                   "integrated gradients", "edge (Sobel)", "random")


class TrustExplorer(Explorer):
    """Controls: ``method`` and ``layer`` dropdowns, ``randomise down to`` slider (0 = the trained model).

    Args:
        model: a classifier with ``categories`` (e.g. ``vizlab.load_model()``).
        image: a sample name, path, array or ``(1, 3, H, W)`` tensor.
        method: the method shown first (a name in :data:`vizlab.evaluate.METHODS`).
        layer: the CAM layer shown first (default ``model.cam_layer``).
        size: resize the image to this side first.
        steps: deletion steps.

    Attributes:
        computed: how many maps were computed (cache misses), for tests.
    """

    def __init__(self, model, image="cat_and_espresso", *, method: str = "Grad-CAM", layer=None,
                 size: int | None = None, steps: int = 16, methods=DEFAULT_METHODS):
        super().__init__()
        self.model = model
        self.x = first_image(model, image, size)
        with torch.no_grad():
            self.target = int(model(self.x).argmax(1)[0])
        unknown = [m for m in methods if not isinstance(m, str) or _known(m) is None]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; use names from vizlab.evaluate.METHODS "
                             f"(or their snake_case forms, e.g. 'guided_backprop')")
        methods = [_known(m) for m in methods]
        method = _known(method) or method
        if method not in methods:
            raise ValueError(f"method={method!r} is not one of {', '.join(methods)}")
        self.groups = randomization_layers(model)
        self.steps = steps
        options = spatial_layers(model)
        first = default_layer(model, layer)
        if first not in options:
            raise ValueError(f"layer={first!r} is not one of the spatial layers: {', '.join(options)}")
        self.method = W.Dropdown(options=list(methods), value=method, description="method",
                                 layout=W.Layout(width="240px"))
        self.layer = W.Dropdown(options=options, value=first, description="layer", layout=W.Layout(width="220px"))
        labels = ["none (trained)"] + [f"{k + 1}: …{name}" for k, (name, _) in enumerate(self.groups)]
        self.randomise = W.SelectionSlider(options=list(zip(labels, range(len(labels)))), value=0,
                                           description="randomise down to", continuous_update=False,
                                           style={"description_width": "initial"}, layout=W.Layout(width="420px"))
        self.controls = [self.method, self.layer, self.randomise]
        self._cache: dict[tuple[str, str, int], tuple[torch.Tensor, object]] = {}
        self.computed = 0
        for control, note in ((self.method, "method"), (self.layer, "layer"), (self.randomise, "randomise")):
            control.observe(lambda _, note=note: self.update(note), names="value")
        self.update("start")

    def compute(self, method: str, layer: str, k: int):
        """``(map, deletion curve)`` of ``method`` with the top ``k`` groups randomised (cached)."""
        key = (method, layer, k)
        if key not in self._cache:
            with preserved_weights(self.model), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a random network often gives an all-zero CAM
                for i in range(k):
                    cascade_step(self.model, self.groups, i)
                heat = attribute(self.model, self.x, [self.target], method, layer)
                curve = deletion(self.model, self.x, heat, self.target, steps=self.steps)
            self._cache[key] = (heat, curve)
            self.computed += 1
        return self._cache[key]

    def update(self, note: str = "") -> None:
        start = time.perf_counter()
        method, layer, k = self.method.value, self.layer.value, self.randomise.value
        try:
            heat, curve = self.compute(method, layer, k)
            trained, _ = self.compute(method, layer, 0)
        except (ValueError, RuntimeError) as exc:
            self.set_status(f"<b>error:</b> {exc}")
            return
        rho = float(spearman(heat, trained)[0])
        fig, axes = subplots(1, 3, figsize=(11, 3.4))
        show_image(self.x[0], axes[0], title=self.model.categories[self.target])
        h = heat[0].abs().cpu().numpy()
        axes[1].imshow(h / max(float(h.max()), 1e-12), cmap=HEAT_CMAP if "CAM" in method else "gray", vmin=0, vmax=1)
        axes[1].set_axis_off()
        where = "trained model" if k == 0 else f"randomised down to {self.groups[k - 1][0]}"
        axes[1].set_title(f"{method} ({where})\nρ with the trained map: {rho:.2f}", fontsize=9)
        show_curves({method: curve}, ax=axes[2], title="deletion")
        fig.tight_layout()
        self.show_figure(fig, note)
        self.set_status(f"{method} at {layer}, {where}: ρ = {rho:.2f}, deletion AUC {float(curve.auc[0]):.3f} "
                        f"({time.perf_counter() - start:.2f} s)")
