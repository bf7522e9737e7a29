"""Asserted outcomes of the style notebooks (07, 08), recomputed for benchmarks/margins.py.

``python benchmarks/margins.py -k style`` runs each claim for seeds 0-4 with OMP_NUM_THREADS=1 and 2 in the quick
profile (the one the test command asserts in). Gatys' transfer starts from the photo and the shipped networks
are fixed files, so most claims do not depend on the seed (it is passed where it enters: the noise start of
texture synthesis, the style-transfer call); the thread count changes the reduction order.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import torch

STYLES = {"swirls": 1.0, "brush": 1.0, "impression": 1.0, "waves": 1.5}   # as in notebook 07, cell 8 (lecture)
#: notebook 07's quick table (cell 8, ``QUICK``; round 15, re-tuned for Adam's projected gradient): a content weight
#: per style and `waves` at 2x scale
QUICK_STYLES = {"swirls": dict(style_scale=1.0, content_weight=6), "brush": dict(style_scale=1.0, content_weight=8),
                "impression": dict(style_scale=1.0, content_weight=8),
                "waves": dict(style_scale=2.0, content_weight=8)}
PHOTOS = ["cat", "espresso", "motorcycle"]


def _batch(name, size):
    from vizlab.style import style_batch

    return style_batch(None, name, size)


def cached_rows(tag: str, compute) -> list[dict]:
    """``compute()``'s rows, computed once per thread count, profile and instruction set (issue 29) and read back
    from a file after that: for a costly grid that starts from the photos, where the seed does not enter, and
    that several claims read."""
    cache = Path(os.environ.get("TMPDIR", "/tmp")) / (
        f"vizlab_claims_{tag}_{os.environ.get('OMP_NUM_THREADS', '')}_{os.environ.get('VIZLAB_PROFILE', '')}"
        f"_{os.environ.get('ATEN_CPU_CAPABILITY', 'native')}.json")
    if cache.exists():
        return json.loads(cache.read_text())
    rows = compute()
    cache.write_text(json.dumps(rows))
    return rows


def grid_rows(tag: str, styles, photos, seed: int, loss_net: str | None = None, **kwargs) -> list[dict]:
    """:func:`~vizlab.style.quality.transfer_grid`'s measures (style, photo, fall, rank) as rows, cached by
    :func:`cached_rows`; ``loss_net`` names a :data:`~vizlab.style.RECIPES` network (default Lite0's)."""
    def compute() -> list[dict]:
        from vizlab.style import loss_network
        from vizlab.style.quality import transfer_grid

        net = loss_network(loss_net, device="cpu") if loss_net else None
        recs = transfer_grid(styles, photos, loss_net=net, seed=seed, verbose=False, **kwargs)
        return [dict(style=r.style, photo=r.photo, fall=r.fall, rank=r.rank) for r in recs]

    return cached_rows(tag, compute)


def _grid(seed: int) -> list[dict]:
    # Notebook 07's quick table (EfficientNet-Lite0, 128 px, 60 Adam steps). The grid is the costly part (12
    # transfers) and starts from the photos: the seed does not enter (it only seeds a noise start), so it is computed
    # once per thread count and instruction set and read by both claims. The cache tag names the code it was computed
    # with (round 15: the loss reads Adam's projected iterate, not x.clamp(0, 1)): rows of an older tag are not read.
    return grid_rows("style_grid_quick_r15", QUICK_STYLES, PHOTOS, seed, size=128, steps=60, style_weight=30)


def gram_left_max(seed: int) -> float:
    return max(1 - r["fall"] for r in _grid(seed))


def second_best_rank_max(seed: int) -> float:
    rows = _grid(seed)
    return float(max(sorted(r["rank"] for r in rows if r["style"] == st)[1] for st in STYLES))


def knobs_style_ratio_max(seed: int) -> float:
    import vizlab
    from vizlab.style import loss_network, style_transfer

    net = loss_network()
    small = vizlab.by_profile(quick=96, lecture=128)
    n_k = vizlab.by_profile(quick=30, lecture=60)
    kw = dict(loss_net=net, size=small, steps=n_k, content_weight=4, progress=False, seed=seed)
    runs = [style_transfer("cat", "swirls", optimizer="lbfgs", **{**kw, "steps": n_k // 2}),
            style_transfer("cat", "swirls", init="noise", **kw),
            style_transfer("cat", "impression", preserve_color=True, **kw),
            style_transfer("cat", "swirls", style_scale=2.0, **kw),
            style_transfer("cat", ["swirls", "brush"], style_blend=[0.5, 0.5], **kw)]
    return max(r.history[-1]["style"] / r.history[0]["style"] for r in runs)


def loss_networks_shift_min(seed: int) -> float:
    import vizlab
    from vizlab.style import color_shift, loss_network, style_transfer

    net = loss_network()
    small = vizlab.by_profile(quick=96, lecture=128)
    blocks = loss_network("efficientnet_lite0_blocks", model=net.model)
    vgg = loss_network("vgg19_normalised")
    c, s = _batch("cat", small), _batch("swirls", small)
    shifts = []
    for lnet in (vgg, net, blocks):
        r = style_transfer(c, "swirls", loss_net=lnet, size=small, steps=vizlab.by_profile(quick=30, lecture=40),
                           content_weight=4, progress=False, seed=seed, lr=0.05 if lnet is vgg else 0.03)
        shifts.append(color_shift(c, s, r.image))
    return min(shifts)


def texture_ratio_max(seed: int) -> float:
    import vizlab
    from vizlab.style import loss_network, style_distance, synthesize_texture

    net = loss_network(vizlab.by_profile(quick="efficientnet_lite0", lecture="vgg19_normalised"))
    size = vizlab.by_profile(quick=96, lecture=128)
    ratios = []
    for name in vizlab.by_profile(quick=["brick", "gravel", "grass"], lecture=["brick", "gravel", "impression"]):
        t = synthesize_texture(name, loss_net=net, size=size, steps=vizlab.by_profile(quick=25, lecture=10),
                               octaves=2, optimizer="lbfgs", tv_weight=1.0, progress=False, seed=seed)
        src = _batch(name, size)
        noise = torch.rand_like(src, generator=torch.Generator().manual_seed(0))
        ratios.append(style_distance(net, t.image, src) / style_distance(net, noise, src))
    return max(ratios)


@lru_cache(maxsize=2)
def _defaults(falls: bool = True) -> dict:
    # Notebook 08, main table (round 14): every default network (network_names(): the VGG-19-trained ones) on the
    # six held-out photos at 256 px (its training scale), the Gram fall measured on the VGG-19 layers they were
    # trained on (Johnson et al.'s relu1_2 ... relu4_3; falls=False skips those VGG-19 passes, as the quick profile
    # does). Fixed files, no seed.
    import vizlab
    from vizlab.style import load_transformer, loss_network, network_names
    from vizlab.style.quality import network_report
    from vizlab.style.transformer import HELD_OUT

    vgg = loss_network("vgg19_normalised_fast", device="cpu") if falls else None
    judge, grams = vizlab.load_judge("cpu"), {}
    out = {"fall": [], "fall_mean": [], "second_blob": [], "third_rank": []}
    for n in network_names():
        rows = network_report(load_transformer(n, device="cpu"), n, list(HELD_OUT), size=256, loss_net=vgg,
                              judge=judge, photo_grams=grams, style_fall=falls)
        if falls:   # as the lecture profile measures them
            out["fall"] += [r["fall"] for r in rows]
            out["fall_mean"].append(sum(r["fall"] for r in rows) / len(rows))
        out["second_blob"].append(sorted(r["blob"] for r in rows)[-2])
        out["third_rank"].append(sorted(r["rank"] for r in rows)[2])
    return out


def default_vgg_fall_min(seed: int) -> float:
    return min(_defaults()["fall"])


def default_vgg_fall_mean_min(seed: int) -> float:
    return min(_defaults()["fall_mean"])


def default_second_blob_max(seed: int) -> float:
    # "at most one of the six photos has a flat region over 1 %" as a number: the second-largest blob per network
    return max(_defaults(False)["second_blob"])


def default_third_rank_max(seed: int) -> float:
    # nb08 asserts ">= 3 of 6 in the judge's top 100" as "the third-best rank is <= 100" (the same claim), measured as
    # a rank: a count sitting on its threshold says nothing about how far the deciding photo is from dropping out.
    return float(max(_defaults(False)["third_rank"]))


def _study():
    from vizlab.style import load_transformer
    from vizlab.style.transformer import NETWORK_DIR

    return {n: load_transformer(NETWORK_DIR / "norm_study" / f"{n}.pt") for n in ("instance", "batch")}


def norm_style_loss_ratio(seed: int) -> float:
    import vizlab
    from vizlab.style.quality import held_out_style_loss
    from vizlab.style.transformer import HELD_OUT

    size = vizlab.by_profile(quick=128, lecture=192)
    loss = {n: held_out_style_loss(net, list(HELD_OUT), "swirls", size=size) for n, net in _study().items()}
    return loss["batch"] / loss["instance"]


def norm_blob_ratio(seed: int) -> float:
    import vizlab
    from vizlab.style import stylize
    from vizlab.style.quality import blob_check
    from vizlab.style.transformer import HELD_OUT

    size = vizlab.by_profile(quick=128, lecture=192)
    style = _batch("swirls", size)
    largest = {}
    for n, net in _study().items():
        largest[n] = max(blob_check(stylize(net, _batch(p, size)), _batch(p, size), style).largest for p in HELD_OUT)
    return largest["batch"] / max(largest["instance"], 1e-4)


def norm_training_ratio_max(seed: int) -> float:
    ratios = []
    for net in _study().values():
        total = torch.tensor(net.meta["history"]["total"])
        ratios.append(float(total[-40:].mean() / total[:20].mean()))
    return max(ratios)


def batch_norm_batch_gap(seed: int) -> float:
    net = _study()["batch"].train()
    g = torch.Generator().manual_seed(seed)
    a, b = _batch("cat", 64), torch.rand(1, 3, 64, 64, generator=g)
    with torch.no_grad():
        return float((net(a) - net(torch.cat([a, b]))[:1]).abs().max())


CLAIMS = [
    # the Gram falls are asserted in the lecture profile only (VGG-19 passes); the table is the same in both profiles
    dict(name="style_default_vgg_fall_min", run=default_vgg_fall_min, threshold=0.3,
         where="notebooks/08_fast_style_transfer.ipynb (main table, lecture profile)", profile="lecture"),
    dict(name="style_default_vgg_fall_mean_min", run=default_vgg_fall_mean_min, threshold=0.5,
         where="notebooks/08_fast_style_transfer.ipynb (main table, lecture profile)", profile="lecture"),
    dict(name="style_default_second_blob_max", run=default_second_blob_max, threshold=0.01, higher_is_better=False,
         where="notebooks/08_fast_style_transfer.ipynb (main table)", profile="quick"),
    # round 14: 50 -> 100 when vgg19/swirls was retrained on Johnson's layers (ranks 3, 60, 70, 209, 81, 67:
    # third-best 67; round 12's file 17, 396, 26, 311, 25, 175; impression 4, 901, 436, 93, 5, 22: third-best 22)
    dict(name="style_default_third_rank_max", run=default_third_rank_max, threshold=100, higher_is_better=False, op="<=",
         where="notebooks/08_fast_style_transfer.ipynb (main table)", profile="quick"),
    dict(name="style_norm_training_ratio_max", run=norm_training_ratio_max, threshold=0.8, higher_is_better=False,
         where="notebooks/08_fast_style_transfer.ipynb (cell 10)", profile="quick"),
    dict(name="style_norm_style_loss_ratio", run=norm_style_loss_ratio, threshold=1.1,
         where="notebooks/08_fast_style_transfer.ipynb (cell 11)", profile="quick"),
    dict(name="style_norm_blob_ratio", run=norm_blob_ratio, threshold=5,
         where="notebooks/08_fast_style_transfer.ipynb (cell 11)", profile="quick"),
    dict(name="style_batch_norm_batch_gap", run=batch_norm_batch_gap, threshold=1e-2,
         where="notebooks/08_fast_style_transfer.ipynb (cell 13)", profile="quick"),
    dict(name="style_gatys_gram_left_max", run=gram_left_max, threshold=0.10, higher_is_better=False,
         where="notebooks/07_style_transfer.ipynb (cell 8)", profile="quick"),
    dict(name="style_gatys_second_best_rank_max", run=second_best_rank_max, threshold=5, higher_is_better=False, op="<=",
         where="notebooks/07_style_transfer.ipynb (cell 8)", profile="quick"),
    dict(name="style_texture_ratio_max", run=texture_ratio_max, threshold=0.2, higher_is_better=False,
         where="notebooks/07_style_transfer.ipynb (cell 15)", profile="quick"),
    dict(name="style_knobs_style_ratio_max", run=knobs_style_ratio_max, threshold=0.8, higher_is_better=False,
         where="notebooks/07_style_transfer.ipynb (cell 13)", profile="quick"),
    dict(name="style_loss_networks_shift_min", run=loss_networks_shift_min, threshold=0.2,
         where="notebooks/07_style_transfer.ipynb (cell 11)", profile="quick"),
]
