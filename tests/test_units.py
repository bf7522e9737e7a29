"""Issue 24 item 4: unit (channel and neuron) visualisations with the class-image recipe, beside natural patches.

The behaviour is checked on the embedded Lite0 (``block3`` channels 7 and 12, 64 px, 48 steps: see
``benchmarks/claims_units.py``); the tiny CNN (random weights, too weak for the MACO recipe) only for errors
and hooks.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.figure
import pytest
import torch

from vizlab.optimize import show_units, unit_values, unit_visualization
from vizlab.optimize.units import _Upto

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import claims_units  # noqa: E402

from conftest import hooks_left  # noqa: E402

FAST = dict(size=32, view=0, steps=3)


def test_unit_images_beat_every_photo_and_are_selective():
    assert claims_units.peak_over_best_photo(0) > 1.0  # claim: test units: peak over the best photo's
    assert claims_units.own_minus_other(0) > 0.0  # claim: test units: own minus other channel's images
    r = claims_units.unit_images(0)[7]
    assert r.image.shape == (2, 3, 64, 64) and r.info["channel"] == 7 and r.info["neuron"] is False  # exact
    torch.testing.assert_close(unit_values(claims_units._model(), r.image, "block3", 7)["peak"],
                               torch.tensor(r.info["peak"]))  # exact: info is measured on the final images


def test_diversity_term_makes_the_images_of_one_unit_differ():
    assert claims_units.diversity_similarity_ratio(0) < 0.9  # claim: test units: Gram similarity with / without the diversity term


def test_neuron_mode_excites_the_centre_unit():
    assert claims_units.neuron_centre_over_best_photo(0) > 1.0  # claim: test units: neuron centre over the best photo's


def test_show_units_puts_images_beside_patches():
    from vizlab.inside import max_activating_patches, patch_pool

    model = claims_units._model()
    pool = patch_pool(64, crops_per_photo=0, shapes=0)
    found = max_activating_patches(model, pool, "block3", channels=[7, 12], k=3, progress=False, cache=False)
    got = claims_units.unit_images(0)
    fig = show_units({f"block3:{ch}": (got[ch].image, found[ch]) for ch in (7, 12)})
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2 * (2 + 1 + 3)  # exact
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == 2 * (2 + 3)  # exact: the gap column stays empty


def test_the_network_runs_only_up_to_the_unit_and_leaves_no_hooks(tiny):
    calls = []
    handle = tiny.fc.register_forward_hook(lambda *a: calls.append(1))
    try:
        out = _Upto(tiny, ["relu1"])(torch.rand(2, 3, 16, 16))
        assert out.shape == (2, 1) and not calls  # exact: fc never ran
        tiny(torch.rand(1, 3, 16, 16))
        assert len(calls) == 1  # exact: the model itself is untouched afterwards
    finally:
        handle.remove()
    unit_visualization(tiny, "relu1", 0, n=2, progress=False, **FAST)
    unit_visualization(tiny, "relu2", 1, n=2, neuron=True, progress=False, **FAST)
    assert hooks_left(tiny) == 0  # exact


def test_bad_arguments_raise_clear_errors(tiny):
    with pytest.raises(TypeError, match="model must be"):
        unit_visualization("lite0", "relu2", 0)
    with pytest.raises(TypeError, match="layer must be"):
        unit_visualization(tiny, 2, 0)
    with pytest.raises(TypeError, match="channel must be an int"):
        unit_visualization(tiny, "relu2", 1.0)
    with pytest.raises(TypeError, match="channel must be an int"):
        unit_visualization(tiny, "relu2", True)
    with pytest.raises(ValueError, match="channel=16 is out of range .* 16 channels"):
        unit_visualization(tiny, "relu2", 16, **FAST)
    with pytest.raises(ValueError, match="channel=-1"):
        unit_visualization(tiny, "relu2", -1, **FAST)
    with pytest.raises(TypeError, match="n must be an integer >= 1, got float 2.0"):
        unit_visualization(tiny, "relu2", 0, n=2.0)
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        unit_visualization(tiny, "relu2", 0, n=0)
    with pytest.raises(TypeError, match="neuron must be True or False"):
        unit_visualization(tiny, "relu2", 0, neuron="yes")
    with pytest.raises(TypeError, match="diversity must be a finite number >= 0, got str"):
        unit_visualization(tiny, "relu2", 0, diversity="high")
    with pytest.raises(ValueError, match="diversity must be a finite number >= 0, got -1.0"):
        unit_visualization(tiny, "relu2", 0, diversity=-1.0)
    with pytest.raises(ValueError, match="unknown layer"):
        unit_visualization(tiny, "relu9", 0, **FAST)
    with pytest.raises(ValueError, match="not spatial"):
        unit_visualization(tiny, "fc", 0, **FAST)
    with pytest.raises(TypeError, match="settings must be a ClassVizSettings"):
        unit_visualization(tiny, "relu2", 0, settings={"steps": 3})
    with pytest.raises(ValueError, match="images must be an"):
        unit_values(tiny, torch.rand(3, 16, 16), "relu2", 0)
    with pytest.raises(TypeError, match="units must be a mapping"):
        show_units([torch.rand(1, 3, 8, 8)])
    with pytest.raises(ValueError, match="units is empty"):
        show_units({})
    with pytest.raises(ValueError, match="images must be an"):
        show_units({"u": (torch.rand(3, 8, 8), [])})
    assert hooks_left(tiny) == 0  # exact
