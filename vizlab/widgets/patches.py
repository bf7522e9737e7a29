"""Explorer for maximally activating patches: pick a layer and a channel, see the patches that drive it most.

Thin over :mod:`vizlab.inside.patches`: a layer's activations over the image set are computed once (in a
background thread, cached in memory and on disk), so moving the channel slider only re-ranks and redraws.
"""
from __future__ import annotations

import ipywidgets as W
import torch
from torch import nn

from ..inside.datasets import ImageSet
from ..inside.patches import layer_activations, patch_figure, patches_for, strongest_channels, top_units
from ..inside.receptive_field import receptive_field
from ..models import VizModel
from .base import Explorer, Timer


def default_layers(model: nn.Module) -> list[str]:
    """Spatial layers worth exploring: a VizModel's stem and blocks, or every conv of another model."""
    if isinstance(model, VizModel):
        names = [n for n in model.layers if n == "stem" or (n.startswith("block") and "_" not in n) or n == "head"]
        if names:
            return names
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


class PatchExplorer(Explorer):
    """Layer drop-down, channel slider and k: the top-k patches of that channel over an image set.

    Top row: each patch at its receptive-field size (gray where the field leaves the image); bottom row:
    the whole image with the field drawn. ``explorer.layer``, ``explorer.channel``, ``explorer.k`` and
    ``explorer.one_per_image`` are the controls; set their ``.value`` to drive it from code.
    """

    def __init__(self, model: nn.Module, images: ImageSet, layers: list[str] | None = None, *, k: int = 8,
                 size: int | None = None, start_layer: str | None = None):
        super().__init__()
        if not isinstance(images, ImageSet):
            raise TypeError(f"images must be an ImageSet, got {type(images).__name__}")
        self.model = model
        self.images = images
        self.size = size
        layers = list(layers) if layers is not None else default_layers(model)
        if not layers:
            raise ValueError("layers is empty and the model has no Conv2d layer to offer")
        if start_layer is not None and start_layer not in layers:
            raise ValueError(f"start_layer={start_layer!r} is not one of layers {layers}")
        self._acts: dict[str, torch.Tensor] = {}
        self._fields: dict = {}
        self._quiet = False
        self.layer = W.Dropdown(options=layers, value=start_layer or layers[0], description="layer")
        self.channel = W.IntSlider(value=0, min=0, max=0, description="channel", continuous_update=False)
        self.k = W.IntSlider(value=k, min=1, max=16, description="k", continuous_update=False)
        self.one_per_image = W.Checkbox(value=True, description="one per image")
        self.controls = [self.layer, self.channel, self.k, self.one_per_image]
        self.layer.observe(lambda change: self._load_layer(), names="value")
        for control in (self.channel, self.k, self.one_per_image):
            control.observe(lambda change: self.draw(), names="value")
        self._load_layer()

    def _load_layer(self) -> None:
        layer = self.layer.value
        if layer in self._acts:
            self._after_load(layer)
            return
        self.set_status(f"computing activations of {layer} over {len(self.images)} images ...")

        def job(stop) -> None:
            acts = layer_activations(self.model, self.images, layer, size=self.size, progress=False)
            # The field is traced with hooks and a forward pass: do it here, in the one worker, so that a
            # slider's draw on the main thread never runs a second trace at the same time.
            side = self.size if self.size is not None else self.images.size
            self._fields[layer] = receptive_field(self.model, layer, side)
            self._acts[layer] = acts  # set last: draw() only runs for layers whose field is ready
            if self.layer.value == layer:
                self._after_load(layer)

        if self.running:
            self.wait()
        self.start(job)

    def _after_load(self, layer: str) -> None:
        acts = self._acts[layer]
        # Start each layer at its strongest channel; draw once, not once per changed trait.
        self._quiet = True
        try:
            self.channel.max = acts.shape[1] - 1
            self.channel.value = strongest_channels(acts, 1)[0]
        finally:
            self._quiet = False
        self.draw()

    def draw(self) -> None:
        """Rank the chosen channel's units and draw the top-k patches (activations already computed)."""
        layer = self.layer.value
        acts = self._acts.get(layer)
        if acts is None or self._quiet:
            return  # the layer is still loading; it draws when done
        channel = min(self.channel.value, acts.shape[1] - 1)
        with Timer() as t:
            field = self._fields[layer]
            units = top_units(acts, channel, self.k.value, one_per_image=self.one_per_image.value)
            patches = patches_for(self.images, units, field, self.size)
            fig = patch_figure(self.images, patches, size=self.size, title=f"{layer}, channel {channel}")
        self.show_figure(fig, note=f"{layer}:{channel}:{self.k.value}")
        self.set_status(f"{layer} channel {channel}: receptive field {field.size[0]}x{field.size[1]} px, stride "
                        f"{field.stride[0]}; strongest {units[0][3]:.3g} ({t.seconds:.2f} s)")
