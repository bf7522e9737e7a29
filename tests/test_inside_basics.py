import pytest
import torch

from conftest import hooks_left
from vizlab.inside import (activated_layers, channel_ranking, colour_blobs, colour_fraction, extract_patches,
                           feature_maps, first_layer_filters, learn_patch_filters, orientedness, smoothness, sparsity)


def test_first_layer_filters_are_the_first_conv_weights(tiny, model):
    assert torch.equal(first_layer_filters(tiny), tiny.conv1.weight.detach())
    assert first_layer_filters(model).shape == (32, 3, 3, 3)


def test_orientedness_separates_edges_from_blobs():
    x = torch.arange(8.0)
    edge = (x[None, :] > 3.5).float().expand(8, 8)            # vertical edge
    yy, xx = torch.meshgrid(x, x, indexing="ij")
    blob = torch.exp(-((yy - 3.5) ** 2 + (xx - 3.5) ** 2) / 4)  # isotropic blob
    filters = torch.stack([edge, edge.T, blob])[:, None].expand(-1, 3, -1, -1)
    o = orientedness(filters)
    assert o[0] > 0.99 and o[1] > 0.99 and o[2] < 0.05  # exact: synthetic edge and blob filters


def test_orientedness_counts_a_colour_opponent_edge():
    x = torch.arange(8.0)
    step = (x[None, :] > 3.5).float().expand(8, 8) - 0.5         # vertical step, mean 0
    red_green = torch.stack([step, -step, torch.zeros(8, 8)])     # red left of the edge, green right: sum 0
    yy, xx = torch.meshgrid(x, x, indexing="ij")
    blob = torch.exp(-((yy - 3.5) ** 2 + (xx - 3.5) ** 2) / 4)
    grey_blob = blob.expand(3, -1, -1)
    o = orientedness(torch.stack([red_green, red_green.transpose(1, 2), grey_blob]))
    assert o[0] > 0.99 and o[1] > 0.99 and o[2] < 0.05   # exact: synthetic filters
    # the channels' sum of the red/green edge is zero: what summing before measuring would have seen
    assert red_green.sum(0).abs().max() == 0
    # a gray edge scores as before: the three channels agree, so the colour structure tensor is 3x a channel's
    gray_edge = step.expand(3, -1, -1)
    torch.testing.assert_close(orientedness(gray_edge[None]), orientedness(step[None, None]))


def test_colour_fraction_of_gray_and_opponent_filters():
    gray = torch.ones(1, 3, 4, 4)
    opponent = torch.zeros(1, 3, 4, 4)
    opponent[0, 0], opponent[0, 1] = 1.0, -1.0  # red vs green
    frac = colour_fraction(torch.cat([gray, opponent]))
    assert frac[0] == pytest.approx(0.0) and frac[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="RGB"):
        colour_fraction(torch.ones(1, 4, 3, 3))


def test_smoothness_is_the_low_frequency_share_of_the_energy():
    x = torch.arange(8.0)
    yy, xx = torch.meshgrid(x, x, indexing="ij")
    slow = torch.cos(2 * torch.pi * xx / 8)                     # 0.125 cycles per pixel: all energy below 0.25
    fast = torch.cos(2 * torch.pi * xx / 2)                     # 0.5 cycles per pixel: none below 0.25
    checker = (-1.0) ** (yy + xx)
    half = slow + fast / 2 ** 0.5                               # equal energy in each (32 and 32)
    filters = torch.stack([slow, fast, checker, half, torch.ones(8, 8)])[:, None].expand(-1, 3, -1, -1)
    s = smoothness(filters)
    torch.testing.assert_close(s, torch.tensor([1.0, 0.0, 0.0, 0.5, 1.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(smoothness(3 * filters), s)      # scale-free
    assert smoothness(filters, cutoff=0.6)[0] == 1 and smoothness(filters, cutoff=0.6)[2] == 0   # checker at 0.71
    assert smoothness(torch.zeros(1, 3, 4, 4)) == 0
    with pytest.raises(ValueError, match="cutoff"):
        smoothness(filters, cutoff=0)


@pytest.mark.parametrize("k, share", [(3, 1 / 9), (5, 5 / 25), (7, 9 / 49), (8, 13 / 64), (11, 21 / 121)])
def test_white_noise_baseline_of_smoothness_is_the_documented_share_of_low_frequencies(k, share):
    """r20 review: the docstring gave one noise baseline (pi * 0.25² ≈ 0.2), wrong for the embedded model's 3x3
    first layer (1/9: only the mean is a low frequency there). The baselines it now states, by kernel size, are
    the fraction of the k x k DFT frequencies at or below the cutoff, and white noise meets them."""
    fy = torch.fft.fftfreq(k)[:, None]
    assert float(((fy.square() + fy.T.square()).sqrt() <= 0.25).float().mean()) == pytest.approx(share)  # exact
    noise = torch.randn(4000, 3, k, k, generator=torch.Generator().manual_seed(k))
    assert float(smoothness(noise).mean()) == pytest.approx(share, abs=0.01)  # 4000 filters: s.e. about 0.002
    assert f"{round(share * k * k)}/{k * k}" in " ".join(smoothness.__doc__.split())  # the docstring states it


def test_smoothness_of_a_3x3_filter_is_the_share_of_its_channel_means():
    """At 3x3 the frequencies are 0 and ±1/3 cycle per pixel: below any cutoff < 1/3 only the mean (Parseval:
    the DC term is (sum w)², the total 9 * sum w²)."""
    w = torch.randn(50, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    dc_share = w.sum((2, 3)).square().sum(1) / (9 * w.square().sum((1, 2, 3)))
    for cutoff in (0.1, 0.25, 0.33):
        torch.testing.assert_close(smoothness(w, cutoff=cutoff), dc_share)
    assert "3x3" in smoothness.__doc__ and "DC share" in smoothness.__doc__


def test_colour_blobs_need_colour_no_orientation_and_smoothness():
    x = torch.arange(7.0)
    yy, xx = torch.meshgrid(x, x, indexing="ij")
    blob = torch.exp(-((yy - 3) ** 2 + (xx - 3) ** 2) / 4)
    edge = (xx > 3).float() - 0.5
    noise = torch.randn(7, 7, generator=torch.Generator().manual_seed(0))

    def red(m):
        return torch.stack([m, torch.zeros_like(m), torch.zeros_like(m)])

    filters = torch.stack([red(blob), red(edge), red(noise), blob.expand(3, -1, -1)])
    # a red blob is one; a red edge is oriented, red noise is rough, a gray blob has no colour
    assert colour_blobs(filters).tolist() == [True, False, False, False]
    assert smoothness(filters[2:3]) < 0.5 and orientedness(filters[2:3]) < 0.5  # exact: seeded noise
    assert colour_fraction(filters[2:3]) > 0.5  # exact: red only by construction
    with pytest.raises(ValueError, match="threshold"):
        colour_blobs(filters, threshold=2)


def test_patches_and_ica_filters_on_photos():
    p = extract_patches(["cat", "temple"], patch_size=6, n_patches=500, seed=1)
    assert p.shape == (500, 108)
    assert (p == extract_patches(["cat", "temple"], patch_size=6, n_patches=500, seed=1)).all()
    w = learn_patch_filters(["cat", "temple", "flower"], n_filters=12, patch_size=6, n_patches=4000)
    assert w.shape == (12, 3, 6, 6)
    rand = torch.randn(12, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    assert orientedness(w).median() > orientedness(rand).median()   # natural-image filters are edge-like
    with pytest.raises(ValueError, match="method"):
        learn_patch_filters(["cat"], method="pca")
    with pytest.raises(ValueError, match="n_filters"):
        learn_patch_filters(["cat"], n_filters=1000, patch_size=4)
    with pytest.raises(ValueError, match="smaller than patch_size"):
        extract_patches([torch.rand(3, 4, 4)], patch_size=8)


def test_feature_maps_and_sparsity_on_tiny_model(tiny, images):
    maps = feature_maps(tiny, images, ["conv1", "relu2"])
    assert maps["conv1"].shape == (2, 8, 16, 16) and maps["relu2"].shape == (2, 16, 8, 8)
    frac = sparsity(tiny, images, ["relu1", "relu2"])
    assert set(frac) == {"relu1", "relu2"}
    assert frac["relu1"] == pytest.approx(float((maps["conv1"] <= 0).float().mean()), abs=1e-6)
    assert activated_layers(tiny) == ["relu1", "relu2"]
    assert hooks_left(tiny) == 0


def test_embedded_model_is_sparser_deeper(model):
    layers = activated_layers(model)
    assert layers[0] == "stem" and layers[-1] == "head"
    frac = sparsity(model, ["cat", "espresso", "temple"], layers)
    assert frac["head"] > 2 * frac["stem"]


def test_channel_ranking_orders_by_mean():
    maps = torch.zeros(3, 2, 2)
    maps[2] += 5
    maps[0] += 1
    assert channel_ranking(maps) == [2, 0, 1]
