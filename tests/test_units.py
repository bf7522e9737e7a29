"""Issue 24 item 4: unit (channel and neuron) visualisations with the class-image recipe, beside natural patches."""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.figure
import pytest
import torch

from vizlab.optimize import show_units, unit_values, unit_visualization
from vizlab.optimize.units import _Upto

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from claims_units import diversity_similarity_ratio, tiny_unit_images  # noqa: E402

from conftest import hooks_left  # noqa: E402

FAST = dict(size=32, view=0, steps=12)


def _photos(size: int = 32) -> torch.Tensor:
    from vizlab.images import sample_image
    from vizlab.inside.datasets import PHOTOS

    return torch.stack([torch.from_numpy(sample_image(n, size)).permute(2, 0, 1).float() for n in PHOTOS])


def test_unit_images_excite_their_unit_more_than_any_photo_and_more_than_other_units_images():
    images = tiny_unit_images(0)              # channels 1 and 5 of the tiny CNN's relu2, two images each
    from vizlab.toy import tiny_cnn

    tiny = tiny_cnn(seed=0)
    photos = _photos()
    for ch, other in ((1, 5), (5, 1)):
        own = unit_values(tiny, images[ch], "relu2", ch)
        best_photo = unit_values(tiny, photos, "relu2", ch)["peak"].max()
        assert own["peak"].min() > best_photo  # exact: beats the strongest natural image of the sample photos
        assert own["mean"].min() > unit_values(tiny, images[other], "relu2", ch)["mean"].max()  # exact: selective


def test_diversity_term_makes_the_images_of_one_unit_differ():
    assert diversity_similarity_ratio(0) < 0.9  # claim: test units: Gram similarity with / without the diversity term


def test_neuron_mode_excites_the_centre_unit(tiny):
    r = unit_visualization(tiny, "relu2", 3, n=2, neuron=True, progress=False, **FAST)
    photos = _photos()
    assert r.info["neuron"] is True and r.image.shape == (2, 3, 32, 32)  # exact
    centre = unit_values(tiny, r.image, "relu2", 3)["centre"]
    assert torch.allclose(centre, torch.tensor(r.info["centre"]))  # exact: info is measured on the final images
    assert centre.min() > unit_values(tiny, photos, "relu2", 3)["centre"].max()  # exact
    assert hooks_left(tiny) == 0  # exact


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
    assert hooks_left(tiny) == 0  # exact


def test_embedded_model_unit_beats_its_top_natural_patch(model):
    """Lite0, a block3 channel, 2 images at 64 px, 16 steps: each image's peak beats the channel's best
    whole-field patch over the sample photos at 224 px."""
    from vizlab.inside import max_activating_patches, patch_pool

    pool = patch_pool(224, crops_per_photo=0, shapes=0)
    found = max_activating_patches(model, pool, "block3", channels=[7], k=1, full_fields=True, progress=False,
                                   cache=False)
    r = unit_visualization(model, "block3", 7, n=2, progress=False, size=64, view=0, steps=16)
    assert min(r.info["peak"]) > found[7][0].value  # exact: compared with the unit's own best photo window
    fig = show_units({"block3:7": (r.image, found[7])})
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2 + 1 + 1  # exact


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
    with pytest.raises(TypeError, match="n must be an int"):
        unit_visualization(tiny, "relu2", 0, n=2.0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        unit_visualization(tiny, "relu2", 0, n=0)
    with pytest.raises(TypeError, match="neuron must be True or False"):
        unit_visualization(tiny, "relu2", 0, neuron="yes")
    with pytest.raises(TypeError, match="diversity must be a number"):
        unit_visualization(tiny, "relu2", 0, diversity="high")
    with pytest.raises(ValueError, match="diversity must be >= 0"):
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
