"""The class visualization and DeepDream explorers, driven headlessly: set values, press Run/Stop, check drawings."""
from __future__ import annotations

import time

import pytest

from conftest import hooks_left
from vizlab.widgets.classviz import ClassVizExplorer
from vizlab.widgets.deepdream import DeepDreamExplorer


def _wait_for(predicate, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_classviz_controls_are_the_settings(model):
    ex = ClassVizExplorer(model, classes=["flamingo", "goldfish"], size=64)
    names = {c.description for c in ex.controls}
    assert {"Run", "Stop", "class", "mode", "learning rate", "L2 weight", "TV weight", "jitter (px)",
            "blur sigma", "blur every", "steps"} <= names
    assert all(c.continuous_update is False for c in ex.controls if hasattr(c, "continuous_update"))
    from vizlab.optimize import preset

    cs, fo = preset("cs231n"), preset("fourier")
    assert ex.settings.lr == cs.lr and ex.settings.l2 == cs.l2 and ex.settings.blur_every == cs.blur_every
    assert ex.settings.robust and ex.settings.lr_end == cs.lr_end  # schedule fields come from the preset
    ex.mode.value = "fourier"  # switching mode loads that mode's preset
    assert ex.settings.mode == "fourier" and ex.lr.value == pytest.approx(fo.lr, rel=0.02)
    assert ex.blur_sigma.value == 0.0
    ex.l2.value = 2e-3
    assert ex.settings.l2 == 2e-3
    assert "vizlab-image" in ex.image._dom_classes and "vizlab-status" in ex.status._dom_classes


def test_classviz_redraw_every_is_checked(model):
    with pytest.raises(TypeError, match="redraw_every must be an integer >= 1, got str '5'"):
        ClassVizExplorer(model, classes=["flamingo"], size=64, redraw_every="5")
    with pytest.raises(ValueError, match="redraw_every must be an integer >= 1, got 0"):
        ClassVizExplorer(model, classes=["flamingo"], size=64, redraw_every=0)


def test_classviz_run_draws_and_finishes(model):
    ex = ClassVizExplorer(model, classes=["goldfish"], size=64, steps=6, redraw_every=2)
    ex.run_button.click()
    assert ex.wait(60)
    assert ex.result is not None and ex.result.steps == 6 and not ex.result.stopped
    assert ex.history[:3] == ["step 2", "step 4", "step 6"] and ex.history[-1] == "final"
    assert ex.image.value and "done" in ex.status.value
    assert hooks_left(model) == 0


def test_classviz_stop_keeps_the_partial_result(model):
    ex = ClassVizExplorer(model, classes=["flamingo"], size=64, steps=2000, redraw_every=1)
    ex.run_button.click()
    assert _wait_for(lambda: len(ex.history) >= 2), "no redraw arrived"
    before = ex.image.value
    ex.stop_button.click()
    assert ex.wait(30)
    assert "stopped" in ex.status.value
    assert ex.result is not None and ex.result.stopped and 2 <= ex.result.steps < 2000
    assert ex.image.value != before and ex.history[-1] == "final"
    assert hooks_left(model) == 0


def test_deepdream_explorer_runs_and_stops(model):
    ex = DeepDreamExplorer(model, "temple", size=64, layer="block3")
    assert {"Run", "Stop", "layer", "octaves"} <= {c.description for c in ex.controls}
    ex.octaves.value, ex.steps.value = 2, 2
    ex.run_button.click()
    assert ex.wait(60)
    assert ex.result is not None and len(ex.result.octaves) == 2
    assert ex.history == ["octave 1", "octave 2"] and "done" in ex.status.value
    ex.octaves.value, ex.steps.value = 6, 50
    ex.run()
    assert _wait_for(lambda: len(ex.history) >= 3)
    ex.stop()
    assert ex.wait(30)
    assert "stopped" in ex.status.value and ex.result.stopped
    with pytest.raises(ValueError, match="layer"):
        DeepDreamExplorer(model, "temple", size=64, layer="fc9")
