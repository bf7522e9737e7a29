"""What every explorer shares: a picture, a status line, figure rendering and background runs with Stop.

An explorer is a thin layer over functions in ``vizlab``: controls change arguments, a function computes,
a plotting function draws, and the figure is rendered to PNG into an ``ipywidgets.Image`` (no stacked
inline figures, and the browser sees a new image each time). Long runs go to a worker thread, because a
busy kernel ignores widget events, so a Stop button only works when the kernel's main thread is free.

CSS classes (for browser tests and styling): the picture has ``vizlab-image``, the status line
``vizlab-status``, the whole explorer ``vizlab-explorer``.
"""
from __future__ import annotations

import io
import threading
import time
from typing import Callable

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def figure_to_png(fig: Figure, dpi: int = 90) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it (so it is not drawn again inline)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


class Explorer:
    """Base class: ``self.image`` (the picture), ``self.status`` (one line of text), ``self.controls``.

    Subclasses build controls, call :meth:`show_figure` with a figure made by ``vizlab.plotting`` and may
    run long jobs with :meth:`start` / :meth:`stop`. ``explorer.widget`` is the ipywidgets box; displaying
    the explorer displays it. ``history`` records what was drawn (for tests and debugging).
    """

    def __init__(self) -> None:
        # align_self: a flex column would otherwise stretch the PNG to the full width (blurry, oversized)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", align_self="flex-start"))
        self.image.add_class("vizlab-image")
        self.status = W.HTML(value="")
        self.status.add_class("vizlab-status")
        self.controls: list[W.Widget] = []
        self.history: list[str] = []
        self._widget: W.Box | None = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- layout ----------------------------------------------------------------------------------------------
    def layout(self) -> W.Box:
        """Controls above, picture below; subclasses may override."""
        return W.VBox([W.HBox(self.controls, layout=W.Layout(flex_flow="row wrap")), self.status, self.image])

    @property
    def widget(self) -> W.Box:
        if self._widget is None:
            self._widget = self.layout()
            self._widget.add_class("vizlab-explorer")
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- drawing ---------------------------------------------------------------------------------------------
    def show_figure(self, fig: Figure, note: str = "") -> None:
        """Put a figure into the picture (thread-safe); ``note`` goes to :attr:`history`."""
        png = figure_to_png(fig)
        with self._lock:
            self.image.value = png
            self.history.append(note)

    def set_status(self, text: str) -> None:
        self.status.value = text

    # -- background work -------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def start(self, job: Callable[[threading.Event], None]) -> threading.Thread:
        """Run ``job(stop_event)`` in a daemon thread; a job should return soon after the event is set."""
        if self.running:
            raise RuntimeError("a run is already in progress; stop it first")
        self._stop.clear()

        def target() -> None:
            try:
                job(self._stop)
            except Exception as exc:  # shown to the student instead of vanishing in a thread
                self.set_status(f"<b>error:</b> {type(exc).__name__}: {exc}")
                raise

        self._worker = threading.Thread(target=target, daemon=True, name=type(self).__name__)
        self._worker.start()
        return self._worker

    def stop(self) -> None:
        """Ask the running job to stop (it keeps its partial result)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background job; ``True`` when it finished within ``timeout`` seconds."""
        if self._worker is None:
            return True
        self._worker.join(timeout)
        return not self._worker.is_alive()


class Timer:
    """``with Timer() as t: ...; t.seconds`` - for status lines such as "computed in 0.4 s"."""

    def __enter__(self) -> "Timer":
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start
