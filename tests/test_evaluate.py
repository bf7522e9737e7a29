"""vizlab.evaluate and the new attribution methods: real properties on tiny seeded models, the embedded model
for end-to-end checks (cheap settings)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import hooks_left
from vizlab.attribution import (EigenCAM, IntegratedGradients, eigen_cam, grad_cam, hires_cam, integrated_gradients,
                                layer_cam, score_cam, xgrad_cam)
from vizlab.evaluate import (average_drop, deletion, edge_map, increase_in_confidence, insertion,
                             noisy_linear_imputation, pixel_ranks, random_map, randomization_layers,
                             randomization_test, road, spearman, ssim, hog_similarity, label_randomization,
                             preserved_weights, attribute)
from vizlab.toy import random_images, tiny_cnn


class PixelModel(nn.Module):
    """Class 0's logit is 10 * the red value of pixel (0, 0) of a 4x4 image; class 1's logit is 0."""

    def forward(self, x):
        a = 10 * x[:, 0, 0, 0]
        return torch.stack([a, torch.zeros_like(a)], 1)


# -- new CAM variants ----------------------------------------------------------------------------------------------
def test_hires_cam_equals_grad_cam_at_the_pooled_layer_and_layer_cam_differs(tiny, images):
    # with GAP + linear the gradient is constant over positions, so the elementwise product is Grad-CAM's map
    ref = grad_cam(tiny, images, None, "relu2")
    assert float(ref.amin((1, 2)).min()) >= 0 and float(ref.amax((1, 2)).min()) == 1.0   # not all zero
    torch.testing.assert_close(hires_cam(tiny, images, None, "relu2"), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(xgrad_cam(tiny, images, None, "relu2"), ref, atol=1e-5, rtol=0)
    a, b = layer_cam(tiny, images, None, "relu1"), grad_cam(tiny, images, None, "relu1")
    assert a.shape == b.shape == (2, 16, 16) and (a - b).abs().max() > 0.05  # exact: LayerCAM and Grad-CAM are different formulas at relu1 of the tiny net


def test_eigen_cam_is_class_agnostic_and_its_sign_follows_the_activity(tiny, images):
    a, b = eigen_cam(tiny, images, 0, "relu2"), eigen_cam(tiny, images, 7, "relu2")
    torch.testing.assert_close(a, b)
    # a layer whose channels all follow one pattern: the first component is that pattern, positive
    acts = torch.zeros(1, 4, 3, 3)
    acts[0, :, 1, 1] = torch.tensor([5.0, 4, 3, 2])
    w = EigenCAM().weights(None, acts, None, None)
    heat = EigenCAM().combine(w[:, :, None, None], acts)
    assert int(heat[0].flatten().argmax()) == 4 and float(heat[0, 1, 1]) > 0


def test_score_cam_weights_are_a_softmax_over_channels_and_batching_does_not_matter(tiny, images):
    a = score_cam(tiny, images, [1, 2], "relu2", batch_size=1)
    b = score_cam(tiny, images, [1, 2], "relu2", batch_size=64)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert a.shape == (2, 16, 16) and float(a.amax()) == pytest.approx(1.0)
    assert hooks_left(tiny) == 0


def test_integrated_gradients_completeness_gap_shrinks_with_steps(tiny, images):
    gaps = []
    for steps in (2, 8, 64):
        ig = IntegratedGradients(tiny, steps=steps, rule="gauss-legendre")
        attr = ig.attributions(images, [1, 2])
        assert attr.shape == images.shape
        gaps.append(float((ig.delta.abs() / ig.score_change.abs()).max()))
    assert gaps[-1] < 0.02 and gaps[-1] < gaps[0]  # exact: quadrature convergence on a fixed tiny net
    maps, delta = integrated_gradients(tiny, images, [1, 2], steps=8, return_delta=True)
    assert maps.shape == (2, 16, 16) and delta.shape == (2,)
    with pytest.raises(TypeError, match="baseline"):
        IntegratedGradients(tiny, baseline="black")


def test_integrated_gradients_is_exact_for_a_linear_model():
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 3)).eval()
    x = torch.rand(2, 3, 4, 4)
    ig = IntegratedGradients(lin, steps=1)
    attr = ig.attributions(x, [0, 2])
    expected = x * lin[1].weight[[0, 2]].view(2, 3, 4, 4)
    torch.testing.assert_close(attr, expected.detach(), atol=1e-5, rtol=1e-5)
    assert float(ig.delta.abs().max()) < 1e-4  # exact


# -- faithfulness ------------------------------------------------------------------------------------------------
def test_pixel_ranks_orders_by_decreasing_heat_with_stable_ties():
    heat = torch.tensor([[[0.1, 0.9], [0.5, 0.5]]])
    assert pixel_ranks(heat).tolist() == [[[3, 0], [1, 2]]]


def test_deletion_of_the_one_pixel_that_matters_first_drops_at_once():
    model = PixelModel()
    x = torch.zeros(1, 3, 4, 4)
    x[0, 0, 0, 0] = 1.0                                    # only the pixel that matters is red
    good = torch.zeros(1, 4, 4)
    good[0, 0, 0] = 1
    bad = 1 - good
    fast = deletion(model, x, good, 0, steps=16)
    slow = deletion(model, x, bad, 0, steps=16)
    assert fast.scores.shape == (1, 17) and fast.fractions[0] == 0 and fast.fractions[-1] == 1
    assert float(fast.scores[0, 1]) == pytest.approx(0.5)   # logits 0 and 0 after the first step
    assert float(slow.scores[0, -2]) > 0.99                # exact: closed-form pixel model; the pixel goes last
    assert float(fast.auc) < 0.55 < float(slow.auc)  # exact: closed-form pixel model
    ins = insertion(model, x, good, 0, steps=16)
    assert float(ins.scores[0, 0]) < 0.97 < 0.999 < float(ins.scores[0, 1])   # exact: closed-form pixel model; blurred start, then the pixel
    assert float(ins.auc) > float(insertion(model, x, bad, 0, steps=16).auc)


def test_deletion_batches_equal_single_steps_and_heat_is_upsampled(tiny, images):
    heat = grad_cam(tiny, images, [1, 2], "relu2", upsample=False)   # 8x8 for 16x16 images
    a = deletion(tiny, images, heat, [1, 2], steps=8, batch_size=1)
    b = deletion(tiny, images, heat, [1, 2], steps=8, batch_size=100)
    torch.testing.assert_close(a.scores, b.scores)
    with pytest.raises(ValueError, match="steps"):
        deletion(tiny, images, heat, 1, steps=0)
    with pytest.raises(ValueError, match="score"):
        deletion(tiny, images, heat, 1, score="loss")
    with pytest.raises(TypeError, match="heat"):
        deletion(tiny, images, heat.numpy(), 1)


def test_average_drop_and_increase_in_confidence():
    model = PixelModel()
    x = torch.full((1, 3, 4, 4), 0.5)
    keep = torch.ones(1, 4, 4)
    assert float(average_drop(model, x, keep, 0)) == pytest.approx(0.0, abs=1e-6)
    dim = torch.ones(1, 4, 4)
    dim[0, 0, 0] = 0.2                   # the map misses the pixel that matters: p(class 0) falls
    assert float(average_drop(model, x, dim, 0)) > 0.1  # exact: closed-form pixel model
    assert float(increase_in_confidence(model, x, dim, 0)) == 0.0
    assert float(increase_in_confidence(model, x, dim, 1)) == 1.0   # class 1 gains what class 0 lost


def test_noisy_linear_imputation_is_the_neighbour_mean_and_keeps_known_pixels():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, 12, 12, generator=g)
    removed = torch.rand(2, 12, 12, generator=g) < 0.6
    out = noisy_linear_imputation(img, removed, noise=0.0, tol=1e-8)
    keep = ~removed[:, None].expand_as(img)
    torch.testing.assert_close(out[keep], img[keep])
    # every removed pixel equals the weighted mean of its in-image neighbours
    w = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]]).view(1, 1, 3, 3)
    k = w.expand(3, 1, 3, 3)
    mean = torch.nn.functional.conv2d(out, k, padding=1, groups=3) / torch.nn.functional.conv2d(
        torch.ones(1, 3, 12, 12), k, padding=1, groups=3)
    rm = removed[:, None].expand_as(img)
    assert float((mean[rm] - out[rm]).abs().max()) < 1e-4  # exact
    a = noisy_linear_imputation(img, removed, noise=0.1, generator=torch.Generator().manual_seed(1))
    assert float((a - out)[rm].std()) == pytest.approx(0.1, rel=0.2)
    with pytest.raises(ValueError, match="whole image"):
        noisy_linear_imputation(img, torch.ones(2, 12, 12, dtype=torch.bool))


def test_noisy_linear_imputation_matches_pytorch_grad_cam():
    road_mod = pytest.importorskip("pytorch_grad_cam.metrics.road")
    g = torch.Generator().manual_seed(3)
    img = torch.rand(1, 3, 20, 20, generator=g)
    keep = (torch.rand(20, 20, generator=g) > 0.5).float()
    theirs = road_mod.NoisyLinearImputer(noise=0.0)(img[0], keep)
    ours = noisy_linear_imputation(img, keep[None] == 0, noise=0.0, tol=1e-8)[0]
    assert float((ours - theirs).abs().max()) < 1e-4  # exact


def test_road_morf_below_lerf_for_the_pixel_model():
    model = PixelModel()
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0, 0, 0] = 1.0                    # imputing pixel (0, 0) from its dark neighbours darkens it
    heat = torch.zeros(1, 8, 8)
    heat[0, 0, 0] = 1
    morf = road(model, x, heat, 0, fractions=(0.1, 0.5), noise=0.0)
    lerf = road(model, x, heat, 0, fractions=(0.1, 0.5), order="lerf", noise=0.0)
    assert morf.scores.shape == (1, 3)
    assert float(morf.scores[0, 1]) < float(lerf.scores[0, 1]) - 0.2
    with pytest.raises(ValueError, match="fractions"):
        road(model, x, heat, 0, fractions=(0.0, 0.5))
    with pytest.raises(ValueError, match="order"):
        road(model, x, heat, 0, order="most")


# -- similarity and baselines --------------------------------------------------------------------------------------
def test_similarity_measures_are_one_for_equal_maps_and_low_for_unrelated():
    a = random_map(torch.zeros(2, 3, 32, 32), seed=0)
    b = random_map(torch.zeros(2, 3, 32, 32), seed=1)
    for fn, low in ((spearman, 0.1), (ssim, 0.1), (hog_similarity, 0.6)):  # HOG of noise shares its histogram
        same = fn(a, a)
        assert same.shape == (2,) and torch.allclose(same, torch.ones(2), atol=1e-6)
        assert float(fn(a, b).abs().max()) < low
    assert torch.allclose(spearman(a, -a), torch.ones(2))      # Spearman of |map|
    assert float(spearman(a, torch.zeros_like(a)).abs().max()) == 0.0


def test_edge_map_finds_the_edge_and_random_map_is_seeded():
    x = torch.zeros(1, 3, 16, 16)
    x[:, :, :, 8:] = 1
    e = edge_map(x)
    assert e.shape == (1, 16, 16) and float(e.max()) == 1.0
    assert float(e[0, :, 7:9].mean()) == 1.0 and float(e[0, :, :6].max()) == 0.0
    torch.testing.assert_close(random_map(x, 3), random_map(x, 3))


# -- randomisation ---------------------------------------------------------------------------------------------------
def test_randomization_layers_of_a_small_cnn_and_the_embedded_model(model):
    names = [n for n, _ in randomization_layers(tiny_cnn(0))]
    assert names == ["fc", "conv2", "conv1"]
    from vizlab.inside.shapes import shapes_cnn
    assert [n for n, _ in randomization_layers(shapes_cnn(0))] == ["fc", "conv3+bn3", "conv2+bn2", "conv1"]
    big = [n for n, _ in randomization_layers(model)]
    assert big[:3] == ["classifier", "head", "block7"] and big[-1] == "stem" and len(big) == 10


@pytest.mark.parametrize("mode", ["cascading", "independent"])
def test_randomization_test_restores_weights_and_changes_gradient_maps(mode):
    net = tiny_cnn(0)
    x = random_images(2, 16, 0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    res = randomization_test(net, "gradient", x, mode=mode, measures=("spearman", "ssim"))
    assert res.layers == ["fc", "conv2", "conv1"] and res.maps.shape == (3, 2, 16, 16)
    assert res.similarity["spearman"].shape == (3, 2)
    assert float(res.similarity["spearman"].max()) < 0.999   # exact: the gradient depends on every layer; the gradient depends on every layer
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    again = randomization_test(net, "gradient", x, mode=mode, measures=("spearman",))
    torch.testing.assert_close(again.maps, res.maps)        # seeded


def test_randomization_test_restores_weights_after_an_error():
    net = tiny_cnn(0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    calls = []

    def failing(model, x, classes, layer):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return x.mean(1)

    with pytest.raises(RuntimeError, match="boom"):
        randomization_test(net, failing, random_images(1, 16, 0))
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(ValueError, match="mode"):
        randomization_test(net, "gradient", random_images(1, 16, 0), mode="top-down")
    with pytest.raises(ValueError, match="method"):
        randomization_test(net, "gradcam_v2", random_images(1, 16, 0))
    with pytest.raises(ValueError, match="measure"):
        randomization_test(net, "gradient", random_images(1, 16, 0), measures=("pearson",))


def test_independent_mode_randomises_one_group_only():
    net = tiny_cnn(0)
    x = random_images(1, 16, 0)
    seen = []

    def record(model, xx, classes, layer):
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        return xx.mean(1)

    trained = {k: v.clone() for k, v in net.state_dict().items()}
    randomization_test(net, record, x, mode="independent", measures=("spearman",))
    # seen[0] is the trained model; seen[2] (conv2 randomised) keeps fc as trained
    assert torch.equal(seen[2]["fc.weight"], trained["fc.weight"])
    assert not torch.equal(seen[2]["conv2.weight"], trained["conv2.weight"])
    randomization_test(net, record, x, mode="cascading", measures=("spearman",))
    assert not torch.equal(seen[-1]["fc.weight"], trained["fc.weight"])


def test_cascade_on_the_embedded_model_guided_backprop_stays_gradients_and_grad_cam_fall(model):
    """The paper's ordering, cheaply: top three groups randomised, two photos at 128 px."""
    x = torch.cat([model.to_input(n, 128) for n in ("cat", "espresso")])
    sims = {m: randomization_test(model, m, x, steps=3, measures=("spearman",)).similarity["spearman"][-1]
            for m in ("gradient", "guided backprop", "Grad-CAM")}
    assert float(sims["guided backprop"].min()) > 0.8  # claim: trust core: guided backprop min rho at 128 px
    assert float(sims["gradient"].max()) < 0.65 and float(sims["Grad-CAM"].max()) < 0.65  # claim: trust: max rho gradient/Grad-CAM at 128 px
    assert hooks_left(model) == 0


def test_label_randomization_small():
    res = label_randomization(("gradient",), n=64, size=24, epochs=3, images=4, measures=("spearman",))
    assert set(res.train_accuracy) == {"true labels", "random labels"}
    a, b = res.maps["gradient"]
    assert a.shape == b.shape == (4, 24, 24) and not torch.equal(a, b)
    s = res.similarity["gradient"]["spearman"]
    assert s.shape == (4,) and float(s.abs().max()) <= 1.0  # exact
    # same start, same images, different labels: the two networks end apart
    assert not torch.equal(res.true_model.fc.weight, res.random_model.fc.weight)
    x = res.images
    with torch.no_grad():
        classes = res.true_model(x).argmax(1).tolist()
    from vizlab.attribution import saliency
    torch.testing.assert_close(saliency(res.random_model, x, classes), b)   # maps of the true model's classes


def test_attribute_names_baselines_and_errors(tiny, images):
    assert attribute(tiny, images, [1, 2], "edge (Sobel)").shape == (2, 16, 16)
    with pytest.raises(TypeError, match="method"):
        attribute(tiny, images, [1, 2], 3)
    with preserved_weights(tiny):
        tiny.fc.weight.data.zero_()
    assert float(tiny.fc.weight.detach().abs().sum()) > 0
