"""Claims of issue 24 item 4 (unit visualisations), for benchmarks/margins.py."""
from __future__ import annotations

import torch

FAST = dict(size=32, view=0, steps=12)


def tiny_unit_images(seed: int) -> dict[int, torch.Tensor]:
    """tests/test_units.py: two images each of channels 1 and 5 of the tiny CNN's ``relu2`` (the unit recipe at
    32 px, 12 steps, image seed ``seed``)."""
    from vizlab.optimize import unit_visualization
    from vizlab.toy import tiny_cnn

    tiny = tiny_cnn(seed=0)
    return {ch: unit_visualization(tiny, "relu2", ch, n=2, seed=seed, progress=False, **FAST).image
            for ch in (1, 5)}


def diversity_similarity_ratio(seed: int) -> float:
    """tests/test_units.py: three images of channel 2 of the tiny CNN's ``relu2`` with the default diversity
    term and without; their mean Gram cosine similarity at ``relu2``, with / without."""
    from vizlab.optimize import unit_visualization
    from vizlab.toy import tiny_cnn

    tiny = tiny_cnn(seed=0)
    sims = [unit_visualization(tiny, "relu2", 2, n=3, diversity=w, seed=seed, progress=False,
                               **FAST).info["similarity"] for w in (0.5, 0.0)]
    return sims[0] / sims[1]


CLAIMS = [
    dict(name="test units: Gram similarity with / without the diversity term", run=diversity_similarity_ratio,
         threshold=0.9, higher_is_better=False, where="tests/test_units.py", profile="quick"),
]
