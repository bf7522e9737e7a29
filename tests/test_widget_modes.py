"""Run modes of the Explorer base: "thread" and "main" behave the same for partial results, status and Stop.

In-process tests drive the demo explorer in both modes; in "main" mode there is no front end, so a fake
event source stands in for the kernel's widget messages (it clicks Stop and moves the slider when the job
looks at its stop flag, which is where real events are processed). One test starts a real IPython kernel
and sends it the very comm messages a browser sends (click Run, move the slider, run a cell, click Stop).
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from pathlib import Path

import pytest

import vizlab.widgets as vw
from vizlab.widgets import base

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from demo_explorer import DemoExplorer  # noqa: E402


@pytest.fixture(autouse=True)
def default_mode(monkeypatch):
    for var in ("VIZLAB_WIDGET_MODE", "VSCODE_PID", "VSCODE_CWD"):
        monkeypatch.delenv(var, raising=False)
    yield
    base._mode_override = None


class FakeEvents:
    """Stands in for the kernel's widget messages in "main" mode.

    ``script`` maps a number to an action, done at the first look (a job checking its stop flag) when
    ``clock()`` has reached that number; ``clock`` counts the looks unless given (e.g. frames drawn).
    """

    def __init__(self, script: dict[int, callable], clock=None) -> None:
        self.script = dict(script)
        self.looks = 0
        self.clock = clock or (lambda: self.looks)
        self.threads: set[str] = set()

    def __call__(self, force: bool = False) -> None:
        self.looks += 1
        self.threads.add(threading.current_thread().name)
        for at in sorted(self.script):
            if self.clock() >= at:
                self.script.pop(at)()


def test_set_mode_validates_and_resolves(monkeypatch):
    assert vw.set_mode("main") == "main" and DemoExplorer().effective_mode == "main"
    assert vw.set_mode("thread") == "thread"
    assert vw.set_mode("auto") == "thread"  # no kernel here, so no front end to serve from the main thread
    with pytest.raises(ValueError, match="mode='fast' is unknown"):
        vw.set_mode("fast")
    with pytest.raises(TypeError, match="mode must be a string"):
        vw.set_mode(1)
    vw.set_mode(None)
    monkeypatch.setenv("VIZLAB_WIDGET_MODE", "main")
    assert base.resolve_mode() == "main"
    ex = DemoExplorer()
    ex.run_mode = "thread"  # one explorer may differ from the notebook's choice
    assert ex.effective_mode == "thread"
    monkeypatch.setenv("VIZLAB_WIDGET_MODE", "bogus")
    with pytest.raises(ValueError, match="VIZLAB_WIDGET_MODE='bogus'"):
        base.resolve_mode()


def test_auto_picks_main_in_vscode_and_colab_kernels(monkeypatch):
    class Shell:
        kernel = object()
        user_ns: dict = {}

    monkeypatch.setattr(base, "_ipython", lambda: Shell)
    assert base.resolve_mode("auto") == "thread"  # a JupyterLab kernel
    monkeypatch.setenv("VSCODE_CWD", "/home/student")  # VS Code over WSL/remote sets no VSCODE_PID
    assert base.detect_frontend() == "vscode" and base.resolve_mode("auto") == "main"
    monkeypatch.delenv("VSCODE_CWD")
    Shell.user_ns = {"__vsc_ipynb_file__": "/home/student/03.ipynb"}
    assert base.resolve_mode("auto") == "main"
    Shell.user_ns = {}
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "google.colab" else real(name, *a))
    assert base.detect_frontend() == "colab" and base.resolve_mode("auto") == "main"
    monkeypatch.setattr(base, "_ipython", lambda: None)  # the same variables in a plain script: thread
    assert base.resolve_mode("auto") == "thread"


def _run_then_stop(ex: DemoExplorer, mode: str, monkeypatch) -> FakeEvents | None:
    """Click Run; while it runs move the slider to 8; after a few frames click Stop. Same story in both modes."""
    if mode == "thread":
        ex.run_button.click()
        assert ex.running and isinstance(ex._worker, threading.Thread)
        deadline = time.monotonic() + 30
        while len(ex.history) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        ex.patch.value = 8
        while len(ex.history) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        ex.stop_button.click()
        assert ex.wait(30)
        return None
    # the same moments as above: slider after 3 frames, Stop after 6
    events = FakeEvents({3: lambda: setattr(ex.patch, "value", 8), 6: ex.stop_button.click},
                        clock=lambda: len(ex.history))
    monkeypatch.setattr(base._PUMP, "pump", events)
    monkeypatch.setattr(base._PUMP, "interval", 0.001)
    ex.run_button.click()  # returns only when the job has ended
    return events


@pytest.mark.parametrize("mode", ["thread", "main"])
def test_run_slider_stop_behave_the_same(mode, monkeypatch):
    vw.set_mode(mode)
    ex = DemoExplorer()
    first = ex.image.value
    events = _run_then_stop(ex, mode, monkeypatch)
    assert not ex.running
    assert ex.status.value.startswith("stopped after"), ex.status.value
    steps = int(ex.status.value.split()[2])
    frames = [h for h in ex.history if "shift=0" not in h]
    assert steps >= 1 and len(frames) == steps  # partial result: every step drew a frame, then it stopped
    assert "patch=8 shift=0" in ex.history  # the slider was heard during the run
    assert any(h.startswith("patch=8") and "shift=0" not in h for h in ex.history)  # and the run used it
    assert ex.image.value and ex.image.value != first  # the last frame stays
    if events is not None:
        assert events.threads == {threading.main_thread().name}  # events processed on the main thread
        assert ex._stop.pumping is False and base._PUMP.depth == 0
    n = len(ex.history)
    time.sleep(0.3)
    assert len(ex.history) == n  # nothing draws after Stop


@pytest.mark.parametrize("mode", ["thread", "main"])
def test_a_failing_job_reports_the_same_status(mode, monkeypatch):
    vw.set_mode(mode)
    ex = DemoExplorer()
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the thread's traceback: expected

    def job(stop):
        raise ValueError("bad patch")

    if mode == "main":
        with pytest.raises(ValueError, match="bad patch"):
            ex.start(job)
    else:
        ex.start(job)
        assert ex.wait(10)
    assert ex.status.value == "<b>error:</b> ValueError: bad patch"
    assert not ex.running


@pytest.mark.parametrize("mode", ["thread", "main"])
def test_the_status_line_is_marked_busy_exactly_while_a_job_runs(mode, monkeypatch):
    """``vizlab-busy`` (what the browser test waits on) is on the status line from start until the job has ended,
    also when it raises."""
    vw.set_mode(mode)
    ex = DemoExplorer()
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the failing job's traceback: expected
    busy = lambda: base.BUSY_CLASS in ex.status._dom_classes  # noqa: E731
    going, seen = threading.Event(), []

    def job(stop):
        seen.append(busy())
        going.wait(10)

    def bad(stop):
        raise ValueError("bad patch")

    assert not busy()
    if mode == "thread":
        ex.start(job)
        assert busy()  # marked before the thread starts
        going.set()
        assert ex.wait(10)
        ex.start(bad)
        assert ex.wait(10)
    else:
        going.set()
        ex.start(job)  # outside a cell: runs at once, on this thread
        with pytest.raises(ValueError, match="bad patch"):
            ex.start(bad)
    assert seen == [True] and not busy() and not ex.running


def test_main_mode_a_job_deferred_to_the_end_of_its_cell_is_busy_until_it_has_run(monkeypatch):
    vw.set_mode("main")
    ex = DemoExplorer()

    class Events:
        def register(self, name, fn):
            self.after_cell = fn

        def unregister(self, name, fn):
            self.after_cell = None

    class Kernel:
        def get_parent(self, channel):
            return {"header": {"msg_type": "execute_request"}}  # as while a cell runs

    shell = type("Shell", (), {"kernel": Kernel(), "events": Events()})()
    monkeypatch.setattr(base, "_ipython", lambda: shell)
    monkeypatch.setattr(base, "_kernel", lambda: None)  # no widget events to process
    ran = []
    ex.start(lambda stop: ran.append(base.BUSY_CLASS in ex.status._dom_classes))
    assert ran == [] and ex.running and base.BUSY_CLASS in ex.status._dom_classes  # waits for its cell
    shell.events.after_cell()
    assert ran == [True] and not ex.running and base.BUSY_CLASS not in ex.status._dom_classes


def test_main_mode_restart_from_an_event_replaces_the_run(monkeypatch):
    """A slider that stops and restarts the run (the occlusion explorer's pattern) works inside a main run."""
    vw.set_mode("main")
    ex = DemoExplorer()
    done: list[tuple[int, bool]] = []

    def sweep(stop):
        value = ex.patch.value
        for _ in range(200):
            if stop.is_set():
                break
        done.append((value, stop.is_set()))

    def restart(_change=None):
        if ex.running:
            ex.stop()
            assert ex.wait() is False  # the run is below us on this stack: no waiting for it here
        ex.start(sweep)

    events = FakeEvents({3: lambda: setattr(ex.patch, "value", 10)})
    ex.patch.observe(restart, names="value")
    monkeypatch.setattr(base._PUMP, "pump", events)
    ex.start(sweep)
    assert done == [(4, True), (10, False)]  # the first run stopped early, the second ran to its end
    assert not ex.running


def test_main_mode_outside_a_cell_runs_at_once_and_wait_is_true(monkeypatch):
    vw.set_mode("main")
    ex = DemoExplorer()
    ran = []
    assert ex.start(lambda stop: ran.append(threading.current_thread().name)) is None
    assert ran == [threading.main_thread().name] and ex.wait(0)


def test_stop_flag_is_a_plain_event_off_the_main_thread():
    flag = base.StopFlag()
    flag.pumping = True
    seen = []

    def worker():
        seen.append((flag.is_set(), flag.wait(0.01)))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [(False, False)] and base._PUMP.depth == 0


# -- a real kernel ---------------------------------------------------------------------------------------------
def _kernel_messages(kc, pred, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            continue
        if msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        if pred(msg):
            return msg
    raise AssertionError(f"no matching kernel message within {timeout_s} s")


def _printed(text: str):
    return lambda m: m["msg_type"] == "stream" and text in m["content"]["text"]


@pytest.mark.parametrize("mode", ["main", "thread"])
def test_real_kernel_hears_stop_and_slider_during_a_run(mode):
    """What a browser does, as comm messages to a real ipykernel: Run, slider, a cell run, Stop."""
    pytest.importorskip("ipykernel")
    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests" / "fixtures")]),
               MPLBACKEND="Agg")
    km, kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=120)
    try:
        kc.execute(f"from demo_explorer import DemoExplorer\nimport vizlab.widgets as vw\n"
                   f"vw.set_mode({mode!r})\nex = DemoExplorer()\n"
                   f"print('IDS', ex.run_button.model_id, ex.stop_button.model_id, ex.patch.model_id)")
        ids = _kernel_messages(kc, _printed("IDS"), 120)["content"]["text"].split("IDS")[1].split()
        run_id, stop_id, patch_id = ids
        if mode == "main":  # a job started while a cell runs waits for the cell's end (the explorer shows first)
            kc.execute("ex.start(lambda stop: print('JOB', flush=True))\nprint('CELL', flush=True)")
            first = _kernel_messages(kc, lambda m: m["msg_type"] == "stream" and m["content"]["text"].strip()
                                     in ("JOB", "CELL", "JOB\nCELL", "CELL\nJOB"), 60)["content"]["text"]
            assert first.split()[0] == "CELL", first
            kc.execute("print('WAITED', ex.wait(30), ex.running)")
            assert "WAITED True False" in _kernel_messages(kc, _printed("WAITED"), 60)["content"]["text"]

        def send(comm_id, data):
            kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))

        send(run_id, {"method": "custom", "content": {"event": "click"}})
        time.sleep(2.0)
        send(patch_id, {"method": "update", "state": {"value": 8}, "buffer_paths": []})
        time.sleep(1.5)
        kc.execute("print('CELL', ex.running, repr(ex.status.value))")  # sent while the job runs
        time.sleep(1.0)
        send(stop_id, {"method": "custom", "content": {"event": "click"}})
        text = _kernel_messages(kc, _printed("CELL"), 60)["content"]["text"]
        if mode == "main":  # the cell waited for the run to end (the kernel's main thread was the job's)
            assert "CELL False 'stopped after" in text, text
        else:  # the main thread was free: the cell ran at once, during the run
            assert "CELL True" in text, text
        kc.execute("ex.wait(30)\nprint('HIST', ex.status.value, '|', ex.history)")
        text = _kernel_messages(kc, _printed("HIST"), 60)["content"]["text"]
        assert "stopped after" in text, text
        history = text.split("|", 1)[1]
        assert "patch=8 shift=0" in history and "'patch=4 shift=1'" in history, text  # slider heard mid-run
        assert any(f"'patch=8 shift={k}'" in history for k in range(2, 30)), text  # and the run went on
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_main_mode_falls_back_to_thread_where_events_cannot_be_processed(monkeypatch):
    """A kernel whose internals differ (no do_one_iteration, no shell socket): a warning and a worker thread."""
    vw.set_mode("main")
    monkeypatch.setattr(base, "_kernel", lambda: object())
    monkeypatch.setattr(base, "_warned_fallback", False)
    ex = DemoExplorer()
    with pytest.warns(RuntimeWarning, match="use 'thread' mode here"):
        worker = ex.start(lambda stop: stop.wait(5))
    assert isinstance(worker, threading.Thread) and ex.running
    ex.stop()
    assert ex.wait(10) and not ex.running


def test_figure_to_png_crops_like_a_tight_savefig_and_closes_the_figure():
    import io

    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from vizlab.widgets.base import figure_to_png

    def figure():
        fig, axes = plt.subplots(1, 2, figsize=(8, 4))  # square panels in a wide figure: white margins
        axes[0].imshow(np.random.default_rng(0).random((20, 20)))
        axes[1].set_title("a title")
        fig.colorbar(axes[0].images[0], ax=axes[1])
        return fig

    tight = io.BytesIO()
    reference = figure()
    reference.savefig(tight, format="png", dpi=90, bbox_inches="tight")
    plt.close(reference)
    fig = figure()
    png = figure_to_png(fig)
    assert not plt.fignum_exists(fig.number)
    ours, theirs = Image.open(io.BytesIO(png)), Image.open(tight)
    assert abs(ours.size[0] - theirs.size[0]) <= 3 and abs(ours.size[1] - theirs.size[1]) <= 3
    assert ours.size[0] < 8 * 90 - 20  # the margins are gone
    # the same picture: compare on the common size
    w, h = min(ours.size[0], theirs.size[0]), min(ours.size[1], theirs.size[1])
    a = np.asarray(ours.convert("RGB"))[:h, :w].astype(float)
    b = np.asarray(theirs.convert("RGB"))[:h, :w].astype(float)
    assert np.abs(a - b).mean() < 12
    empty = plt.figure(figsize=(2, 2))
    assert Image.open(io.BytesIO(figure_to_png(empty))).size[0] > 0  # nothing drawn: still a picture


def test_an_explorer_takes_what_is_alive_out_of_full_collections_and_new_cycles_are_still_collected():
    """Full garbage collections fell inside slider responses (0.4 s, scanning the model and the libraries);
    every explorer freezes what is alive when it opens (``freeze_long_lived_objects``)."""
    import gc
    import weakref

    class Node:
        pass

    alive = [Node()]  # stands for the model and the libraries, made before the explorer
    assert any(o is alive for o in gc.get_objects())
    DemoExplorer()
    assert gc.get_freeze_count() > 0
    assert not any(o is alive for o in gc.get_objects()), "objects alive at opening should be frozen"
    a, b = Node(), Node()  # a reference cycle made afterwards is still garbage the collector frees
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    gc.collect()
    assert ref() is None
    assert base.freeze_long_lived_objects() > 0  # returns the frozen count (it may shrink as frozen objects are freed)
    c, d = Node(), Node()  # a cycle that was frozen while alive and died later is freed by the next explorer
    c.other, d.other = d, c
    frozen_ref = weakref.ref(c)
    base.freeze_long_lived_objects()
    del c, d
    gc.collect()
    assert frozen_ref() is not None  # frozen: the collector does not see it ...
    DemoExplorer()
    assert frozen_ref() is None      # ... until an explorer opens
