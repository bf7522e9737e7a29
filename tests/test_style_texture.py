"""VGG-19 texture synthesis (vizlab.style.texture, issue 25 round 11)."""
import pytest
import torch
from torch import nn

from vizlab.models import load_model
from vizlab.style import style_batch
from vizlab.style.texture import (TEXTURE_LAYERS, TextureNet, match_colors_pca, periodic_component,
                                  spectrum_distance, spectrum_projection, synthesize_texture_vgg,
                                  texture_gram_distance)


@pytest.fixture(scope="module")
def vgg():
    return load_model("vgg19_normalised", device="cpu")


@pytest.fixture(scope="module")
def tnet(vgg):
    return TextureNet(vgg)


def test_texture_net_shares_weights_and_leaves_the_model_alone(vgg, tnet):
    convs = [m for m in vgg.net if isinstance(m, nn.Conv2d)]
    mine = [m for m in tnet.layers if isinstance(m, nn.Conv2d)]
    assert [id(m) for m in mine] == [id(m) for m in convs]  # exact
    assert sum(isinstance(m, nn.MaxPool2d) for m in vgg.net) == 4  # exact
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in vgg.net) == 16  # exact
    assert sum(isinstance(m, nn.AvgPool2d) for m in tnet.layers) == 4  # exact
    assert [n for n in tnet.layer_names if n.startswith("pool")] == ["pool1", "pool2", "pool3", "pool4"]  # exact


def test_texture_net_relu_layers_match_the_model(vgg, tnet):
    # With reflection padding and max pooling the rebuilt trunk computes the model's own activations.
    plain = TextureNet(vgg, pooling="max", padding="reflect")
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    feats = plain(x, ["relu1_1", "relu3_1"])
    with torch.no_grad():
        ref = vgg.net[:4](vgg.normalize(x))
        ref3 = vgg.net[:18](vgg.normalize(x))
    assert torch.allclose(feats["relu1_1"], ref, atol=1e-5)  # exact
    assert torch.allclose(feats["relu3_1"], ref3, atol=1e-4)  # exact
    assert list(tnet(x, TEXTURE_LAYERS)) == list(TEXTURE_LAYERS)  # exact


def test_circular_padding_makes_the_features_shift_equivariant(vgg, tnet):
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    f = tnet(x, ["relu1_1", "pool2"])
    g = tnet(torch.roll(x, shifts=(4, 8), dims=(2, 3)), ["relu1_1", "pool2"])
    assert torch.allclose(torch.roll(f["relu1_1"], (4, 8), (2, 3)), g["relu1_1"], atol=1e-4)  # exact
    assert torch.allclose(torch.roll(f["pool2"], (1, 2), (2, 3)), g["pool2"], atol=1e-3)  # exact
    # A reflection-padded trunk is not: the border is a different place there.
    r = TextureNet(vgg, padding="reflect")
    fr = r(x, ["relu1_1"])["relu1_1"]
    gr = r(torch.roll(x, shifts=(4, 8), dims=(2, 3)), ["relu1_1"])["relu1_1"]
    assert not torch.allclose(torch.roll(fr, (4, 8), (2, 3)), gr, atol=1e-3)  # exact


def test_periodic_component_is_the_image_less_a_harmonic_part():
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    periodic = (torch.sin(2 * torch.pi * 3 * xx / 32) + torch.cos(2 * torch.pi * 2 * yy / 32))[None, None]
    ramp = (xx / 31 + 0.3 * periodic[0, 0])[None, None]
    # Moisan: image = periodic + smooth, the smooth part harmonic inside (zero periodic Laplacian off the border).
    smooth = ramp - periodic_component(ramp)
    lap = sum(torch.roll(smooth, k, d) for k in (1, -1) for d in (2, 3)) - 4 * smooth
    assert lap[..., 1:-1, 1:-1].abs().max() < 1e-4  # exact
    assert lap.abs().max() > 0.01  # exact
    # A plane is nearly all smooth part: its FFT's "+" of border lines is artefact, and the periodic part drops it.
    plane = (xx / 31 + yy / 50)[None, None]
    assert periodic_component(plane).std() < 0.05 * plane.std()  # exact


def test_spectrum_projection_has_the_source_modulus_and_keeps_a_shifted_source():
    g = torch.Generator().manual_seed(2)
    source = torch.rand(1, 3, 16, 16, generator=g)
    fs = torch.fft.fft2(source)
    x = torch.rand(1, 3, 16, 16, generator=g)
    p = spectrum_projection(x, fs)
    assert torch.allclose(torch.fft.fft2(p).abs(), fs.abs(), atol=1e-4)  # exact
    shifted = torch.roll(source, shifts=(3, 5), dims=(2, 3))
    assert torch.allclose(spectrum_projection(shifted, fs), shifted, atol=1e-4)  # exact
    # The measure compares moduli of the periodic components: the image turned by 180 degrees has the same.
    assert spectrum_distance(source.flip(-1, -2), source) < 1e-5  # exact
    assert spectrum_distance(x, source) > 0.05  # exact


def test_synthesis_matches_the_source_statistics(tnet):
    src = style_batch(None, "gravel", 64)
    r = synthesize_texture_vgg("gravel", size=32, source_size=64, octaves=1, steps=8, net=tnet, seed=0)
    assert r.image.shape == (1, 3, 32, 32)  # exact
    assert torch.equal(r.image[:, 0], r.image[:, 1]) and torch.equal(r.image[:, 1], r.image[:, 2])  # exact
    assert len(r.history) == 8 and r.history[-1]["gram"] < r.history[0]["gram"]  # exact
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    left = texture_gram_distance(tnet, r.image, src) / texture_gram_distance(tnet, noise, src)
    assert left < 0.01  # claim: texture_vgg_gram_left
    # The histogram is the source's (rank matching): the sorted values agree at the same quantiles.
    q = torch.linspace(0, 1, 9)
    assert torch.allclose(torch.quantile(r.image[0, 0].flatten(), q), torch.quantile(src[0, 0].flatten(), q),
                          atol=0.03)  # exact


def test_octave_upsampling_keeps_the_texture_periodic():
    from vizlab.style.texture import _upsample_periodic

    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    up = _upsample_periodic(x, 16)
    assert up.shape == (1, 1, 16, 16)  # exact
    # Rolling by one coarse pixel before is rolling by two fine pixels after: no place is the border.
    assert torch.allclose(torch.roll(up, 2, 3), _upsample_periodic(torch.roll(x, 1, 3), 16), atol=1e-6)  # exact
    plain = torch.nn.functional.interpolate(x, size=(16, 16), mode="bicubic", align_corners=False)
    assert not torch.allclose(torch.roll(plain, 2, 3), torch.nn.functional.interpolate(
        torch.roll(x, 1, 3), size=(16, 16), mode="bicubic", align_corners=False), atol=1e-3)  # exact


def test_pca_colour_matching_gives_the_source_colour_statistics():
    src = style_batch(None, "brush", 64)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    m = match_colors_pca(x, src)
    cov = lambda img: torch.cov(img[0].reshape(3, -1))  # noqa: E731
    # Mean and covariance become the source's (up to the clamp to [0, 1]); uniform noise's are far from them.
    assert torch.allclose(m.mean(dim=(2, 3)), src.mean(dim=(2, 3)), atol=0.01)  # exact
    assert (cov(m) - cov(src)).abs().max() < 0.005 < (cov(x) - cov(src)).abs().max()  # exact


def test_colour_sources_are_not_histogram_matched_by_default(tnet):
    kw = dict(size=32, source_size=64, octaves=1, steps=2, net=tnet, seed=1)
    auto = synthesize_texture_vgg("brush", **kw).image
    assert torch.equal(auto, synthesize_texture_vgg("brush", match_colors=False, **kw).image)  # exact
    assert not torch.equal(auto, synthesize_texture_vgg("brush", match_colors=True, **kw).image)  # exact


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(size=8), ValueError, "size must be an integer >= 16, got 8"),
    (dict(octaves=0), ValueError, "octaves must be an integer >= 1, got 0"),
    (dict(octaves=2, steps=[1, -1]), ValueError, "steps must be an integer >= 0, got -1"),
    (dict(octaves=2, steps=[1]), ValueError, "steps"),
    (dict(init="zeros"), ValueError, "init"),
    (dict(spectrum_weight=-1), ValueError, "spectrum_weight"),
    (dict(source_size=16), ValueError, "source_size must be an integer >= 32, got 16"),
    (dict(layers=["relu9_9"]), ValueError, "relu9_9"),
    (dict(layers=[]), ValueError, "layers"),
    (dict(layers="pool1"), TypeError, "layers"),
    (dict(size="32"), TypeError, "size"),
    (dict(octaves=2.0), TypeError, "octaves"),
    (dict(steps=[1.5]), TypeError, "steps"),
    (dict(spectrum_weight=None), TypeError, "spectrum_weight"),
    (dict(long_range_weight=-0.5), ValueError, "long_range_weight"),
    (dict(net="vgg"), TypeError, "net"),
])
def test_bad_arguments_name_themselves(tnet, kwargs, error, word):
    with pytest.raises(error, match=word):
        synthesize_texture_vgg("gravel", **{"size": 32, "steps": 1, "net": tnet, **kwargs})


def test_texture_net_rejects_other_models_and_options(vgg):
    with pytest.raises(ValueError, match="pooling"):
        TextureNet(vgg, pooling="median")
    with pytest.raises(ValueError, match="padding"):
        TextureNet(vgg, padding="zeros")
    with pytest.raises(TypeError, match="VizModel"):
        TextureNet(nn.Sequential())


def test_histogram_loss_is_zero_for_the_source_distribution_and_pulls_towards_it():
    from vizlab.style.texture import _histogram_loss, _sorted_channels

    g = torch.Generator().manual_seed(5)
    src = torch.rand(1, 4, 12, 12, generator=g) ** 3          # skewed values, four channels
    target = _sorted_channels(src)
    # Any rearrangement of the source's values (here a shuffle within each channel) has its histogram: loss 0,
    # also when the synthesis has a different number of values (every second value: the same quantiles).
    perm = src.reshape(4, -1)[:, torch.randperm(144, generator=g)].reshape(1, 4, 12, 12)
    assert float(_histogram_loss(perm, target)) < 1e-10  # exact
    half = target[:, ::2].reshape(1, 4, 8, 9)
    assert float(_histogram_loss(half, target)) < 1e-3  # exact
    # A flat map is far from it; a gradient step on the loss moves the map's sorted values towards the source's.
    x = torch.full((1, 4, 12, 12), 0.3).add(0.01 * torch.randn(1, 4, 12, 12, generator=g)).requires_grad_(True)
    loss = _histogram_loss(x, target)
    assert loss.item() > 0.1  # exact
    loss.backward()
    y = (x - 20 * x.grad).detach()
    assert float(_histogram_loss(y, target)) < 0.5 * loss.item()  # exact
    assert (_sorted_channels(y) - target).abs().mean() < (_sorted_channels(x.detach()) - target).abs().mean()  # exact


def test_histogram_layers_are_checked_and_change_the_synthesis(tnet):
    kw = dict(size=32, source_size=64, octaves=1, steps=3, net=tnet, seed=0)
    plain = synthesize_texture_vgg("gravel", **kw)
    hist = synthesize_texture_vgg("gravel", histogram_layers=["relu1_1", "relu4_1"], **kw)
    assert not torch.equal(plain.image, hist.image)  # exact
    # Weight 0 leaves the loss, and so the synthesis, as without the term.
    off = synthesize_texture_vgg("gravel", histogram_layers=["relu1_1"], histogram_weight=0.0, **kw)
    assert torch.allclose(off.image, plain.image, atol=1e-6)  # exact
    with pytest.raises(ValueError, match="relu9_1"):
        synthesize_texture_vgg("gravel", histogram_layers=["relu9_1"], **kw)
    with pytest.raises(TypeError, match="histogram_layers"):
        synthesize_texture_vgg("gravel", histogram_layers="relu1_1", **kw)
    with pytest.raises(ValueError, match="histogram_weight"):
        synthesize_texture_vgg("gravel", histogram_layers=["relu1_1"], histogram_weight=-1, **kw)


def test_rank_match_serves_both_histogram_matchings():
    from vizlab.style.gatys import match_histogram, rank_match
    from vizlab.style.texture import _histogram_loss, _sorted_channels

    g = torch.Generator().manual_seed(3)
    ref = torch.rand(2, 50, generator=g) ** 2
    vals = torch.randn(2, 50, generator=g)
    out = rank_match(vals, ref.sort(dim=1).values)
    # Same sizes: the output is a rearrangement of the reference's values in the input's order of ranks.
    assert torch.equal(out.sort(dim=1).values, ref.sort(dim=1).values)  # exact
    assert torch.equal(out.argsort(dim=1), vals.argsort(dim=1))  # exact
    # Other sizes: the quantiles (interpolated) are the reference's.
    many = rank_match(torch.randn(2, 201, generator=g), ref.sort(dim=1).values)
    q = torch.linspace(0, 1, 11)
    assert torch.allclose(torch.quantile(many, q, dim=1), torch.quantile(ref, q, dim=1), atol=1e-6)  # exact
    # Pixels (match_histogram) and feature maps (the histogram loss: 0 at the matched map) agree.
    img = torch.rand(1, 2, 5, 10, generator=g)
    matched = match_histogram(img, ref.reshape(1, 2, 5, 10))
    assert torch.equal(matched[0].reshape(2, -1), rank_match(img[0].reshape(2, -1), ref.sort(dim=1).values))  # exact
    assert float(_histogram_loss(matched, _sorted_channels(ref.reshape(1, 2, 5, 10)))) < 1e-12  # exact
    with pytest.raises(ValueError, match="sorted_reference"):
        rank_match(vals, ref[:1])
    with pytest.raises(ValueError, match="sorted_reference"):
        rank_match(vals, ref[:, :0])
    # A half-precision reference longer than float16 can count (65504) still gets its quantiles.
    big = torch.linspace(0, 1, 70000, dtype=torch.float16).unsqueeze(0)
    half = rank_match(torch.arange(3.0).unsqueeze(0), big)
    assert torch.allclose(half.float(), torch.tensor([[0.0, 0.5, 1.0]]), atol=1e-3)  # exact


def test_lbfgs_chunks_take_the_same_path_with_fewer_evaluations(tnet, monkeypatch):
    from vizlab.style import texture

    calls = []
    hook = tnet.register_forward_hook(lambda *a: calls.append(1))
    try:
        runs = {}
        for chunk in (1, 10):
            monkeypatch.setattr(texture, "LBFGS_CHUNK", chunk)
            calls.clear()
            r = synthesize_texture_vgg("gravel", size=32, source_size=64, octaves=1, steps=12, net=tnet, seed=0)
            runs[chunk] = (r, len(calls))
    finally:
        hook.remove()
    (one, n_one), (ten, n_ten) = runs[1], runs[10]
    # torch's L-BFGS evaluates its start point afresh on every step call: one iteration per call pays that
    # extra pass each time; ten per call once per ten. The iterates are the same.
    assert len(one.history) == len(ten.history) == 12  # exact
    assert n_ten <= n_one - 10  # exact
    assert torch.allclose(one.image, ten.image, atol=1e-5)  # exact


def test_tv_weight_flattens_the_synthesis_and_is_checked(tnet):
    from vizlab.style.texture import _total_variation

    kw = dict(size=32, source_size=64, octaves=1, steps=6, net=tnet, seed=0, match_colors=False)
    plain = synthesize_texture_vgg("waves", **kw)
    off = synthesize_texture_vgg("waves", tv_weight=0.0, **kw)
    assert torch.equal(off.image, plain.image)  # exact
    flat = synthesize_texture_vgg("waves", tv_weight=1.0, **kw)
    # At equal iterations the penalty leaves less variation between neighbouring pixels.
    assert float(_total_variation(flat.image) / _total_variation(plain.image)) < 0.9  # claim: texture_vgg_tv_ratio
    # A shifted image (wrapping round) has the same total variation: the penalty has no border.
    assert torch.allclose(_total_variation(plain.image), _total_variation(plain.image.roll((5, 7), (-2, -1))))  # exact
    with pytest.raises(ValueError, match="tv_weight"):
        synthesize_texture_vgg("waves", tv_weight=-1.0, **kw)
    with pytest.raises(TypeError, match="tv_weight"):
        synthesize_texture_vgg("waves", tv_weight="0.1", **kw)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tv_weight"):
            synthesize_texture_vgg("waves", tv_weight=bad, **kw)


def test_history_records_where_each_iteration_ended(tnet):
    """A line search that finds no better point leaves the image where it was: its record is the start's loss,
    not a rejected trial's; and the losses recorded never rise (L-BFGS with a strong-Wolfe search only accepts
    decreases)."""
    r = synthesize_texture_vgg("gravel", size=32, source_size=64, octaves=1, steps=13, net=tnet, seed=0)
    totals = [h["total"] for h in r.history]
    assert len(totals) == 13  # exact
    assert all(b <= a + 1e-9 for a, b in zip(totals, totals[1:]))  # exact


# -- round 14: the patch-matching term (Li & Wand 2016's idea), Ctrl-C, ties in rank_match -------------------------
def test_patch_loss_is_zero_on_the_source_and_finds_the_nearest_patch(tnet):
    from vizlab.style.texture import PatchBank, _patch_loss, nearest_patches

    g = torch.Generator().manual_seed(7)
    src = torch.rand(1, 5, 9, 11, generator=g)
    bank = PatchBank(src)
    assert len(bank) == 7 * 9  # exact
    # Every patch inside the source is its own nearest neighbour (no two random patches are parallel): loss 0.
    assert torch.equal(nearest_patches(src, bank, periodic=False), torch.arange(63))  # exact
    assert float(_patch_loss(src, bank, periodic=False)) < 1e-10  # exact
    # A constructed case: a map whose every patch is a scaled, slightly perturbed source patch (rolled, so the
    # indices are not in order) finds that patch by normalised cross-correlation, whatever the scale.
    picks = torch.randperm(63, generator=g)[:20]
    scaled = bank.patches[picks] * (0.2 + 3 * torch.rand(20, 1, generator=g))
    scaled = scaled + 1e-3 * torch.randn(scaled.shape, generator=g)
    f = scaled.T.reshape(1, 5, 3, 3, 20)                     # 20 patches side by side in a 3 x 60 map
    f = f.permute(0, 1, 2, 4, 3).reshape(1, 5, 3, 60)
    cols = torch.nn.functional.unfold(f, 3, stride=(1, 3))   # the 20 non-overlapping patches
    stacked = cols[0].T.reshape(20, 5, 3, 3).permute(1, 2, 0, 3).reshape(1, 5, 3, 60)
    idx = nearest_patches(stacked, bank, periodic=False)     # 1 x 58 positions; every third is a whole patch
    assert torch.equal(idx[::3], picks)  # exact
    # On the features of a synthesis: a periodic image's features against the features of that image tiled 2 x 2
    # (circular padding: the tiled map is the map tiled, so every wrapped patch is a source patch): loss ~0.
    x = torch.rand(1, 3, 32, 32, generator=g)
    f1 = tnet(x, ["relu2_1"])["relu2_1"]
    f4 = tnet(x.repeat(1, 1, 2, 2), ["relu2_1"])["relu2_1"]
    assert float(_patch_loss(f1, PatchBank(f4), periodic=True)) < 1e-6  # exact
    # ... and a different image is far from it.
    y = torch.rand(1, 3, 32, 32, generator=g)
    assert float(_patch_loss(tnet(y, ["relu2_1"])["relu2_1"], PatchBank(f4))) > 0.05  # exact


def test_patch_loss_wraps_round_a_periodic_map():
    from vizlab.style.texture import PatchBank, _patch_loss, nearest_patches

    g = torch.Generator().manual_seed(9)
    t = torch.rand(1, 5, 4, 4, generator=g)
    # periodic: one patch per position (wrapping round), H*W of them; else only the (H-2)*(W-2) inside
    tiled = PatchBank(t.repeat(1, 1, 2, 2))   # holds every wrapped-round patch of t, and no zero-padded one
    assert nearest_patches(t, tiled, periodic=True).numel() == 16  # exact
    assert nearest_patches(t, tiled, periodic=False).numel() == 4  # exact
    # t (and t rolled across its own edge) wrapped round is made of the tiled source's patches: loss ~0
    for shift in ((0, 0), (1, 2), (3, 1)):
        assert float(_patch_loss(t.roll(shift, dims=(-2, -1)), tiled, periodic=True)) < 1e-10  # exact
    # the bank of t alone has only its 4 inner patches: inside the map the loss is 0, wrapped round it is not
    own = PatchBank(t)
    assert float(_patch_loss(t, own, periodic=False)) < 1e-10  # exact
    assert float(_patch_loss(t, own, periodic=True)) > 0.05  # exact


def test_an_all_zero_patch_is_matched_to_the_lowest_energy_source_patch():
    from vizlab.style.texture import PatchBank, _patch_loss, nearest_patches

    # A dead-ReLU neighbourhood has no direction (every normalised cross-correlation is 0): it is matched to the
    # source patch of least energy (here the source's own all-zero patch, the 16th), not to the first one.
    g = torch.Generator().manual_seed(1)
    src = torch.relu(torch.randn(1, 3, 6, 6, generator=g))
    src[..., 3:, 3:] = 0
    bank = PatchBank(src)
    zero = int(bank.patches.norm(dim=1).argmin())
    assert zero == 15 and float(bank.patches[zero].abs().max()) == 0  # exact
    dead = torch.zeros(1, 3, 4, 5)
    assert torch.equal(nearest_patches(dead, bank), torch.full((20,), zero))  # exact
    assert float(_patch_loss(dead, bank)) == 0  # exact
    # a map with some dead neighbourhoods: only those change; the others keep their best correlation
    f = src.clone()
    f[..., :3, :3] = 0
    idx = nearest_patches(f, bank, periodic=False).reshape(4, 4)
    assert int(idx[0, 0]) == zero and torch.equal(idx[3], torch.arange(12, 16))  # exact


def test_patch_bank_stride_keeps_every_stride_th_patch():
    from vizlab.style.texture import PatchBank

    src = torch.rand(1, 2, 9, 11, generator=torch.Generator().manual_seed(10))
    full = PatchBank(src)
    two = PatchBank(src, stride=2)
    assert len(full) == 7 * 9 and len(two) == 4 * 5  # exact
    every_other = full.patches.reshape(7, 9, -1)[::2, ::2].reshape(20, -1)
    assert torch.equal(two.patches, every_other)  # exact
    assert two.filters.shape == (20, 2, 3, 3)  # exact


def test_patch_loss_pulls_the_synthesis_towards_its_neighbours(tnet):
    from vizlab.style.texture import PatchBank, _patch_loss

    g = torch.Generator().manual_seed(8)
    src = torch.rand(1, 4, 10, 10, generator=g)
    bank = PatchBank(src)
    x = torch.rand(1, 4, 8, 8, generator=g).requires_grad_(True)
    loss = _patch_loss(x, bank)
    loss.backward()
    y = (x - 0.05 * x.grad / x.grad.abs().max()).detach()
    assert float(_patch_loss(y, bank)) < loss.item()  # exact


def test_patch_layers_change_the_synthesis_and_are_checked(vgg, tnet):
    from vizlab.style.texture import PatchBank

    kw = dict(size=32, source_size=64, octaves=1, steps=4, net=tnet, seed=0)
    plain = synthesize_texture_vgg("brick", **kw)
    patch = synthesize_texture_vgg("brick", patch_layers=["relu3_1"], **kw)
    assert not torch.equal(plain.image, patch.image)  # exact
    assert all(h["patch"] == 0 for h in plain.history) and all(h["patch"] > 0 for h in patch.history)  # exact
    # the term's value falls over the iterations
    assert patch.history[-1]["patch"] < patch.history[0]["patch"]  # exact
    # patch_stride reaches the bank (a sparser bank: other nearest patches, another image)
    strided = synthesize_texture_vgg("brick", patch_layers=["relu3_1"], patch_stride=2, **kw)
    assert not torch.equal(strided.image, patch.image)  # exact
    off = synthesize_texture_vgg("brick", patch_layers=["relu3_1"], patch_weight=0.0, **kw)
    assert torch.allclose(off.image, plain.image, atol=1e-6)  # exact
    with pytest.raises(ValueError, match="relu9_1"):
        synthesize_texture_vgg("brick", patch_layers=["relu9_1"], **kw)
    with pytest.raises(TypeError, match="patch_layers"):
        synthesize_texture_vgg("brick", patch_layers="relu3_1", **kw)
    for bad, error in ((-1.0, ValueError), (float("nan"), ValueError), ("1", TypeError)):
        with pytest.raises(error, match="patch_weight"):
            synthesize_texture_vgg("brick", patch_layers=["relu3_1"], patch_weight=bad, **kw)
    for bad, error in ((0, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match=f"patch_stride must be an integer >= 1, got .*{bad}"):
            synthesize_texture_vgg("brick", patch_layers=["relu3_1"], patch_stride=bad, **kw)
    # a source map smaller than one patch (pool4 of a 32-px source is 2 x 2) says so
    with pytest.raises(ValueError, match="smaller than one patch"):
        synthesize_texture_vgg("brick", patch_layers=["pool4"], size=32, source_size=32, octaves=1, steps=1,
                               net=tnet)
    with pytest.raises(ValueError, match="stride must be an integer >= 1, got 0"):
        PatchBank(torch.rand(1, 2, 5, 5), stride=0)
    with pytest.raises(TypeError, match="size must be an integer >= 1, got bool True"):
        PatchBank(torch.rand(1, 2, 5, 5), size=True)
    # ... and so does a synthesis map smaller than one patch (reflection padding, no wrapping round: relu4_1 of the
    # 16-px coarse octave is 2 x 2), before any work
    reflect = TextureNet(vgg, padding="reflect")
    with pytest.raises(ValueError, match=r"patch_layers.*relu4_1.*2x2.*size 32, octaves 2"):
        synthesize_texture_vgg("brick", size=32, source_size=64, octaves=2, steps=1, patch_layers=["relu4_1"],
                               net=reflect)


def test_an_interrupted_synthesis_returns_what_it_has(tnet):
    import threading

    kw = dict(size=32, source_size=64, octaves=2, steps=[10, 20], net=tnet, seed=0)
    seen = []

    def ctrl_c(octave, step, loss):
        seen.append((octave, step))
        if octave == 1 and step == 10:
            raise KeyboardInterrupt

    part = synthesize_texture_vgg("gravel", callback=ctrl_c, **kw)
    assert part.stopped and seen[-1] == (1, 10)  # exact
    assert part.steps == len(part.history) == 20 and part.image.shape == (1, 3, 32, 32)  # exact
    # the 20 iterations done and the image they reached are, bit for bit, those of a run asked for 20
    short = synthesize_texture_vgg("gravel", **{**kw, "steps": [10, 10]})
    assert not short.stopped  # exact
    assert [h["total"] for h in part.history] == [h["total"] for h in short.history]  # exact
    assert torch.equal(part.image, short.image)  # exact
    # A real Ctrl-C lands inside an L-BFGS step (mid line search, the pixels at a trial point): raised from a forward
    # hook on the 7th forward pass of the fine octave's second chunk, the run returns the image and history of the
    # last finished chunk, the same as the run asked for [10, 10] (not the optimiser's trial pixels).
    armed, passes = [False], [0]

    def arm(octave, step, loss):
        armed[0] = armed[0] or (octave == 1 and step == 10)

    def hook(module, inputs, output):
        if armed[0]:
            passes[0] += 1
            if passes[0] == 7:
                raise KeyboardInterrupt

    handle = tnet.layers[0].register_forward_hook(hook)
    try:
        mid = synthesize_texture_vgg("gravel", callback=arm, **kw)
    finally:
        handle.remove()
    assert passes[0] == 7 and mid.stopped and mid.steps == 20  # exact
    assert [h["total"] for h in mid.history] == [h["total"] for h in short.history]  # exact
    assert torch.equal(mid.image, short.image)  # exact
    # ... and landing between the end of a chunk and its records (here: while the chunk's first iteration is
    # recorded, the 21st record in all), the image and the history stay in step: those of the [10, 10] run.
    import builtins

    import vizlab.style.texture as texture_module

    records = [0]

    def min_then_ctrl_c(*args, **kwargs):
        if "key" in kwargs:   # the records' min(mine, key=...)
            records[0] += 1
            if records[0] == 21:
                raise KeyboardInterrupt
        return builtins.min(*args, **kwargs)

    texture_module.min = min_then_ctrl_c   # a module global shadows the builtin
    try:
        gap = synthesize_texture_vgg("gravel", **kw)
    finally:
        del texture_module.min
    assert records[0] == 21 and gap.stopped and gap.steps == 20  # exact
    assert torch.equal(gap.image, short.image)  # exact
    # Interrupted in the coarse octave: that octave's image, upsampled to the size asked for (as a run with no
    # iterations in the fine octave gives it).
    early = synthesize_texture_vgg("gravel", callback=lambda o, s, l: (_ for _ in ()).throw(KeyboardInterrupt), **kw)
    assert early.stopped and early.steps == 10 and early.image.shape == (1, 3, 32, 32)  # exact
    assert torch.equal(early.image, synthesize_texture_vgg("gravel", **{**kw, "steps": [10, 0]}).image)  # exact
    # stop_event: the same, from another thread; checked before each chunk. Set before the run: no iteration, the
    # start image (as a run asked for no iterations gives it).
    stop = threading.Event()
    stop.set()
    stopped = synthesize_texture_vgg("gravel", stop_event=stop, **kw)
    assert stopped.stopped and stopped.steps == 0  # exact
    assert torch.equal(stopped.image, synthesize_texture_vgg("gravel", **{**kw, "steps": [0, 0]}).image)  # exact
    # set during the run (here by the callback after the fine octave's 10th iteration): the next chunk does not start
    stop = threading.Event()
    during = synthesize_texture_vgg("gravel", stop_event=stop,
                                    callback=lambda o, s, l: stop.set() if (o, s) == (1, 10) else None, **kw)
    assert during.stopped and during.steps == 20 and torch.equal(during.image, short.image)  # exact
    # A run that did all its iterations is not "stopped", even when the event is set or Ctrl-C comes at its last one.
    stop = threading.Event()

    def last_step(octave, step, loss):
        if (octave, step) == (1, 20):
            stop.set()
            raise KeyboardInterrupt

    done = synthesize_texture_vgg("gravel", stop_event=stop, callback=last_step, **kw)
    assert not done.stopped and done.steps == 30  # exact
    with pytest.raises(TypeError, match="stop_event"):
        synthesize_texture_vgg("gravel", stop_event=True, **kw)


def test_rank_match_maps_equal_values_to_equal_outputs():
    from vizlab.style.gatys import match_histogram, rank_match

    g = torch.Generator().manual_seed(4)
    ref = (torch.rand(2, 40, generator=g) ** 2).sort(dim=1).values
    # a ReLU-like row (many zeros) and a row of four levels
    vals = torch.stack([torch.relu(torch.randn(60, generator=g)), torch.randint(0, 4, (60,), generator=g).float()])
    out = rank_match(vals, ref)
    for row in range(2):
        for v in vals[row].unique():
            same = out[row][vals[row] == v]
            assert torch.all(same == same[0])  # exact
    # order is kept (a larger input never gets a smaller output) and the mean is the reference's quantiles' mean
    for row in range(2):
        o = vals[row].argsort()
        assert bool((out[row][o].diff() >= 0).all())  # exact
    untied = rank_match(torch.arange(60.0).expand(2, 60), ref)
    assert torch.allclose(out.mean(dim=1), untied.mean(dim=1), atol=1e-6)  # exact
    # all equal: every value gets the reference's mean (over the quantiles)
    flat = rank_match(torch.zeros(1, 30), ref[:1])
    assert torch.allclose(flat, untied[:1, :30].new_full((1, 30), float(rank_match(torch.arange(30.0)[None],
                                                                                    ref[:1]).mean())))  # exact
    # An image without ties is matched exactly as before (a sort's ranks, each its own quantile).
    img = torch.rand(1, 3, 16, 16, generator=g)
    refimg = torch.rand(1, 3, 20, 20, generator=g)
    sorted_ref = refimg[0].reshape(3, -1).sort(dim=1).values
    pos = torch.linspace(0, 399, 256, dtype=torch.float64)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=399)
    w = (pos - lo).float()
    q = sorted_ref[:, lo] * (1 - w) + sorted_ref[:, hi] * w
    before = torch.empty(3, 256).scatter_(1, img[0].reshape(3, -1).argsort(dim=1), q)
    assert torch.equal(match_histogram(img, refimg)[0].reshape(3, -1), before)  # exact
    # A gray 8-bit-like image matched to itself keeps its levels (a ramp would have spread them).
    levels = (torch.randint(0, 8, (1, 1, 12, 12), generator=g).float() / 7)
    assert torch.allclose(match_histogram(levels, levels), levels, atol=1e-6)  # exact
    # One value per row takes the middle quantile (the reference's median), not the reference's minimum.
    five, four = ref[:, :5], ref[:, :4]
    assert torch.equal(rank_match(torch.tensor([[5.0], [-1.0]]), five), five[:, 2:3])  # exact
    assert torch.allclose(rank_match(torch.tensor([[5.0], [-1.0]]), four), (four[:, 1:2] + four[:, 2:3]) / 2)  # exact
    # Non-finite values have no rank: a ValueError, not the top quantiles given to NaN.
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="values must be finite"):
            rank_match(torch.tensor([[0.3, bad, 0.1], [0.0, 1.0, 2.0]]), ref)
        with pytest.raises(ValueError, match="finite"):
            match_histogram(torch.full((1, 2, 4, 4), bad), torch.rand(1, 2, 4, 4, generator=g))


def _coordinate_source(h: int = 40, w: int = 48) -> torch.Tensor:
    """A source whose pixels say where they are: channel 0 the row, channel 1 the column, channel 2 noise."""
    rows = torch.arange(h, dtype=torch.float32).view(h, 1).expand(h, w)
    cols = torch.arange(w, dtype=torch.float32).view(1, w).expand(h, w)
    return torch.stack([rows, cols, torch.rand(h, w, generator=torch.Generator().manual_seed(0))])[None]


def _cell_insides(q: torch.Tensor, n: int, block: int, overlap: int, scale: float = 1.0) -> dict:
    """The source position (row, column) of each cell's inside: the ``block - overlap`` pixels a side that no
    other square overlaps, checked to be a source square verbatim (rows and columns run on one pixel at a time;
    channels 0 and 1 carry row and column times ``scale``)."""
    half, k = overlap // 2, block - overlap
    coords = q[0, :2] / scale
    insides = {}
    for i in range(n):
        for j in range(n):
            inside = coords[:, i * block + half:i * block + half + k, j * block + half:j * block + half + k]
            y0, x0 = inside[0, 0, 0].round(), inside[1, 0, 0].round()
            assert torch.allclose(inside[0], y0 + torch.arange(float(k)).view(k, 1).expand(k, k), atol=1e-3)  # exact
            assert torch.allclose(inside[1], x0 + torch.arange(float(k)).view(1, k).expand(k, k), atol=1e-3)  # exact
            insides[i, j] = (float(y0), float(x0))
    return insides


def _assert_rearranged(q: torch.Tensor, n: int, block: int, overlap: int, scale: float = 1.0) -> None:
    """A rearrangement, not a copy: no cell's inside lies within half a block of where the source's own
    continuation of any of its 8 neighbours would put it, across the wrap too (with 2 cells a side the same
    neighbour lies on both sides, and both continuations count)."""
    insides = _cell_insides(q, n, block, overlap, scale)
    for (i, j), (y, x) in insides.items():
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if (di, dj) == (0, 0):
                    continue
                ny, nx = insides[(i - di) % n, (j - dj) % n]
                gap = max(abs(y - (ny + di * block)), abs(x - (nx + dj * block)))
                assert gap > block // 2, ((i, j), (di, dj), gap)  # exact


def test_quilt_rearranges_whole_source_squares_on_a_torus():
    from vizlab.style.texture import quilt

    src = _coordinate_source()
    q = quilt(src, 32, 8, torch.Generator().manual_seed(3), overlap=4)
    assert q.shape == (1, 3, 32, 32)  # exact
    assert torch.equal(q, quilt(src, 32, 8, torch.Generator().manual_seed(3), overlap=4))  # exact: seeded
    assert not torch.equal(q, quilt(src, 32, 8, torch.Generator().manual_seed(4), overlap=4))  # exact
    # each cell's inside is a source square, verbatim, and no cell continues a neighbour's source square
    _assert_rearranged(q, 4, 8, 4)
    # seams="cut" (the default): every pixel, in the overlaps too, is a source pixel (its noise channel is the
    # source's at the row and column it carries); "blend" cross-fades the overlaps, so some are not
    def from_source(img):
        r, c = img[0, 0].round().long(), img[0, 1].round().long()
        exact = (img[0, 0] - r).abs().lt(1e-5) & (img[0, 1] - c).abs().lt(1e-5)
        return exact & (img[0, 2] - src[0, 2][r.clamp(0, 39), c.clamp(0, 47)]).abs().lt(1e-6)

    assert bool(from_source(q).all())  # exact
    blend = quilt(src, 32, 8, torch.Generator().manual_seed(3), overlap=4, seams="blend")
    assert not bool(from_source(blend).all())  # exact


def test_min_cut_follows_the_cheapest_connected_path():
    import itertools

    from vizlab.style.texture import _min_cut

    # one known cheapest path, with moves of +1 and -1 column: zero error on it, 1 elsewhere
    known = [0, 1, 2, 2, 3, 2, 1, 1]
    error = torch.ones(len(known), 4)
    error[torch.arange(len(known)), torch.tensor(known)] = 0
    assert _min_cut(error).tolist() == known  # exact
    # no jumps: two zero-error columns that only a jump of 3 could join; the path moves at most one column a row
    error = torch.ones(6, 4)
    error[:3, 0] = 0
    error[3:, 3] = 0
    path = _min_cut(error)
    assert int((path[1:] - path[:-1]).abs().max()) <= 1  # exact
    # random strips: the path's cost is the least over every connected path (brute force)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        error = torch.rand(5, 4, generator=g)
        path = _min_cut(error)
        assert int((path[1:] - path[:-1]).abs().max()) <= 1  # exact
        cost = float(error[torch.arange(5), path].sum())
        best = min(float(error[0, c0] + sum(error[r + 1, c] for r, c in enumerate(rest)))
                   for c0 in range(4) for rest in itertools.product(range(4), repeat=4)
                   if all(abs(b - a) <= 1 for a, b in zip((c0, *rest), rest)))
        assert cost == pytest.approx(best, abs=1e-6)  # margin: float32 sums


def test_quilt_with_two_cells_a_side_continues_no_neighbour():
    from vizlab.style.texture import quilt

    # with 2 cells a side each neighbour lies on both sides of a cell (the torus wraps), so the source's
    # continuation of it on either side must be excluded on both. The matching here is driven by smooth noise
    # (channel 2), under which a continuation fits its side of the overlap exactly; rows and columns (channels 0
    # and 1, scaled down so they hardly count in the match) say where each square came from. Before the fix (one
    # side excluded) 14 of 48 and 24 of 48 (cell, offset) pairs were continuations at these two sizes, seeds 0-5.
    h, w, scale = 40, 48, 1e-3
    g = torch.Generator().manual_seed(0)
    rows = torch.arange(h, dtype=torch.float32).view(h, 1).expand(h, w) * scale
    cols = torch.arange(w, dtype=torch.float32).view(1, w).expand(h, w) * scale
    noise = torch.rand(1, 1, h, w, generator=g)
    smooth = 10 * torch.nn.functional.avg_pool2d(noise, 5, 1, 2, count_include_pad=False)[0, 0]
    src = torch.stack([rows, cols, smooth])[None]
    for side, block, overlap in ((16, 8, 4), (24, 12, None)):   # (24, 12): the default overlap, 3 rounded up to 4
        for s in range(6):
            q = quilt(src, side, block, torch.Generator().manual_seed(s), overlap=overlap)
            _assert_rearranged(q, 2, block, 4, scale)


def test_quilt_matches_neighbours_and_is_checked():
    from vizlab.style.texture import quilt

    # vertical stripes, period 8 px: a square chosen by how well it fits what is already on the canvas keeps
    # their phase across the cells, so the quilt's stripes keep the source's contrast; random squares (a tolerance
    # no candidate exceeds) blend stripes out of phase in the overlaps and lose contrast
    g = torch.Generator().manual_seed(0)
    x = torch.arange(64.0)
    src = (0.5 + 0.4 * torch.sin(2 * torch.pi * x / 8)).expand(1, 3, 64, 64) + 0.02 * torch.rand(1, 3, 64, 64,
                                                                                                 generator=g)

    def stripes(img):   # the amplitude of the period-8 component of the column means
        return float(torch.fft.rfft(img[0, 0].mean(dim=0)).abs()[img.shape[-1] // 8] / img.shape[-1])

    for seams in ("cut", "blend"):
        matched = [stripes(quilt(src, 32, 8, torch.Generator().manual_seed(s), seams=seams)) for s in range(3)]
        random_ = [stripes(quilt(src, 32, 8, torch.Generator().manual_seed(s), tolerance=1e12, seams=seams))
                   for s in range(3)]
        assert min(matched) > 0.18, (seams, matched)  # claim: texture_quilt_matched_stripes_min
        assert max(random_) < 0.18, (seams, random_)  # claim: texture_quilt_random_stripes_max
    with pytest.raises(ValueError, match="block must divide side"):
        quilt(src, 64, 24)
    with pytest.raises(ValueError, match="block must be an integer >= 2, got 1"):
        quilt(src, 64, 1)
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0"):
        quilt(src, 64, 16, tolerance=float("nan"))
    with pytest.raises(TypeError, match="tolerance must be a finite number >= 0, got str '0.1'"):
        quilt(src, 64, 16, tolerance="0.1")
    for bad in (-2, 0, 1):   # 0 would turn the matching off (no square overlaps the canvas): a random tiling
        with pytest.raises(ValueError, match=f"overlap must be an integer >= 2, got {bad}"):
            quilt(src, 64, 16, overlap=bad)
    with pytest.raises(ValueError, match=r"source \(8x8 px\) is smaller than one quilt square \(20 px: block 16 \+ "
                                         r"overlap 4\)"):
        quilt(src[..., :8, :8], 64, 16)
    with pytest.raises(ValueError, match=r"block 16 \+ overlap 3 rounded up to 4"):
        quilt(src[..., :8, :8], 64, 16, overlap=3)
    with pytest.raises(ValueError, match=r"source must be one image \(1, C, H, W\), got shape \(3, 64, 64\)"):
        quilt(src[0], 64, 16)
    with pytest.raises(TypeError, match="source must be a tensor .* got str"):
        quilt("gravel", 32, 8)
    with pytest.raises(ValueError, match="seams must be 'cut' or 'blend'"):
        quilt(src, 64, 16, seams="feather")
    with pytest.raises(ValueError, match="two cells a side"):
        quilt(src, 16, 16)
    assert quilt(src, 16, 16, seams="blend").shape == (1, 3, 16, 16)  # exact: one cell wraps onto itself


def test_quilt_start_is_seeded_shaped_checked_and_interruptible(tnet):
    from vizlab.style.texture import _finished, quilt

    kw = dict(size=32, source_size=64, octaves=1, net=tnet, init="quilt", quilt_block=16)
    start = synthesize_texture_vgg("gravel", steps=0, seed=2, **kw)
    # no iterations: the quilt itself, finished as every result is (a gray source: its gray levels)
    src = style_batch(None, "gravel", 64)
    expect = _finished(quilt(src, 32, 16, torch.Generator().manual_seed(2)).mean(dim=1, keepdim=True), src)
    assert torch.equal(start.image, expect) and start.image.shape == (1, 3, 32, 32)  # exact
    # the result carries its label: partly copied source, with the quilt's settings
    assert "not a synthesis from noise" in start.start and "partly copied source" in start.start  # exact
    assert "quilt_block 16" in start.start and "quilt_seams 'cut'" in start.start  # exact
    assert synthesize_texture_vgg("gravel", steps=0, size=32, source_size=64, octaves=1, net=tnet).start == ""  # exact
    run = synthesize_texture_vgg("brush", steps=3, seed=1, **kw)
    assert run.image.shape == (1, 3, 32, 32) and run.steps == 3  # exact
    assert torch.equal(run.image, synthesize_texture_vgg("brush", steps=3, seed=1, **kw).image)  # exact: seeded
    assert not torch.equal(run.image, synthesize_texture_vgg("brush", steps=3, seed=2, **kw).image)  # exact
    # two octaves: the coarse octave starts from a quilt of the half-size source with half-size cells
    two = synthesize_texture_vgg("brush", size=32, source_size=64, octaves=2, steps=[2, 2], net=tnet, init="quilt",
                                 quilt_block=16)
    assert two.image.shape == (1, 3, 32, 32) and two.steps == 4  # exact
    # a stop before the first iteration returns the start: the quilt
    import threading

    stop = threading.Event()
    stop.set()
    stopped = synthesize_texture_vgg("gravel", steps=5, seed=2, stop_event=stop, **kw)
    assert stopped.stopped and torch.equal(stopped.image, start.image)  # exact
    # Ctrl-C after the first chunk keeps that chunk's image, as from a noise start
    def ctrl_c(octave, step, loss):
        if step == 10:
            raise KeyboardInterrupt

    cut = synthesize_texture_vgg("brush", steps=20, seed=1, callback=ctrl_c, **kw)
    ten = synthesize_texture_vgg("brush", steps=10, seed=1, **kw)
    assert cut.stopped and cut.steps == 10 and torch.equal(cut.image, ten.image)  # exact
    for bad, error, word in ((24, ValueError, "quilt_block must divide size"), (1, ValueError, "quilt_block"),
                             (16.0, TypeError, "quilt_block"), (32, ValueError, "at least twice")):
        with pytest.raises(error, match=word):
            synthesize_texture_vgg("gravel", steps=0, **{**kw, "quilt_block": bad})
    with pytest.raises(ValueError, match="quilt_block.*octaves 3"):
        synthesize_texture_vgg("gravel", steps=0, size=64, source_size=128, octaves=3, net=tnet, init="quilt",
                               quilt_block=4)
    with pytest.raises(ValueError, match="init must be one of"):
        synthesize_texture_vgg("gravel", steps=0, size=32, net=tnet, init="quilted")
    # the smallest source allowed (source_size = size) with the largest cell allowed (size / 2) holds a quilt
    # square at the coarsest octave, so quilt's "smaller than one quilt square" cannot reach a user from here
    for octaves in (1, 2):
        tight = synthesize_texture_vgg("gravel", steps=0, size=32, source_size=32, octaves=octaves, net=tnet,
                                       init="quilt", quilt_block=16)
        assert tight.image.shape == (1, 3, 32, 32)  # exact
    with pytest.raises(ValueError, match="quilt_seams must be 'cut' or 'blend'"):
        synthesize_texture_vgg("gravel", steps=0, quilt_seams="soft", **kw)
    # the seams reach the quilt
    blend = synthesize_texture_vgg("gravel", steps=0, seed=2, quilt_seams="blend", **kw)
    expect = _finished(quilt(src, 32, 16, torch.Generator().manual_seed(2), seams="blend").mean(dim=1, keepdim=True),
                       src)
    assert torch.equal(blend.image, expect) and not torch.equal(blend.image, start.image)  # exact


# --- round 16: the sliced Wasserstein loss (loss="sliced") ---------------------------------------------------------

def test_sliced_wasserstein_is_zero_for_the_same_feature_vectors_and_positive_otherwise():
    from vizlab.style.texture import SlicedTarget, random_directions, sliced_wasserstein

    g = torch.Generator().manual_seed(0)
    # correlated channels of different spreads and means (independent ones would keep their joint distribution
    # when one channel is rearranged against the others; iid ones also under a channel permutation)
    scale = torch.arange(1.0, 9.0).view(1, 8, 1, 1)
    f0 = torch.randn(1, 8, 32, 32, generator=g) * scale + scale / 2
    f = torch.einsum("ij,bjhw->bihw", torch.eye(8) + 0.5, f0)
    # 128 directions: with 16 the rearranged channel's score ranged 0.003-0.034 over seeds 0-9 (0.012-0.021 with 128)
    dirs = random_directions(8, 128, torch.Generator().manual_seed(1))
    target = SlicedTarget(f)
    target.draw(dirs)   # the one place the directions are scaled to unit length
    assert torch.allclose(target.directions.norm(dim=1), torch.ones(128))
    # the same feature vectors at other positions: 0 (sorting forgets where they were)
    shuffled = f.flatten(2)[..., torch.randperm(1024, generator=g)].reshape(f.shape)
    assert float(sliced_wasserstein(shuffled, f, dirs)) < 1e-10  # exact: the same values, sorted
    # a source holding every vector four times (a 2 x 2 tiling, four times the positions): still 0, the quantiles
    # of the larger set are compared with the smaller's
    tiled = f.repeat(1, 1, 2, 2)
    assert float(sliced_wasserstein(f, tiled, dirs)) < 1e-10  # exact: the same quantiles
    # other distributions: channels permuted (each channel's own values kept: a per-channel histogram loss sees
    # nothing), or shifted
    perm = f[:, torch.arange(7, -1, -1)]
    # (for scale: a second sample of the same distribution scores 0.003)
    again = torch.einsum("ij,bjhw->bihw", torch.eye(8) + 0.5,
                         torch.randn(1, 8, 32, 32, generator=g) * scale + scale / 2)
    assert float(sliced_wasserstein(again, f, dirs)) < 0.006  # claim: texture_sliced_same_distribution_max
    assert float(sliced_wasserstein(perm, f, dirs)) > 0.03  # claim: texture_sliced_permuted_channels_min
    assert float(sliced_wasserstein(f + 4.0, f, dirs)) > 0.04  # claim: texture_sliced_shifted_min
    from vizlab.style.texture import _histogram_loss, _sorted_channels
    swap = torch.cat([f[:, :, :, 16:], f[:, :, :, :16]], dim=3)
    swap[:, 0] = f[:, 0, :, torch.arange(31, -1, -1)]   # channel 0 rearranged against the others
    assert float(_histogram_loss(swap, _sorted_channels(f))) < 1e-10  # exact: every channel keeps its values
    assert float(sliced_wasserstein(swap, f, dirs)) > 0.007  # claim: texture_sliced_rearranged_channel_min
    # differentiable: a gradient step lowers it
    x = (f + 0.3 * torch.randn(f.shape, generator=g)).requires_grad_(True)
    before = sliced_wasserstein(x, f, dirs)
    before.backward()
    with torch.no_grad():
        after = sliced_wasserstein(x - 0.5 * x.grad / x.grad.norm(), f, dirs)
    assert float(after) < float(before.detach())
    # a count draws that many directions from the generator: seeded
    a = sliced_wasserstein(perm, f, 4, torch.Generator().manual_seed(3))
    assert torch.equal(a, sliced_wasserstein(perm, f, 4, torch.Generator().manual_seed(3)))  # exact
    with pytest.raises(ValueError, match="directions"):
        sliced_wasserstein(f, f, torch.randn(4, 5))
    with pytest.raises(ValueError, match="one feature map"):
        sliced_wasserstein(f.repeat(2, 1, 1, 1), f)
    with pytest.raises(ValueError, match="count"):
        random_directions(8, 0)


def test_quantiles_interpolate_between_ranks():
    from vizlab.style.texture import _quantiles

    s = torch.arange(8.0)[None]
    assert torch.equal(_quantiles(s, 8), s)  # exact
    assert torch.allclose(_quantiles(s, 4), torch.tensor([[0.5, 2.5, 4.5, 6.5]]))
    assert torch.allclose(_quantiles(s, 2), torch.tensor([[1.5, 5.5]]))
    assert torch.allclose(_quantiles(torch.tensor([[0.0, 1.0]]), 4), torch.tensor([[0.0, 0.25, 0.75, 1.0]]))


def test_sliced_synthesis_is_seeded_redraws_per_chunk_and_matches_the_distribution(tnet, monkeypatch):
    import vizlab.style.texture as texture_module
    from vizlab.style.texture import SLICED_LAYERS, sliced_wasserstein

    kw = dict(size=32, source_size=64, octaves=1, steps=20, net=tnet, loss="sliced",
              layers=["relu1_1", "relu2_1", "relu3_1"])
    draws = []
    real = texture_module.random_directions
    monkeypatch.setattr(texture_module, "random_directions",
                        lambda c, n, g=None: draws.append((c, n)) or real(c, n, g))
    a = synthesize_texture_vgg("gravel", seed=0, **kw)
    # two chunks of LBFGS_CHUNK iterations: one draw per layer each, as many directions as channels
    assert draws == [(64, 64), (128, 128), (256, 256)] * 2  # exact
    draws.clear()
    synthesize_texture_vgg("gravel", seed=0, directions=5, **{**kw, "steps": 10})
    assert draws == [(64, 5), (128, 5), (256, 5)]  # exact
    draws.clear()   # layers=None: the sliced loss's own twelve layers (the Gram loss's five would draw 5 sets)
    synthesize_texture_vgg("gravel", seed=0, size=32, source_size=64, octaves=1, steps=1, net=tnet, loss="sliced")
    assert draws == [(64, 64)] * 2 + [(128, 128)] * 2 + [(256, 256)] * 4 + [(512, 512)] * 4  # exact
    monkeypatch.undo()
    assert a.image.shape == (1, 3, 32, 32) and a.steps == 20  # exact
    assert torch.equal(a.image, synthesize_texture_vgg("gravel", seed=0, **kw).image)  # exact
    assert not torch.equal(a.image, synthesize_texture_vgg("gravel", seed=1, **kw).image)  # exact
    # the synthesis's feature vectors are nearer the source's distribution than the start's, at every layer
    src = style_batch(None, "gravel", 64)
    start = synthesize_texture_vgg("gravel", seed=0, **{**kw, "steps": 0}).image
    with torch.no_grad():
        fs, fa, f0 = tnet(src, kw["layers"]), tnet(a.image, kw["layers"]), tnet(start, kw["layers"])
    for n in kw["layers"]:
        left = [float(sliced_wasserstein(f[n], fs[n], 64, torch.Generator().manual_seed(9))) for f in (fa, f0)]
        # (relu1_1: the start has the source's spectrum already, so much of its distribution)
        assert left[0] < (0.8 if n == "relu1_1" else 0.6) * left[1], (n, left)
    # the default layers are Heitz et al.'s twelve ReLUs; the Gram loss keeps Gatys et al.'s
    assert SLICED_LAYERS[0] == "relu1_1" and SLICED_LAYERS[-1] == "relu4_4" and len(SLICED_LAYERS) == 12  # exact


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(loss="wasserstein"), ValueError, "loss"),
    (dict(loss="sliced", directions=0), ValueError, "directions"),
    (dict(loss="sliced", directions=2.5), TypeError, "directions"),
    (dict(directions=8), ValueError, "directions"),          # the Gram loss has no directions
    (dict(loss="sliced", layers="relu1_1"), TypeError, "layers"),
    (dict(loss="sliced", layers=["relu9_9"]), ValueError, "relu9_9"),
])
def test_sliced_loss_bad_arguments_name_themselves(tnet, kwargs, error, word):
    with pytest.raises(error, match=word):
        synthesize_texture_vgg("gravel", **{"size": 32, "steps": 1, "net": tnet, **kwargs})


def test_an_interrupted_sliced_synthesis_keeps_its_last_chunk(tnet):
    # Ctrl-C after the first chunk: that chunk's image and history, bit for bit those of a run asked for 10
    # iterations (the directions are drawn per chunk, from their own seeded stream)
    kw = dict(size=32, source_size=64, octaves=1, net=tnet, loss="sliced", layers=["relu1_1", "relu2_1"], seed=0)

    def ctrl_c(octave, step, loss):
        if step == 10:
            raise KeyboardInterrupt

    part = synthesize_texture_vgg("gravel", steps=30, callback=ctrl_c, **kw)
    short = synthesize_texture_vgg("gravel", steps=10, **kw)
    assert part.stopped and part.steps == 10 and not short.stopped  # exact
    assert [h["total"] for h in part.history] == [h["total"] for h in short.history]  # exact
    assert torch.equal(part.image, short.image)  # exact


def test_sliced_wasserstein_checks_its_directions_and_channels():
    """Round 16 review: longer directions scaled the loss by their squared length, a NumPy count or a float gave an
    AttributeError, and a channel mismatch torch's matmul error."""
    import numpy as np

    from vizlab.style.texture import random_directions, sliced_wasserstein

    g = torch.Generator().manual_seed(0)
    f, src = torch.randn(1, 8, 16, 16, generator=g), torch.randn(1, 8, 16, 16, generator=g)
    dirs = random_directions(8, 32, torch.Generator().manual_seed(1))
    torch.testing.assert_close(sliced_wasserstein(f, src, 10 * dirs), sliced_wasserstein(f, src, dirs))  # exact
    assert sliced_wasserstein(f, src, np.int64(4), torch.Generator().manual_seed(2)).shape == ()  # exact
    with pytest.raises(TypeError, match="directions must be an integer >= 1, got float 16.0"):
        sliced_wasserstein(f, src, 16.0)
    with pytest.raises(ValueError, match="f must have the source's 8 channels, got 4"):
        sliced_wasserstein(f[:, :4], src, dirs)


def test_the_sliced_directions_are_normalised_once_and_the_loss_is_unchanged(tnet, monkeypatch):
    """Round 16 review: random_directions scaled its draws to unit length and SlicedTarget.draw scaled them again.
    Now only draw does; the loss is that of the old double scaling (to rounding: the second scaling divided by a
    norm of 1 +- a few ulp), and the synthesis draws its directions from seed + 7919 as before."""
    import vizlab.style.texture as texture_module
    from vizlab.style.texture import SlicedTarget, _sliced_loss, random_directions, sliced_wasserstein

    g = torch.Generator().manual_seed(0)
    f, src = torch.randn(1, 8, 16, 16, generator=g), torch.randn(1, 8, 16, 16, generator=g)
    raw = torch.randn(32, 8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(random_directions(8, 32, torch.Generator().manual_seed(1)), raw)  # exact: drawn, not scaled
    old = SlicedTarget(src)
    old.draw(raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-12))   # what the old random_directions returned
    new = sliced_wasserstein(f, src, 32, torch.Generator().manual_seed(1))
    torch.testing.assert_close(new, _sliced_loss(f, old), rtol=1e-6, atol=0)
    seeds = []
    real = texture_module.random_directions
    monkeypatch.setattr(texture_module, "random_directions",
                        lambda c, n, gen=None: seeds.append(gen.initial_seed()) or real(c, n, gen))
    synthesize_texture_vgg("gravel", size=32, source_size=64, octaves=1, steps=1, net=tnet, loss="sliced",
                           layers=["relu1_1"], seed=5)
    assert seeds == [5 + 7919]  # exact


# --- round 17: heal only near the cuts (heal_band), a lattice quilt (period, region) ------------------------------

def test_quilt_origin_says_where_each_pixel_came_from_and_seam_weights_find_the_cuts():
    from vizlab.style.texture import quilt, seam_weights

    src = _coordinate_source()
    img, origin = quilt(src, 64, 16, torch.Generator().manual_seed(3), overlap=4, return_origin=True)
    assert torch.equal(img, quilt(src, 64, 16, torch.Generator().manual_seed(3), overlap=4))  # exact: same draws
    assert torch.equal(img[0, 0], origin[0].float()) and torch.equal(img[0, 1], origin[1].float())  # exact
    w1 = seam_weights(origin, 1)
    assert w1.shape == (1, 1, 64, 64) and set(w1.unique().tolist()) <= {0.0, 1.0}  # exact
    # band 1: exactly the pixels with a neighbour (down/across, either side, wrapping) that is not its continuation
    o = origin
    seam = torch.zeros(64, 64, dtype=torch.bool)
    for dim, step in ((1, torch.tensor([1, 0]).view(2, 1, 1)), (2, torch.tensor([0, 1]).view(2, 1, 1))):
        fwd = (torch.roll(o, -1, dims=dim) != o + step).any(dim=0)
        back = (torch.roll(o, 1, dims=dim) != o - step).any(dim=0)
        seam |= fwd | back
    assert torch.equal(w1[0, 0] > 0, seam) and 0 < int(seam.sum()) < 64 * 64  # exact
    # a wider band holds the narrower; a feather adds weights in (0, 1) beyond it; inside a cell they are 0
    w2, w2f = seam_weights(origin, 2), seam_weights(origin, 2, feather=2)
    assert bool((w2 >= w1).all()) and int((w2 > 0).sum()) > int((w1 > 0).sum())  # exact
    assert torch.equal(w2f == 1, w2 == 1) and bool(((w2f > 0) & (w2f < 1)).any())  # exact
    assert float(w2f.min()) == 0.0  # exact: the cells' middles are untouched
    with pytest.raises(ValueError, match="return_origin needs seams='cut'"):
        quilt(src, 32, 8, return_origin=True, seams="blend")
    with pytest.raises(ValueError, match="band must be an integer >= 1, got 0"):
        seam_weights(origin, 0)
    with pytest.raises(ValueError, match="feather must be an integer >= 0, got -1"):
        seam_weights(origin, 1, -1)
    with pytest.raises(ValueError, match="origin must be quilt"):
        seam_weights(origin[0], 1)


def test_lattice_quilt_puts_every_cell_on_the_period_inside_the_region():
    from vizlab.style.texture import quilt, source_period

    src = _coordinate_source(64, 72)
    for seed in range(3):
        for period in ((0, 4), (8, 4), (8, 0)):
            _, o = quilt(src, 32, 8, torch.Generator().manual_seed(seed), overlap=4, period=period,
                         region=(4, 60, 10, 70), return_origin=True)
            canvas = torch.arange(32)
            for axis, p in enumerate(period):
                offset = (o[axis] - (canvas[:, None] if axis == 0 else canvas[None, :])) % 32
                if p:   # one offset modulo the period over the whole torus (the wrap shifts by 32, a multiple)
                    assert len((offset % p).unique()) == 1, (seed, period, axis)  # exact
            assert int(o[0].min()) >= 4 and int(o[0].max()) < 60  # exact: the region
            assert int(o[1].min()) >= 10 and int(o[1].max()) < 70  # exact
    # without a period the offsets take several phases (so the test above can fail)
    _, free = quilt(src, 32, 8, torch.Generator().manual_seed(0), overlap=4, return_origin=True)
    assert len(((free[1] - torch.arange(32)[None, :]) % 4).unique()) > 1  # exact
    # the period of vertical stripes 6 px apart, across; none down
    x = torch.arange(60.0)
    stripes = (0.5 + 0.4 * torch.sin(2 * torch.pi * x / 6)).expand(1, 3, 60, 60)
    assert source_period(stripes, -1) == pytest.approx(6.0, abs=0.1)  # margin: the parabola's refinement
    assert source_period(stripes, -2) != source_period(stripes, -2)  # exact: nan, a flat profile has no peak
    for bad, error, word in (((0, 5), ValueError, "period's px must divide side"),
                             ((64, 0), ValueError, "period's py"), ((1.5, 0), TypeError, r"period\[0\]"),
                             (4, TypeError, "period must be")):
        with pytest.raises(error, match=word):
            quilt(src, 32, 8, period=bad)
    for bad, error, word in (((0, 9, 0, 72), ValueError, "region must lie in the source"),
                             ((0, 65, 0, 72), ValueError, "region must lie"), ((0, 64), TypeError, "region must be"),
                             ((0, 64, -1, 72), ValueError, r"region\[2\]")):
        with pytest.raises(error, match=word):
            quilt(src, 32, 8, region=bad)
    with pytest.raises(ValueError, match="axis must be -1"):
        source_period(stripes, 1)
    with pytest.raises(TypeError, match="source must be an image tensor"):
        source_period(stripes.numpy(), -1)
    with pytest.raises(ValueError, match=r"source must be an image tensor \(1, C, H, W\), got shape"):
        source_period(stripes[0], -1)


def test_heal_band_moves_only_the_pixels_near_the_cuts(tnet):
    from vizlab.style.texture import quilt, seam_weights

    kw = dict(size=32, source_size=64, octaves=1, net=tnet, init="quilt", quilt_block=16, seed=1)
    for texture in ("brush", "gravel"):   # colour: the masked steps alone; gray: the quilt's pixels put back
        src = style_batch(None, texture, 64)
        start, origin = quilt(src, 32, 16, torch.Generator().manual_seed(1), return_origin=True)
        weight = seam_weights(origin, 2)
        outside = (weight == 0).expand(1, 3, -1, -1)
        healed = synthesize_texture_vgg(texture, steps=4, heal_band=2, **kw)
        assert bool(outside.any()) and torch.equal(healed.image[outside], start[outside])  # exact: bit for bit
        inside = ~outside
        assert not torch.equal(healed.image[inside], start[inside])  # exact: the band did move
        assert f"{100 * float((weight == 0).float().mean()):.1f} % of the pixels are verbatim" in healed.start
        assert "partly copied source" in healed.start  # exact
    # without the band every pixel moves (colour: nothing puts them back)
    plain = synthesize_texture_vgg("brush", steps=4, **kw)
    src = style_batch(None, "brush", 64)
    start, origin = quilt(src, 32, 16, torch.Generator().manual_seed(1), return_origin=True)
    outside = (seam_weights(origin, 2) == 0).expand(1, 3, -1, -1)
    assert not torch.equal(plain.image[outside], start[outside])  # exact
    # a lattice quilt reaches the start: every cell on the period
    lat = synthesize_texture_vgg("gravel", steps=0, quilt_period=(0, 8), quilt_region=(0, 64, 8, 60), **kw)
    expect = quilt(style_batch(None, "gravel", 64), 32, 16, torch.Generator().manual_seed(1), period=(0, 8),
                   region=(0, 64, 8, 60))
    from vizlab.style.texture import _finished
    assert torch.equal(lat.image, _finished(expect.mean(dim=1, keepdim=True), style_batch(None, "gravel", 64)))
    for extra, error, word in ((dict(heal_band=0), ValueError, "heal_band must be an integer >= 1"),
                               (dict(heal_band=2.0), TypeError, "heal_band"),
                               (dict(heal_band=2, quilt_seams="blend"), ValueError, "heal_band needs quilt_seams"),
                               (dict(heal_band=2, heal_feather=-1), ValueError, "heal_feather"),
                               (dict(heal_feather=2), ValueError, "heal_feather=2 needs heal_band"),
                               (dict(heal_band=2, init="spectrum"), ValueError, "heal_band needs init='quilt'"),
                               (dict(heal_band=2, octaves=2), ValueError, "heal_band needs init='quilt' and octaves=1"),
                               (dict(quilt_period=(0, 8), octaves=2), ValueError, "quilt_period needs"),
                               (dict(quilt_region=(0, 64, 0, 64), init="noise"), ValueError, "quilt_region needs"),
                               (dict(quilt_period=(0, 5)), ValueError, "period's px must divide side")):
        with pytest.raises(error, match=word):
            synthesize_texture_vgg("gravel", steps=0, **{**kw, **extra})
