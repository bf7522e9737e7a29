#!/usr/bin/env python3
"""Round 19 (r19-ceiling): the photo ceiling against the default's class images on the same classes.

Reads the four scored sets (two fresh viewers on foolbox's 20 photos, two on the default's 19 class images of the
same classes; jeep has two photos and one class image) and prints the per-class table, the counts per group (dog
breeds, other animals, the rest: ``draws.group``), the counts on the 19 shared classes (the first jeep photo,
``imagenet_06_609.jpg``, stands for the class) with Wilson 95 % intervals, and the ratio class images / photos.

    python benchmarks/blind24/set_r19_ceiling_photos/ceiling.py [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from draws import GROUPS, group

HERE = Path(__file__).resolve().parent
B = HERE.parent
SETS = {"photo A": "set_r19_ceiling_photos", "photo B": "set_r19_ceiling_photos_second_viewer",
        "default A": "set_r19_ceiling_default", "default B": "set_r19_ceiling_default_second_viewer"}
FIRST_JEEP = "imagenet_06_609.jpg"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n``."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def load() -> dict[str, list[dict]]:
    out = {}
    for label, folder in SETS.items():
        rows = json.loads((B / folder / "scored.json").read_text())
        if label.startswith("photo"):  # the second viewer's key names its images' sources through renamed_from
            first = json.loads((B / SETS["photo A"] / "key.json").read_text())["entries"]
            source = {e["image"]: e["source"] for e in first}
            for r in rows:
                r.setdefault("source", source.get(r.get("renamed_from", r["image"])))
        out[label] = rows
    return out


def counts(rows: list[dict]) -> dict:
    return dict(n=len(rows), first=sum(r["strict_hit"] == 1 for r in rows),
                five=sum(r["strict_hit"] is not None for r in rows),
                basic_first=sum(r["basic_hit"] == 1 for r in rows),
                basic_five=sum(r["basic_hit"] is not None for r in rows))


def _hit(r: dict) -> str:
    s, b = r["strict_hit"], r["basic_hit"]
    return f"{s or '-'} ({b or '-'})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    sets = load()
    shared = {label: [r for r in rows if r.get("source", FIRST_JEEP) == FIRST_JEEP or r["cls"] != "jeep"]
              for label, rows in sets.items()}
    print("| class | group | photo A | photo B | default A | default B | photo first guesses A / B | "
          "default first guesses A / B |")
    print("|---|---|---|---|---|---|---|---|")
    by_cls = {label: {} for label in sets}
    for label, rows in sets.items():
        for r in sorted(rows, key=lambda r: r.get("source") or ""):
            by_cls[label].setdefault(r["cls"], []).append(r)
    for cls in sorted(by_cls["default A"], key=str.lower):
        cells = [" / ".join(_hit(r) for r in by_cls[label][cls]) for label in SETS]
        fp = " / ".join(", ".join(r["guesses"][0] for r in by_cls[label][cls]) for label in ("photo A", "photo B"))
        fd = " / ".join(by_cls[label][cls][0]["guesses"][0] for label in ("default A", "default B"))
        print(f"| {cls} | {group(by_cls['default A'][cls][0]['target'])} | {' | '.join(cells)} | {fp} | {fd} |")
    result = {}
    print("\nstrict first / in five (basic level first / in five); Wilson 95 % interval of the strict first rate")
    print("| set | images | strict first | strict in five | basic first | basic in five | first: 95 % interval |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for scope, data in (("all images", sets), ("19 shared classes", shared)):
        for label, rows in data.items():
            c = counts(rows)
            lo, hi = wilson(c["first"], c["n"])
            result[f"{label}, {scope}"] = c
            print(f"| {label}, {scope} | {c['n']} | {c['first']} | {c['five']} | {c['basic_first']} | "
                  f"{c['basic_five']} | {lo:.2f}-{hi:.2f} |")
    ph = [counts(shared[k]) for k in ("photo A", "photo B")]
    de = [counts(shared[k]) for k in ("default A", "default B")]
    for what in ("first", "five"):
        p, d = sum(c[what] for c in ph), sum(c[what] for c in de)
        result[f"ratio {what}"] = d / p
        print(f"\nclass images / photos, strict {what}, 19 shared classes, both viewers pooled: {d}/{p} = {d / p:.2f}")
    print("\nper group (19 shared classes; strict first, A + B)")
    print("| group | classes | photos first | default first |")
    print("|---|---:|---:|---:|")
    for g in GROUPS:
        n = sum(group(r["target"]) == g for r in shared["default A"])
        pf = sum(counts([r for r in shared[k] if group(r["target"]) == g])["first"] for k in ("photo A", "photo B"))
        df = sum(counts([r for r in shared[k] if group(r["target"]) == g])["first"] for k in ("default A", "default B"))
        result[f"group {g}"] = dict(classes=n, photo_first_sum=pf, default_first_sum=df)
        print(f"| {g} | {n} | {pf}/{2 * n} | {df}/{2 * n} |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
