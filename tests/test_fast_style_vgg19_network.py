"""The fast style network trained on VGG-19's perceptual loss (issue 25, item 4): ``data/networks/vgg19/swirls.pt``
(round 14: Johnson et al.'s exact layers) and ``vgg19/impression.pt`` (round 13, the same layers).

Trained on this repository's CPU with ``benchmarks/train_fast_style_vgg.py`` (the command, steps, time and losses
are in ``data/README.md``); these tests check that it is found by name and that it does what it was trained for
on the six held-out photos, measured on Johnson et al.'s VGG-19 style layers (relu1_2 ... relu4_3).
"""
import sys
from pathlib import Path

import torch

from vizlab.style import load_transformer, network_names
from vizlab.style.transformer import NETWORK_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import claims_vgg  # noqa: E402


def test_the_network_is_shipped_in_its_subfolder_and_loads_by_name():
    assert (NETWORK_DIR / "vgg19" / "swirls.pt").is_file()  # exact
    net = load_transformer(claims_vgg.FAST_VGG, device="cpu")
    assert net.config == {"norm": "instance", "width": 16, "blocks": 5}  # exact
    meta = net.meta
    assert meta["style"] == "swirls" and meta["size"] == 256 and meta["steps_done"] >= 2000  # exact
    assert meta["loss_net"].startswith("vgg19_normalised") and meta["content_layers"] == ["relu2_2"]  # exact
    # round 14: retrained on Johnson et al.'s exact layers (round 12's file stopped at relu4_1)
    assert meta["batch_size"] == 1 and meta["loss_net"] == "vgg19_normalised up to relu4_3"  # exact
    assert meta["style_layers"] == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]  # exact: Johnson et al.'s
    # round 14: the default name "swirls" loads this file (notebook 08's table lists it as "swirls")
    assert "vgg19/swirls" not in network_names() and load_transformer("swirls").meta == meta  # exact
    x = torch.rand(1, 3, 40, 52)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1  # exact


def test_it_moves_every_held_out_photo_towards_the_style_on_vgg19():
    """On VGG-19's own style layers the Gram distance to the style falls for every unseen photo."""
    fall = claims_vgg.fast_vgg_gram_fall_min(0)   # the registered claim itself (its measurements are cached)
    assert fall > 0.29, fall  # claim: fast_vgg_gram_fall_min


def test_it_is_closer_to_the_style_than_the_lite0_trained_network():
    """Trained on the loss the lecture defines, it beats the Lite0-trained ``swirls`` on that loss."""
    ratio = claims_vgg.fast_vgg_over_lite0_gram(0)
    assert ratio < 0.74, ratio  # claim: fast_vgg_over_lite0_gram


def test_the_cli_stylizes_with_it_by_name(tmp_path):
    from vizlab.cli import main
    from vizlab.images import load_image

    out = tmp_path / "cat_vgg.png"
    assert main(["stylize", "vgg19/swirls", "cat", str(out), "--size", "96"]) == 0  # exact
    assert min(load_image(out).shape[:2]) == 96  # exact


# -- round 13: data/networks/vgg19/impression.pt, Johnson et al.'s exact layers (style up to relu4_3) --
def test_vgg19_impression_is_shipped_with_johnsons_exact_layers():
    assert (NETWORK_DIR / "vgg19" / "impression.pt").is_file()  # exact
    net = load_transformer(claims_vgg.FAST_VGG_NETS["impression"], device="cpu")
    assert net.config == {"norm": "instance", "width": 16, "blocks": 5}  # exact
    meta = net.meta
    assert meta["style"] == "impression" and meta["size"] == 256 and meta["steps_done"] >= 2000  # exact
    assert meta["batch_size"] == 1 and meta["loss_net"] == "vgg19_normalised up to relu4_3"  # exact
    assert meta["style_layers"] == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]  # exact: Johnson et al.'s
    assert meta["content_layers"] == ["relu2_2"]  # exact
    assert "vgg19/impression" not in network_names() and load_transformer("impression").meta == meta  # exact


def test_vgg19_impression_moves_every_held_out_photo_towards_the_style():
    fall = claims_vgg.fast_vgg_impression_gram_fall_min(0)
    assert fall > 0.45, fall  # claim: fast_vgg_impression_gram_fall_min


def test_vgg19_impression_is_closer_to_the_style_than_the_lite0_network():
    ratio = claims_vgg.fast_vgg_impression_over_lite0_gram(0)
    assert ratio < 0.62, ratio  # claim: fast_vgg_impression_over_lite0_gram
