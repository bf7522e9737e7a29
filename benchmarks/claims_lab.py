"""Asserted outcomes of the ground-truth lab (issue 28), recomputed per seed for benchmarks/margins.py.

The seed is the training seed of the lab's models (data, initialisation and batch order) and of the concept and
random sets; the test images stay the notebook's. The lab's model cache does not know the thread count or the
instruction set, and a margin has to see what each of them trains, so the models trained here go to their own
cache folder per thread count and ``ATEN_CPU_CAPABILITY`` (claims of one setting share them). Settings are the
notebook's. A claim trains up to two models of 15-25 s each on the idle machine, or loads them.
"""
from __future__ import annotations

import torch

NB = "notebooks/10_ground_truth_lab.ipynb"
E6 = "notebooks/exercises/E6_detective.ipynb"
_CACHE: dict = {}


def _model(kind: str, seed: int, **kwargs):
    import os

    from vizlab.inside.features import cache_dir
    from vizlab.lab import LabRecipe, lab_model

    if "base" not in _CACHE:
        _CACHE["base"] = cache_dir()
    setting = f"t{torch.get_num_threads()}-{os.environ.get('ATEN_CPU_CAPABILITY', 'native')}"
    os.environ["VIZLAB_CACHE"] = str(_CACHE["base"] / f"claims-lab-{setting}")

    kwargs.setdefault("recipe", LabRecipe())     # the notebook's recipe (both profiles)
    key = (kind, seed, repr(sorted(kwargs.items())))
    if key not in _CACHE:
        _CACHE[key] = lab_model(kind, seed=seed, progress=False, **kwargs)
    return _CACHE[key]


def _reliance(kind: str, seed: int) -> dict:
    from vizlab.lab import cue_reliance, paired_sets

    return cue_reliance(_model(kind, seed), paired_sets(200, seed=1))


def shortcut_drop(seed: int) -> float:
    return _reliance("shortcut", seed)["drop"]


def shortcut_swap(seed: int) -> float:
    return _reliance("shortcut", seed)["swap"]


def clean_drop(seed: int) -> float:
    return _reliance("clean", seed)["drop"]


def clean_none(seed: int) -> float:
    return _reliance("clean", seed)["none"]


def randomised_gain(seed: int) -> float:
    return _reliance("clean", seed)["none"] - _reliance("shortcut", seed)["none"]


def _rows(seed: int, methods) -> dict:
    from vizlab.lab import ground_truth_table, paired_sets

    data = paired_sets(200, seed=1)["match"].subset(range(8))
    rows = ground_truth_table({k: _model(k, seed) for k in ("shortcut", "clean")}, data, methods, progress=False)
    return {(r["model"], r["method"]): r for r in rows}


def gradcam_pointing_flip(seed: int) -> float:
    by = _rows(seed, ["Grad-CAM"])
    return by["shortcut", "Grad-CAM"]["points at cue"] - by["clean", "Grad-CAM"]["points at cue"]


def gradient_pointing_flip(seed: int) -> float:
    by = _rows(seed, ["gradient"])
    return by["shortcut", "gradient"]["points at cue"] - by["clean", "gradient"]["points at cue"]


TCAV_CONCEPTS = ["red", "blue", "stripes", "dots", "random"]     # the notebook's


def _tcav(kind: str, seed: int):
    """The notebook's TCAV (class circle, its 40 circles, 20 random sets of 40 images), with the concept and random
    sets drawn from ``seed`` too (the notebook uses 0)."""
    from vizlab.lab import paired_sets
    from vizlab.lab.concepts import tcav

    key = ("tcav", kind, seed)
    if key not in _CACHE:
        match = paired_sets(400, seed=1)["match"]
        circles = match.subset(match.labels == 0).batch()[:40]       # the notebook's TCAV_N = 40
        _CACHE[key] = tcav(_model(kind, seed), circles, 0, TCAV_CONCEPTS, random_sets=20, n=40, seed=seed)
    return _CACHE[key]


def tcav_cue_log_p(seed: int) -> float:
    """-log10 of the p-value of the cue's colour (red) for class circle, shortcut model (minimum-effect test)."""
    import math

    return -math.log10(max(_tcav("shortcut", seed)["red"].p_value, 1e-300))


def tcav_cue_effect(seed: int) -> float:
    """The shortcut model's TCAV effect of red on the circle logit (must exceed min_effect = 1)."""
    return _tcav("shortcut", seed)["red"].effect


def tcav_clean_cue_effect(seed: int) -> float:
    """|TCAV effect| of red for the clean model (under min_effect = 1: not significant, however small its p)."""
    return abs(_tcav("clean", seed)["red"].effect)


def tcav_irrelevant_effect(seed: int) -> float:
    """The largest |TCAV effect| among the concepts that do not matter by intervention (concept_effect / mark_effect:
    every mark colour for the clean model, and the random pseudo-concept for both models)."""
    clean, short = _tcav("clean", seed), _tcav("shortcut", seed)
    return max(abs(clean["red"].effect), abs(clean["blue"].effect), abs(clean["random"].effect),
               abs(short["random"].effect))


def tcav_cue_score(seed: int) -> float:
    return _tcav("shortcut", seed)["red"].mean


def _rrr(seed: int) -> dict:
    from vizlab.lab import cue_reliance, paired_sets

    return cue_reliance(_model("rrr", seed), paired_sets(200, seed=1))


def rrr_none(seed: int) -> float:
    return _rrr(seed)["none"]


def rrr_drop(seed: int) -> float:
    return _rrr(seed)["drop"]


def _detective_hits(seed: int) -> list:
    """The E6 demonstration with the library's reference detective, on a model trained with ``seed``: per class,
    whether each of the 24 painted images is predicted as the class whose mark was painted."""
    from vizlab.exercises.references import find_cue
    from vizlab.inside.shapes import COLOURS
    from vizlab.lab import Cue, LabRecipe, make_shortcut

    mystery = Cue(("cyan", "magenta", "yellow", "red"), "bottom-left")
    model = _model("shortcut", 21 + seed, cue=mystery, recipe=LabRecipe(n=1200, epochs=6))
    images = make_shortcut(24, seed=99, cue=mystery, mode="none").batch()
    palette = torch.tensor(list(COLOURS.values()))
    row, col, colours = find_cue(model, images, palette)
    r, c = int(round(row - 1.5)), int(round(col - 1.5))
    hits = []
    for k, colour in enumerate(colours):
        painted = images.clone()
        painted[:, :, r:r + 4, c:c + 4] = palette[int(colour)][:, None, None]
        with torch.no_grad():
            hits.append((model(painted).argmax(1) == k).float())
    return hits


def detective_follows(seed: int) -> float:
    """Share of all 96 painted images (4 classes x 24) that follow the mark. Until issue 29's margins run the claim
    was the worst class's share > 0.8: 0.875 (21 of 24) in the notebook with avx2 kernels, +9 %, and 0.875-0.958
    over training seeds 21-25 x default/avx2 (a share of 24 moves in steps of 4 %); pooled 0.938-0.990."""
    return float(torch.cat(_detective_hits(seed)).mean())


def detective_every_class(seed: int) -> float:
    """The worst class's share of painted images that follow the mark (E6 claims a majority, > 0.5)."""
    return min(float(h.mean()) for h in _detective_hits(seed))


# -- the tests' tiny models ---------------------------------------------------------------------------------------

def _tiny(kind: str, seed: int):
    from vizlab.lab import LabRecipe

    return _model(kind, seed, recipe=LabRecipe(n=480, epochs=4, width=4, batch_size=32))


def test_tiny_drop(seed: int) -> float:
    from vizlab.lab import cue_reliance, paired_sets

    return cue_reliance(_tiny("shortcut", seed), paired_sets(200, seed=1))["drop"]


def test_tiny_gap(seed: int) -> float:
    from vizlab.lab import cue_reliance, paired_sets

    sets = paired_sets(200, seed=1)
    return cue_reliance(_tiny("shortcut", seed), sets)["drop"] - cue_reliance(_tiny("clean", seed), sets)["drop"]


def test_tiny_gradient_share(seed: int) -> float:
    from vizlab.lab import ground_truth_table, paired_sets

    data = paired_sets(6, seed=2)["match"]
    rows = ground_truth_table({k: _tiny(k, seed) for k in ("shortcut", "clean")}, data, ["gradient"], steps=4,
                              progress=False)
    by = {r["model"]: r for r in rows}
    return by["shortcut"]["cue share"] - by["clean"]["cue share"]


def test_rrr_ratio(seed: int) -> float:
    from vizlab.inside.shapes import shapes_cnn
    from vizlab.lab import make_shortcut
    from vizlab.lab.models import _train_rrr

    data = make_shortcut(320, seed=seed)
    on_cue = {}
    for penalty in (0.0, 300.0):
        model = shapes_cnn(seed, 4, 4, 1.0)
        _train_rrr(model, data, epochs=3, lr=1e-2, weight_decay=0.05, batch_size=32, penalty=penalty, seed=seed,
                   progress=False)
        x = data.batch(slice(0, 64)).requires_grad_(True)
        model(x).log_softmax(1).sum().backward()
        on_cue[penalty] = float((x.grad ** 2 * data.extra["cue_mask"][:64, None]).flatten(1).sum(1).mean())
    return on_cue[300.0] / on_cue[0.0]


T = "tests/test_lab.py"
CLAIMS = [
    dict(name="lab: the shortcut model collapses without its cue", run=shortcut_drop, threshold=0.30,
         higher_is_better=True, where=f"{NB} (cell 6)", profile="quick"),
    dict(name="lab: the shortcut model follows a swapped cue", run=shortcut_swap, threshold=0.25,
         higher_is_better=False, where=f"{NB} (cell 6)", profile="quick"),
    dict(name="lab: the clean model does not need the cue", run=clean_drop, threshold=0.10, higher_is_better=False,
         where=f"{NB} (cell 6)", profile="quick"),
    dict(name="lab: the clean model reads the shape", run=clean_none, threshold=0.80, higher_is_better=True,
         where=f"{NB} (cell 6)", profile="quick"),
    dict(name="lab: Grad-CAM's hottest pixel moves onto the cue", run=gradcam_pointing_flip, threshold=0.5,
         higher_is_better=True, where=f"{NB} (cell 12)", profile="quick"),
    dict(name="lab: the gradient's hottest pixel moves onto the cue", run=gradient_pointing_flip, threshold=0.5,
         higher_is_better=True, where=f"{NB} (cell 12)", profile="quick"),
    dict(name="lab: randomising the cue restores accuracy without it", run=randomised_gain, threshold=0.3,
         higher_is_better=True, where=f"{NB} (cell 18)", profile="quick"),
    dict(name="lab: TCAV finds the cue's colour for the shortcut model (-log10 p)", run=tcav_cue_log_p,
         threshold=3.0, higher_is_better=True, where=f"{NB} (cell 15)", profile="quick"),
    dict(name="lab: TCAV's cue effect for the shortcut model exceeds min_effect (logit)", run=tcav_cue_effect,
         threshold=1.0, higher_is_better=True, where=f"{NB} (cell 15)", profile="quick"),
    dict(name="lab: TCAV's cue effect for the clean model stays under min_effect (|logit|)",
         run=tcav_clean_cue_effect, threshold=1.0, higher_is_better=False, where=f"{NB} (cell 15)", profile="quick"),
    dict(name="lab: TCAV's irrelevant concepts stay under min_effect (max |logit|)", run=tcav_irrelevant_effect,
         threshold=1.0, higher_is_better=False, where=f"{NB} (cell 15)", profile="quick"),
    dict(name="detective: painted marks steer the mystery model", run=detective_follows, threshold=0.8,
         higher_is_better=True, where=f"{E6} (cell 7)", profile="quick"),
    dict(name="detective: the painted mark steers most images of every class", run=detective_every_class,
         threshold=0.5, higher_is_better=True, where=f"{E6} (cell 7)", profile="quick"),
    dict(name="lab test: tiny shortcut model drop", run=test_tiny_drop, threshold=0.25, higher_is_better=True,
         where=f"{T}::test_lab_models_are_cached_and_the_shortcut_is_learned", profile="quick"),
    dict(name="lab test: tiny clean drop below shortcut drop", run=test_tiny_gap, threshold=0.2,
         higher_is_better=True, where=f"{T}::test_lab_models_are_cached_and_the_shortcut_is_learned",
         profile="quick"),
    dict(name="lab test: tiny gradient cue share shortcut > clean", run=test_tiny_gradient_share, threshold=0.01,
         higher_is_better=True, where=f"{T}::test_ground_truth_table_on_tiny_models", profile="quick"),
    dict(name="lab test: rrr penalty shrinks the squared gradient on the cue", run=test_rrr_ratio, threshold=0.1,
         higher_is_better=False, where=f"{T}::test_right_reasons_penalty_moves_gradients_off_the_cue",
         profile="quick"),
]
