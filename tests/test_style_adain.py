"""AdaIN (Huang & Belongie 2017) with the shipped decoder: the function, the explorer and the CLI."""
import datetime
import io

import numpy as np
import pytest
import torch
from PIL import Image

from vizlab.cli import main
from vizlab.images import load_image
from vizlab.style import style_batch
from vizlab.style.adain import (adain, adain_features, content_batch, feature_statistics, load_adain,
                                statistics_loss)
from vizlab.style.transformer import instance_norm


@pytest.fixture(scope="module")
def net():
    return load_adain("cpu")


def test_adain_is_instance_norm_with_the_style_statistics():
    gen = torch.Generator().manual_seed(0)
    c = torch.randn(2, 8, 6, 5, generator=gen) * 3 + 1
    s = torch.randn(1, 8, 9, 7, generator=gen) * 0.5 - 2
    t = adain_features(c, s, eps=0.0)
    assert torch.allclose(t.mean(dim=(2, 3)), s.mean(dim=(2, 3)).expand(2, -1), atol=1e-5)  # exact
    assert torch.allclose(t.std(dim=(2, 3), unbiased=False), s.std(dim=(2, 3), unbiased=False).expand(2, -1),
                          atol=1e-4)  # exact
    # with the unit statistics of a standard-normalised style, AdaIN is plain instance normalisation
    unit = (s - s.mean(dim=(2, 3), keepdim=True)) / s.std(dim=(2, 3), unbiased=False, keepdim=True)
    assert torch.allclose(adain_features(c, unit, eps=1e-5), instance_norm(c, 1e-5), atol=1e-4)  # exact
    with pytest.raises(ValueError, match="do not fit"):
        adain_features(c, torch.rand(1, 4, 3, 3))
    with pytest.raises(TypeError, match="content must be a torch.Tensor"):
        adain_features(np.zeros((1, 8, 2, 2)), s)


def test_adain_moves_the_photo_to_the_style_statistics(net):
    """AdaIN's own style loss (mean and std at relu1_1 ... relu4_1) falls by more than a quarter."""
    photo = content_batch("cat", 128)
    style = style_batch(None, "swirls", 128)
    out = adain(photo, style, alpha=1.0, net=net)
    assert out.shape == photo.shape and 0 <= out.min() and out.max() <= 1  # exact
    ratio = statistics_loss(out, style, net) / statistics_loss(photo, style, net)
    assert ratio < 0.75, ratio  # claim: vgg_adain_style_loss_ratio


def test_alpha_zero_is_the_auto_encoder_and_alpha_blends(net):
    photo = content_batch("espresso", 64)
    with torch.no_grad():
        recon = net.decode(net.encode(photo)).clamp(0, 1)
    assert torch.allclose(adain(photo, "waves", alpha=0.0, net=net), recon, atol=1e-5)  # exact
    half = adain(photo, "waves", alpha=0.5, net=net)
    full = adain(photo, "waves", alpha=1.0, net=net)
    assert not torch.allclose(half, full, atol=1e-3) and not torch.allclose(half, recon, atol=1e-3)  # exact


def test_sizes_and_errors(net):
    out = adain("rocket", "brick", size=60, net=net)        # rocket is landscape: shorter side 60 -> 56
    assert out.shape[-2] == 56 and out.shape[-1] % 8 == 0 and out.shape[-1] > 56  # exact
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="alpha must be a finite number >= 0 and <= 1, got"):
            adain("cat", "swirls", alpha=bad, net=net)
    with pytest.raises(TypeError, match="alpha"):
        adain("cat", "swirls", alpha="strong", net=net)
    with pytest.raises(ValueError, match="size"):
        adain("cat", "swirls", size=4, net=net)
    with pytest.raises(ValueError, match="style_size"):
        adain("cat", "swirls", size=64, style_size=2, net=net)


def test_explorer_caches_features_and_takes_uploads(net):
    from vizlab.widgets import AdainExplorer

    ex = AdainExplorer("cat", ["swirls", "brick"], size=64, net=net)
    assert ex.encoded == 2 and ex.image.value and ex.output.shape[-2] == 64  # exact: photo + first style
    first = ex.output
    ex.alpha.value = 0.3
    assert ex.encoded == 2 and not torch.equal(ex.output, first)  # exact: the slider only decodes
    assert ex.alpha.continuous_update is False  # exact
    ex.style.value = "brick"
    ex.style.value = "swirls"
    assert ex.encoded == 3 and "cached" in ex.status.value  # exact
    # only the style's statistics are kept, and decoding from them is decoding from the feature maps
    mean, std = ex._style_feats["swirls"]
    assert mean.shape == std.shape == (1, 512, 1, 1)  # exact
    feats = net.encode(ex._style_images["swirls"])
    with torch.no_grad():
        assert torch.allclose(net.blend(ex._content_feats, (mean, std), 0.7), net.blend(ex._content_feats, feats, 0.7),
                              atol=1e-4)  # exact
    big = AdainExplorer("cat", ["swirls"], size=256, net=net)
    assert big.style_size == 192 and big._style_images["swirls"].shape[-1] == 192  # exact: STYLE_SIDE
    png = io.BytesIO()
    Image.fromarray((load_image("flower", 64) * 255).astype(np.uint8)).save(png, format="PNG")
    ex.upload.value = ({"name": "my.png", "type": "image/png", "size": len(png.getvalue()),
                        "content": memoryview(png.getvalue()), "last_modified": datetime.datetime(2026, 1, 1)},)
    assert ex.style.value.startswith("upload: my.png") and ex.encoded == 4  # exact
    n = len(ex.history)
    ex.upload.value = ({"name": "notes.txt", "type": "text/plain", "size": 5, "content": memoryview(b"hello"),
                        "last_modified": datetime.datetime(2026, 1, 1)},)
    assert "not an image" in ex.status.value and len(ex.history) == n  # exact
    with pytest.raises(ValueError, match="alpha"):
        AdainExplorer("cat", alpha=2.0, net=net)


def test_cli_stylize_accepts_adain(tmp_path, capsys):
    out = tmp_path / "cat_waves.png"
    assert main(["stylize", "adain:waves", "cat", str(out), "--size", "48", "--alpha", "0.7"]) == 0  # exact
    img = load_image(out)
    assert img.shape[0] == 48 and img.shape[1] % 8 == 0  # exact
    capsys.readouterr()
    odd = tmp_path / "cat_odd.png"  # the cat at a 50-px shorter side is 75x50: AdaIN's decoder takes 72x48
    assert main(["stylize", "adain:waves", "cat", str(odd), "--size", "50"]) == 0  # exact
    said = capsys.readouterr().out
    assert "centre-cropped to 72x48" in said and "(72x48)" in said and load_image(odd).shape[:2] == (48, 72)  # exact
    assert main(["stylize", "adain:", "cat", str(tmp_path / "x.png")]) == 2  # exact
    assert "adain:STYLE" in capsys.readouterr().err
    assert main(["stylize", "swirls", "cat", str(tmp_path / "y.png"), "--alpha", "0.5"]) == 2  # exact
    assert main(["stylize", "adain:no_such_style_file.png", "cat", str(tmp_path / "z.png")]) == 2  # exact


def test_the_smallest_content_side_is_found_by_test_and_refused_below(net):
    """Review round 18: a content image under 16 px (sides are cropped to multiples of 8, and the encoder needs 9)
    gave torch's raw padding RuntimeError; now a ValueError names the argument and the smallest side."""
    from vizlab.style.adain import ENCODE_MIN_SIDE, MIN_SIDE

    assert (ENCODE_MIN_SIDE, MIN_SIDE) == (9, 16)  # exact
    style = torch.rand(1, 3, 32, 32)
    assert adain(torch.rand(1, 3, MIN_SIDE, 40), style, size=None, net=net).shape[-2:] == (16, 40)  # exact
    assert adain(torch.rand(1, 3, 40, MIN_SIDE), style, size=None, net=net).shape[-2:] == (40, 16)  # exact
    for hw in [(MIN_SIDE - 1, 40), (40, 9), (8, 8), (1, 40), (3, 3)]:
        with pytest.raises(ValueError, match=r"^content must be at least 16x16 pixels for AdaIN, got \d+x\d+"):
            adain(torch.rand(1, 3, *hw), style, size=None, net=net)
    with pytest.raises(ValueError, match=r"^image must be at least 16x16"):
        content_batch(torch.rand(1, 3, 12, 40), None)
    with torch.no_grad():
        assert net.encode(torch.rand(1, 3, ENCODE_MIN_SIDE, 40)).shape[-2:] == (2, 5)  # exact
        assert net(torch.rand(1, 3, 40, 40), torch.rand(1, 3, ENCODE_MIN_SIDE, 9)).shape[-2:] == (40, 40)  # exact
        for hw in [(ENCODE_MIN_SIDE - 1, 40), (40, 2)]:
            with pytest.raises(ValueError, match=r"^x must be at least 9x9 pixels for the AdaIN encoder"):
                net.encode(torch.rand(1, 3, *hw))


def test_cli_adain_of_a_tiny_image_is_one_clean_line(tmp_path, capsys):
    flat = tmp_path / "flat.png"
    Image.fromarray(np.zeros((12, 40, 3), np.uint8)).save(flat)     # 40 wide, 12 high
    capsys.readouterr()
    assert main(["stylize", "adain:waves", str(flat), str(tmp_path / "o.png"), "--device", "cpu"]) == 2  # exact
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "at least 16x16 pixels" in err and "40x12" in err, err  # exact


def test_the_crop_multiple_and_side_check_refuse_bad_input_naming_the_argument():
    from vizlab.style.adain import cropped_size
    from vizlab.style.transformer import check_side

    for bad, err in ((0, ValueError), (-8, ValueError), (8.0, TypeError)):
        with pytest.raises(err, match="multiple"):
            cropped_size(10, 10, multiple=bad)
        with pytest.raises(err, match="multiple"):
            content_batch(torch.rand(1, 3, 20, 20), None, multiple=bad)
    assert cropped_size(20, 27, multiple=8) == (16, 24)   # exact
    with pytest.raises(ValueError, match=r"photo must be .*H, W\)"):
        check_side("photo", torch.rand(7))
