"""Issue 24 item 3's time budget (round 20): the cheaper paths of the default class image compute the same image.

The render loop builds the image after a step only for projections that act then; an ensemble's concurrent pass
checks its members' hooks without walking every module; the plain-ground second run may be begun while the first
runs (:class:`~vizlab.optimize.classviz._PlainAhead`). Each must give the image of the path it replaces to the bit.
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace

import pytest
import torch
from torch import nn

from vizlab.optimize import Ensemble, class_logit, render
from vizlab.optimize import classviz as cv
from vizlab.optimize.classviz import build, class_visualization, preset
from vizlab.optimize.regularizers import Blur, ChromaBlur, LumaBlur, Regularizer

from conftest import one_thread_and_concurrent


class _Always(Regularizer):
    """``inner`` as the render loop saw every projection before round 20: it acts at every step (the image is built
    for it after each step; ``inner.project`` still decides)."""

    def __init__(self, inner):
        self.inner = inner

    def penalty(self, x):
        return self.inner.penalty(x)

    def project(self, x, step):
        return self.inner.project(x, step)


def _counting(param):
    """``param`` whose ``image()`` counts its calls (``param.built``)."""
    inner = param.image
    param.built = 0

    def image():
        param.built += 1
        return inner()

    param.image = image
    return param


@pytest.mark.parametrize("blur", [Blur(0.0, 10), Blur(1.0, 3), Blur(1.0, 2, end_sigma=0.0, steps=7),
                                  LumaBlur(0.8, 3), ChromaBlur(2.0, 4), ChromaBlur(0.0, 1)])
def test_a_projection_that_does_not_act_builds_no_image_and_the_render_is_the_same(blur):
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    settings = preset("object", size=32, canvas=16, view=16, steps=7, ensemble=())
    runs = []
    for wrap in (lambda r: r, _Always):
        param, transforms, regs, optimizer = build(net, settings, seed=3)
        _counting(param)
        r = render(net, class_logit(1), param, steps=settings.steps, lr=settings.lr, optimizer=optimizer,
                   transforms=transforms, regularizers=[wrap(blur)], seed=3, progress=False)
        runs.append((r, param.built))
    (new, built), (old, built_old) = runs
    assert torch.equal(new.image, old.image) and new.values == old.values   # exact: the same render
    acting = sum(blur.acts_at(step) for step in range(settings.steps))
    assert built_old - built == settings.steps - acting   # exact: one image fewer per step where it does not act
    # where it acts, the projection changes the image (acts_at is no weaker than project)
    x = torch.rand(1, 3, 16, 16)
    for step in range(settings.steps):
        out = blur.project(x, step)
        assert (out is not None) == blur.acts_at(step)   # exact


def test_a_local_regularizer_acts_at_its_own_steps():
    inner = Blur(1.0, 3)
    local = cv._Local(inner, 5)
    assert [s for s in range(5, 15) if local.acts_at(s)] == [5, 8, 11, 14]   # exact: steps 0, 3, 6, 9 of its own
    assert Regularizer().acts_at(4)   # exact: a projection that does not say acts at every step


def _tiny_member(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()


def test_hooks_registered_inside_a_concurrent_context_send_the_pass_to_the_calling_thread():
    ens = Ensemble([_tiny_member(0), _tiny_member(1)])
    x = torch.rand(1, 3, 8, 8)
    seen = []
    for register in (lambda m: m.register_forward_pre_hook(lambda mod, args: seen.append(threading.get_ident())),
                     lambda m: m.register_full_backward_hook(lambda mod, gi, go: None),
                     lambda m: m.register_forward_hook(lambda mod, args, out: seen.append(threading.get_ident()))):
        with ens.concurrent(2, frozen=True):
            assert ens._split()   # exact: nothing hooked, the workers may run it
            handle = register(ens.members[1][1])
            try:
                assert not ens._split()   # exact: the hook is seen although it came after entering
            finally:
                handle.remove()
            assert ens._split()   # exact: removed again
    ens.members[0][0].train()
    with ens.concurrent(2, frozen=True):
        assert not ens._split()   # exact: a member module in training mode


def _ahead_spy(monkeypatch):
    """Record what each :class:`_PlainAhead` did: its begun runs and whether its result was used."""
    log = {"started": 0, "used": [], "closed": 0}
    start, result, close = cv._PlainAhead._start, cv._PlainAhead.result, cv._PlainAhead.close

    def spy_start(self):
        log["started"] += 1
        start(self)

    def spy_result(self):
        out = result(self)
        log["used"].append(out is not None)
        return out

    def spy_close(self):
        close(self)
        log["closed"] += 1

    monkeypatch.setattr(cv._PlainAhead, "_start", spy_start)
    monkeypatch.setattr(cv._PlainAhead, "result", spy_result)
    monkeypatch.setattr(cv._PlainAhead, "close", spy_close)
    return log


def _left_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("vizlab-member", "vizlab-retry"))]


needs_linux = pytest.mark.skipif(not cv._priority_settable(), reason="the early second run needs Linux thread priorities")


@needs_linux
def test_a_second_run_begun_early_is_the_second_run_to_the_bit(model, monkeypatch):
    log = _ahead_spy(monkeypatch)
    settings = preset("object_ensemble3", size=48, canvas=24, view=24, steps=5, retry_plain=1.0)  # always retries
    one, two = one_thread_and_concurrent(
        lambda workers: class_visualization(model, "goldfish", settings, progress=False, workers=workers,
                                            snapshots=2))
    assert log["started"] >= 1 and log["used"] == [True]   # exact: begun during the first run, and used
    assert torch.equal(one.image, two.image) and one.values == two.values   # exact: the same image
    for key in ("random", "plain", "kept"):
        assert one.info["retry"][key] == two.info["retry"][key]   # exact
    assert one.info["target_probability"] == two.info["target_probability"]   # exact
    assert sorted(one.snapshots) == sorted(two.snapshots) == [2, 4, 5]   # exact: the guess's steps not added
    assert all(torch.equal(one.snapshots[s], two.snapshots[s]) for s in one.snapshots)   # exact
    assert _left_threads() == []   # exact


@needs_linux
def test_a_second_run_begun_for_nothing_is_stopped_and_changes_nothing(model, monkeypatch):
    log = _ahead_spy(monkeypatch)
    init = cv._PlainAhead.__init__

    def eager(self, *args, **kwargs):   # begin at every guess, whatever the p
        init(self, *args, **kwargs)
        self.threshold = 2.0

    monkeypatch.setattr(cv._PlainAhead, "__init__", eager)
    settings = preset("object_ensemble", size=48, canvas=24, view=24, steps=5, retry_plain=1e-30)  # never needed
    one, two = one_thread_and_concurrent(
        lambda workers: class_visualization(model, "goldfish", settings, progress=False, workers=workers))
    assert log["started"] >= 1 and log["used"] == [] and log["closed"] == 1   # exact: begun, then dropped
    assert "retry" not in one.info and "retry" not in two.info   # exact: no second run is reported
    assert torch.equal(one.image, two.image) and one.values == two.values   # exact
    assert _left_threads() == []   # exact: the begun run's threads have ended


@needs_linux
def test_no_second_run_is_begun_with_a_callback_or_at_one_thread(model, monkeypatch):
    log = _ahead_spy(monkeypatch)
    settings = preset("object_ensemble", size=48, canvas=24, view=24, steps=3, retry_plain=1.0)
    steps = []
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        class_visualization(model, "goldfish", settings, progress=False,
                            callback=lambda step, image, value: steps.append(step))
        torch.set_num_threads(1)
        class_visualization(model, "goldfish", settings, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert log == {"started": 0, "used": [], "closed": 0}   # exact: the second run after the first, as before
    assert steps == [3, 3]   # exact: the callback saw each run's last step, in order


@needs_linux
def test_a_stop_during_the_first_run_stops_a_begun_second_run(model, monkeypatch):
    log = _ahead_spy(monkeypatch)
    settings = preset("object_ensemble", size=48, canvas=24, view=24, steps=10, retry_plain=1.0)
    stop = threading.Event()
    start, watch = cv._PlainAhead._start, cv._PlainAhead.watch

    def begin_then_stop(self):
        start(self)
        stop.set()   # the user stops right after the second run was begun

    def waiting(self, step, image, value):   # the first run goes on once the guess is made (no race in the test)
        watch(self, step, image, value)
        for checker in self._checkers:
            checker.join()

    monkeypatch.setattr(cv._PlainAhead, "_start", begin_then_stop)
    monkeypatch.setattr(cv._PlainAhead, "watch", waiting)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        r = class_visualization(model, "goldfish", settings, progress=False, stop_event=stop)
    finally:
        torch.set_num_threads(threads)
    assert log["started"] == 1 and log["closed"] == 1   # exact
    assert r.reason == "stopped" and r.steps == 3 and "retry" not in r.info   # exact: stopped at the guess (step 3)
    assert _left_threads() == []   # exact: the begun run saw the stop too and ended


@needs_linux
def test_a_lowered_thread_priority_is_given_back_where_the_system_allows():
    out = {}

    def lowered():
        out["nice"] = cv._lower_priority(3)
        tid = threading.get_native_id()
        out["during"] = os.getpriority(os.PRIO_PROCESS, tid)
        cv._restore_priority(*out["nice"])
        out["after"] = os.getpriority(os.PRIO_PROCESS, tid)

    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    before, low = out["nice"]
    assert out["during"] == low == min(19, before + 3)   # exact: only that thread, lowered
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before   # exact: this thread untouched
    if os.geteuid() == 0:
        assert out["after"] == before   # exact: given back (root may raise a priority)
    else:
        assert out["after"] in (before, low)   # exact: given back, or left low without the right to raise it
