"""What every explorer shares: a picture, a status line, figure rendering and long runs with Stop.

An explorer is a thin layer over functions in ``vizlab``: controls change arguments, a function computes,
a plotting function draws, and the figure is rendered to PNG into an ``ipywidgets.Image`` (no stacked
inline figures, and the browser sees a new image each time).

A busy kernel ignores widget events, so a Stop button needs one of two **run modes** (one switch here, no
explorer needs to know which is used):

* ``"thread"``: the job runs in a worker thread; the kernel's main thread stays free for widget events.
  Right for JupyterLab and Notebook.
* ``"main"``: the job runs on the kernel's main thread and processes pending widget events (Stop, sliders)
  each time it checks its stop flag, i.e. between steps. Right where widget updates sent from a background
  thread are not shown (Colab: googlecolab/colabtools#3373) or are fragile (VS Code: ipywidgets#4020).
* ``"auto"`` (the default) picks ``"main"`` in a kernel inside Colab or VS Code, ``"thread"`` elsewhere.

:func:`set_mode` chooses for a whole notebook, ``Explorer.run_mode`` for one explorer; the environment variable
``VIZLAB_WIDGET_MODE`` sets the default. In both modes a job receives a stop flag (``stop.is_set()``,
``stop.wait(s)``), keeps its partial result when stopped, and writes the same status lines.

CSS classes (for browser tests and styling): the picture has ``vizlab-image``, the status line
``vizlab-status``, the whole explorer ``vizlab-explorer``; while a job is started or running (:attr:`Explorer.running`)
the status line also has ``vizlab-busy`` (a page can tell "still computing" from "done" without guessing from quiet
time).
"""
from __future__ import annotations

import gc
import io
import logging
import os
import threading
import time
from typing import Any, Callable

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MODES = ("auto", "thread", "main")
BUSY_CLASS = "vizlab-busy"  # on the status line while a job is started or running
_log = logging.getLogger(__name__)
_mode_override: str | None = None


def figure_to_png(fig: Figure, dpi: int = 90) -> bytes:
    """Render a matplotlib figure to PNG bytes, cropped to what it draws (as ``bbox_inches="tight"``), and close it.

    ``savefig(bbox_inches="tight")`` draws the figure twice (once to measure, once to save); here it is drawn
    once and the pixels are cropped to the measured box: 81-91 ms instead of 108-125 ms of CPU for the occlusion
    explorer's three panels (benchmarks/README.md), the same picture. zlib level 1: a third
    less CPU than the default level 6 for ~15 % more bytes, which stay on this machine.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    try:
        fig.set_dpi(dpi)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())
        height, width = pixels.shape[:2]
        pad = float(matplotlib.rcParams["savefig.pad_inches"]) * dpi
        box = fig.get_tightbbox(canvas.get_renderer())  # inches, origin at the bottom left
        x0, x1 = max(int(np.floor(box.x0 * dpi - pad)), 0), min(int(np.ceil(box.x1 * dpi + pad)), width)
        y0, y1 = max(int(np.floor(height - box.y1 * dpi - pad)), 0), min(int(np.ceil(height - box.y0 * dpi + pad)), height)
        if x1 <= x0 or y1 <= y0:  # nothing drawn: keep the whole canvas
            x0, x1, y0, y1 = 0, width, 0, height
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(pixels[y0:y1, x0:x1])).save(buf, format="png", compress_level=1)
        return buf.getvalue()
    finally:
        plt.close(fig)


# -- run modes -----------------------------------------------------------------------------------------------
def _check_mode(mode: object, name: str = "mode") -> str:
    if not isinstance(mode, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(map(repr, MODES))}; got {type(mode).__name__}")
    if mode not in MODES:
        raise ValueError(f"{name}={mode!r} is unknown; use one of {', '.join(map(repr, MODES))}")
    return mode


def set_mode(mode: str | None = "auto") -> str:
    """Choose how every explorer of this kernel runs long jobs; returns the mode now in effect.

    Args:
        mode: ``"thread"`` (worker thread), ``"main"`` (kernel's main thread, processing widget events
            between steps), ``"auto"`` (``"main"`` in Colab and VS Code, else ``"thread"``), or ``None`` to
            go back to the default (``VIZLAB_WIDGET_MODE``, else ``"auto"``).

    Example:
        >>> import vizlab.widgets
        >>> vizlab.widgets.set_mode("main")
        'main'
    """
    global _mode_override
    _mode_override = None if mode is None else _check_mode(mode)
    return resolve_mode()


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    return get_ipython()


def _kernel():
    """The running IPython kernel, or ``None`` outside one (plain Python, pytest, a terminal IPython)."""
    return getattr(_ipython(), "kernel", None)


def detect_frontend() -> str | None:
    """``"colab"`` or ``"vscode"`` when the kernel runs under one of them, else ``None``.

    Colab: ``google.colab`` is importable. VS Code: its Jupyter extension starts kernels with the editor's
    environment (``VSCODE_PID`` locally, ``VSCODE_CWD`` also in WSL / remote / containers, where the PID is
    missing) and defines ``__vsc_ipynb_file__`` in the notebook's namespace.
    """
    import importlib.util

    try:
        if importlib.util.find_spec("google.colab") is not None:
            return "colab"
    except (ImportError, ValueError):  # "google" installed without "colab"
        pass
    if os.environ.get("VSCODE_PID") or os.environ.get("VSCODE_CWD"):
        return "vscode"
    shell = _ipython()
    if shell is not None and "__vsc_ipynb_file__" in getattr(shell, "user_ns", {}):
        return "vscode"
    return None


def resolve_mode(mode: str | None = None) -> str:
    """The mode (``"thread"`` or ``"main"``) a job would run in now.

    Precedence: ``mode`` (an explorer's own ``run_mode``), then :func:`set_mode`, then the environment
    variable ``VIZLAB_WIDGET_MODE``, then ``"auto"``. Outside a kernel ``"auto"`` is always ``"thread"``
    (a script or a test has no front end whose events need processing).
    """
    for source, value in (("run_mode", mode), ("set_mode", _mode_override),
                          ("VIZLAB_WIDGET_MODE", os.environ.get("VIZLAB_WIDGET_MODE") or None)):
        if value is not None:
            chosen = _check_mode(value, source)
            break
    else:
        chosen = "auto"
    if chosen == "auto":
        chosen = "main" if _kernel() is not None and detect_frontend() is not None else "thread"
    return chosen


def _drive(coro) -> None:
    """Run a coroutine that never really suspends (a comm message handler) to its end, synchronously.

    The kernel's event loop is blocked by the job that called us, so nothing could resume a coroutine that
    waits for a future; such a message is dropped with a warning instead of hanging the kernel.
    """
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    _log.warning("vizlab: a widget message needed the kernel's event loop and was dropped")


class _EventPump:
    """Processes the widget messages that wait for the kernel's main thread: the heart of "main" mode.

    ipykernel 5 and 6 (Colab ships 5.5.6): ``jupyter_ui_poll`` does it (it calls ``kernel.do_one_iteration``
    and holds back cell executions until the cell ends). ipykernel 7.4 has no ``do_one_iteration`` (there
    ``jupyter_ui_poll`` 1.1.0 processes nothing, measured): shell messages for the main thread wait in one ZMQ
    socket, so comm messages (clicks, slider moves) are read and
    dispatched from there, and any other request (a cell run meanwhile) is handed back to the kernel's event
    loop, in order, when the outermost run ends. Re-entrant: a run started from an event processed here
    uses the same pump.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.interval = 0.02  # seconds between two looks; a look costs microseconds, the throttle is for safety
        self._last = 0.0
        self._kernel = None
        self._ui_poll = None
        self._ui_context = None
        self._socket = None
        self._held: list = []

    def __enter__(self) -> "_EventPump":
        if self.depth == 0:
            self._open()
        self.depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self.depth -= 1
        if self.depth == 0:
            self._close()

    @staticmethod
    def _main_socket(kernel):
        """The ZMQ socket the main thread's shell messages arrive on (ipykernel 7), or ``None``."""
        if not all(hasattr(kernel, name) for name in ("dispatch_shell", "shell_main", "_shell_parent_ident",
                                                      "_get_shell_context_var", "session")):
            return None
        manager = getattr(getattr(kernel, "shell_channel_thread", None), "manager", None)
        if getattr(kernel, "_supports_kernel_subshells", False) and manager is not None:
            pair = getattr(manager, "_shell_channel_to_main", None)
            return getattr(pair, "to_socket", None)
        return getattr(getattr(kernel, "shell_stream", None), "socket", None)

    def can_pump(self) -> bool:
        """Whether widget events can be processed here: outside a kernel there are none to process."""
        kernel = _kernel()
        return kernel is None or hasattr(kernel, "do_one_iteration") or self._main_socket(kernel) is not None

    def _open(self) -> None:
        self._kernel = kernel = _kernel()
        self._last = 0.0
        if kernel is None:
            return
        if hasattr(kernel, "do_one_iteration"):
            from jupyter_ui_poll import ui_events

            self._ui_context = ui_events()
            self._ui_poll = self._ui_context.__enter__()
            return
        self._socket = self._main_socket(kernel)

    def _close(self) -> None:
        kernel, context, held = self._kernel, self._ui_context, self._held
        self._kernel = self._ui_poll = self._ui_context = self._socket = None
        self._held = []
        if context is not None:
            context.__exit__(None, None, None)
            # jupyter_ui_poll replays held cell runs after the *cell* ends; a run started by a click has no
            # cell, and the replay would never come: replay now (what its post_run_cell handler does).
            if getattr(type(context), "_current", None) is context:
                context._post_run_cell()
        if held:
            import asyncio

            try:  # the kernel's loop: our caller runs inside one of its callbacks
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = kernel.io_loop.asyncio_loop
            for msg in held:
                asyncio.ensure_future(kernel.shell_main(None, msg), loop=loop)

    def pump(self, force: bool = False) -> None:
        """Process the widget messages that arrived since the last call (at most every ``interval`` s)."""
        now = time.monotonic()
        if self.depth == 0 or (not force and now - self._last < self.interval):
            return
        self._last = now
        try:
            if self._ui_poll is not None:
                self._ui_poll(50)
            elif self._socket is not None:
                self._pump_zmq()
        except Exception:  # an ipykernel whose internals differ: the job goes on, without live widgets
            _log.warning("vizlab: cannot process widget events in this kernel; use set_mode('thread')",
                         exc_info=True)
            self._ui_poll = self._socket = None

    def _pump_zmq(self) -> None:
        import zmq

        kernel, socket = self._kernel, self._socket
        # Dispatching a message makes it the "parent" of what is printed next: put the run's parent back.
        ident = kernel._get_shell_context_var(kernel._shell_parent_ident)
        parent = kernel.get_parent("shell")
        try:
            for _ in range(50):
                if not socket.poll(0, zmq.POLLIN):
                    break
                msg = socket.recv_multipart(copy=False)
                _, frames = kernel.session.feed_identities(msg, copy=False)
                header = kernel.session.deserialize(frames, content=False, copy=False)["header"]
                if header.get("msg_type") in ("comm_open", "comm_msg", "comm_close"):
                    try:
                        coro = kernel.dispatch_shell(msg, subshell_id=None, concurrent=True)
                    except TypeError:  # ipykernel 7.0/7.1: no "concurrent"
                        coro = kernel.dispatch_shell(msg)
                    _drive(coro)
                else:
                    self._held.append(msg)
        finally:
            kernel.set_parent(ident, parent, channel="shell")


_PUMP = _EventPump()
_warned_fallback = False


def _warn_fallback() -> None:
    global _warned_fallback
    _warned_fallback = True
    import warnings

    warnings.warn("vizlab: this kernel's widget events cannot be processed from a running job, so explorers use "
                  "'thread' mode here", RuntimeWarning, stacklevel=3)


class StopFlag(threading.Event):
    """The stop flag a job receives: a ``threading.Event`` that, in a "main"-mode run, processes pending
    widget events whenever the job looks at it (``is_set()``) or waits on it (``wait()``).

    Jobs already look at their flag between steps, so they stay responsive in both modes unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pumping = False

    def _pumps(self) -> bool:
        return self.pumping and threading.current_thread() is threading.main_thread()

    def is_set(self) -> bool:
        if self._pumps():
            _PUMP.pump()
        return super().is_set()

    def wait(self, timeout: float | None = None) -> bool:
        if not self._pumps():
            return super().wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            _PUMP.pump(force=True)
            if super().is_set():
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            time.sleep(_PUMP.interval if left is None else min(_PUMP.interval, left))


def freeze_long_lived_objects() -> int:
    """Collect all garbage, then take every object alive now out of the cyclic collector's scans (``gc.freeze``).

    Why: a full ("generation 2") collection scans every tracked object. With a model, torch, timm and
    matplotlib loaded that is ~460 000 objects and 0.3 s of one core, and every few slider moves it fell
    inside a slider response (measured: one occlusion picture in five came 0.4 s late). Frozen objects are
    skipped, so a full collection of what the widgets create meanwhile costs ~0.1 s. Reference counting still
    frees frozen objects, but a reference cycle that runs through one is not collected while it stays frozen;
    so each call first unfreezes everything and collects (the cycles that died since the last call are
    freed), and only then freezes again. Every :class:`Explorer` calls this when it opens, where a pause of
    ~0.3 s is not inside a slider response.

    Returns:
        how many objects are frozen now (``gc.get_freeze_count()``).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


_PLACEHOLDER: bytes | None = None


def placeholder_png() -> bytes:
    """A small gray PNG that says the picture comes with the first run: what an explorer shows before it has
    drawn anything (an empty ``ipywidgets.Image`` shows the browser's broken-image icon)."""
    global _PLACEHOLDER
    if _PLACEHOLDER is None:
        from PIL import Image, ImageDraw

        img = Image.new("RGB", (240, 96), (236, 236, 236))
        ImageDraw.Draw(img).text((16, 40), "the picture appears here after Run", fill=(90, 90, 90))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        _PLACEHOLDER = buf.getvalue()
    return _PLACEHOLDER


class Explorer:
    """Base class: ``self.image`` (the picture), ``self.status`` (one line of text), ``self.controls``.

    Subclasses build controls, call :meth:`show_figure` with a figure made by ``vizlab.plotting`` and may
    run long jobs with :meth:`start` / :meth:`stop`. ``explorer.widget`` is the ipywidgets box; displaying
    the explorer displays it. ``history`` records what was drawn (for tests and debugging).

    ``run_mode`` (``None``: follow :func:`set_mode`) chooses where jobs run; see the module docstring.
    """

    def __init__(self) -> None:
        freeze_long_lived_objects()  # keeps full garbage collections out of slider responses
        # align_self: a flex column would otherwise stretch the PNG to the full width (blurry, oversized)
        self.image = W.Image(value=placeholder_png(), format="png",
                             layout=W.Layout(max_width="100%", align_self="flex-start"))
        self.image.add_class("vizlab-image")
        self.status = W.HTML(value="")
        self.status.add_class("vizlab-status")
        self.controls: list[W.Widget] = []
        self.history: list[str] = []
        self.run_mode: str | None = None
        self._widget: W.Box | None = None
        self._worker: threading.Thread | None = None
        self._stop = StopFlag()
        self._lock = threading.Lock()
        self._main_depth = 0  # > 0 while a "main"-mode job of this explorer is on the stack
        self._pending: Callable[[threading.Event], None] | None = None  # started during that job
        self._deferred: Callable[[threading.Event], None] | None = None  # waits for the cell to end

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

    def _mark_busy(self, busy: bool) -> None:
        """Put :data:`BUSY_CLASS` on the status line (or take it off): sent to the page after whatever the job
        drew before, in the same order."""
        if busy:
            self.status.add_class(BUSY_CLASS)
        else:
            self.status.remove_class(BUSY_CLASS)

    # -- long jobs -------------------------------------------------------------------------------------------
    @property
    def effective_mode(self) -> str:
        """Where the next job runs: ``"thread"`` or ``"main"`` (resolved from ``run_mode`` / :func:`set_mode`)."""
        return resolve_mode(self.run_mode)

    @property
    def running(self) -> bool:
        """A job is running, or started and waiting to run ("main" mode)."""
        if self._main_depth > 0 or self._pending is not None or self._deferred is not None:
            return True
        return self._worker is not None and self._worker.is_alive()

    @property
    def stop_requested(self) -> bool:
        return threading.Event.is_set(self._stop)  # a plain look: no event processing here

    def start(self, job: Callable[[threading.Event], None]) -> threading.Thread | None:
        """Run ``job(stop)``; a job looks at ``stop.is_set()`` between steps and returns soon once it is set.

        "thread" mode: starts a daemon thread and returns it. "main" mode: runs the job on this thread and
        returns ``None``; started while a cell runs (e.g. from a constructor) it runs right after that cell,
        so the explorer is on screen first (:meth:`wait` runs it at once); started from a widget event that
        arrived during this explorer's own run, it runs when that run returns (stop that run first to
        replace it, as in "thread" mode).
        """
        if not callable(job):
            raise TypeError(f"job must be callable, got {type(job).__name__}")
        if self.effective_mode == "main":
            if _PUMP.can_pump():
                return self._start_main(job)
            if not _warned_fallback:
                _warn_fallback()
        if self.running:
            raise RuntimeError("a run is already in progress; stop it first")
        self._stop.clear()

        def target() -> None:
            try:
                job(self._stop)
            except Exception as exc:  # shown to the student instead of vanishing in a thread
                self.set_status(f"<b>error:</b> {type(exc).__name__}: {exc}")
                raise
            finally:
                self._mark_busy(False)

        self._worker = threading.Thread(target=target, daemon=True, name=type(self).__name__)
        self._mark_busy(True)
        self._worker.start()
        return self._worker

    def _start_main(self, job: Callable[[threading.Event], None]) -> None:
        if self._main_depth > 0:
            self._pending = job  # the latest request wins, as the latest slider value should
            return None
        if self._worker is not None and self._worker.is_alive():
            raise RuntimeError("a run is already in progress; stop it first")
        shell = _ipython()
        kernel = getattr(shell, "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None and hasattr(kernel, "get_parent") else {}
        in_cell = (parent or {}).get("header", {}).get("msg_type") == "execute_request"
        # ipykernel 5 (Colab's 5.5.6) has no get_parent: there a job started by a cell runs inside the cell,
        # so the explorer appears when its first job has ended (measured; Stop and sliders work all the same).
        if in_cell and _PUMP.depth == 0 and hasattr(shell, "events"):
            if self._deferred is None:
                shell.events.register("post_run_cell", self._after_cell)
            self._deferred = job
            self._mark_busy(True)
            return None
        self._run_main(job)
        return None

    def _after_cell(self, result: Any = None) -> None:
        """IPython's ``post_run_cell`` hook: run the job deferred by :meth:`start`."""
        import sys

        for stream in (sys.stdout, sys.stderr):  # what the cell printed shows before the run
            try:
                stream.flush()
            except Exception:
                pass
        self._run_deferred()

    def _run_deferred(self) -> None:
        shell, job = _ipython(), self._deferred
        if shell is not None and hasattr(shell, "events"):
            try:
                shell.events.unregister("post_run_cell", self._after_cell)
            except ValueError:
                pass
        self._deferred = None
        if job is not None:
            self._run_main(job)

    def _run_main(self, job: Callable[[threading.Event], None] | None) -> None:
        self._main_depth += 1
        self._mark_busy(True)
        try:
            with _PUMP:
                self._stop.pumping = True
                while job is not None:
                    self._stop.clear()
                    try:
                        job(self._stop)
                    except Exception as exc:  # same status line as in "thread" mode
                        self.set_status(f"<b>error:</b> {type(exc).__name__}: {exc}")
                        raise
                    finally:
                        _PUMP.pump(force=True)  # events that came during the last step
                    job, self._pending = self._pending, None
        finally:
            self._main_depth -= 1
            self._pending = None
            if self._main_depth == 0:
                self._stop.pumping = False
                if self._deferred is None:  # a job deferred meanwhile still runs after its cell
                    self._mark_busy(False)

    def stop(self) -> None:
        """Ask the running job to stop (it keeps its partial result)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job; ``True`` when it finished within ``timeout`` seconds.

        In "main" mode a job deferred to the end of the cell runs now; called from a widget event during
        this explorer's own run (the job is further down this very stack) it returns ``False`` at once.
        """
        if self._main_depth > 0:
            return False
        if self._deferred is not None:
            self._run_deferred()
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
