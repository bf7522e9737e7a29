"""The shipped style networks' names (issue 25, item 4; round 14): ``impression`` and ``swirls`` are the networks
trained on VGG-19's perceptual loss (``data/networks/vgg19/``); the older EfficientNet-Lite0-trained ones load as
``lite0/<style>``; a pre-round-14 file path fails with a message that names the new name. These tests fail if a
default went back to a Lite0-trained network."""
from __future__ import annotations

import pytest
import torch

from vizlab.style import (gram_distance, load_transformer, loss_network, network_file, network_names, style_batch,
                          style_distance, style_grams, stylize)
from vizlab.style.quality import network_report
from vizlab.style.transformer import DEFAULT_NETWORKS, NETWORK_DIR

STYLES = ("impression", "swirls")


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("style", STYLES)
def test_the_default_name_loads_the_vgg19_trained_network(style):
    assert network_file(style) == NETWORK_DIR / "vgg19" / f"{style}.pt"  # exact
    net = load_transformer(style, device="cpu")
    assert net.meta["loss_net"].startswith("vgg19_normalised") and net.meta["style"] == style  # exact
    assert net.meta["content_layers"] == ["relu2_2"]  # exact: Johnson et al.'s content layer
    # the old subfolder name keeps working (a notebook from last term says load_transformer("vgg19/swirls"))
    assert _same_weights(net, load_transformer(f"vgg19/{style}", device="cpu"))  # exact


def test_network_names_lists_the_defaults_only():
    assert network_names() == sorted(DEFAULT_NETWORKS) == ["impression", "swirls"]  # exact
    assert not (NETWORK_DIR / "impression.pt").exists() and not (NETWORK_DIR / "swirls.pt").exists()  # exact


@pytest.mark.parametrize("style", STYLES)
def test_the_lite0_trained_networks_keep_an_explicit_name(style):
    lite0 = load_transformer(f"lite0/{style}", device="cpu")
    assert network_file(f"lite0/{style}") == NETWORK_DIR / "lite0" / f"{style}.pt"  # exact
    assert lite0.meta["loss_net"] == "efficientnet_lite0" and lite0.meta["style"] == style  # exact
    assert not _same_weights(lite0, load_transformer(style, device="cpu"))  # exact


@pytest.mark.parametrize("old", [NETWORK_DIR / "swirls.pt", str(NETWORK_DIR / "impression.pt")])
def test_a_pre_round_14_file_path_names_the_new_name(old):
    style = "swirls" if "swirls" in str(old) else "impression"
    with pytest.raises(ValueError, match=f"load it as 'lite0/{style}'.*'{style}' now loads the VGG-19"):
        load_transformer(old)


def test_bad_names_say_what_exists():
    with pytest.raises(ValueError, match=r"neither a file nor a shipped network \(shipped: impression, swirls; in "
                                         r"subfolders: .*lite0/impression.*vgg19/swirls"):
        load_transformer("starry_night")
    with pytest.raises(ValueError, match="name='starry_night' is not a shipped network"):
        network_file("starry_night")
    with pytest.raises(TypeError, match="name must be a str"):
        network_file(NETWORK_DIR / "vgg19" / "swirls.pt")
    with pytest.raises(TypeError, match="source must be a network name or a path"):
        load_transformer(3)


def test_the_cli_stylizes_with_the_vgg19_network_by_default(tmp_path):
    from vizlab.cli import main
    from vizlab.images import load_image, resize, to_tensor

    out = tmp_path / "cat.png"
    assert main(["stylize", "impression", "cat", str(out), "--size", "64", "--device", "cpu"]) == 0  # exact
    got = to_tensor(load_image(out))
    img = load_image("cat")
    h, w = img.shape[:2]
    s = 64 / min(h, w)
    img = resize(img, (max(1, round(h * s)), max(1, round(w * s))))   # what the CLI does with --size 64
    vgg = stylize(load_transformer("vgg19/impression", device="cpu"), img).cpu()
    lite0 = stylize(load_transformer("lite0/impression", device="cpu"), img).cpu()
    assert got.shape == vgg.shape  # exact
    # the written PNG is the VGG-19 network's output (to 8-bit rounding), not the Lite0 network's
    assert float((got - vgg).abs().max()) <= 1 / 255 + 1e-6 < float((got - lite0).abs().max())  # exact


def test_style_grams_and_gram_distance_give_style_distance_bit_for_bit():
    net = loss_network(device="cpu")
    x, s = style_batch(None, "cat", 64), style_batch(None, "swirls", 64)
    assert gram_distance(style_grams(net, x), style_grams(net, s)) == style_distance(net, x, s)  # exact
    # ... and both are the training's relative style loss with equal layer weights, computed from the features
    from vizlab.style.losses import gram_matrix, relative_style_loss

    layers = net.recipe.style_layers
    fx, fs = net(x), net(s)
    loss = relative_style_loss([fx[n] for n in layers], [gram_matrix(fs[n]) for n in layers],
                               [1 / len(layers)] * len(layers))
    assert style_distance(net, x, s) == float(loss)  # exact
    with pytest.raises(ValueError, match="equally long"):
        gram_distance(style_grams(net, x)[:2], style_grams(net, s))


def test_network_report_shares_the_photos_grams_across_networks():
    loss_net, photos = loss_network(device="cpu"), ["cat", "rocket"]
    net = load_transformer("lite0/swirls", device="cpu")
    plain = network_report(net, "swirls", photos, size=48, loss_net=loss_net)
    cache: dict = {}
    first = network_report(net, "swirls", photos, size=48, loss_net=loss_net, photo_grams=cache, keep_images=True)
    assert sorted(k for k in cache if k != "loss_net") == [("cat", 48), ("rocket", 48)]  # exact: per photo and size
    assert cache["loss_net"] is loss_net  # exact: the dict knows whose Gram matrices it holds
    again = network_report(net, "swirls", photos, size=48, loss_net=loss_net, photo_grams=cache)
    assert [r["fall"] for r in plain] == [r["fall"] for r in first] == [r["fall"] for r in again]  # exact
    cache[("cat", 48)] = [g * 2 for g in cache[("cat", 48)]]     # the stored grams are read, not recomputed:
    read = network_report(net, "swirls", photos, size=48, loss_net=loss_net, photo_grams=cache)
    assert read[0]["fall"] != plain[0]["fall"] and read[1]["fall"] == plain[1]["fall"]  # exact
    assert first[0]["image"].shape[:2] == (1, 3) and "image" not in plain[0]  # exact
    other = loss_network(device="cpu", weights=None)   # another network's Gram matrices would give wrong falls
    with pytest.raises(ValueError, match="photo_grams was filled with another loss network"):
        network_report(net, "swirls", photos, size=48, loss_net=other, photo_grams=cache)
    with pytest.raises(TypeError, match="photo_grams must be a dict"):
        network_report(net, "swirls", photos, size=48, loss_net=loss_net, photo_grams=[])


def test_names_resolve_to_style_networks_only_and_a_folder_is_not_a_network(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="is not a shipped network"):
        network_file("bigfilters")          # another model kept in data/networks, not a style network
    with pytest.raises(ValueError, match="is not a shipped network"):
        network_file("../networks/vgg19/swirls")
    (tmp_path / "swirls").mkdir()           # an output folder named after the style, in the current folder
    monkeypatch.chdir(tmp_path)
    net = load_transformer("swirls", device="cpu")
    assert net.meta["loss_net"].startswith("vgg19_normalised")  # exact: the name, not the folder
