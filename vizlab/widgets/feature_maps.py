"""Feature-map explorer: pick an image, a layer and a channel; see what that channel responds to."""
from __future__ import annotations

from typing import Sequence

import ipywidgets as W
import torch

from ..images import load_image, resize
from ..inside.activations import activated_layers, channel_ranking, feature_maps
from ..models import VizModel
from ..plotting import feature_map_grid, show_image, subplots
from .base import Explorer, Timer

DEFAULT_IMAGES = ("cat", "espresso", "astronaut", "motorcycle", "temple", "flower")


class FeatureMapExplorer(Explorer):
    """Image and layer dropdowns, a channel slider, and a view toggle (one channel / the 16 most active).

    One forward pass per image captures every layer at once and is cached, so moving the layer or channel
    controls only redraws.

    Example:
        >>> FeatureMapExplorer(load_model())   # doctest: +SKIP
    """

    def __init__(self, model: VizModel, images: Sequence[str] = DEFAULT_IMAGES, layers: Sequence[str] | None = None,
                 layer: str | None = None):
        super().__init__()
        if not isinstance(model, VizModel):
            raise TypeError(f"model must be a VizModel (from vizlab.load_model), got {type(model).__name__}")
        self.model = model
        self.layer_list = list(layers) if layers is not None else activated_layers(model)
        if not self.layer_list:
            raise ValueError("layers is empty")
        for name in self.layer_list:
            model.layer_path(name)  # raises a clear ValueError for unknown names
        if not images:
            raise ValueError("images is empty")
        self._cache: dict[str, dict[str, torch.Tensor]] = {}
        self.forward_passes = 0
        self._quiet = False
        self.image_picker = W.Dropdown(options=list(images), value=images[0], description="image")
        self.layer_picker = W.Dropdown(options=self.layer_list, value=layer or self.layer_list[0], description="layer")
        self.channel = W.IntSlider(value=0, min=0, max=1, description="channel", continuous_update=False)
        self.view = W.ToggleButtons(options=["one channel", "top 16"], value="one channel", description="view")
        self.controls = [self.image_picker, self.layer_picker, self.channel, self.view]
        self.image_picker.observe(self._on_change, "value")
        self.layer_picker.observe(self._on_layer, "value")
        self.channel.observe(self._on_change, "value")
        self.view.observe(self._on_change, "value")
        self._on_layer()

    def activations(self, image: str) -> dict[str, torch.Tensor]:
        """Every layer's activation for one image, computed once and cached."""
        if image not in self._cache:
            self._cache[image] = {k: v[0] for k, v in feature_maps(self.model, image, self.layer_list).items()}
            self.forward_passes += 1
        return self._cache[image]

    def _on_layer(self, change=None) -> None:
        maps = self.activations(self.image_picker.value)[self.layer_picker.value]
        self._quiet = True
        try:
            self.channel.max = maps.shape[0] - 1
            # Start at the most active channel: channel 0 is often silent in deep layers.
            self.channel.value = channel_ranking(maps)[0]
        finally:
            self._quiet = False
        self.redraw()

    def _on_change(self, change=None) -> None:
        if not self._quiet:
            self.redraw()

    def redraw(self) -> None:
        image_name, layer, c = self.image_picker.value, self.layer_picker.value, self.channel.value
        with Timer() as t:
            maps = self.activations(image_name)[layer]
            if self.view.value == "top 16":
                fig = feature_map_grid(maps, channel_ranking(maps)[:16], title=f"{layer}: the 16 most active channels")
                note = f"{image_name}/{layer}/top16"
            else:
                fig, (ax_img, ax_map) = subplots(1, 2, figsize=(7, 3.4))
                show_image(resize(load_image(image_name), self.model.input_size), ax=ax_img, title=image_name)
                ch = maps[c].float().cpu()
                im = ax_map.imshow(ch.numpy(), cmap="viridis")
                ax_map.set_axis_off()
                ax_map.set_title(f"{layer} channel {c} ({ch.shape[0]}x{ch.shape[1]})", fontsize=9)
                fig.colorbar(im, ax=ax_map, fraction=0.046)
                note = f"{image_name}/{layer}/{c}"
            self.show_figure(fig, note)
        zero = float((maps <= 0).float().mean())
        self.set_status(f"{layer}: {maps.shape[0]} channels of {maps.shape[1]}x{maps.shape[2]}, "
                        f"{zero:.0%} of activations are zero; drawn in {t.seconds:.2f} s")
