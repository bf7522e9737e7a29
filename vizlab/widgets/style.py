"""Style explorer: weights and a style picker over :func:`vizlab.style.style_transfer`, previewed live.

The optimisation runs in a worker thread (:meth:`Explorer.start`), so the kernel stays free for widget
events: the picture updates every few steps and Stop ends the run with its partial result. Changing a
slider (on release) or the style restarts the run.

Example:
    >>> explorer = StyleExplorer("cat")           # doctest: +SKIP
    >>> explorer                                  # doctest: +SKIP
"""
from __future__ import annotations

import threading
from typing import Sequence

import ipywidgets as W
import torch

from ..images import to_image
from ..style.artwork import style_image, style_names
from ..style.gatys import StyleResult, style_transfer
from ..style.lossnet import LossNetwork, loss_network
from .base import Explorer


class StyleExplorer(Explorer):
    """Gatys style transfer with sliders for content, style and TV weight, a style picker and Stop.

    Args:
        content: the content image (sample name, path, URL, array).
        styles: names offered in the picker (default: the artworks and the texture photos).
        loss_net: default: the embedded EfficientNet-Lite0 with its recipe.
        size: side of the image optimised (keep it small on a CPU).
        steps: optimisation steps per run.
        preview_every: redraw the picture every this many steps.
        autostart: start a run right away (and after every change).
    """

    def __init__(self, content="cat", styles: Sequence[str] | None = None, *, loss_net: LossNetwork | None = None,
                 size: int = 128, steps: int = 60, preview_every: int = 10, optimizer: str = "adam",
                 autostart: bool = True):
        super().__init__()
        self.content = content
        self.loss_net = loss_network() if loss_net is None else loss_net
        self.size, self.preview_every, self.optimizer = size, preview_every, optimizer
        recipe = self.loss_net.recipe
        names = list(styles) if styles is not None else style_names()
        if not names:
            raise ValueError("styles must name at least one style image")
        self.style = W.Dropdown(options=names, value=names[0], description="style")
        slider = dict(continuous_update=False, readout_format=".3g", base=10)
        self.content_weight = W.FloatLogSlider(value=recipe.content_weight if recipe else 1.0, min=-2, max=2,
                                               description="content w", **slider)
        self.style_weight = W.FloatLogSlider(value=recipe.style_weight if recipe else 100.0, min=-1, max=4,
                                             description="style w", **slider)
        self.tv_weight = W.FloatLogSlider(value=recipe.tv_weight if recipe else 1e-3, min=-5, max=1,
                                          description="TV w", **slider)
        self.steps = W.IntSlider(value=steps, min=1, max=500, description="steps", continuous_update=False)
        self.run_button = W.Button(description="Run", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop", button_style="warning")
        self.controls = [self.style, self.content_weight, self.style_weight, self.tv_weight, self.steps,
                         self.run_button, self.stop_button]
        self.result: StyleResult | None = None
        self.autostart = autostart
        for w in (self.style, self.content_weight, self.style_weight, self.tv_weight, self.steps):
            w.observe(self._changed, names="value")
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        if autostart:
            self.run()

    def _changed(self, change) -> None:
        if self.autostart:
            self.run()

    def _draw(self, image: torch.Tensor, note: str, style: str | None = None, images=None) -> None:
        from matplotlib.figure import Figure

        style = self.style.value if style is None else style
        content_img, style_img = images if images is not None else (style_image(self.content, self.size),
                                                                     style_image(style, self.size))
        fig = Figure(figsize=(7.5, 2.8))
        axes = fig.subplots(1, 3)
        panels = [(content_img, "content"), (style_img, f"style: {style}"), (to_image(image), note)]
        for ax, (img, title) in zip(axes, panels):
            ax.imshow(img)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        self.show_figure(fig, note)

    def run(self) -> threading.Thread:
        """(Re)start the optimisation with the current settings in a background thread."""
        if self.running:
            self.stop()
            self.wait()  # a stopped run returns within one step
        settings = dict(style=self.style.value, content_weight=self.content_weight.value,
                        style_weight=self.style_weight.value, tv_weight=self.tv_weight.value, steps=self.steps.value)
        self.set_status(f"running {settings['steps']} steps with style {settings['style']!r} ...")

        def job(stop: threading.Event) -> None:
            # Load the two pictures once per run (a URL is not fetched again for every preview), and keep
            # this run's style even if the picker changes while it runs.
            panels = (style_image(self.content, self.size), style_image(settings["style"], self.size))

            def preview(step: int, losses: dict, image: torch.Tensor) -> None:
                if step % self.preview_every == 0 and step < settings["steps"]:
                    self._draw(image, f"step {step}", settings["style"], panels)
                    self.set_status(f"step {step}/{settings['steps']}: style {losses['style']:.3g}, "
                                    f"content {losses['content']:.3g}")

            result = style_transfer(self.content, settings["style"], loss_net=self.loss_net, size=self.size,
                                    steps=settings["steps"], optimizer=self.optimizer,
                                    content_weight=settings["content_weight"], style_weight=settings["style_weight"],
                                    tv_weight=settings["tv_weight"], callback=preview, stop_event=stop,
                                    progress=False)
            self.result = result
            word = "stopped" if result.stopped else "done"
            self._draw(result.image, f"{word} after {result.steps} steps", settings["style"], panels)
            last = result.history[-1] if result.history else {}
            self.set_status(f"{word} after {result.steps} steps in {result.seconds:.1f} s"
                            + (f": style {last['style']:.3g}, content {last['content']:.3g}" if last else ""))

        return self.start(job)
