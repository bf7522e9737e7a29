"""The patch explorer, driven headlessly: set control values and check what was drawn."""
from __future__ import annotations

import pytest

from vizlab.inside.shapes import make_shapes, shapes_cnn
from vizlab.widgets.patches import PatchExplorer, default_layers


def test_patch_explorer_draws_layers_and_channels(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZLAB_CACHE", str(tmp_path))
    model, data = shapes_cnn(0), make_shapes(60, size=24, seed=0)
    assert default_layers(model) == ["conv1", "conv2", "conv3"]
    ex = PatchExplorer(model, data, ["relu1", "relu3"], k=4)
    assert ex.wait(30)
    assert len(ex.history) == 1 and ex.history[0].startswith("relu1:")
    assert ex.channel.max == 15 and "relu1" in ex.status.value and "7x7" in ex.status.value
    first = ex.image.value
    ex.channel.value = (ex.channel.value + 1) % 16
    assert len(ex.history) == 2 and ex.image.value != first
    ex.k.value = 2
    assert ex.history[-1].endswith(":2")
    ex.layer.value = "relu3"                      # computed in the background thread
    assert ex.wait(30)
    assert ex.history[-1].startswith("relu3:") and ex.channel.max == 63
    assert "relu3" in ex.status.value and "22x22" in ex.status.value
    ex.layer.value = "relu1"                      # cached: drawn at once, no thread
    assert ex.history[-1].startswith("relu1:")
    with pytest.raises(ValueError, match="start_layer"):
        PatchExplorer(model, data, ["relu1"], start_layer="relu3")
