"""Properties of the style-transfer losses and of instance normalisation, on tiny tensors."""
from __future__ import annotations

import pytest
import torch

from vizlab.style.losses import (content_loss, gram_matrix, relative_content_loss, relative_style_loss,
                                 style_loss, tv_loss)
from vizlab.style.transformer import instance_norm


@pytest.fixture
def feats():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 5, 4, 3, generator=g)


@pytest.mark.parametrize("normalize", ["none", "chw", "nchw"])
def test_gram_symmetric_and_psd(feats, normalize):
    g = gram_matrix(feats, normalize)
    assert g.shape == (2, 5, 5)
    assert torch.allclose(g, g.transpose(1, 2), atol=1e-6)
    eig = torch.linalg.eigvalsh(g.double())
    assert eig.min() > -1e-8  # exact


def test_gram_invariant_to_shuffling_positions(feats):
    n, c, h, w = feats.shape
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(1))
    shuffled = feats.reshape(n, c, h * w)[:, :, perm].reshape(n, c, h, w)
    assert not torch.equal(shuffled, feats)
    assert torch.allclose(gram_matrix(shuffled), gram_matrix(feats), atol=1e-6)


def test_gram_normalisations_by_hand():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # N=1, C=2, H=1, W=2
    raw = torch.tensor([[5.0, 3.0], [3.0, 9.0]])  # [1*1+2*2, 1*3+2*0; ., 3*3]
    assert torch.allclose(gram_matrix(f, "none")[0], raw)
    assert torch.allclose(gram_matrix(f, "chw")[0], raw / 4)
    two = torch.cat([f, f])
    assert torch.allclose(gram_matrix(two, "nchw")[1], raw / 8)


def test_gram_rejects_bad_arguments(feats):
    with pytest.raises(ValueError, match="normalize"):
        gram_matrix(feats, "hw")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        gram_matrix(feats[0])
    with pytest.raises(TypeError):
        gram_matrix([[1.0]])


def test_content_loss_by_hand():
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    b = torch.tensor([[[[1.0, 0.0], [3.0, 1.0]]]])
    assert content_loss(a, b).item() == pytest.approx(4.0 + 9.0)
    assert content_loss(a, b, weight=0.5).item() == pytest.approx(6.5)
    with pytest.raises(ValueError, match="same shape"):
        content_loss(a, b[..., :1])


def test_style_loss_by_hand():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])
    target = torch.zeros(1, 2, 2)
    # G (chw) = [[5, 3], [3, 9]] / 4 -> squared sum = (25 + 9 + 9 + 81) / 16 = 7.75
    assert style_loss([f], [target], [2.0]).item() == pytest.approx(2 * 7.75)
    assert style_loss([f, f], [target, gram_matrix(f)], [1.0, 1.0]).item() == pytest.approx(7.75)
    assert style_loss([f], [gram_matrix(f, "none")], [1.0], normalize="none").item() == 0.0
    with pytest.raises(ValueError, match="same length"):
        style_loss([f], [target, target], [1.0])


def test_relative_losses_are_scale_free(feats):
    target = gram_matrix(feats + 1)
    a = relative_style_loss([feats], [target], [1.0])
    b = relative_style_loss([feats * 3], [gram_matrix((feats + 1) * 3)], [1.0])
    assert a.item() == pytest.approx(b.item(), rel=1e-4)
    assert relative_content_loss(feats * 2, feats).item() == pytest.approx(1.0, rel=1e-5)


def test_tv_zero_on_constant_and_by_hand():
    assert tv_loss(torch.full((2, 3, 5, 4), 0.7)).item() == 0.0
    img = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # vertical: (2-0)^2 + (4-1)^2 = 13; horizontal: (1-0)^2 + (4-2)^2 = 5
    assert tv_loss(img).item() == pytest.approx(18.0)
    assert tv_loss(img, weight=0.1).item() == pytest.approx(1.8)


def test_instance_norm_per_sample_and_channel():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 6, 5, generator=g) * torch.arange(1, 5).view(1, 4, 1, 1) + 7
    y = instance_norm(x)
    assert torch.allclose(y.mean(dim=(2, 3)), torch.zeros(3, 4), atol=1e-5)
    assert torch.allclose(y.var(dim=(2, 3), unbiased=False), torch.ones(3, 4), atol=1e-3)
    # Statistics are per sample: changing one sample leaves the others untouched.
    x2 = x.clone()
    x2[0] *= 10
    assert torch.allclose(instance_norm(x2)[1:], y[1:])
    with pytest.raises(ValueError, match="shape"):
        instance_norm(x[0])


def test_gram_gradient_matches_autograd():
    g = torch.Generator().manual_seed(2)
    f = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: gram_matrix(x, "chw"), (f,))
    w = torch.randn(2, 3, 3, generator=g, dtype=torch.double)
    (gram_matrix(f) * w).sum().backward()
    ours = f.grad.clone()
    f.grad = None
    flat = f.reshape(2, 3, 20)
    ((flat @ flat.transpose(1, 2) / 60) * w).sum().backward()
    assert torch.allclose(ours, f.grad)


def test_palette_loss_by_hand_and_free_inside_the_margin():
    from vizlab.style.losses import palette_loss

    palette = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    # Mid-grey is sqrt(3)/2 from both palette colours: loss (d - margin)^2 for every pixel.
    grey = torch.full((2, 3, 4, 5), 0.5)
    d = 3 ** 0.5 / 2
    assert palette_loss(grey, palette, margin=0.1).item() == pytest.approx((d - 0.1) ** 2, rel=1e-5)
    assert palette_loss(grey, palette, margin=0.1, weight=3).item() == pytest.approx(3 * (d - 0.1) ** 2, rel=1e-5)
    # Pixels on (or within the margin of) a palette colour cost nothing, whichever colour is nearest.
    on = torch.zeros(1, 3, 4, 4)
    on[..., :2, :] = 1.0
    on[..., 3, 3] = 0.03
    assert palette_loss(on, palette, margin=0.1).item() == 0.0
    # A quarter of the pixels off the palette: a quarter of the per-pixel cost (a mean over pixels).
    part = on.clone()
    part[..., :2, :2] = 0.5
    assert palette_loss(part, palette, margin=0.1).item() == pytest.approx((d - 0.1) ** 2 / 4, rel=1e-5)


def test_palette_loss_gradient_pulls_towards_the_nearest_colour():
    from vizlab.style.losses import palette_loss

    palette = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    img = torch.tensor([0.8, 0.3, 0.1]).view(1, 3, 1, 1).repeat(1, 1, 2, 2).requires_grad_(True)
    palette_loss(img, palette, margin=0.0).backward()
    step = -img.grad[0, :, 0, 0]
    towards_red = torch.tensor([1.0, 0.0, 0.0]) - img.detach()[0, :, 0, 0]
    cos = torch.nn.functional.cosine_similarity(step, towards_red, dim=0)
    assert cos.item() == pytest.approx(1.0, abs=1e-5)
    # Exactly on a palette colour (distance 0): a finite, zero gradient, not NaN.
    on = palette[0].view(1, 3, 1, 1).clone().requires_grad_(True)
    palette_loss(on, palette, margin=0.05).backward()
    assert torch.isfinite(on.grad).all() and on.grad.abs().max() == 0


def test_style_palette_finds_the_colours_of_a_two_colour_image():
    from vizlab.style.losses import palette_loss, style_palette

    img = torch.zeros(3, 16, 16)
    img[0, :, :8] = 1.0          # left half red
    img[1:, :, 8:] = 0.5         # right half teal
    pal = style_palette(img, n=4)
    assert pal.shape == (4, 3)
    for colour in (torch.tensor([1.0, 0, 0]), torch.tensor([0, 0.5, 0.5])):
        assert torch.cdist(colour[None], pal).min() < 1e-6  # exact
    assert palette_loss(img[None], pal, margin=0.0).item() == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="palette"):
        palette_loss(img[None], torch.zeros(4, 2))
    with pytest.raises(ValueError, match="margin"):
        palette_loss(img[None], pal, margin=-1)
    with pytest.raises(TypeError, match="style"):
        style_palette(img.numpy())


def test_darkening_loss_by_hand_only_near_black_where_the_photo_is_lit():
    from vizlab.style.losses import darkening_loss

    lit = torch.ones(1, 3, 4, 4)
    black = torch.zeros(1, 3, 4, 4)
    assert darkening_loss(black, lit, black=0.15).item() == pytest.approx(0.15)
    assert darkening_loss(black, lit, black=0.15, weight=4).item() == pytest.approx(0.6)
    # A pixel at 0.05 in every channel costs 0.15 - 0.05.
    assert darkening_loss(torch.full((1, 3, 4, 4), 0.05), lit).item() == pytest.approx(0.10)
    # One bright channel is enough: saturated red or deep blue paint is not a droplet.
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1.0
    assert darkening_loss(red, lit).item() == 0.0
    # Black output where the photo is dark (luminance < dark_photo) is allowed.
    dark = torch.full((1, 3, 4, 4), 0.1)
    assert darkening_loss(black, dark).item() == 0.0
    # A saturated red photo has luminance 0.299: it counts as lit (the droplets' favourite place).
    assert darkening_loss(black, red).item() == pytest.approx(0.15)
    # Half the photo lit: half the cost (a mean over pixels).
    half = dark.clone()
    half[..., :2, :] = 1.0
    assert darkening_loss(black, half).item() == pytest.approx(0.075)
    with pytest.raises(ValueError, match="shape"):
        darkening_loss(black, torch.ones(1, 3, 4, 5))
    with pytest.raises(ValueError, match="black"):
        darkening_loss(black, lit, black=0)
    with pytest.raises(TypeError, match="photo"):
        darkening_loss(black, lit.numpy())


def test_darkening_loss_gradient_lifts_only_droplet_pixels_brightest_channel():
    from vizlab.style.losses import darkening_loss

    photo = torch.zeros(1, 3, 2, 2)
    photo[:, 0] = 1.0                       # a red photo (lit)
    photo[..., 1, 1] = 0.0                  # one black photo pixel (dark)
    img = torch.zeros(1, 3, 2, 2)
    img[:, 2, 0, 0] = 0.08                  # near-black, blue the brightest channel
    img[:, :, 0, 1] = 0.5                   # grey: not near-black
    img = img.requires_grad_(True)
    darkening_loss(img, photo).backward()
    g = img.grad[0]
    assert g[2, 0, 0] < 0 and g[0, 0, 0] == 0 and g[1, 0, 0] == 0  # descent raises the brightest channel
    assert g[:, 0, 1].abs().max() == 0                              # grey pixel: free
    assert g[:, 1, 1].abs().max() == 0                              # photo dark there: free
    assert g[2, 0, 0].item() == pytest.approx(-0.25)                  # d mean / d pixel = 1 / 4 pixels
    # A pure black pixel on red: its three channels tie for brightest and share the push.
    assert g[:, 1, 0].lt(0).all() and g[:, 1, 0].sum().item() == pytest.approx(-0.25)


def test_minimising_darkening_loss_removes_a_blob_that_blob_check_finds():
    from vizlab.style.losses import darkening_loss
    from vizlab.style.quality import blob_check

    photo = torch.zeros(1, 3, 64, 64)
    photo[:, 0] = 0.9                       # saturated red, luminance 0.27: not dark
    photo[:, 2] = 0.1
    out = photo.clone()
    out[..., 20:36, 20:36] = 0.0            # a planted black droplet, 6 % of the image
    assert not blob_check(out, photo).ok
    img = out.clone().requires_grad_(True)
    opt = torch.optim.SGD([img], lr=64 * 64 * 0.05)  # 0.05 a step per pixel, shared by tied channels
    for _ in range(15):
        opt.zero_grad()
        darkening_loss(img, photo).backward()
        opt.step()
    assert darkening_loss(img.detach(), photo).item() < 1e-6  # exact
    assert blob_check(img.detach().clamp(0, 1), photo).ok
    # The rest of the image was not touched.
    assert torch.equal(img.detach()[..., :20, :], out[..., :20, :])


def test_saturation_loss_by_hand_linear_beyond_the_limit_in_either_sign():
    from vizlab.style.losses import saturation_loss

    logits = torch.tensor([0.0, 2.9, -3.0, 5.0, -13.0, 3.5]).view(1, 6, 1, 1)
    # mean(relu(|l| - 3)) over 6 values = (0 + 0 + 0 + 2 + 10 + 0.5) / 6
    assert saturation_loss(logits, limit=3.0).item() == pytest.approx(12.5 / 6)
    assert saturation_loss(logits, limit=3.0, weight=0.5).item() == pytest.approx(12.5 / 12)
    assert saturation_loss(logits, limit=20.0).item() == 0.0
    x = logits.clone().requires_grad_(True)
    saturation_loss(x, limit=3.0).backward()
    # Descent shrinks the magnitude of spikes only (positive ones down, negative ones up), 1/6 each.
    assert x.grad.flatten().tolist() == pytest.approx([0, 0, 0, 1 / 6, -1 / 6, 1 / 6])
    with pytest.raises(ValueError, match="limit"):
        saturation_loss(logits, limit=0)
    with pytest.raises(TypeError, match="logits"):
        saturation_loss([1.0])


def test_tv_loss_is_the_optimizers_total_variation_with_a_weight():
    """tv_loss is the optimizer's total variation with a weight, to the bit (it keeps its own copy of the one-line sum
    so that the style code never imports vizlab.optimize, which loads matplotlib); tv_loss adds the shape check."""
    from vizlab.optimize.regularizers import TV, total_variation

    img = torch.rand(2, 3, 7, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(tv_loss(img, weight=0.3), 0.3 * total_variation(img))
    assert torch.equal(TV(0.3).penalty(img), tv_loss(img, weight=0.3))
    with pytest.raises(ValueError, match="img must have shape"):
        tv_loss(img[0])
