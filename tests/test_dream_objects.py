"""Round 9's "objects" dream preset: the deep VGG-19 layer of style transfer, used whole by ``deepdream``."""
import inspect

import pytest
import torch

from vizlab.hooks import activations
from vizlab.models import load_model
from vizlab.optimize import VGG_DREAM, deepdream


@pytest.fixture(scope="module")
def vgg():
    return load_model("vgg19_normalised", device="cpu")


def test_preset_names_only_deepdream_arguments_and_a_vgg_layer(vgg):
    params = inspect.signature(deepdream).parameters
    assert set(VGG_DREAM) <= set(params)  # exact
    assert VGG_DREAM["layer"] in vgg.layers and VGG_DREAM["octaves"] > 1  # exact


def test_preset_dream_raises_its_layer_and_keeps_valid_pixels(vgg):
    photo = vgg.to_input("temple", 64)
    settings = {**VGG_DREAM, "steps": 2}          # same recipe, fewer steps: a test, not a lecture
    d = deepdream(vgg, photo, **settings, progress=False)
    assert d.image.shape == photo.shape and len(d.octaves) == VGG_DREAM["octaves"]  # exact
    assert float(d.image.min()) >= 0.0 and float(d.image.max()) <= 1.0  # exact: clamped
    layer = VGG_DREAM["layer"]
    _, before = activations(vgg, photo, layer)
    _, after = activations(vgg, d.image, layer)
    assert after[layer].pow(2).mean() > before[layer].pow(2).mean()
    assert not torch.equal(d.image, photo)  # exact
