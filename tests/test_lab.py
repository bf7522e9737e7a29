"""The ground-truth lab: planted-shortcut data and masks, metrics against masks, TCAV and dissection, the models."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from vizlab.inside import make_shapes
from vizlab.inside.shapes import COLOURS
from vizlab.lab import (Cue, LabRecipe, cue_reliance, flips, format_rows, ground_truth_table, lab_attribute,
                        lab_model, make_shortcut, mask_share, metric_agreement, paired_sets, pointing_game,
                        told_truth)
from vizlab.lab.concepts import (PATTERNS, cav, concept_effect, concept_images, concept_masks, dissect, mark_effect,
                                 paint_concept, probe_set, tcav)
from vizlab.lab.data import paint_marks
from vizlab.lab.models import _train_rrr, train_lab_model


# -- data ------------------------------------------------------------------------------------------------------

def test_make_shapes_masks_do_not_change_the_images():
    plain, masked = make_shapes(12, 32, seed=3), make_shapes(12, 32, seed=3, masks=True)
    assert torch.equal(plain.images, masked.images)  # exact
    mask = masked.extra["mask"]
    assert mask.dtype == torch.bool and mask.shape == (12, 32, 32)  # exact
    # The object's pixels are brighter than the dark background in some channel; the rest are not.
    img = masked.batch()
    inside = img.amax(1)[mask].mean()
    outside = img.amax(1)[~mask].mean()
    assert inside > outside + 0.3  # exact: object colours are >= 0.8 in some channel, the background <= 0.3 + noise


def test_paired_modes_differ_only_in_the_mark():
    cue = Cue(("red", "green", "blue", "yellow"), "bottom-right")
    sets = {m: make_shortcut(40, seed=5, cue=cue, mode=m) for m in ("match", "none", "swap", "random")}
    match, none, swap = sets["match"], sets["none"], sets["swap"]
    for other in sets.values():
        assert torch.equal(other.labels, match.labels)  # exact
    cue_mask = match.extra["cue_mask"]
    assert torch.equal(cue_mask, swap.extra["cue_mask"])  # exact
    assert not none.extra["cue_mask"].any()  # exact
    differs = (match.images != none.images).any(1)
    assert not (differs & ~cue_mask).any()  # exact: outside the mark, the pixels are the same
    assert torch.equal(match.extra["cue"], match.labels)  # exact
    assert (swap.extra["cue"] != swap.labels).all()  # exact
    assert (none.extra["cue"] == -1).all()  # exact
    # The mark sits where the Cue says, and has the colour of its class.
    r, c = cue.corner(32)
    assert cue_mask[:, r:r + 4, c:c + 4].all() and cue_mask.sum() == 40 * 16  # exact
    colour = match.batch()[:, :, r:r + 4, c:c + 4].mean((2, 3))
    expected = torch.tensor([COLOURS[cue.colours[k]] for k in match.labels])
    assert (colour - expected).abs().max() < 0.05  # exact: noise 0.04 averaged over 16 pixels
    # The shape's mask never covers the mark.
    assert not (match.extra["mask"] & cue_mask).any()  # exact


def test_anywhere_cue_moves_and_random_mode_is_uninformative():
    data = make_shortcut(200, seed=1, cue=Cue(place="anywhere"), mode="random")
    corners = {tuple(int(v) for v in m.nonzero()[0]) for m in data.extra["cue_mask"]}
    assert len(corners) > 50  # exact: positions are drawn uniformly from 29 x 29
    agree = float((data.extra["cue"] == data.labels).float().mean())
    assert 0.1 < agree < 0.45  # exact: 1/4 expected; 200 draws


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(colours="red"), TypeError, "colours must be a tuple"),
    (dict(colours=("red", "red")), ValueError, "different names"),
    (dict(colours=("red", "mauve")), ValueError, "different names"),
    (dict(place="middle"), ValueError, "place must be one of"),
    (dict(size=0), ValueError, "size must be an integer >= 1, got 0"),
])
def test_cue_validation(kwargs, error, text):
    with pytest.raises(error, match=text):
        Cue(**kwargs)


def test_make_shortcut_validation():
    with pytest.raises(ValueError, match="mode must be one of"):
        make_shortcut(4, mode="lying")
    with pytest.raises(ValueError, match="one colour per class"):
        make_shortcut(4, cue=Cue(("red", "green")), shapes=["circle", "square", "cross"])
    with pytest.raises(TypeError, match="cue must be a vizlab.lab.Cue"):
        make_shortcut(4, cue="red")


# -- metrics against masks -------------------------------------------------------------------------------------

def test_mask_share_and_pointing_game_on_known_maps():
    mask = torch.zeros(2, 8, 8, dtype=torch.bool)
    mask[:, :2, :2] = True
    heat = torch.zeros(2, 8, 8)
    heat[0, 0, 0] = 3.0
    heat[0, 5, 5] = 1.0          # 3/4 of image 0's heat on the mask
    heat[1, 2, 2] = 1.0          # image 1's peak just outside the mask
    assert torch.allclose(mask_share(heat, mask), torch.tensor([0.75, 0.0]))  # exact
    assert pointing_game(heat, mask).tolist() == [True, False]  # exact
    assert pointing_game(heat, mask, tolerance=1).tolist() == [True, True]  # exact
    # Negative heat does not count; an empty map has no share; a coarse map is resized.
    assert float(mask_share(-heat, mask)[0]) == 0.0  # exact
    coarse = torch.zeros(2, 4, 4)
    coarse[:, 0, 0] = 1.0
    assert (mask_share(coarse, mask) > 0.5).all()  # exact: bilinear upsampling keeps most mass in the corner
    with pytest.raises(ValueError, match="must match"):
        mask_share(heat, mask[:1])
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(heat, mask, tolerance=-1)
    with pytest.raises(TypeError, match="must be tensors"):
        mask_share(heat.numpy(), mask)


def _rows():
    base = {"cue area": 0.02, "shape area": 0.2, "insertion": 0.5, "ROAD": 0.5}
    rows = []
    for model, cue in (("shortcut", [0.9, 0.6, 0.1]), ("clean", [0.01, 0.03, 0.02])):
        for method, c, deletion in zip(("a", "b", "random"), cue, (0.1, 0.3, 0.6)):
            rows.append({**base, "model": model, "method": method, "cue share": c, "shape share": 1 - c - 0.05,
                         "cue lift": c / 0.02, "shape lift": (1 - c - 0.05) / 0.2,
                         "points at cue": float(c > 0.5), "points at shape": float(c <= 0.5),
                         "deletion": deletion})
    return rows


def test_told_truth_agreement_and_flips_on_known_rows():
    rows = _rows()
    assert [told_truth(r, "cue") for r in rows[:3]] == [True, True, False]  # exact
    assert not any(told_truth(r, "shape") for r in rows[:2])  # exact
    assert all(told_truth(r, "shape") for r in rows[3:])  # exact
    agree = metric_agreement(rows, {"shortcut": "cue", "clean": "shape"})
    assert agree["shortcut"]["deletion"] == pytest.approx(1.0)  # exact: lower deletion where more heat is on the cue
    assert agree["shortcut"]["insertion"] == 0.0  # exact: a constant column carries no ranking
    assert flips(rows, "clean", "shortcut") == {"a": ("shape", "cue"), "b": ("shape", "cue")}  # exact
    assert "points at cue" in format_rows(rows)
    with pytest.raises(ValueError, match="evidence must be"):
        told_truth(rows[0], "colour")


# -- models (tiny recipes) ---------------------------------------------------------------------------------------

TINY = LabRecipe(n=480, epochs=4, width=4, batch_size=32)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    import os
    folder = tmp_path_factory.mktemp("labcache")
    old = os.environ.get("VIZLAB_CACHE")
    os.environ["VIZLAB_CACHE"] = str(folder)
    try:
        models = {k: lab_model(k, recipe=TINY, progress=False) for k in ("shortcut", "clean")}
        again = lab_model("shortcut", recipe=TINY, progress=False)
    finally:
        if old is None:
            os.environ.pop("VIZLAB_CACHE")
        else:
            os.environ["VIZLAB_CACHE"] = old
    return models, again, folder


def test_lab_models_are_cached_and_the_shortcut_is_learned(tiny_models):
    models, again, folder = tiny_models
    assert len(list(folder.glob("lab-*.pt"))) == 2  # exact
    a, b = models["shortcut"].state_dict(), again.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # exact: loaded from the cache
    sets = paired_sets(200, seed=1)
    short, clean = cue_reliance(models["shortcut"], sets), cue_reliance(models["clean"], sets)
    assert short["drop"] > 0.25  # claim: lab test: tiny shortcut model drop
    assert clean["drop"] < short["drop"] - 0.2  # claim: lab test: tiny clean drop below shortcut drop


@pytest.mark.parametrize("kind", ["clean", "rrr"])
def test_an_interrupted_training_is_not_cached(kind, tmp_path, monkeypatch):
    """Ctrl-C during ``lab_model``'s training (a kernel being shut down interrupts it first) must not leave the
    half-trained model in the cache under the recipe's name: a gallery page closed mid-training once did, and
    notebook 10 then loaded a clean model that read the shape in 77 % of images instead of 92 %."""
    import threading

    import vizlab.lab.models as lab_models

    monkeypatch.setenv("VIZLAB_CACHE", str(tmp_path))
    stop = threading.Event()
    name = "_train_rrr" if kind == "rrr" else "train_classifier"
    real = getattr(lab_models, name)
    calls = []

    def interrupted(*args, **kwargs):  # the trainer as lab_model calls it, with Ctrl-C before its first batch
        calls.append(kwargs.get("stop"))
        stop.set()
        return real(*args, **{**kwargs, "stop": stop})

    monkeypatch.setattr(lab_models, name, interrupted)
    recipe = LabRecipe(n=64, epochs=2, width=4, batch_size=32)
    with pytest.raises(KeyboardInterrupt, match="interrupted; nothing was cached"):
        lab_model(kind, recipe=recipe, progress=False)
    assert calls == [None]  # exact: lab_model itself passes no stop event
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob(".*.tmp"))  # exact
    assert train_lab_model(kind, recipe=recipe, progress=False, stop=stop).stopped_early  # exact
    stop.clear()
    batches = []

    def late(*args, **kwargs):  # Ctrl-C in the last epoch, after the first epoch finished
        data = args[1]
        batch = data.batch

        def counted(*a, **k):
            batches.append(1)
            if len(batches) == 3:   # 64 images in batches of 32: the third batch is the second epoch's first
                stop.set()
            return batch(*a, **k)

        data.batch = counted
        return real(*args, **{**kwargs, "stop": stop})

    monkeypatch.setattr(lab_models, name, late)
    with pytest.raises(KeyboardInterrupt, match="interrupted; nothing was cached"):
        lab_model(kind, recipe=recipe, progress=False)
    assert len(batches) == 3 and not list(tmp_path.glob("*.pt"))  # exact: stopped in epoch 2, nothing cached
    monkeypatch.setattr(lab_models, name, real)
    assert not train_lab_model(kind, recipe=recipe, progress=False).stopped_early  # exact
    lab_model(kind, recipe=recipe, progress=False)
    assert len(list(tmp_path.glob(f"lab-{kind}-*.pt"))) == 1  # exact: a finished training is cached


def test_ground_truth_table_on_tiny_models(tiny_models):
    models, _, _ = tiny_models
    data = paired_sets(6, seed=2)["match"]
    rows = ground_truth_table(models, data, ["gradient", "Grad-CAM", "CAM", "occlusion", "random"], steps=4,
                              progress=False)
    assert len(rows) == 10 and {r["model"] for r in rows} == {"shortcut", "clean"}  # exact
    for r in rows:
        for key in ("cue share", "shape share", "points at cue", "points at shape", "deletion", "insertion", "ROAD"):
            assert 0.0 <= r[key] <= 1.0 + 1e-6, (r["method"], key, r[key])  # exact: shares, rates and prob. areas
        assert r["cue share"] + r["shape share"] <= 1.0 + 1e-6  # exact: the masks are disjoint
    by = {(r["model"], r["method"]): r for r in rows}
    gap = by["shortcut", "gradient"]["cue share"] - by["clean", "gradient"]["cue share"]
    assert gap > 0.01  # claim: lab test: tiny gradient cue share shortcut > clean
    with pytest.raises(ValueError, match="unknown"):
        lab_attribute(models["clean"], data.batch(), [0] * 6, "magic")
    with pytest.raises(ValueError, match="no extra"):
        ground_truth_table(models, make_shapes(4, 32), ["gradient"], progress=False)


def test_right_reasons_penalty_moves_gradients_off_the_cue():
    """The same tiny training with and without the penalty: the penalised quantity, the squared input gradient of
    the log-probabilities on the mark, shrinks by far more than the training noise."""
    from vizlab.inside.shapes import shapes_cnn

    data = make_shortcut(320, seed=0)
    on_cue = {}
    for penalty in (0.0, 300.0):
        model = shapes_cnn(0, 4, 4, 1.0)
        history = _train_rrr(model, data, epochs=3, lr=1e-2, weight_decay=0.05, batch_size=32, penalty=penalty,
                             seed=0, progress=False)
        assert len(history) == 3  # exact
        x = data.batch(slice(0, 64)).requires_grad_(True)
        model(x).log_softmax(1).sum().backward()
        on_cue[penalty] = float((x.grad ** 2 * data.extra["cue_mask"][:64, None]).flatten(1).sum(1).mean())
    assert on_cue[300.0] < 0.1 * on_cue[0.0]  # claim: lab test: rrr penalty shrinks the squared gradient on the cue


def test_penalty_on_part_of_each_batch_and_the_cache_key():
    """``penalty_images`` evaluates the penalty on the first images of each batch (the cheap recipe of
    ``lab_model("rrr")``); it is part of the rrr model's cache key only, so the other kinds keep their weights."""
    from vizlab.inside.shapes import shapes_cnn
    from vizlab.lab.models import _key

    data = make_shortcut(64, seed=0)
    model = shapes_cnn(0, 4, 4, 1.0)
    history = _train_rrr(model, data, epochs=2, lr=1e-2, weight_decay=0.05, batch_size=32, penalty=10.0, seed=0,
                         progress=False, penalty_images=8)
    assert len(history) == 2 and all(np.isfinite(history))  # exact
    cue = Cue()
    for kind in ("shortcut", "clean"):
        assert _key(kind, 0, cue, LabRecipe()) == _key(kind, 0, cue, LabRecipe(penalty_images=64))  # exact
    assert _key("rrr", 0, cue, LabRecipe()) != _key("rrr", 0, cue, LabRecipe(penalty_images=64))  # exact


def test_as_sequential_computes_the_same_function(tiny_models):
    from vizlab.lab import as_sequential

    model = tiny_models[0]["shortcut"]
    seq = as_sequential(model)
    x = make_shortcut(8, seed=9).batch()
    with torch.no_grad():
        assert torch.allclose(seq(x), model(x), atol=1e-4)  # exact: the normalisation folded into conv1
    assert all(type(m).__module__.startswith("torch.") for m in seq.modules())  # exact
    with pytest.raises(TypeError, match="must be a ShapesCNN"):
        as_sequential(seq)


def test_lab_model_validation():
    with pytest.raises(ValueError, match="kind must be one of"):
        lab_model("lucky")
    with pytest.raises(TypeError, match="recipe must be a LabRecipe"):
        lab_model("clean", recipe={"n": 10})
    with pytest.raises(ValueError, match="kind must be one of"):
        train_lab_model("lucky")


# -- concepts ----------------------------------------------------------------------------------------------------

def test_concept_images_are_deterministic_and_paint_the_cue_as_the_dataset_does():
    red = concept_images("red", 6, seed=1)
    assert red.shape == (6, 3, 32, 32) and torch.equal(red, concept_images("red", 6, seed=1))  # exact
    # The mark sits where make_shortcut puts the cue, in the cue's colour up to the same jitter.
    (r, c), s = Cue().corner(32), Cue().size
    mark = red[:, :, r:r + s, c:c + s]
    assert (mark - torch.tensor(COLOURS["red"])[:, None, None]).abs().mean() < 0.05  # exact: jitter sd 0.04
    for name in PATTERNS + ("random",):
        assert concept_images(name, 2).shape == (2, 3, 32, 32)  # exact
    with pytest.raises(ValueError, match="concept must be"):
        concept_images("plaid")
    with pytest.raises(TypeError, match="concept must be a name"):
        concept_images(3)
    with pytest.raises(TypeError, match="cue must be"):
        concept_images("red", cue="top-left")


def test_a_concept_set_differs_from_its_random_set_only_in_the_concept():
    scenes = make_shapes(10, 32, seed=7, masks=True)
    random = paint_concept(scenes, "random", seed=3)
    (r, c), s = Cue().corner(32), Cue().size
    in_mark = torch.zeros(32, 32, dtype=torch.bool)
    in_mark[r:r + s, c:c + s] = True
    changed = {name: (paint_concept(scenes, name, seed=3) != random).any(1) for name in ("red", "stripes", "dots")}
    assert not changed["red"][:, ~in_mark].any() and changed["red"].any()  # exact: only the mark is recoloured
    shape = scenes.extra["mask"]
    assert not (changed["stripes"] & ~shape).any() and changed["stripes"].any()  # exact: only the shape is striped
    assert changed["dots"].any() and not torch.equal(random, paint_concept(scenes, "random", seed=3, draw=1))  # exact
    # The lab's own datasets are painted by the same helper: a shortcut set's cue pixels are a paint_marks mark.
    images = scenes.images.numpy().copy()
    rgb = np.array([COLOURS["red"]] * 5 + [[np.nan] * 3] * 5, dtype=np.float32)
    mask = paint_marks(images, rgb, np.full((10, 2), 2), np.zeros((10, 3, 4, 4)))
    assert mask[:5].sum() == 5 * 16 and not mask[5:].any()  # exact
    assert np.array_equal(images[5:], scenes.images.numpy()[5:])  # exact: NaN colour, no mark


def test_cav_points_from_random_to_concept():
    g = torch.Generator().manual_seed(0)
    direction = torch.zeros(20)
    direction[3] = 1.0
    concept = torch.randn(30, 20, generator=g) + 2 * direction
    random = torch.randn(30, 20, generator=g)
    v = cav(concept, random)
    assert float(v.norm()) == pytest.approx(1.0)  # exact
    assert int(v.abs().argmax()) == 3 and v[3] > 0  # exact: separable along axis 3


class _ColourNet(nn.Module):
    """A fake network whose 'relu2' units are colour detectors and whose logit 0 grows with redness."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1, bias=False)   # unit k: channel k minus the mean of the other two
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(3, 2)
        with torch.no_grad():
            self.conv.weight.copy_((1.5 * torch.eye(3) - 0.5)[:, :, None, None])
            self.fc.weight.copy_(torch.tensor([[1.0, -1.0, -1.0], [0.0, 0.0, 0.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.relu2(self.conv(x)).mean((2, 3)))


def test_dissection_labels_colour_detectors_by_their_colour():
    probe = probe_set(60, seed=2)
    masks = concept_masks(probe)
    assert set(masks) >= {"circle", "stripes", "red", "cue", "background"}  # exact
    d = dissect(_ColourNet(), probe, "relu2", quantile=0.97)
    assert d.iou.shape == (3, len(masks))  # exact
    labels = [d.label(u)[0] for u in range(3)]
    assert labels[0] in ("red", "magenta", "yellow") and labels[1] in ("green", "yellow", "cyan")  # exact: colour maths
    assert labels[2] in ("blue", "magenta", "cyan")  # exact: colour maths
    with pytest.raises(ValueError, match="quantile"):
        dissect(_ColourNet(), probe, "relu2", quantile=1.5)


def test_tcav_on_a_network_that_reads_red():
    import matplotlib

    matplotlib.use("Agg")
    from vizlab.lab.plot import show_tcav

    net = _ColourNet()
    images = concept_images("random", 16, seed=4)
    # Logit 0 is the mean redness minus the other colours, linear in relu2: a red mark instead of a random one
    # raises it by about 0.01-0.02 (a 4x4 mark of 32x32 pixels), a green one lowers it.
    res = tcav(net, images, 0, ["red", "green", "random"], random_sets=20, n=12, min_effect=0.005)
    assert set(res.concepts) == {"red", "green", "random"} and len(res["red"].effects) == 20  # exact
    assert len(res["red"].null) == 20 and res["red"].mean == 1.0 and res["green"].mean == 0.0  # exact: linear net
    assert res["red"].effect > 0.005 > -0.005 > res["green"].effect  # exact: the network is built that way
    assert res.significant() == ["red", "green"]  # exact: "random" is one more pseudo-concept, no effect
    assert res["red"].accuracy.mean() > 0.8  # exact: a red mark is linearly separable in a colour detector's map
    # However precise, an effect below min_effect does not count (the default: 1 logit).
    assert tcav(net, images, 0, ["red"], random_sets=5, n=12).significant() == []  # exact: effect ~0.02 < 1
    assert "TCAV for class 0" in res.summary()  # exact
    ax = show_tcav({"net": res})
    assert len(ax.patches) == 3  # exact: one bar per concept
    with pytest.raises(ValueError, match="random_sets must be an integer >= 2, got 1"):
        tcav(net, images, 0, ["red"], random_sets=1)
    with pytest.raises(ValueError, match="concepts is empty"):
        tcav(net, images, 0, [])
    with pytest.raises(ValueError, match="min_effect"):
        tcav(net, images, 0, ["red"], min_effect=-1)
    with pytest.raises(ValueError, match="concept must be"):
        tcav(net, images, 0, ["plaid"])


def test_concept_effect_is_the_intervention_tcav_estimates():
    net = _ColourNet()
    scenes = make_shapes(12, 32, seed=4, masks=True)
    eff = concept_effect(net, scenes, 0, ["red", "green", "random"], draws=3)
    assert eff["red"] > 0 > eff["green"] and eff["random"] == 0.0  # exact: the same draw painted twice
    with pytest.raises(TypeError, match="scenes must be"):
        concept_effect(net, scenes.batch(), 0, ["red"])


def test_mark_effect_reads_the_colour_a_network_responds_to():
    net = _ColourNet()
    images = concept_images("random", 8, seed=3)
    eff = mark_effect(net, images, 0, ["red", "green", "blue"])
    # Logit 0 is mean(red unit) - mean(green unit) - mean(blue unit): a red mark raises it, the others lower it.
    assert eff["red"] > 0 > eff["green"] and eff["blue"] < 0  # exact: the network is built that way
    assert set(mark_effect(net, images, 0)) == set(COLOURS)  # exact
    with pytest.raises(ValueError, match="fixed place"):
        mark_effect(net, images, 0, cue=Cue(place="anywhere"))
    with pytest.raises(ValueError, match="colours must be names"):
        mark_effect(net, images, 0, ["plaid"])
    with pytest.raises(TypeError, match="cue must be"):
        mark_effect(net, images, 0, cue="red")


# -- explorer ------------------------------------------------------------------------------------------------------

def test_lab_explorer_draws_and_caches(tiny_models):
    from vizlab.widgets import LabExplorer

    models, _, _ = tiny_models
    sets = paired_sets(4, seed=3)
    ex = LabExplorer(models, sets, method="gradient")
    assert ex.computed == 1 and ex.image.value  # exact
    ex.method.value = "Grad-CAM"
    ex.model.value = "clean"
    ex.set.value = "swap"
    assert ex.computed == 4  # exact
    ex.set.value = "match"
    ex.model.value = "shortcut"
    ex.method.value = "gradient"
    assert ex.computed == 4  # exact: back to a cached choice (the intermediate ones computed once)
    assert "of the heat on the cue" in ex.status.value
    with pytest.raises(ValueError, match="unknown methods"):
        LabExplorer(models, sets, methods=("gradient", "magic"))
    with pytest.raises(TypeError, match="models must be"):
        LabExplorer({}, sets)


def test_lab_explorer_sends_the_image_to_the_models_device(tiny_models):
    """Review round 18: the explorer fed CPU images to every model, so a model on another device failed on every
    image ("Tensor on device meta is not on the expected device cpu!"). Devices follow the model: a spy on a
    ``meta`` copy sees the image arrive on ``meta`` (and stops there: meta tensors hold no values)."""
    import copy

    from vizlab.widgets import LabExplorer

    models, _, _ = tiny_models
    net = copy.deepcopy(models["clean"]).to("meta")
    seen = []

    def spy(module, args):
        seen.append(args[0].device)
        raise RuntimeError("stopped after the image arrived")

    handle = net.register_forward_pre_hook(spy)
    try:
        ex = LabExplorer({"on meta": net}, paired_sets(2, seed=3), method="gradient")
    finally:
        handle.remove()
    assert seen == [torch.device("meta")]  # exact
    assert "stopped after the image arrived" in ex.status.value and "expected device" not in ex.status.value
    heat, _ = LabExplorer({"clean": models["clean"]}, paired_sets(2, seed=3), method="gradient").compute(
        "clean", "gradient", "match", 0)
    assert heat.device.type == "cpu" and heat.dim() == 2  # exact: the map comes back for the plots
