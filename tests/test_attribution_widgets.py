"""Occlusion and Grad-CAM explorers, headless: set .value, check what was drawn and what was computed."""
from __future__ import annotations

import pytest
import torch

from conftest import hooks_left
from vizlab.fastpath import inference_model
from vizlab.widgets.gradcam import GradCamExplorer
from vizlab.widgets.occlusion import OcclusionExplorer


class CallCounter:
    """Counts forward passes of a model (images and calls) through a forward pre-hook, removed on exit."""

    def __init__(self, model):
        self.model, self.calls, self.images = model, 0, 0

    def __enter__(self):
        def count(module, inputs):
            self.calls += 1
            self.images += inputs[0].shape[0]
        self.handle = self.model.register_forward_pre_hook(count)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


@pytest.fixture
def occ(model):
    x = model.to_input("cat_and_espresso", size=96)
    explorer = OcclusionExplorer(model, x, patch=48, stride=24, baseline="gray", batch_size=8, method="full")
    assert explorer.wait(60)
    return explorer


def test_occlusion_explorer_draws_coarse_then_fine(occ):
    assert occ.history == ["coarse", "fine"]
    assert occ.result.complete and occ.result.grid.shape == (1, 3, 3)
    assert occ.image.value and "most damaging patch" in occ.status.value
    assert "vizlab-image" in occ.image._dom_classes
    names = {c.description for c in occ.controls}
    assert {"patch", "stride", "baseline", "class", "search"} <= names
    assert occ.patch.continuous_update is False and occ.stride.continuous_update is False


def test_switching_class_redraws_without_running_the_model(occ, model):
    picture = occ.image.value
    sweeps = occ.sweeps
    other = [v for _, v in occ.picker.dropdown.options if v != occ.picker.value][0]
    with CallCounter(inference_model(model)) as counter:  # occlusion runs on the cached fast copy
        occ.picker.dropdown.value = other
        occ.picker.search.value = "goldfish"  # a class found by name joins the dropdown, still no model call
    assert counter.calls == 0 and occ.sweeps == sweeps
    assert occ.history[-2:] == ["class", "class"]
    assert occ.image.value != picture
    assert occ.picker.name == "goldfish" and "goldfish" in occ.picker.dropdown.label


def test_patch_slider_runs_a_new_sweep_and_changes_the_picture(occ, model):
    picture = occ.image.value
    with CallCounter(inference_model(model)) as counter:  # occlusion runs on the cached fast copy
        occ.patch.value = 32
        assert occ.wait(60)
    # patch 32, stride 24 on 96 px: one sweep of the 3x3 grid whose coarse windows (stride 48, 2x2) run first
    assert counter.images == 1 + 9
    assert occ.result.patch == 32 and occ.result.grid.shape == (1, 3, 3)
    assert occ.image.value != picture and occ.history[-1] == "fine"


@pytest.mark.parametrize("side, patch, stride", [(s, p, t) for s in (64, 96, 160, 224, 300)
                                                  for p in (4, 8, 16, 32, 48) for t in (2, 4, 8, 16, 24) if p <= s])
def test_preview_stride_is_a_reusable_grid_of_at_most_6x6(side, patch, stride):
    from vizlab.widgets.occlusion import PREVIEW_SIDE, preview_stride

    s = preview_stride(side, patch, stride)
    assert s % stride == 0 and s >= patch  # the fine sweep re-uses it; windows never overlap
    assert (side - patch) // s + 1 <= PREVIEW_SIDE == 6
    assert s == stride or (side - patch) // (s - stride) + 1 > PREVIEW_SIDE or s - stride < patch  # the smallest such stride


def test_sparse_preview_is_part_of_the_fine_sweep(model):
    x = model.to_input("cat_and_espresso", size=64)
    with CallCounter(inference_model(model)) as counter:
        explorer = OcclusionExplorer(model, x, patch=8, stride=4, background=False, batch_size=8, method="full")
    # preview: stride 12 (> patch 8: 5 x 5 windows apart), the first 25 windows of the one 15 x 15 sweep
    assert explorer.history == ["coarse", "fine"] and explorer.result.grid.shape == (1, 15, 15)
    assert counter.images == 1 + 225
    assert not torch.isnan(explorer.result.map).any()


def test_baseline_and_stride_changes(occ):
    occ.baseline.value = "blur"
    assert occ.wait(60)
    assert occ.result.baseline == "blur"
    occ.stride.value = 48
    assert occ.wait(60)
    assert occ.result.stride == 48 and occ.history[-1] == "fine"


def test_bad_search_reports_and_keeps_the_selection(occ):
    before = occ.picker.value
    occ.picker.search.value = "zzzz unicorn"
    assert occ.picker.value == before and "unknown class" in occ.status.value


def test_stop_keeps_a_partial_map(model):
    x = model.to_input("cat_and_espresso", size=96)
    explorer = OcclusionExplorer(model, x, patch=16, stride=8, refine=False, batch_size=2)
    explorer.stop()
    assert explorer.wait(60)
    assert explorer.result is None or not torch.isnan(explorer.result.map).any()
    assert hooks_left(model) == 0


def test_gradcam_explorer_caches_maps_and_redraws(model):
    explorer = GradCamExplorer(model, "cat_and_espresso", size=128)
    assert explorer.history == ["start"] and explorer.computed == 2
    picture = explorer.image.value
    explorer.alpha.value = 0.8  # redraw only
    assert explorer.computed == 2 and explorer.image.value != picture
    explorer.picker.search.value = "Egyptian cat"
    assert explorer.picker.name == "Egyptian cat" and explorer.computed == 4
    explorer.layer.value = "block6"
    assert explorer.computed == 5 and explorer.history[-1] == "layer"  # saliency does not depend on the layer
    explorer.layer.value = "head"
    assert explorer.computed == 5  # cached
    assert "Egyptian cat" in explorer.status.value and hooks_left(model) == 0


def test_explorers_reject_bad_arguments(model):
    with pytest.raises(ValueError):
        OcclusionExplorer(model, "cat", baseline="purple", size=64)
    with pytest.raises(ValueError):
        GradCamExplorer(model, "cat", layer="classifier", size=64)
    with pytest.raises(ValueError):
        GradCamExplorer(model, "cat", alpha=2.0, size=64)
