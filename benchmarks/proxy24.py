#!/usr/bin/env python3
"""Which automatic proxy agrees with the blind viewers? (issue 24, item 1)

Pools every blind-judged class image in ``benchmarks/blind24/set*/scored.json`` (the PNG the viewer saw, the
scored guesses), computes candidate proxies on the PNG itself and reports, for each proxy and rule, how many
images it classifies as the viewer did ("named in the top 5" or not), against the base rate (always answering
the majority verdict). Balanced accuracy (the mean of the hit rate on named and on unnamed images) is reported
too, because the base rate is high and a rule that passes everything is not informative.

The candidates: the rank of the class under Lite2 (the judge), Lite1, Lite0 and the mean log-probabilities of
the three, each on the PNG and on a blurred copy (sigma 2 px); Lite2's probability of the class; colourfulness
(Hasler and Suesstrunk 2003) and RMS contrast of the picture; and the ranks blind.py stored in each key when the
image was rendered (Lite2 on the image and on its grey, blurred and 56-px copies).

Choosing the best of many rules on the same images flatters it; ``--split`` also picks the best rule on the
sets of odd index and reports it on the others (and the reverse).

    python benchmarks/proxy24.py                 # every scored class-image set
    python benchmarks/proxy24.py --json benchmarks/blind24/proxies_r11.json --top 15   # cached: round 11
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blind import agreement, degraded  # noqa: E402

HERE = Path(__file__).resolve().parent / "blind24"
#: sets of class images (not units or dreams)
SKIP = ("units", "dreams")
MODELS = ("efficientnet_lite2", "efficientnet_lite1", "efficientnet_lite0")
COPIES = ("plain", "blur")


def scored_rows(root: Path = HERE) -> list[dict]:
    rows = []
    for path in sorted(root.glob("set*/scored.json")):
        if any(s in path.parent.name for s in SKIP):
            continue
        folder = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
        for r in json.loads(path.read_text()):
            if r.get("guesses"):
                # a second viewer's set shows another set's PNGs (``same_as``) and has no images of its own
                png = root / r["same_as"] if r.get("same_as") else folder / r["image"]
                rows.append(dict(r, set=path.parent.name, path=str(png)))
    return rows


def degrade(x: torch.Tensor, kind: str) -> torch.Tensor:
    """``x`` itself (``plain``) or blind.py's degraded copy (``grey``, ``blur``, ``small``, ``tiny``)."""
    return x if kind == "plain" else degraded(x, kind)


def colourfulness(x: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness of an ``(H, W, 3)`` image in [0, 255]."""
    r, g, b = (x[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def measure(rows: list[dict], save=None) -> list[dict]:
    """The proxies of ``rows``; ``save(done)`` is called every 10 images (a cache that survives a stop)."""
    from PIL import Image

    from vizlab.inside.features import resize_batch
    from vizlab.models import load_model

    models = {}
    for name in MODELS:
        m = load_model(name, device="cpu")  # the images stay on the CPU
        m.eval()
        models[name] = m
    out = []
    with torch.no_grad():
        for i, r in enumerate(rows):
            arr = np.array(Image.open(r["path"]).convert("RGB"))
            x = torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).float() / 255
            t = r["target"]
            res = dict(r)
            grey = arr.astype(np.float64).mean(axis=2) / 255
            res["colourfulness"] = colourfulness(arr)
            res["contrast"] = float(grey.std())
            for kind in COPIES:
                y = degrade(x, kind)
                logits = []
                for name, m in models.items():
                    lg = m(resize_batch(y, m.input_size).clamp(0, 1))[0]
                    logits.append(lg.log_softmax(0))
                    short = name.split("_")[-1]
                    res[f"png_{short}_{kind}_rank"] = int((lg > lg[t]).sum()) + 1
                    if short == "lite2":
                        res[f"png_lite2_{kind}_p"] = float(lg.softmax(0)[t])
                mean = torch.stack(logits).mean(0)
                res[f"png_ens3_{kind}_rank"] = int((mean > mean[t]).sum()) + 1
            out.append(res)
            print(f"{i + 1}/{len(rows)}", flush=True, end="\r")
            if save is not None and (i + 1) % 10 == 0:
                save(out)
    print()
    return out


def rules(rows: list[dict]):
    """``(proxy, rule, passed list)`` for every candidate rule."""
    names = [k for k in rows[0] if k.endswith("_rank")]
    for name in sorted(set(names)):
        for k in (1, 2, 3, 5, 10, 20):
            yield name, f"rank <= {k}", [r[name] <= k for r in rows]
    for name in ("colourfulness", "contrast") + tuple(k for k in rows[0] if k.endswith("_p")):
        values = sorted(r[name] for r in rows)
        for q in (0.25, 0.5, 0.75):
            cut = values[int(q * (len(values) - 1))]
            yield name, f">= {cut:.3g} (q{int(q * 100)})", [r[name] >= cut for r in rows]


def report(rows: list[dict], top: int, k: int = 5) -> list[tuple]:
    truth = [(r["strict_hit"] or 99) <= k for r in rows]
    n, named = len(rows), sum(truth)
    base = max(named, n - named)
    print(f"{n} images from {len({r['set'] for r in rows})} sets; named in the top {k}: {named}; "
          f"base rate (always '{'named' if named * 2 >= n else 'not named'}'): {base}/{n} ({base / n:.0%})")
    table = []
    for name, rule, passed in rules(rows):
        table.append((name, rule, *agreement(passed, truth)))
    table.sort(key=lambda t: (-t[2], -t[3]))
    print("| proxy | rule | agrees | balanced accuracy | pass & named | pass & not named | fail & named |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, rule, agree, bal, tp, fp, fn in table[:top]:
        print(f"| {name} | {rule} | {agree}/{n} ({agree / n:.0%}) | {bal:.2f} | {tp} | {fp} | {fn} |")
    return table


def split_check(rows: list[dict], k: int = 5) -> None:
    sets = sorted({r["set"] for r in rows})
    halves = [set(sets[0::2]), set(sets[1::2])]
    for i, pick in enumerate(halves):
        a = [r for r in rows if r["set"] in pick]
        b = [r for r in rows if r["set"] not in pick]
        ta = [(r["strict_hit"] or 99) <= k for r in a]
        tb = [(r["strict_hit"] or 99) <= k for r in b]
        best = max(((name, rule) for name, rule, _ in rules(a)),
                   key=lambda nr: agreement(dict(((x, y), p) for x, y, p in rules(a))[nr], ta)[0])
        pa = dict(((x, y), p) for x, y, p in rules(a))[best]
        rb = dict(((x, y), p) for x, y, p in rules(b))
        # a quantile rule's cut differs between halves; rank rules carry over exactly
        if best not in rb:
            print(f"half {i}: best {best} is a quantile rule; not carried over")
            continue
        ag_a, ag_b = agreement(pa, ta)[0], agreement(rb[best], tb)[0]
        base_b = max(sum(tb), len(tb) - sum(tb))
        print(f"picked on {len(a)} images ({ag_a} agree): {best[0]} {best[1]}; on the other {len(b)}: {ag_b} "
              f"agree (base rate {base_b})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=None, help="cache of the measured proxies (read if it exists)")
    parser.add_argument("--top", type=int, default=20, help="how many rules to list")
    parser.add_argument("--top1", action="store_true", help="the truth is a first-guess hit")
    parser.add_argument("--sets", nargs="*", default=None, help="only these set folders")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cache = Path(args.json) if args.json else None
    rows = json.loads(cache.read_text()) if cache and cache.exists() else []
    known = {(r["set"], r["image"]) for r in rows}
    new = [r for r in scored_rows() if (r["set"], r["image"]) not in known]
    if new:
        def save(done):
            if cache:
                cache.write_text(json.dumps(rows + done, indent=1))

        rows += measure(new, save)
        save([])
    if args.sets:
        rows = [r for r in rows if r["set"] in args.sets]
    k = 1 if args.top1 else 5
    report(rows, args.top, k)
    split_check(rows, k)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
