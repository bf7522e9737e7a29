"""The style explorer, driven headlessly: set values, wait for the worker, check what was drawn."""
from __future__ import annotations

import time

import pytest
import torch

from vizlab.style.lossnet import LossNetwork, Recipe
from vizlab.widgets.style import StyleExplorer


@pytest.fixture
def explorer(tiny):
    recipe = Recipe("tiny", style_layers=("relu1", "relu2"), content_layers=("relu2",), style_weight=10.0)
    net = LossNetwork(tiny, ["relu1", "relu2"], recipe)
    content = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0)),
                                             3, 1, 1)
    ex = StyleExplorer(content, ["waves", "brush"], loss_net=net, size=24, steps=6, preview_every=2)
    yield ex
    ex.stop()
    ex.wait(30)


def test_runs_in_background_and_draws(explorer):
    assert explorer.wait(60)
    assert explorer.result is not None and explorer.result.steps == 6
    assert explorer.history[-1].startswith("done") and "step 2" in explorer.history
    assert explorer.image.value and "done after 6 steps" in explorer.status.value
    for slider in (explorer.content_weight, explorer.style_weight, explorer.tv_weight, explorer.steps):
        assert slider.continuous_update is False


def test_changing_style_or_weight_reruns(explorer):
    assert explorer.wait(60)
    first_png, n = explorer.image.value, len(explorer.history)
    explorer.style.value = "brush"
    assert explorer.wait(60)
    assert len(explorer.history) > n and explorer.image.value != first_png
    before = explorer.result
    explorer.style_weight.value = 1000.0
    assert explorer.wait(60)
    assert explorer.result is not before
    assert explorer.result.history[0]["style"] > before.history[0]["style"]


def test_stop_keeps_partial_result(explorer):
    assert explorer.wait(60)
    explorer.steps.value = 500
    deadline = time.time() + 30
    while (explorer.result is None or explorer.result.steps != 500) and explorer.running and time.time() < deadline:
        if len(explorer.history) and explorer.history[-1].startswith("step"):
            break
        time.sleep(0.05)
    explorer.stop_button.click()
    assert explorer.wait(60)
    assert explorer.result.stopped and explorer.result.steps < 500
    assert "stopped" in explorer.status.value and explorer.history[-1].startswith("stopped")
