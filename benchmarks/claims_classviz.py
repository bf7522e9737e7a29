"""Asserted outcomes of notebooks 05 and 06 and tests/test_optimize_model.py (issue 11's margins runner).

Each ``run(seed)`` recomputes one asserted number exactly as the notebook does (same profile settings), with the
optimisation seeded by ``seed``:  ``python benchmarks/margins.py -k classviz``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch


@lru_cache(maxsize=None)
def _models():
    import vizlab

    model = vizlab.load_model()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, vizlab.load_judge()


# -- notebook 05 ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _ladder(seed: int) -> dict:
    import vizlab
    from vizlab import optimize as opt

    model, judge = _models()
    size, steps = vizlab.by_profile(quick=128, lecture=160), vizlab.by_profile(quick=80, lecture=100)
    out = {}
    for label, settings in opt.regularizer_ladder(size=size, steps=steps):
        r = opt.class_visualization(model, "flamingo", settings, seed=seed, progress=False)
        with torch.no_grad():
            scores = model(r.image)[0]
        lite0_rank = int((scores > scores[model.class_index("flamingo")]).sum()) + 1
        out[label] = (r.info["target_probability"], opt.verdict(judge, r.image, "flamingo")["rank"], lite0_rank)
    return out


def ladder_full_rank(seed: int) -> float:
    return float(_ladder(seed)["+ blur schedule, decaying steps"][1])


def ladder_rank_gain(seed: int) -> float:
    d = _ladder(seed)
    return d["plain ascent"][1] / d["+ blur schedule, decaying steps"][1]


def ladder_max_lite0_rank(seed: int) -> float:
    """The worse Lite0 rank of flamingo of the plain and CS231n rungs (nb05 claims <= 5 for each). Until issue 29
    the claim was p > 0.5 at 96 px / 40 steps: p = 0.0001 with one thread; at 128 px / 80 steps p was still 0.374
    (plain ascent, seed 1, 2 threads, default kernels; top class 'maze') in 1 of 12 runs."""
    d = _ladder(seed)
    return max(d["plain ascent"][2], d["+ L2, jitter, blur (CS231n)"][2])


@lru_cache(maxsize=None)
def _pixel_mode(seed: int) -> list[tuple[float, int]]:
    from vizlab import optimize as opt

    model, judge = _models()
    out = []   # notebook 05 renders opt.CS231N as it is in both profiles (224 px; issue 24, round 16)
    for name in ("flamingo", "tarantula"):
        r = opt.class_visualization(model, name, mode="cs231n", seed=seed, progress=False)
        view_p = opt.view_probability(model, r.image, model.class_index(name), opt.CS231N.view)
        out.append((view_p, opt.verdict(judge, r.image, name)["rank"]))
    return out


def pixel_worst_lite2_rank(seed: int) -> float:
    return float(max(rank for _, rank in _pixel_mode(seed)))


def pixel_min_lite0_p(seed: int) -> float:
    return min(p for p, _ in _pixel_mode(seed))


#: nb05's Fourier classes: the first two of issue 12's list (not chosen by their results). Until round 9 the
#: notebook rendered six (flamingo, goldfish, volcano, tarantula, jellyfish, pizza) and asserted counts over them;
#: the default (``OBJECT``) took over that part.
FOURIER_CLASSES = ("flamingo", "goldfish")
#: nb05's classes for the default recipe (``opt.OBJECT``, issue 24 round 9; ``opt.OBJECT_ENSEMBLE`` from round 16, still
#: in nb05 after round 17 made ``opt.OBJECT_ENSEMBLE3`` the default: Lite2 must stay out of the loop to judge): six classes that round 8's blind
#: viewer named first from their seed-0 image (``benchmarks/blind24/set_r8_maco_centre_coarse``).
DEFAULT_CLASSES = ("koala", "starfish", "ostrich", "hummingbird", "ladybug", "umbrella")


def _class_ranks(mode: str, classes: tuple[str, ...], seed: int) -> dict[str, list]:
    """``{class: [Lite2's rank, Lite0's probability, Lite0's rank]}`` of nb05's class images of ``mode`` (224 px
    in both profiles).

    margins.py runs the claims of this module in one process per thread count and instruction set, where the
    claims that read the same images share them (``lru_cache`` of the callers); across processes, with
    ``VIZLAB_CLAIMS_CACHE=/some/file.json`` set the ranks are kept there, keyed by the seed, the thread count,
    the instruction set and the preset (a changed preset never reads stale ranks). Without it they are recomputed.
    """
    import json
    import os

    from vizlab import optimize as opt

    path = os.environ.get("VIZLAB_CLAIMS_CACHE")
    key = (f"{seed}|{torch.get_num_threads()}|{os.environ.get('ATEN_CPU_CAPABILITY', 'native')}"
           f"|{opt.preset(mode)!r}|{classes}")
    cache = json.loads(Path(path).read_text()) if path and os.path.exists(path) else {}
    if key not in cache:
        model, judge = _models()
        ranks = {}
        for name in classes:
            r = opt.class_visualization(model, name, mode=mode, size=224, seed=seed, progress=False)
            ranks[name] = [opt.verdict(judge, r.image, name)["rank"], r.info["target_probability"],
                           opt.verdict(model, r.image, name)["rank"]]
        print(f"{mode}, seed {seed}, {torch.get_num_threads()} threads: {ranks}", flush=True)
        cache[key] = ranks
        if path:
            with open(path, "w") as f:
                json.dump(cache, f, indent=1)
    return cache[key]


@lru_cache(maxsize=None)
def _fourier_ranks(seed: int) -> dict[str, list]:
    return _class_ranks("fourier", FOURIER_CLASSES, seed)


@lru_cache(maxsize=None)
def _default_ranks(seed: int) -> dict[str, list]:
    return _class_ranks("object_ensemble", DEFAULT_CLASSES, seed)   # nb05 2b: two networks; Lite2 stays out to judge


def fourier_min_lite0_p(seed: int) -> float:
    return min(p for _, p, _ in _fourier_ranks(seed).values())


def default_lite0_top5_count(seed: int) -> float:
    return float(sum(rank <= 5 for _, _, rank in _default_ranks(seed).values()))


def default_lite2_top5_count(seed: int) -> float:
    return float(sum(rank <= 5 for rank, _, _ in _default_ranks(seed).values()))


def fourier_tarantula_rank(seed: int) -> float:
    """tests/test_optimize_model.py's Fourier image of the tarantula (224 px): Lite2's rank."""
    return float(_class_ranks("fourier", ("tarantula",), seed)["tarantula"][0])


def inversion_ratio(seed: int) -> float:
    import vizlab
    from vizlab import optimize as opt

    model, _ = _models()
    photo = model.to_input("espresso", vizlab.by_profile(quick=96, lecture=160))
    steps = vizlab.by_profile(quick=60, lecture=150)
    mse = [opt.invert(model, photo, layer, steps=steps, seed=seed, progress=False).info["mse"]
           for layer in ("block2", "block6")]
    return mse[1] / mse[0]


@lru_cache(maxsize=None)
def _fooling(seed: int):
    import vizlab
    from vizlab import optimize as opt

    model, judge = _models()
    torch.manual_seed(seed)  # the fooling loop is deterministic; the seed only varies the thread schedule
    cat = model.to_input("cat", 224)
    fool = opt.fooling_image(model, cat, "stingray", progress=False)
    return fool, opt.verdict(judge, fool.fooled, "stingray", resize=False)


def fooling_lite2_stingray_rank(seed: int) -> float:
    return float(_fooling(seed)[1]["rank"])


def fooling_mean_change(seed: int) -> float:
    return float(_fooling(seed)[0].difference.abs().mean())


# -- notebook 06 ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _dreams(seed: int):
    import vizlab
    from vizlab import optimize as opt
    from vizlab.hooks import activations

    model, judge = _models()
    size, steps = vizlab.by_profile(quick=128, lecture=256), vizlab.by_profile(quick=14, lecture=30)
    octaves = vizlab.by_profile(quick=3, lecture=4)
    photo = model.to_input("temple", size)
    gains, mass = {}, {"photo": opt.class_mass(judge, photo)}
    for layer in ("block2", "block4", "block6"):
        d = opt.deepdream(model, photo, layer, octaves=octaves, octave_scale=1.4, steps=steps, step_size=0.01,
                          detail_blur=0.7, seed=seed, progress=False)
        before = activations(model, photo, layer)[1][layer].pow(2).mean()
        after = activations(model, d.image, layer)[1][layer].pow(2).mean()
        gains[layer] = float(after / before)
        mass[layer] = opt.class_mass(judge, d.image)
    return gains, mass


def dream_min_gain(seed: int) -> float:
    return min(_dreams(seed)[0].values())


def dream_animal_ratio(seed: int) -> float:
    mass = _dreams(seed)[1]
    return mass["block6"] / mass["photo"]


def dream_block6_over_block2(seed: int) -> float:
    mass = _dreams(seed)[1]
    return mass["block6"] / mass["block2"]


def head_dream_animal_ratio(seed: int) -> float:
    """nb06's head dream: Lite2's animal mass on the dreamed espresso over the photo's (the notebook's recipe)."""
    import vizlab
    from vizlab import optimize as opt

    model, judge = _models()
    size, steps = vizlab.by_profile(quick=128, lecture=256), vizlab.by_profile(quick=14, lecture=30)
    octaves = vizlab.by_profile(quick=3, lecture=4)
    photo = model.to_input("espresso", size)
    d = opt.deepdream(model, photo, "head_conv", octaves=octaves, steps=steps, **opt.HEAD_DREAM, seed=seed,
                      progress=False)
    return opt.class_mass(judge, d.image) / opt.class_mass(judge, photo)


def diversity_ratio(seed: int) -> float:
    """tests/test_classviz_levers.py: three channel images of a tiny seeded CNN optimised together, with a
    diversity term (weight 50) and without; the mean Gram cosine similarity at ``conv1`` with / without."""
    from vizlab.hooks import capture
    from vizlab.optimize import Context, channel, diversity, fourier, render
    from vizlab.toy import tiny_cnn

    tiny = tiny_cnn(seed=0)
    out = []
    for weight in (50.0, 0.0):
        param = fourier((3, 3, 16, 16), seed=seed, std=0.01)
        goal = channel("conv2", 1) + weight * diversity("conv1") if weight else channel("conv2", 1)
        image = render(tiny, goal, param, steps=30, lr=0.1, progress=False, seed=seed).image
        with torch.no_grad(), capture(tiny, ["conv1"]) as cap:
            tiny(image)
        out.append(-float(diversity("conv1")(Context(None, dict(cap.activations)))))
    return out[0] / out[1]


@lru_cache(maxsize=None)
def _detail(seed: int) -> tuple[float, float]:
    """tests/test_classviz_detail.py: a tiny seeded CNN's class image (MACO, 32-px canvas and view, window, 64-px
    image) without and with a 10-step detail stage at 64 px. Returns the stage's change of the picture at coarse
    scale (both shrunk to 16 px, mean |difference|) over the coarse picture's own contrast (mean |shrunk - 0.5|),
    and the energy above the 32-px canvas's Nyquist frequency after the stage over before."""
    from dataclasses import replace

    from vizlab.optimize import class_visualization, frequency_energy, preset
    from vizlab.toy import tiny_cnn

    tiny = tiny_cnn(seed=0)
    coarse = preset("maco", size=64, canvas=32, view=32, centre=0.3, steps=10)
    before = class_visualization(tiny, 1, coarse, seed=seed, progress=False).image
    after = class_visualization(tiny, 1, replace(coarse, detail_steps=10, detail_view=64), seed=seed,
                                progress=False).image

    def small(x):
        return torch.nn.functional.interpolate(x, size=(16, 16), mode="bilinear", antialias=True, align_corners=False)

    moved = float((small(after) - small(before)).abs().mean() / (small(before) - 0.5).abs().mean())
    return moved, frequency_energy(after, 0.25) / frequency_energy(before, 0.25)


def detail_coarse_change(seed: int) -> float:
    return _detail(seed)[0]


def detail_fine_gain(seed: int) -> float:
    return _detail(seed)[1]


NB05, NB06 = "notebooks/05_class_visualization.ipynb", "notebooks/06_deepdream.ipynb"
CLAIMS = [
    dict(name="test detail: coarse change / coarse contrast", run=detail_coarse_change, threshold=0.4,
         higher_is_better=False, where="tests/test_classviz_detail.py", profile="quick"),
    dict(name="test detail: fine energy after / before", run=detail_fine_gain, threshold=2.0,
         where="tests/test_classviz_detail.py", profile="quick"),
    dict(name="test diversity: Gram similarity with / without the term", run=diversity_ratio, threshold=0.9,
         higher_is_better=False, where="tests/test_classviz_levers.py", profile="quick"),
    dict(name="nb05 ladder: worse Lite0 rank of plain and CS231n rungs", run=ladder_max_lite0_rank, threshold=5,
         higher_is_better=False, where=f"{NB05} (ladder claim)", profile="quick"),
    dict(name="nb05 pixel mode: min Lite0 p at the view", run=pixel_min_lite0_p, threshold=0.5,
         where=f"{NB05} (pixel recipe claim)", profile="quick"),
    dict(name="nb05 fourier: min Lite0 p of the 2 classes", run=fourier_min_lite0_p, threshold=0.5,
         where=f"{NB05} (Fourier claim)", profile="quick"),
    dict(name="nb05: default, classes of 6 in Lite0's top 5", run=default_lite0_top5_count, threshold=4,
         where=f"{NB05} (default recipe claim)", profile="quick"),
    dict(name="nb05: default, classes of 6 in Lite2's top 5", run=default_lite2_top5_count, threshold=3,
         where=f"{NB05} (default recipe claim)", profile="quick"),
    dict(name="nb05: transfer, default classes of 6 in Lite2's top 5", run=default_lite2_top5_count, threshold=3,
         where=f"{NB05} (transfer claim)", profile="quick"),
    dict(name="test fourier: Lite2 rank of the tarantula", run=fourier_tarantula_rank, threshold=5,
         higher_is_better=False, where="tests/test_optimize_model.py (Fourier transfer test)", profile="quick"),
    dict(name="nb05 inversion: deep MSE / shallow MSE", run=inversion_ratio, threshold=1.3,
         where=f"{NB05} (inversion claim)", profile="quick"),
    dict(name="nb05 fooling: Lite2 rank of stingray", run=fooling_lite2_stingray_rank, threshold=20,
         where=f"{NB05} (transfer claim)", profile="quick"),
    dict(name="nb05 fooling: mean |change|", run=fooling_mean_change, threshold=0.01, higher_is_better=False,
         where=f"{NB05} (fooling claim)", profile="quick"),
    dict(name="nb06 dream: min activation gain", run=dream_min_gain, threshold=1.3, where=f"{NB06} (gain claim)",
         profile="quick"),
    dict(name="nb06 head dream: Lite2 animal mass / photo's", run=head_dream_animal_ratio, threshold=1.5,
         where=f"{NB06} (head dream claim)", profile="quick"),
    # lecture-profile claims (asserted only when vizlab.profile() == "lecture"; minutes per run)
    dict(name="nb05 ladder: full recipe Lite2 rank (lecture)", run=ladder_full_rank, threshold=100,
         higher_is_better=False, where=f"{NB05} (ladder claim, lecture)", profile="lecture"),
    dict(name="nb05 ladder: plain rank / full rank (lecture)", run=ladder_rank_gain, threshold=10,
         where=f"{NB05} (ladder claim, lecture)", profile="lecture"),
    dict(name="nb05 pixel mode: worst Lite2 rank", run=pixel_worst_lite2_rank, threshold=100,
         higher_is_better=False, where=f"{NB05} (pixel recipe claim)", profile="quick"),
    dict(name="nb06 head dream: Lite2 animal mass / photo's (lecture)", run=head_dream_animal_ratio, threshold=3.0,
         where=f"{NB06} (head dream claim, lecture)", profile="lecture"),
]
