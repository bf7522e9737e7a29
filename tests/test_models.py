import socket
import time

import pytest
import torch

import vizlab
from vizlab.models import VizModel, class_index, imagenet_categories, load_model, resolve_layer


def test_embedded_model_classifies_cat_and_espresso(model):
    assert isinstance(model, VizModel) and not model.training
    top3 = [name for name, _ in model.predict("cat", k=3)]
    assert any("cat" in n for n in top3), top3
    name, p = model.predict("espresso", k=1)[0]
    assert name == "espresso" and p > 0.8  # claim: espresso_probability


def test_predict_batch_and_probabilities(model):
    preds = model.predict(["cat", "espresso"], k=2)
    assert len(preds) == 2 and len(preds[0]) == 2
    probs = model.probabilities("cat")
    assert probs.shape == (1, 1000) and torch.allclose(probs.sum(), torch.tensor(1.0), atol=1e-5)


def test_model_takes_unit_range_pixels_and_inverts_preprocessing(model):
    x = model.to_input("cat")
    assert x.shape == (1, 3, 224, 224) and 0 <= x.min() and x.max() <= 1
    z = model.preprocess("cat")
    assert torch.allclose(model.denormalize(z), x, atol=1e-6)
    assert z.min() < -0.5  # exact: preprocessing maps 0 to -1; EfficientNet-Lite wants [-1, 1]
    assert torch.allclose(model(x), model.net(z), atol=1e-5)


def test_categories_and_class_index(model):
    cats = imagenet_categories()
    assert len(cats) == 1000 and cats[285] == "Egyptian cat"
    assert model.class_index("Egyptian cat") == 285 == model.class_index("egyptian CAT") == model.class_index(285)
    assert model.class_index("espresso") == 967
    with pytest.raises(ValueError, match="ambiguous"):
        class_index("cat", cats)
    with pytest.raises(ValueError, match="Did you mean"):
        class_index("espreso", cats)
    with pytest.raises(ValueError, match="out of range"):
        class_index(1000, cats)
    with pytest.raises(TypeError):
        class_index(2.5, cats)


def test_friendly_layers_resolve_to_modules(model):
    for name in ["stem", "block1", "block4_expand", "head", "classifier"]:
        assert isinstance(model.layer(name), torch.nn.Module)
    assert model.layer_path("head") == "net.bn2"
    assert model.layer("blocks.2") is model.layer("block3")  # raw paths of model.net work too
    assert model.cam_layer == "head" and model.classifier == "classifier"
    with pytest.raises(ValueError, match="Did you mean 'head'"):
        model.layer("haed")


def test_unknown_model_and_bad_weights():
    with pytest.raises(ValueError, match="Available"):
        load_model("resnet1800")
    with pytest.raises(ValueError, match="weights"):
        load_model("efficientnet_lite0", weights="coco")
    with pytest.raises(TypeError):
        load_model(18)


def test_torchvision_models_fail_fast_offline(monkeypatch, tmp_path):
    """Offline and uncached: a clear error naming the embedded default, within seconds, no hang."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    import torchvision  # noqa: F401  (its first import alone takes seconds on a busy machine: not the failure path)

    start = time.perf_counter()
    with pytest.raises(vizlab.ModelUnavailableError, match="efficientnet_lite0"):
        load_model("squeezenet1_1", device="cpu")
    assert time.perf_counter() - start < 10  # behaviour bound (expected 0.1 s): fails fast, does not wait


def test_torchvision_models_load_from_cache(monkeypatch, tmp_path):
    """The real loading path: weights found in torch's hub cache are used (no network)."""
    import torchvision

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    torch.manual_seed(0)
    reference = torchvision.models.squeezenet1_1(weights=None)
    path = vizlab.models.weights_cache_path("squeezenet1_1")
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    loaded = load_model("squeezenet1_1", device="cpu")
    assert "cached" in loaded.weights
    for a, b in zip(loaded.net.state_dict().values(), reference.state_dict().values()):
        assert torch.equal(a, b)
    assert {"conv1", "fire2", "fire9", "conv10"} <= set(loaded.layers)
    x = torch.rand(1, 3, 64, 64)
    assert loaded(x).shape == (1, 1000)


@pytest.mark.parametrize("name, expected", [
    ("alexnet", {"conv1", "relu1", "pool1", "conv5", "relu5", "fc6", "fc8"}),
    ("vgg16", {"conv1_1", "relu1_2", "pool1", "conv4_2", "relu5_3", "fc8"}),
    ("vgg19", {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv4_2", "relu5_4"}),
    ("resnet18", {"stem", "layer1", "layer4", "classifier"}),
])
def test_random_torchvision_models_have_classic_layer_names(name, expected):
    m = load_model(name, device="cpu", weights=None)
    assert expected <= set(m.layers), sorted(m.layers)
    for layer in expected:
        m.layer(layer)


def test_resolve_layer_on_plain_modules(tiny):
    name, module = resolve_layer(tiny, "conv2")
    assert module is tiny.conv2
    assert resolve_layer(tiny, tiny.relu1)[0] == "relu1"
    with pytest.raises(ValueError, match="Did you mean"):
        resolve_layer(tiny, "conv3")
    with pytest.raises(ValueError, match="not part of model"):
        resolve_layer(tiny, torch.nn.ReLU())


def test_second_offline_model_is_lite2_with_the_same_surface(judge, model):
    assert judge.name == "efficientnet_lite2" and judge.input_size == 260
    assert judge.predict("cat", k=1)[0][0] == "Egyptian cat"
    assert judge.predict("espresso", k=1)[0][0] == "espresso"
    assert set(model.layers) <= set(judge.layers) and judge.cam_layer == "head"
    assert not any(p.requires_grad for p in judge.parameters())
    import vizlab

    assert vizlab.load_judge() is judge  # loaded once, reused
    assert vizlab.load_model("tf_efficientnet_lite2", weights=None).name == "efficientnet_lite2"


def test_rank_of_a_class_resizes_tensors_to_the_models_size(judge, model):
    x = model.to_input(["cat", "espresso"], size=128)
    cat = judge.rank(x, "Egyptian cat")
    assert cat.shape == (2,) and cat[0] == 1 and cat[1] > 5
    assert judge.rank(x, "espresso")[1] == 1
    with pytest.raises(ValueError, match="unknown class"):
        judge.rank(x, "no such class")


def test_profile_switch(monkeypatch):
    import vizlab

    monkeypatch.setenv("VIZLAB_PROFILE", "quick")
    assert vizlab.profile() == "quick" and vizlab.by_profile(96, 224, gpu=512) == 96
    monkeypatch.setenv("VIZLAB_PROFILE", "lecture")
    assert vizlab.profile() == "lecture" and vizlab.by_profile(96, 224, device="cpu") == 224
    monkeypatch.delenv("VIZLAB_PROFILE")
    assert vizlab.profile() == "lecture"
    monkeypatch.setenv("VIZLAB_PROFILE", "fast")
    with pytest.raises(ValueError, match="VIZLAB_PROFILE"):
        vizlab.profile()
