"""Issue 24 item 4: a blind two-choice test of unit visualisations against their own top natural patches.

For each unit (rule in ``blind24/set_r10_units/RULES.md``, written before any image was looked at) one sheet:
on top the unit's optimised images (:func:`vizlab.optimize.unit_visualization`, library defaults), below two
sets of natural patches labelled A and B, one the unit's own top patches (:func:`vizlab.inside.
max_activating_patches` over the package's photos), the other a different unit's. A viewer who has seen
neither the key nor the code answers A or B per sheet; hits / units and a one-sided binomial p-value against
0.5 are the score.

    python benchmarks/blind_units.py render --out benchmarks/blind24/set_r10_units --queue /work/blind-queue/r10-units
    python benchmarks/blind_units.py figure --out benchmarks/blind24/set_r10_units   # units.png, first 6 units
    python benchmarks/blind_units.py score --out benchmarks/blind24/set_r10_units --answers answers.md

``--rules vgg_relu3_1`` (round 11; before the rules: ``--rules NAME render ...``): the same protocol on the lecture's
VGG-19 (``load_model("vgg19_normalised")``), layer ``relu3_1``, with its own seeds
(``blind24/set_r11_vgg_units/RULES.md``; ``vgg_relu4_1`` was the first choice, too slow for the shared machine).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

# Rule sets: model (None: the embedded Lite0), layer, its channel count, and the seeds of units, foils, coins, order.
RULES = {
    "lite0_block4": dict(model=None, layer="block4", channels=80, units=24, seeds=(2410, 2411, 2412, 2413)),
    "vgg_relu4_1": dict(model="vgg19_normalised", layer="relu4_1", channels=512, units=20,
                        seeds=(2420, 2421, 2422, 2423)),
    "vgg_relu3_1": dict(model="vgg19_normalised", layer="relu3_1", channels=256, units=20,
                        seeds=(2420, 2421, 2422, 2423)),
}
LAYER = "block4"
N_CHANNELS = 80
UNITS_SEED, FOIL_SEED, COIN_SEED, ORDER_SEED = 2410, 2411, 2412, 2413
N_UNITS = 24
K_PATCHES = 6
N_IMAGES = 3
CROPS_PER_PHOTO = 24

QUESTION = """Each image (sheet00.png, sheet01.png, ...) is one sheet about one unit (a feature detector) inside an
image-recognition neural network. The top row shows three synthetic pictures that were generated to excite
that unit as much as possible. Below them are two rows of small patches cut from real photos, labelled A and B:
one row is the set of real patches that excite this same unit the most; the other row belongs to a different
unit of the same network.

For each sheet, say which row, A or B, goes with the synthetic pictures on top. Give an answer for every sheet,
even when unsure (then give your best guess). Answer with one line per sheet, in this format:

sheet00: A
sheet01: B
...
"""


def use_rules(name: str) -> None:
    """Switch the module's rule constants to the rule set ``name`` (see :data:`RULES`)."""
    global LAYER, N_CHANNELS, N_UNITS, UNITS_SEED, FOIL_SEED, COIN_SEED, ORDER_SEED, MODEL
    r = RULES[name]
    MODEL, LAYER, N_CHANNELS, N_UNITS = r["model"], r["layer"], r["channels"], r["units"]
    UNITS_SEED, FOIL_SEED, COIN_SEED, ORDER_SEED = r["seeds"]


MODEL = None


def load_net():
    import vizlab

    return vizlab.load_model() if MODEL is None else vizlab.load_model(MODEL, device="cpu")


def units_by_rule() -> list[int]:
    return sorted(np.random.default_rng(UNITS_SEED).choice(N_CHANNELS, N_UNITS, replace=False).tolist())


def derangement(n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    while True:
        p = rng.permutation(n)
        if not (p == np.arange(n)).any():
            return p.tolist()


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def sheet(images: torch.Tensor, row_a, row_b, path: Path) -> None:
    """The blind sheet: the optimised images on top, patch rows A and B below; no title, no unit number."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    n = len(images)
    k = max(len(row_a), len(row_b))
    cell = 1.25
    fig = plt.figure(figsize=(cell * k + 0.5, cell * k / n + 2 * cell + 0.3))
    gs = GridSpec(3, k * n, figure=fig, height_ratios=[k / n, 1, 1], hspace=0.12, wspace=0.08,
                  left=0.07, right=0.99, top=0.99, bottom=0.01)
    for i in range(n):
        ax = fig.add_subplot(gs[0, i * k:(i + 1) * k])
        ax.imshow(images[i].permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_axis_off()
    for r, (name, row) in enumerate((("A", row_a), ("B", row_b))):
        for j in range(k):
            ax = fig.add_subplot(gs[1 + r, j * n:(j + 1) * n])
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if j < len(row):
                ax.imshow(row[j].padded, interpolation="bilinear")
            if j == 0:
                ax.set_ylabel(name, fontsize=16, rotation=0, labelpad=14, va="center", fontweight="bold")
    fig.savefig(path, dpi=72)
    plt.close(fig)


def patches(net, units: list[int], out: Path) -> dict:
    """The top patches of ``units`` (cached in ``out/patches.pt``: a separate ``patches`` call can make them
    while the units render)."""
    from vizlab.inside import max_activating_patches, patch_pool

    cache = out / "patches.pt"
    # the cache is keyed by what made it (layer, pool, k), not only by the units: an out folder reused after a
    # change of LAYER would otherwise hand back another layer's patches
    made_by = {"layer": LAYER, "crops_per_photo": CROPS_PER_PHOTO, "k": K_PATCHES}
    if cache.exists():
        saved = torch.load(cache, weights_only=False)
        if isinstance(saved, dict) and saved.get("made_by") == made_by and all(u in saved["found"] for u in units):
            return saved["found"]
    pool = patch_pool(224, crops_per_photo=CROPS_PER_PHOTO, shapes=0, seed=0)
    # one patch per image (whole photos and crops of them): with only the package's 14 photos, one patch per
    # photo made every unit's row the same few photos (pilot on channels 0, 2, 3, 5: RULES.md)
    found = max_activating_patches(net, pool, LAYER, channels=units, k=K_PATCHES, full_fields=True, progress=False)
    torch.save({"made_by": made_by, "found": found}, cache)
    return found


def patches_only(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    c0 = cpu_seconds()
    found = patches(load_net(), units_by_rule(), out)
    print(f"patches of {len(found)} units in {cpu_seconds() - c0:.0f} CPU s: {out / 'patches.pt'}", flush=True)


def render(args) -> None:
    from vizlab.optimize import unit_visualization

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    units = units_by_rule()
    net = load_net()
    cache = out / "renders"
    cache.mkdir(exist_ok=True)
    costs = {}
    images = {}
    todo = [int(x) for x in args.only.split(",")] if args.only else units
    for u in todo:
        f = cache / f"unit{u:02d}.pt"
        if args.available:
            if f.exists():
                saved = torch.load(f)
                images[u], costs[u] = saved["image"], saved["info"]
            continue
        if f.exists():
            saved = torch.load(f)
            images[u], costs[u] = saved["image"], saved["info"]
            continue
        c0, w0 = cpu_seconds(), time.perf_counter()
        r = unit_visualization(net, LAYER, u, n=N_IMAGES, neuron=args.neuron, progress=False)
        info = {k: v for k, v in r.info.items() if k != "settings"}
        info.update(cpu_s=cpu_seconds() - c0, wall_s=time.perf_counter() - w0,
                    load=list(map(float, open("/proc/loadavg").read().split()[:3])))
        torch.save({"image": r.image.cpu(), "info": info}, f)
        images[u], costs[u] = r.image.cpu(), info
        print(f"unit {u}: cpu {info['cpu_s']:.1f} s, wall {info['wall_s']:.1f} s, peak {info['peak']}, "
              f"similarity {info['similarity']:.2f}", flush=True)
    if args.only:
        return  # a share of the units (parallel processes); a last call without --only makes the sheets
    if args.available:
        # round 12: the units rendered before the stop, in the rule's (sorted, i.e. random) order; foil, coin and
        # order seeds are applied to this shorter list (RULES.md of the set says so before any render)
        units = [u for u in units if u in images]
        print(f"{len(units)} units rendered: {units}", flush=True)
    found = patches(net, units, out)
    for u in units:
        costs[u]["top_patch"] = found[u][0].value
    foil = derangement(len(units), FOIL_SEED)
    coins = np.random.default_rng(COIN_SEED).integers(0, 2, len(units)).tolist()
    order = np.random.default_rng(ORDER_SEED).permutation(len(units)).tolist()
    key = {}
    queue = Path(args.queue) / "images" if args.queue else None
    if queue:
        queue.mkdir(parents=True, exist_ok=True)
    sheets = out / "sheets"
    sheets.mkdir(exist_ok=True)
    for pos, i in enumerate(order):
        u, other = units[i], units[foil[i]]
        own_is_a = coins[i] == 0
        a, b = (found[u], found[other]) if own_is_a else (found[other], found[u])
        name = f"sheet{pos:02d}.png"
        sheet(images[u], a, b, sheets / name)
        if queue:
            (queue / name).write_bytes((sheets / name).read_bytes())
        key[name] = {"unit": u, "foil": other, "answer": "A" if own_is_a else "B"}
    (out / "key.json").write_text(json.dumps(key, indent=1))
    (out / "costs.json").write_text(json.dumps({str(u): costs[u] for u in units}, indent=1))
    if queue:
        (Path(args.queue) / "request.md").write_text(
            "# Question for the viewer (give the viewer only the images in images/ and this question)\n\n" + QUESTION)
    print(f"{len(key)} sheets in {sheets}" + (f" and {queue}" if queue else ""))


def figure(args) -> None:
    """The library figure (:func:`vizlab.optimize.show_units`) for the first ``--count`` units of the rule."""
    import matplotlib

    matplotlib.use("Agg")
    from vizlab.optimize import show_units

    out = Path(args.out)
    units = units_by_rule()[:args.count]
    if args.available:
        units = [u for u in units_by_rule() if (out / "renders" / f"unit{u:02d}.pt").exists()][:args.count]
    net = load_net()
    found = patches(net, units, out)
    rows = {f"{LAYER}:{u}": (torch.load(out / "renders" / f"unit{u:02d}.pt")["image"], found[u]) for u in units}
    show_units(rows, size=1.1).savefig(out / "units.png", dpi=72)
    print(out / "units.png")


def binomial_p(hits: int, n: int) -> float:
    """One-sided P(X >= hits) for X ~ Binomial(n, 0.5)."""
    return sum(math.comb(n, k) for k in range(hits, n + 1)) / 2 ** n


def score(args) -> None:
    out = Path(args.out)
    key = json.loads((out / "key.json").read_text())
    text = Path(args.answers).read_text()
    answers = {m.group(1): m.group(2).upper() for m in re.finditer(r"(sheet\d\d)\W+([AaBb])\b", text)}
    rows, hits = [], 0
    for name, k in sorted(key.items()):
        got = answers.get(name[:-4])
        hit = got == k["answer"]
        hits += hit
        rows.append({"sheet": name, "unit": k["unit"], "foil": k["foil"], "answer": k["answer"], "viewer": got,
                     "hit": hit})
    n = len(key)
    result = {"hits": hits, "units": n, "rate": hits / n, "p_one_sided": binomial_p(hits, n), "rows": rows}
    (out / "scored.json").write_text(json.dumps(result, indent=1))
    print(f"{hits}/{n} = {hits / n:.0%}, one-sided binomial p = {result['p_one_sided']:.2g}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render")
    r.add_argument("--out", required=True)
    r.add_argument("--queue", default=None)
    r.add_argument("--neuron", action="store_true", help="the centre neuron of each channel instead of the channel")
    r.add_argument("--only", default=None, help="render only these units (comma-separated), no sheets")
    r.add_argument("--available", action="store_true",
                   help="render nothing: the sheets of the units already rendered (a stop before all were done)")
    pa = sub.add_parser("patches", help="only the top patches of the rule's units (cached for render)")
    pa.add_argument("--out", required=True)
    f = sub.add_parser("figure")
    f.add_argument("--out", required=True)
    f.add_argument("--count", type=int, default=6)
    f.add_argument("--available", action="store_true", help="the first rendered units")
    s = sub.add_parser("score")
    s.add_argument("--out", required=True)
    s.add_argument("--answers", required=True)
    ap.add_argument("--rules", default="lite0_block4", choices=sorted(RULES), help="model, layer and seeds")
    args = ap.parse_args(argv)
    use_rules(args.rules)
    {"render": render, "score": score, "figure": figure, "patches": patches_only}[args.cmd](args)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
