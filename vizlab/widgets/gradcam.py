"""Grad-CAM explorer: which region makes the network say this class, at which layer, beside saliency.

Thin over :func:`vizlab.attribution.grad_cam` and :func:`vizlab.attribution.saliency`: maps are cached per
(class, layer), so moving the alpha slider only re-draws, and a class or layer seen before costs nothing.

Example:
    >>> GradCamExplorer(model, "cat_and_espresso")          # doctest: +SKIP
"""
from __future__ import annotations

import time

import ipywidgets as W
import torch
from torch import nn

from .._validate import check_number
from ..attribution._common import first_image
from ..attribution.cam import default_layer, grad_cam
from ..attribution.plot import show_maps
from ..attribution.saliency import saliency
from .base import Explorer
from .classes import ClassPicker

_NOT_SPATIAL = ("pool", "classifier")


def spatial_layers(model: nn.Module) -> list[str]:
    """Friendly names of the layers with a spatial output (a VizModel), else the paths of conv/ReLU/BN modules."""
    layers = getattr(model, "layers", None)
    if layers:
        return [n for n in layers if n not in _NOT_SPATIAL and not n.startswith("fc")]
    kinds = (nn.Conv2d, nn.ReLU, nn.ReLU6, nn.BatchNorm2d)
    return [n for n, m in model.named_modules() if n and isinstance(m, kinds)]


class GradCamExplorer(Explorer):
    """Controls: class dropdown (top-k) and search, ``layer`` dropdown, ``alpha`` slider.

    Draws the image, the Grad-CAM overlay at the chosen layer, and the vanilla saliency map of the same class.

    Args:
        model: a classifier with ``categories`` (e.g. ``vizlab.load_model()``).
        image: a sample name, path, array or ``(1, 3, H, W)`` tensor.
        target: the class shown first (default: top-1).
        layer: the layer shown first (default ``model.cam_layer``).
        alpha: heatmap weight in the overlay.
        size: resize the image to this side first.

    Attributes:
        computed: how many maps were computed (cache misses), for tests.
    """

    def __init__(self, model, image="cat_and_espresso", target=None, *, layer=None, alpha: float = 0.5,
                 size: int | None = None, k: int = 5):
        super().__init__()
        self.model = model
        self.x = first_image(model, image, size)
        with torch.no_grad():
            probs = model(self.x).softmax(1)[0]
        value = None if target is None else model.class_index(target)
        self.picker = ClassPicker(model, probs, k=k, value=value, on_error=self._search_error)
        options = spatial_layers(model)
        first = default_layer(model, layer)
        if first not in options:
            raise ValueError(f"layer={first!r} is not one of the spatial layers: {', '.join(options)}")
        self.layer = W.Dropdown(options=options, value=first, description="layer", layout=W.Layout(width="220px"))
        alpha = check_number("alpha", alpha, 0, 1)
        self.alpha = W.FloatSlider(value=alpha, min=0.0, max=1.0, step=0.05, description="alpha",
                                   continuous_update=False)
        self.controls = [*self.picker.widgets, self.layer, self.alpha]
        self._cam: dict[tuple[int, str], torch.Tensor] = {}
        self._sal: dict[int, torch.Tensor] = {}
        self.computed = 0
        self.picker.dropdown.observe(lambda _: self.update("class"), names="value")
        self.layer.observe(lambda _: self.update("layer"), names="value")
        self.alpha.observe(lambda _: self.update("alpha"), names="value")
        self.update("start")

    def _search_error(self, message: str) -> None:
        self.set_status(f"<b>search:</b> {message}")

    def maps(self) -> dict[str, torch.Tensor]:
        """Grad-CAM and saliency for the current class and layer (from the cache when possible)."""
        c, layer = self.picker.value, self.layer.value
        if (c, layer) not in self._cam:
            self._cam[(c, layer)] = grad_cam(self.model, self.x, c, layer)
            self.computed += 1
        if c not in self._sal:
            self._sal[c] = saliency(self.model, self.x, c)
            self.computed += 1
        return {f"Grad-CAM at {layer}": self._cam[(c, layer)], "saliency max|dS/dx|": self._sal[c]}

    def update(self, note: str = "") -> None:
        start = time.perf_counter()
        try:
            maps = self.maps()
        except (ValueError, RuntimeError) as exc:
            self.set_status(f"<b>error:</b> {exc}")
            return
        fig = show_maps(self.x, maps, alpha=self.alpha.value,
                        title=f"{self.picker.name}: p = {float(self.picker.probs[self.picker.value]):.3f}")
        self.show_figure(fig, note)
        self.set_status(f"{self.picker.name} at layer {self.layer.value} in {time.perf_counter() - start:.2f} s")
