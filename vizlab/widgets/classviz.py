"""Class visualization explorer: every regularizer on a slider, Run and Stop, the image redrawn as it forms.

Thin over :func:`vizlab.optimize.class_visualization`: the controls are the fields of
:class:`~vizlab.optimize.ClassVizSettings`, one slider per number. The run goes to a worker thread
(:meth:`Explorer.start`), so the Stop button is heard while it computes; Stop keeps the partial result in
``explorer.result`` and the status line says "stopped".

Example:
    >>> ex = ClassVizExplorer(model)      # doctest: +SKIP
    >>> ex                                # doctest: +SKIP  (displays the explorer)
"""
from __future__ import annotations

import threading
from dataclasses import replace

import ipywidgets as W
import torch
from matplotlib.figure import Figure

from .._validate import check_int
from ..device import scaled
from ..optimize.classviz import ClassVizSettings, class_visualization, preset
from ..optimize.render import RenderResult
from ..plotting import show_image
from .base import Explorer

#: Classes that make recognisable pictures (ImageNet names).
DEFAULT_CLASSES = ("flamingo", "tarantula", "goldfish", "hummingbird", "jellyfish", "daisy", "pineapple",
                   "strawberry", "volcano", "peacock", "ladybug", "king penguin", "lemon", "starfish")


def _slider_style() -> dict:
    return {"continuous_update": False, "style": {"description_width": "80px"},
            "layout": W.Layout(width="300px")}


#: The preset behind each of the explorer's modes: the pixel toggle is the recipe whose every number is on a slider
#: (issue 24 round 16's CS231N converges only at 224 px, with a Lite1 ensemble and a second run: too slow to be live)
EXPLORER_PRESETS = {"cs231n": "pixels_robust", "fourier": "fourier"}


def _preset(mode: str) -> ClassVizSettings:
    if mode not in EXPLORER_PRESETS:
        raise ValueError(f"mode must be one of {', '.join(EXPLORER_PRESETS)}, got {mode!r}")
    return preset(EXPLORER_PRESETS[mode])


class ClassVizExplorer(Explorer):
    """Sliders for learning rate, L2, TV, jitter, blur width and interval, a class picker, steps, mode, Run/Stop.

    Args:
        model: a :class:`~vizlab.models.VizModel` (class names are needed for the picker).
        classes: class names or indices for the picker (default: :data:`DEFAULT_CLASSES`).
        mode: initial mode, ``"cs231n"`` (pixels; the explorer starts from :data:`~vizlab.optimize.PIXELS_ROBUST`,
            whose knobs all have a slider and which converges at 128 px, not from round 16's
            :data:`~vizlab.optimize.CS231N`, whose window, 128-px view, Lite1 ensemble and second run need 224 px
            and two to eight times the time) or ``"fourier"``.
        size: image side (default: 128 on a CPU, 224 on a GPU).
        steps: initial number of steps (default: the preset's).
        redraw_every: redraw the picture every this many steps.
        seed: seed of every run (same settings, same picture).

    Attributes:
        result: the last :class:`~vizlab.optimize.RenderResult` (partial after Stop), or ``None``.
    """

    def __init__(self, model, classes=None, *, mode: str = "cs231n", size: int | None = None,
                 steps: int | None = None, redraw_every: int = 5, seed: int | None = 0):
        super().__init__()
        self.redraw_every = check_int("redraw_every", redraw_every, 1)   # a TypeError for "5", a ValueError for 0
        self.model = model
        self.seed = seed
        self.result: RenderResult | None = None
        names = DEFAULT_CLASSES if classes is None else classes
        options = []
        for c in names:
            index = model.class_index(c)
            options.append((f"{model.categories[index]} ({index})", index))
        if not options:
            raise ValueError("classes must name at least one class")
        size = scaled(128, 224, model.device if hasattr(model, "device") else None) if size is None else size
        base = replace(_preset(mode), size=size, **({"steps": steps} if steps is not None else {}))
        s = _slider_style()
        self.target = W.Dropdown(options=options, value=options[0][1], description="class", style=s["style"],
                                 layout=W.Layout(width="300px"))
        self.mode = W.ToggleButtons(options=["cs231n", "fourier"], value=base.mode, description="mode",
                                    style={"description_width": "80px", "button_width": "90px"})
        self.lr = W.FloatLogSlider(value=base.lr, base=10, min=-3, max=2, step=0.1, description="learning rate",
                                   readout_format=".3g", **s)
        self.l2 = W.FloatSlider(value=base.l2, min=0.0, max=1e-2, step=1e-4, description="L2 weight",
                                readout_format=".4f", **s)
        self.tv = W.FloatSlider(value=base.tv, min=0.0, max=5e-3, step=1e-4, description="TV weight",
                                readout_format=".4f", **s)
        self.jitter = W.IntSlider(value=base.jitter, min=0, max=32, description="jitter (px)", **s)
        self.blur_sigma = W.FloatSlider(value=base.blur_sigma, min=0.0, max=2.0, step=0.1, description="blur sigma",
                                        **s)
        self.blur_every = W.IntSlider(value=base.blur_every, min=1, max=50, description="blur every", **s)
        self.decorrelate = W.Checkbox(value=base.decorrelate, description="decorrelate colours",
                                      indent=False, layout=W.Layout(width="220px"))
        self.steps = W.BoundedIntText(value=base.steps, min=1, max=5000, description="steps",
                                      style={"description_width": "80px"}, layout=W.Layout(width="180px"))
        self.size = base.size
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop")
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.mode.observe(self._mode_changed, names="value")
        self.controls = [self.target, self.mode, self.lr, self.l2, self.tv, self.jitter, self.blur_sigma,
                         self.blur_every, self.decorrelate, self.steps, self.run_button, self.stop_button]
        self.set_status("Choose a class and settings, then press <b>Run</b>.")

    # -- settings <-> controls -------------------------------------------------------------------------------
    @property
    def settings(self) -> ClassVizSettings:
        """The controls as a :class:`~vizlab.optimize.ClassVizSettings`."""
        # the fields without a slider (schedules, objective, copies, decay, ghost) come from the mode's preset
        return replace(_preset(self.mode.value), steps=int(self.steps.value), lr=float(self.lr.value),
                       l2=float(self.l2.value), tv=float(self.tv.value), jitter=int(self.jitter.value),
                       blur_sigma=float(self.blur_sigma.value), blur_every=int(self.blur_every.value),
                       size=self.size, decorrelate=bool(self.decorrelate.value))

    def load(self, settings: ClassVizSettings) -> None:
        """Put settings into the controls (the mode's preset when the mode changes)."""
        with self.mode.hold_trait_notifications():
            self.mode.value = settings.mode
        self.lr.value, self.l2.value, self.tv.value = settings.lr, settings.l2, settings.tv
        self.jitter.value, self.blur_sigma.value = settings.jitter, settings.blur_sigma
        self.blur_every.value, self.steps.value = settings.blur_every, settings.steps
        self.decorrelate.value = settings.decorrelate

    def _mode_changed(self, change) -> None:
        self.load(replace(_preset(change["new"]), size=self.size))

    # -- running ---------------------------------------------------------------------------------------------
    def run(self) -> threading.Thread | None:
        """Start a run in the background with the current settings (ignored while one is running)."""
        if self.running:
            self.set_status("already running; press <b>Stop</b> first")
            return None
        settings = self.settings
        target = int(self.target.value)
        name = self.model.categories[target]
        self.set_status(f"running {settings.mode} for <b>{name}</b>: 0/{settings.steps} steps")

        def job(stop: threading.Event) -> None:
            def draw(step: int, image: torch.Tensor, value: float) -> None:
                self.draw(image, f"{name}: step {step}/{settings.steps}, score {value:.1f}", note=f"step {step}")
                if not stop.is_set():
                    self.set_status(f"running {settings.mode} for <b>{name}</b>: {step}/{settings.steps} steps")

            result = class_visualization(self.model, target, settings, seed=self.seed, snapshots=self.redraw_every,
                                         callback=draw, stop_event=stop, progress=False)
            self.result = result
            p = result.info["target_probability"]
            if result.stopped:
                self.set_status(f"stopped at step {result.steps}/{result.requested}; partial result kept "
                                f"(p({name}) = {p:.3f})")
            else:
                self.set_status(f"done: {result.steps} steps in {result.seconds:.1f} s, p({name}) = {p:.3f}")
            self.draw(result.image, f"{name}: p = {p:.3f}" + (" (stopped)" if result.stopped else ""),
                      note="final")

        return self.start(job)

    def draw(self, image: torch.Tensor, title: str, note: str = "") -> None:
        """Render an image with a title into the picture (thread-safe: no pyplot state)."""
        fig = Figure(figsize=(3.2, 3.4))
        show_image(image[:1], ax=fig.add_subplot(1, 1, 1), title=title)
        self.show_figure(fig, note=note)
