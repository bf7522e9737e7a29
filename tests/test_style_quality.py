"""The blob check and the held-out measures of vizlab.style.quality."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vizlab.style.quality import BlobReport, blob_check, held_out_style_loss


def _painted(size: int = 128, seed: int = 0) -> np.ndarray:
    """A stand-in for a stylised photo: textured paint in the style's blues and yellows."""
    rng = np.random.default_rng(seed)
    t = rng.random((size, size))
    blue, yellow = np.array([0.15, 0.3, 0.7]), np.array([0.9, 0.8, 0.35])
    return (t[..., None] * blue + (1 - t[..., None]) * yellow).astype(np.float32)


def _disc(size: int, cy: int, cx: int, r: int) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    return (y - cy) ** 2 + (x - cx) ** 2 <= r * r


def test_clean_paint_passes_and_a_planted_black_blob_fails():
    style = _painted(seed=1)
    photo = np.full((128, 128, 3), 0.7, np.float32)  # a bright photo
    clean = _painted()
    report = blob_check(clean, photo, style)
    assert isinstance(report, BlobReport) and report.ok and report.largest < 0.001  # exact

    blob = _disc(128, 40, 60, 12)  # ~2.8 % of the image
    dirty = clean.copy()
    dirty[blob] = 0.02
    report = blob_check(dirty, photo, style)
    assert not report.ok
    assert report.largest == pytest.approx(blob.mean(), rel=0.15)
    assert report.mask[40, 60] and not report.mask[100, 10]

    small = clean.copy()
    small[_disc(128, 40, 60, 5)] = 0.02  # ~0.6 %: below the 1 % limit
    assert blob_check(small, photo, style).ok


def test_black_where_the_photo_is_dark_is_not_a_blob():
    style, clean = _painted(seed=1), _painted()
    blob = _disc(128, 64, 64, 15)
    photo = np.full((128, 128, 3), 0.7, np.float32)
    photo[_disc(128, 64, 64, 22)] = 0.03  # the photo is black there (a black coat, a night sky)
    dirty = clean.copy()
    dirty[blob] = 0.0
    assert blob_check(dirty, photo, style).ok
    photo_bright = np.full((128, 128, 3), 0.7, np.float32)
    assert not blob_check(dirty, photo_bright, style).ok


def test_off_palette_flat_patch_fails_but_the_photos_own_colour_is_allowed():
    style, clean = _painted(seed=1), _painted()
    photo = np.full((128, 128, 3), 0.6, np.float32)
    cyan = clean.copy()
    cyan[20:50, 20:50] = [0.0, 1.0, 1.0]  # saturated cyan: neither in the style nor in the photo (5.5 %)
    assert not blob_check(cyan, photo, style).ok
    assert blob_check(cyan, photo, None).ok  # without a palette only near-black counts

    photo_red = photo.copy()
    photo_red[10:60, 10:60] = [0.8, 0.1, 0.1]
    kept = clean.copy()
    kept[20:50, 20:50] = [0.8, 0.1, 0.1]  # the photo's own red, kept flat by the network: fine
    assert blob_check(kept, photo_red, style).ok


def test_blob_check_takes_tensors_and_validates():
    style, clean = _painted(seed=1), _painted()
    t = torch.from_numpy(clean.transpose(2, 0, 1).copy())[None]
    assert blob_check(t, np.full((64, 64, 3), 0.7, np.float32), style).ok  # photo resized to the output
    with pytest.raises(ValueError, match="max_fraction"):
        blob_check(clean, clean, style, max_fraction=2)
    with pytest.raises(ValueError, match="one image"):
        blob_check(torch.rand(2, 3, 8, 8), clean)


def test_held_out_style_loss_is_lower_for_the_style_itself(tiny):
    from vizlab.style.lossnet import LossNetwork, Recipe
    from vizlab.style.transformer import TransformerNet

    recipe = Recipe("tiny", style_layers=("relu1", "relu2"), content_layers=("relu2",), style_weight=5.0)
    lnet = LossNetwork(tiny, ["relu1", "relu2"], recipe)

    class Const(torch.nn.Module):  # a "network" that always paints the style image
        def __init__(self, img):
            super().__init__()
            self.img = torch.nn.Parameter(torch.from_numpy(img.transpose(2, 0, 1).copy())[None])

        def forward(self, x):
            return torch.nn.functional.interpolate(self.img, size=x.shape[-2:]).expand(x.shape[0], -1, -1, -1)

    style = _painted(64, seed=3)
    same = held_out_style_loss(Const(style), ["cat", "rocket"], style, size=64, loss_net=lnet)
    ident = TransformerNet(width=4, blocks=1)
    assert same < 1e-4 < held_out_style_loss(ident, ["cat"], style, size=64, loss_net=lnet)  # exact


def test_network_report_measures_each_photo(tiny):
    from vizlab.style.lossnet import LossNetwork, Recipe
    from vizlab.style.quality import network_report

    recipe = Recipe("tiny", style_layers=("relu1", "relu2"), content_layers=("relu2",), style_weight=5.0)
    loss_net = LossNetwork(tiny, ["relu1", "relu2"], recipe)

    class Identity(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return x + 0 * self.w

    rows = network_report(Identity(), "swirls", ["cat", "rocket"], size=48, loss_net=loss_net)
    assert [r["photo"] for r in rows] == ["cat", "rocket"]
    # A network that changes nothing took none of the style and painted no blob.
    assert all(abs(r["fall"]) < 1e-6 and r["blob"] < 0.01 for r in rows), rows  # exact: identity network
