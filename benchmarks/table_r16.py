"""Round 16: the lever table from ``gatys_vgg_r16.py``'s ``runs.jsonl`` (Gram fall / Lite2 rank per pair and config),
with round 15's base rows (``blind25/runs_r15_style.jsonl``, content weight 3 at ``conv4_2``) where a pair has none.

Run: ``PYTHONPATH=. python benchmarks/table_r16.py --runs DIR/runs.jsonl [--grid CONFIG[@STYLE] ...]``

Prints a markdown table (configs by row, pairs by column) and, per config: pairs with Gram fall >= 90 %, pairs with
the photo's class in Lite2's top 5, pairs with both. ``--grid`` assembles one setting over the 24 held-out pairs
from per-style configs (``cl=conv3_1,cw=6@swirls cl=conv3_1,cw=30``: the last entry without ``@`` covers the other
styles) and prints the issue's bars per style (Gram fall >= 90 % for each pair; top 5 for >= 4 of 6 photos).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

STYLES = ["swirls", "brush", "impression", "waves"]
PHOTOS = ["cat", "astronaut", "espresso", "motorcycle", "temple", "grace_hopper"]


def load(runs: Path, base: Path) -> dict:
    table = {}
    for line in base.read_text().splitlines():
        r = json.loads(line)
        if r["content_weight"] == 3 and r["content_layer"] == "conv4_2":
            table[("base", r["style"], r["photo"])] = (r["at"][-1]["fall"], r["at"][-1]["rank"])
    for line in runs.read_text().splitlines():
        r = json.loads(line)
        table[(r["config"], r["style"], r["photo"])] = (r["fall"], r["rank"])
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True)
    p.add_argument("--base", default="benchmarks/blind25/runs_r15_style.jsonl")
    p.add_argument("--pairs", nargs="*", default=["swirls:espresso", "swirls:astronaut", "brush:motorcycle",
                                                   "brush:cat", "impression:temple", "waves:grace_hopper"])
    p.add_argument("--grid", nargs="*", default=None)
    args = p.parse_args()
    table = load(Path(args.runs), Path(args.base))
    if args.grid:
        own = dict(g.split("@")[::-1] for g in args.grid if "@" in g)
        rest = [g for g in args.grid if "@" not in g]
        print("| style | " + " | ".join(PHOTOS) + " | fall >= 90 % | top 5 |")
        print("|---|" + "---:|" * (len(PHOTOS) + 2))
        for st in STYLES:
            cfg = own.get(st, rest[0] if rest else "base")
            cells, falls, tops = [], 0, 0
            for ph in PHOTOS:
                v = table.get((cfg, st, ph))
                if v is None:
                    cells.append("")
                    continue
                falls += v[0] >= 0.9
                tops += v[1] <= 5
                cells.append(f"{v[0]:.1%} / {v[1]}")
            print(f"| {st} ({cfg}) | " + " | ".join(cells) + f" | {falls} | {tops} |")
        return
    configs = list(dict.fromkeys(k[0] for k in table))
    pairs = [tuple(pp.split(":")) for pp in args.pairs]
    print("| config | " + " | ".join(f"{s} x {ph}" for s, ph in pairs) + " | fall >= 90 % | top 5 | both |")
    print("|---|" + "---:|" * (len(pairs) + 3))
    for cfg in configs:
        vals = [table.get((cfg, *pp)) for pp in pairs]
        if not any(vals):
            continue
        got = [v for v in vals if v]
        cells = [f"{v[0]:.1%} / {v[1]}" if v else "" for v in vals]
        print(f"| {cfg} | " + " | ".join(cells) + f" | {sum(v[0] >= 0.9 for v in got)}/{len(got)} | "
              f"{sum(v[1] <= 5 for v in got)}/{len(got)} | {sum(v[0] >= 0.9 and v[1] <= 5 for v in got)}/{len(got)} |")


if __name__ == "__main__":
    main()
