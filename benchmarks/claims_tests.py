"""Asserted optimisation/training outcomes of the unit tests and of the exercise notebooks (issue 11).

Each claim recomputes, with a given seed, the number that an assertion compares with its threshold, with the
same settings as the assertion (see ``where``). ``python benchmarks/margins.py -k tests`` runs them for seeds
0-4 and OMP_NUM_THREADS 1 and 2. Where the asserting test fixes a seed, the claim varies that seed (the model's,
the data's or the optimiser's): an assertion that holds only for the one seed it was written with is luck.
Claims that combine several asserted bounds return the worst of them, each divided by its own bound.
"""
from __future__ import annotations

import math

import torch

BAD = 10.0  # returned for "lower is better" claims whose premise failed (not fooled, wrong class)


def _model():
    from vizlab import load_model

    return load_model(device="cpu")


# -- tests/test_optimize_model.py ---------------------------------------------------------------------------
def classviz_flamingo(seed: int) -> float:
    """Log-odds of flamingo, log(p / (1 - p)), for the CS231n-mode class visualization.

    The test asserts p > 0.9 (and that flamingo is the argmax), i.e. log-odds > log 9. p itself saturates at
    1.0 and would hide how far from the threshold a run ends; the log-odds do not."""
    from vizlab.optimize import class_visualization, preset

    model = _model()
    target = model.class_index("flamingo")
    r = class_visualization(model, target, preset("pixels_robust", size=CLASSVIZ_SIZE, steps=CLASSVIZ_STEPS),
                            seed=seed, progress=False)   # the pixel preset until issue 24's round 16
    with torch.no_grad():
        logits = model(r.image)[0].double()
    others = torch.cat([logits[:target], logits[target + 1:]])
    return float(logits[target] - torch.logsumexp(others, 0))


# 96 px / 60 steps ended at p = 0.014 ('safety pin') on another 2-core x86 machine (issue 11); 128 px / 100 steps
# gave p = 1.0 there.
CLASSVIZ_SIZE, CLASSVIZ_STEPS = 128, 100


def fooling_cat(seed: int) -> float:
    """Fooling the cat photo into 'stingray': max(mean|d| / 0.01, max|d| / 0.1); BAD when not fooled.

    The method is deterministic (no seed); the seed shifts the photo by ``seed`` pixels (a roll), which stands
    in for another photo of the same cat."""
    from vizlab.optimize import fooling_image

    model = _model()
    x = model.to_input("cat", 128)
    x = torch.roll(x, shifts=(seed, seed), dims=(2, 3))
    target = model.class_index("stingray")
    r = fooling_image(model, x, target, progress=False)
    with torch.no_grad():
        fooled = int(model(r.fooled).argmax()) == target
    if not (r.success and r.reason == "reached" and fooled):
        return BAD
    d = r.difference.abs()
    return max(float(d.mean()) / 0.01, float(d.max()) / 0.1)


# -- tests/test_style_gatys.py, tests/test_style_transformer.py (tiny loss network) ------------------------
def _tiny_net(seed: int, style_weight: float = 10.0, tv_weight: float = 1e-3):
    from vizlab.style.lossnet import LossNetwork, Recipe
    from vizlab.toy import tiny_cnn

    recipe = Recipe("tiny", style_layers=("relu1", "relu2"), content_layers=("relu2",), style_weight=style_weight,
                    tv_weight=tv_weight)
    return LossNetwork(tiny_cnn(seed=seed), ["relu1", "relu2"], recipe)


def _pair(seed: int):
    from vizlab.toy import random_images

    imgs = random_images(2, 24, seed=3 + seed)
    content = torch.nn.functional.avg_pool2d(imgs[:1], 3, 1, 1)
    style = imgs[1:] * torch.tensor([1.0, 0.3, 0.1]).view(1, 3, 1, 1)
    return content, style


def gatys_style_fall(seed: int) -> float:
    """max(last/first style loss, style distance after/before): both asserted < 0.5."""
    from vizlab.style.gatys import style_distance, style_transfer

    net, (content, style) = _tiny_net(seed), _pair(seed)
    before = style_distance(net, content, style)
    r = style_transfer(content, style, loss_net=net, size=24, steps=30, lr=0.05, progress=False, seed=seed)
    after = style_distance(net, r.image, style)
    return max(r.history[-1]["style"] / r.history[0]["style"], float(after / before))


def gatys_lbfgs_total(seed: int) -> float:
    """last/first total loss of 6 L-BFGS steps from noise: asserted < 1."""
    from vizlab.style.gatys import style_transfer

    net, (content, style) = _tiny_net(seed), _pair(seed)
    r = style_transfer(content, style, loss_net=net, size=24, steps=6, optimizer="lbfgs", init="noise",
                       snapshot_every=2, progress=False, seed=seed)
    return r.history[-1]["total"] / r.history[0]["total"]


def texture_style(seed: int) -> float:
    """last/first style loss of 20 steps of texture synthesis: asserted < 1."""
    from vizlab.style.gatys import synthesize_texture

    net, (_, style) = _tiny_net(seed), _pair(seed)
    r = synthesize_texture(style, loss_net=net, size=24, steps=20, lr=0.05, progress=False, seed=seed)
    return r.history[-1]["style"] / r.history[0]["style"]


def transformer_training(seed: int) -> float:
    """mean of the last 3 / first 3 total losses of 12 training steps: asserted < 1."""
    import numpy as np

    from vizlab.style.transformer import train_transformer

    torch.manual_seed(seed)
    net = _tiny_net(seed, style_weight=5.0, tv_weight=1e-4)
    r = train_transformer(torch.rand(1, 3, 24, 24), size=24, batch_size=2, steps=12, lr=1e-2, width=4, blocks=1,
                          loss_net=net, progress=False, seed=seed)
    first = np.mean([h["total"] for h in r.history[:3]])
    last = np.mean([h["total"] for h in r.history[-3:]])
    return float(last / first)


# -- tests/test_inside_datasets.py, tests/test_inside_basics.py ----------------------------------------------
def _shapes(seed: int):
    from vizlab.inside.shapes import train_shapes_cnn

    return train_shapes_cnn(epochs=6, n=SHAPES_N, size=24, progress=False, seed=seed)[1]


# n=480 (the test's setting until issue 11) ended at 25 % and 26 % validation accuracy for seeds 3 and 2, below
# the asserted 1/6 + 0.15 = 31.7 %; twice the data in the same six epochs ends at >= 46 %.
SHAPES_N = 960


def shapes_accuracy(seed: int) -> float:
    """validation accuracy after 6 short epochs: asserted > 1/6 + 0.15."""
    return float(_shapes(seed).val_accuracy[-1])


def shapes_filters_grow(seed: int) -> float:
    """mean |filter| after / before training: asserted > 3 (the loss is asserted to fall as well)."""
    h = _shapes(seed)
    if not h.loss[-1] < h.loss[0]:
        return 0.0
    return float(h.filters[-1].abs().mean() / h.filters[0].abs().mean())


def ica_orientedness(seed: int) -> float:
    """median orientedness of ICA filters minus that of random ones: asserted > 0."""
    from vizlab.inside import learn_patch_filters, orientedness

    w = learn_patch_filters(["cat", "temple", "flower"], n_filters=12, patch_size=6, n_patches=4000, seed=seed)
    rand = torch.randn(12, 3, 6, 6, generator=torch.Generator().manual_seed(seed))
    return float(orientedness(w).median() - orientedness(rand).median())


# -- tests/test_attribution.py ----------------------------------------------------------------------------
def smoothgrad_roughness(seed: int) -> float:
    """roughness(SmoothGrad, 4 samples) / roughness(saliency): asserted < 1."""
    from vizlab.attribution import saliency, smoothgrad

    model = _model()
    x = model.to_input("espresso", size=96)

    def roughness(m):
        m = m[0] / m[0].mean()
        return float((m[1:] - m[:-1]).abs().mean() + (m[:, 1:] - m[:, :-1]).abs().mean())

    a = smoothgrad(model, x, "espresso", samples=4, noise=0.15, seed=seed)
    return roughness(a) / roughness(saliency(model, x, "espresso"))


# -- tests/test_optimize.py (tiny model) -------------------------------------------------------------------
def render_rises(seed: int) -> float:
    """last - first objective value of 15 Adam steps on the tiny CNN: asserted > 0 (relative to |first|)."""
    from vizlab.optimize import channel, class_logit, render
    from vizlab.toy import tiny_cnn

    r = render(tiny_cnn(seed=seed), channel("conv2", 3) + 0.1 * class_logit(1), steps=15, lr=0.05, size=24,
               progress=False, seed=seed)
    return (r.values[-1] - r.values[0]) / abs(r.values[0])


def deepdream_energy(seed: int) -> float:
    """relu2 energy of the dream / of the photo: asserted > 1."""
    from vizlab.hooks import activations
    from vizlab.optimize import deepdream
    from vizlab.toy import tiny_cnn

    tiny = tiny_cnn(seed=seed)
    x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1 + seed))

    def energy(img):
        return float(activations(tiny, img, "relu2")[1]["relu2"].pow(2).mean())

    d = deepdream(tiny, x, "relu2", octaves=2, steps=5, step_size=0.02, progress=False, seed=seed)
    return energy(d.image) / energy(x)


def inversion_fall(seed: int) -> float:
    """last / first feature distance of 40 steps of inversion: asserted < 0.5."""
    from vizlab.optimize import invert
    from vizlab.toy import tiny_cnn

    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2 + seed))
    r = invert(tiny_cnn(seed=seed), x, "relu1", steps=40, lr=0.05, param="pixels", progress=False, seed=seed)
    return r.values[-1] / r.values[0]


# -- notebooks/exercises/E3_optimize.ipynb and tests/test_exercises.py -----------------------------------------
def e3_class_step(seed: int) -> float:
    """(after - before) / |before| of ten steps of the solution's class_visualization_step: asserted > 0."""
    from vizlab.exercises.catalog import sharp_cnn
    from vizlab.exercises.references import class_visualization_step
    from vizlab.toy import random_images

    model = sharp_cnn(seed)
    img, target = random_images(1, 16, seed=1 + seed), torch.tensor([3])
    before = model(img)[0, 3].item()
    for _ in range(10):
        img = class_visualization_step(model, img, target, lr=0.5, l2_reg=1e-3)
    after = model(img)[0, 3].item()
    return (after - before) / abs(before)


def _solution(name: str):
    from vizlab.exercises.references import SOURCES

    ns = {"torch": torch, "F": torch.nn.functional, "nn": torch.nn}
    exec(SOURCES[name], ns)  # the notebook's solution cell, as students see it with `.solution()`
    return ns[name]


def _fool_worst(fool, seed: int) -> float:
    """Worst, over the exercise's four cases, of mean |x_fool - x| / FOOLING_MAX_CHANGE; BAD if the judge's
    batched forward pass is not fooled.

    The exercise grades these four fixed cases (models and images seeded 0, 2, 1, 7), so the claim keeps them:
    with other model seeds the runner-up class is sometimes out of reach for the reference too (measured: model
    seeds 10-17, 40-47, 50-57), which says nothing about a student's solution. Seed s > 0 instead adds noise of
    +-0.5/255 (one rounding step of an 8-bit image) to the images, a stand-in for another machine's numbers."""
    from vizlab.exercises import references as ref
    from vizlab.exercises.catalog import sharp_cnn
    from vizlab.toy import random_images

    worst = 0.0
    noise = torch.Generator().manual_seed(seed)
    for case_seed, n, size in [(0, 1, 16), (2, 2, 12), (1, 2, 16), (7, 3, 16)]:
        model, x = sharp_cnn(case_seed), random_images(n, size, case_seed)
        if seed:
            x = (x + (torch.rand(x.shape, generator=noise) - 0.5) / 255).clamp(0, 1)
        with torch.no_grad():
            target = model(x).topk(2, dim=1).indices[:, 1]
        got = fool(model, x, target)
        with torch.no_grad():
            if not torch.equal(model(got).argmax(1), target):
                return BAD
        worst = max(worst, (got - x).abs().flatten(1).mean(1).max().item() / ref.FOOLING_MAX_CHANGE)
    return worst


def e3_fooling_solution(seed: int) -> float:
    return _fool_worst(_solution("fooling_image"), seed)


def e3_fooling_reference(seed: int) -> float:
    from vizlab.exercises.references import fooling_images

    return _fool_worst(fooling_images, seed)


def _check(v: float) -> float:
    return v if math.isfinite(v) else BAD


# -- embedded-model and training outcomes asserted by the unit tests (issue 29) ---------------------------------
def _composite(seed: int):
    """The cat-and-espresso composite rolled sideways by ``seed`` pixels: the deterministic attribution tests have
    no seed of their own, so a small shift stands in for another photo of the same scene."""
    model = _model()
    return model, torch.roll(model.to_input("cat_and_espresso"), shifts=seed, dims=3)


def gradcam_head_conv_differs(seed: int) -> float:
    """max |Grad-CAM at head_conv - at head| (tests/test_attribution.py asserts > 0.05)."""
    from vizlab.attribution import grad_cam

    model, x = _composite(seed)
    return float((grad_cam(model, x, "Egyptian cat", layer="head_conv") - grad_cam(model, x, "Egyptian cat"))
                 .abs().max())


def gradcam_discriminative_min(seed: int) -> float:
    """The smaller of the cat map's share on the cat half and the cup map's share on the cup half (> 0.7)."""
    from vizlab.attribution import grad_cam

    model, x = _composite(seed)
    half = x.shape[-2] // 2
    cat, cup = grad_cam(model, x, "Egyptian cat")[0], grad_cam(model, x, "espresso")[0]
    return min(float(cat[:half].sum() / cat.sum()), float(cup[half:].sum() / cup.sum()))


def espresso_probability(seed: int) -> float:
    """Lite0's p(espresso) on the espresso photo rolled by ``seed`` pixels (tests/test_models.py: > 0.8)."""
    model = _model()
    x = torch.roll(model.to_input("espresso"), shifts=seed, dims=3)
    with torch.no_grad():
        return float(model(x).softmax(1)[0, model.class_index("espresso")])


def dark_term_brightens(seed: int) -> float:
    """Share of near-black pixels after 6 training steps of a black-painting network with the darkening term,
    over the share without it (tests/test_style_transformer.py asserts < 1); ``seed`` seeds the training."""
    from vizlab.style.transformer import ContentCrops, TransformerNet, train_transformer

    net = _tiny_net(0, style_weight=5.0)
    kw = dict(size=24, batch_size=2, width=4, blocks=1, loss_net=net, progress=False, seed=seed + 1, lr=1e-2)

    def black_net():
        torch.manual_seed(seed)
        t = TransformerNet(width=4, blocks=1)
        with torch.no_grad():
            t.decoder[-1][-1].bias.fill_(-4.0)
        return t

    on = train_transformer(torch.zeros(1, 3, 24, 24), dark_weight=100.0, net=black_net(), steps=6, **kw)
    off = train_transformer(torch.zeros(1, 3, 24, 24), net=black_net(), steps=6, **kw)
    x = ContentCrops(None, size=24, seed=5).batch(2)
    with torch.no_grad():
        dark_on = (on.net(x).amax(1) < 0.15).float().mean()
        dark_off = (off.net(x).amax(1) < 0.15).float().mean()
    return float(dark_on / dark_off)


CLAIMS = [
    dict(name="classviz_flamingo_logodds", run=classviz_flamingo, threshold=math.log(9),
         where="tests/test_optimize_model.py::test_cs231n_class_visualization_is_classified_as_its_class"),
    dict(name="fooling_cat_change", run=fooling_cat, threshold=1.0, higher_is_better=False,
         where="tests/test_optimize_model.py::test_fooling_image_fools_with_a_small_change (mean<0.01, max<0.1)"),
    dict(name="gatys_style_fall", run=gatys_style_fall, threshold=0.5, higher_is_better=False,
         where="tests/test_style_gatys.py::test_gatys_reduces_style_loss"),
    dict(name="gatys_lbfgs_total", run=gatys_lbfgs_total, threshold=1.0, higher_is_better=False,
         where="tests/test_style_gatys.py::test_lbfgs_and_noise_init_and_snapshots"),
    dict(name="texture_style", run=texture_style, threshold=1.0, higher_is_better=False,
         where="tests/test_style_gatys.py::test_blend_of_styles_and_texture_synthesis"),
    dict(name="transformer_training", run=transformer_training, threshold=1.0, higher_is_better=False,
         where="tests/test_style_transformer.py::test_training_reduces_loss_and_stops"),
    dict(name="shapes_accuracy", run=shapes_accuracy, threshold=1 / 6 + 0.15,
         where="tests/test_inside_datasets.py::test_train_shapes_cnn_learns_records_filters_and_stops_on_request"),
    dict(name="shapes_filters_grow", run=shapes_filters_grow, threshold=3.0,
         where="tests/test_inside_datasets.py::test_train_shapes_cnn_learns_records_filters_and_stops_on_request"),
    dict(name="ica_orientedness", run=ica_orientedness, threshold=0.0,
         where="tests/test_inside_basics.py::test_patches_and_ica_filters_on_photos"),
    dict(name="smoothgrad_roughness", run=smoothgrad_roughness, threshold=1.0, higher_is_better=False,
         where="tests/test_attribution.py::test_smoothgrad_is_seeded_and_smoother"),
    dict(name="render_rises", run=render_rises, threshold=0.0,
         where="tests/test_optimize.py::test_render_raises_the_objective_and_removes_hooks"),
    dict(name="deepdream_energy", run=deepdream_energy, threshold=1.0,
         where="tests/test_optimize.py::test_deepdream_amplifies_the_layer_and_stops"),
    dict(name="inversion_fall", run=inversion_fall, threshold=0.5, higher_is_better=False,
         where="tests/test_optimize.py::test_inversion_matches_features"),
    dict(name="e3_class_step", run=e3_class_step, threshold=0.0,
         where="notebooks/exercises/E3_optimize.ipynb (cell 9)"),
    dict(name="e3_fooling_solution", run=lambda s: _check(e3_fooling_solution(s)), threshold=1.0,
         higher_is_better=False, where="notebooks/exercises/E3_optimize.ipynb (cell 7, check of the solution)"),
    dict(name="e3_fooling_reference", run=lambda s: _check(e3_fooling_reference(s)), threshold=1.0,
         higher_is_better=False, where="tests/test_exercises.py::test_library_fooling_images_pass_the_judge"),
    dict(name="gradcam_head_conv_differs", run=gradcam_head_conv_differs, threshold=0.05,
         where="tests/test_attribution.py::test_cam_equals_grad_cam_on_embedded_model_and_conv_head_differs"),
    dict(name="gradcam_discriminative_min", run=gradcam_discriminative_min, threshold=0.7,
         where="tests/test_attribution.py::test_grad_cam_is_class_discriminative_on_cat_and_espresso"),
    dict(name="espresso_probability", run=espresso_probability, threshold=0.8,
         where="tests/test_models.py::test_embedded_model_classifies_cat_and_espresso"),
    dict(name="dark_term_brightens", run=dark_term_brightens, threshold=1.0, higher_is_better=False,
         where="tests/test_style_transformer.py::test_darkening_term_enters_the_training_loss"),
]
for _claim in CLAIMS:
    _claim.setdefault("profile", "quick")
