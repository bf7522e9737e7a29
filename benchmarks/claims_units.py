"""Claims of issue 24 item 4 (unit visualisations, ``tests/test_units.py``), for benchmarks/margins.py.

The embedded Lite0 at 64 px, 48 steps, its ``block3`` channels 7 and 12 (fixed before any run), two images per
unit: small enough for the test suite's budget, large enough that the recipe works as it does at 224 px.
"""
from __future__ import annotations

from functools import lru_cache

import torch

LAYER, CHANNELS = "block3", (7, 12)
FAST = dict(size=64, view=0, steps=48)


@lru_cache(maxsize=None)
def _model():
    import vizlab

    model = vizlab.load_model()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@lru_cache(maxsize=None)
def photos(size: int = 64) -> torch.Tensor:
    """The sample photos of :data:`vizlab.inside.datasets.PHOTOS` at ``size`` x ``size``, ``(N, 3, size, size)``."""
    from vizlab.images import sample_image
    from vizlab.inside.datasets import PHOTOS

    return torch.stack([torch.from_numpy(sample_image(n, size)).permute(2, 0, 1).float() for n in PHOTOS])


@lru_cache(maxsize=None)
def unit_images(seed: int):
    """``{channel: RenderResult}`` for :data:`CHANNELS` (library defaults at :data:`FAST` sizes)."""
    from vizlab.optimize import unit_visualization

    return {ch: unit_visualization(_model(), LAYER, ch, n=2, seed=seed, progress=False, **FAST) for ch in CHANNELS}


def _values(images, ch):
    from vizlab.optimize import unit_values

    return unit_values(_model(), images, LAYER, ch)


def peak_over_best_photo(seed: int) -> float:
    """The weaker image's peak activation of its channel over the channel's strongest peak on any sample photo
    (both at 64 px); the worse of the two channels."""
    out = []
    for ch, r in unit_images(seed).items():
        out.append(float(_values(r.image, ch)["peak"].min() / _values(photos(), ch)["peak"].max()))
    return min(out)


def own_minus_other(seed: int) -> float:
    """Selectivity: a channel's mean activation on its own images minus on the other channel's images, over the
    channel's mean on its own images (the worse image pair, the worse channel)."""
    got = unit_images(seed)
    out = []
    for ch, other in zip(CHANNELS, CHANNELS[::-1]):
        own, foreign = _values(got[ch].image, ch)["mean"], _values(got[other].image, ch)["mean"]
        out.append(float((own.min() - foreign.max()) / own.min()))
    return min(out)


def diversity_similarity_ratio(seed: int) -> float:
    """The mean Gram similarity (at the unit's layer) of one channel's two images with a diversity term of
    weight 5 over that without it (channel 7). (At 64 px the maps are 8 x 8 and the default
    weight 0.5 changes little; at 224 px it takes the similarity from about 0.9 to 0.3-0.45: benchmarks/README.md.)"""
    from vizlab.optimize import unit_visualization

    sims = [unit_visualization(_model(), LAYER, CHANNELS[0], n=2, diversity=w, seed=seed, progress=False,
                               **FAST).info["similarity"] for w in (5.0, 0.0)]
    return sims[0] / sims[1]


def neuron_centre_over_best_photo(seed: int) -> float:
    """Neuron mode (channel 12): the weaker image's activation at the centre position over the strongest centre
    activation of the channel on any sample photo."""
    from vizlab.optimize import unit_visualization

    ch = CHANNELS[1]
    r = unit_visualization(_model(), LAYER, ch, n=2, neuron=True, seed=seed, progress=False, **FAST)
    return float(_values(r.image, ch)["centre"].min() / _values(photos(), ch)["centre"].max())


WHERE = "tests/test_units.py"
CLAIMS = [
    dict(name="test units: peak over the best photo's", run=peak_over_best_photo, threshold=1.0, where=WHERE,
         profile="quick"),
    dict(name="test units: own minus other channel's images", run=own_minus_other, threshold=0.0, where=WHERE,
         profile="quick"),
    dict(name="test units: Gram similarity with / without the diversity term", run=diversity_similarity_ratio,
         threshold=0.9, higher_is_better=False, where=WHERE, profile="quick"),
    dict(name="test units: neuron centre over the best photo's", run=neuron_centre_over_best_photo, threshold=1.0,
         where=WHERE, profile="quick"),
]
