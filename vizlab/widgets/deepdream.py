"""DeepDream explorer: pick a layer and the octaves, Run, watch each octave appear, Stop when it is enough.

Thin over :func:`vizlab.optimize.deepdream`; runs in a worker thread (:meth:`Explorer.start`).
"""
from __future__ import annotations

import threading

import ipywidgets as W
import torch
from matplotlib.figure import Figure

from ..device import scaled
from ..optimize.deepdream import DreamResult, deepdream
from ..plotting import show_image
from .base import Explorer


def dream_layers(model) -> list[str]:
    """Layers worth dreaming: the friendly block names of a VizModel (``block1`` ... ``head``)."""
    names = getattr(model, "layers", None)
    if not names:
        return [n for n, _ in model.named_modules() if n]
    return [n for n in names if n.startswith("block") and "_" not in n] + [n for n in ("head",) if n in names]


class DeepDreamExplorer(Explorer):
    """Layer picker, octaves, octave scale, steps per octave, step size, jitter; Run and Stop.

    Args:
        model: a classifier taking ``[0, 1]`` images.
        image: the photo to dream into (sample name, path, array or tensor).
        size: image side (default: 160 on a CPU, 320 on a GPU).
        layer: initial layer.
        guide: optional guide image for guided dreaming.
        seed: seed of every run.

    Attributes:
        result: the last :class:`~vizlab.optimize.DreamResult` (partial after Stop), or ``None``.
    """

    def __init__(self, model, image="temple", *, size: int | None = None, layer: str = "block4", guide=None,
                 seed: int | None = 0):
        super().__init__()
        self.model = model
        size = scaled(160, 320, model.device if hasattr(model, "device") else None) if size is None else size
        self.photo = model.to_input(image, size) if hasattr(model, "to_input") and not isinstance(image, torch.Tensor) \
            else image
        self.guide = guide
        self.seed = seed
        self.result: DreamResult | None = None
        layers = dream_layers(model)
        if layer not in layers:
            raise ValueError(f"layer={layer!r} is not one of the offered layers: {', '.join(layers)}")
        s = {"continuous_update": False, "style": {"description_width": "90px"}, "layout": W.Layout(width="300px")}
        self.layer = W.Dropdown(options=layers, value=layer, description="layer", style=s["style"],
                                layout=W.Layout(width="300px"))
        self.octaves = W.IntSlider(value=3, min=1, max=6, description="octaves", **s)
        self.octave_scale = W.FloatSlider(value=1.4, min=1.1, max=2.0, step=0.05, description="octave scale", **s)
        self.steps = W.IntSlider(value=10, min=1, max=50, description="steps/octave", **s)
        self.step_size = W.FloatLogSlider(value=0.01, base=10, min=-3, max=-1, step=0.1, description="step size",
                                          readout_format=".3g", **s)
        self.jitter = W.IntSlider(value=8, min=0, max=32, description="jitter (px)", **s)
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop")
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.controls = [self.layer, self.octaves, self.octave_scale, self.steps, self.step_size, self.jitter,
                         self.run_button, self.stop_button]
        self.set_status("Choose a layer and octaves, then press <b>Run</b>.")

    def run(self) -> threading.Thread | None:
        """Dream in the background with the current settings (ignored while a run is going)."""
        if self.running:
            self.set_status("already running; press <b>Stop</b> first")
            return None
        layer, octaves = self.layer.value, int(self.octaves.value)
        kwargs = dict(octaves=octaves, octave_scale=float(self.octave_scale.value), steps=int(self.steps.value),
                      step_size=float(self.step_size.value), jitter=int(self.jitter.value), guide=self.guide,
                      seed=self.seed, progress=False)
        self.set_status(f"dreaming <b>{layer}</b>: octave 1/{octaves}")

        def job(stop: threading.Event) -> None:
            done = [0]

            def draw(step: int, image: torch.Tensor, value: float) -> None:
                done[0] += 1
                self.draw(image, f"{layer}: octave {done[0]}/{octaves}", note=f"octave {done[0]}")
                if not stop.is_set() and done[0] < octaves:
                    self.set_status(f"dreaming <b>{layer}</b>: octave {done[0] + 1}/{octaves}")

            result = deepdream(self.model, self.photo, layer, callback=draw, stop_event=stop, **kwargs)
            self.result = result
            if result.stopped:
                self.set_status(f"stopped after {result.steps} steps ({len(result.octaves)}/{octaves} octaves); "
                                f"partial result kept")
            else:
                self.set_status(f"done: {octaves} octaves, {result.steps} steps")

        return self.start(job)

    def draw(self, image: torch.Tensor, title: str, note: str = "") -> None:
        fig = Figure(figsize=(3.6, 3.8))
        show_image(image[:1], ax=fig.add_subplot(1, 1, 1), title=title)
        self.show_figure(fig, note=note)
