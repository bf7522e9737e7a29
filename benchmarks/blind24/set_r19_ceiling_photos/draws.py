#!/usr/bin/env python3
"""Round 19 (r19-ceiling): how many classes of a random 20 are fine-grained, and how often people named them.

Every scored random-20 set of rounds 9-18 in ``benchmarks/blind24/`` is rescored with today's ``blind.py`` (its
answers and key; accept lists as they are now) and each image is put in one of three groups by its ImageNet index,
a rule fixed before counting: **dog breeds** (151-268), **other animals** (0-397 without the dogs: bird, snake,
spider, beetle, monkey species and the like, with a few classes that are their own everyday name such as zebra or
koala) and **objects and the rest** (398-999: artefacts, foods, plants, scenes). For each group it prints how many
classes a draw holds and how often a viewer named them strictly (first / in five) and at the basic level only (the
basic list matched, the strict one did not: a "dog" for a kuvasz).

    python benchmarks/blind24/set_r19_ceiling_photos/draws.py [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLIND24 = HERE.parent
sys.path.insert(0, str(BLIND24.parent))
import blind  # noqa: E402

#: (round, set folder, draw): every scored random-20 set of rounds 9-18; sets of one draw share its seed.
SETS = [
    (9, "set_r9_c_random20", 61206),
    (10, "set_r10_b_view160_random20", 37199),
    (11, "set_r11_c_canvas_random20", 77716),
    (12, "set_r12_object_random20", 2392),
    (12, "set_r12_retry_random20", 71131),
    (13, "set_r13_retry_random20_second_viewer", 71131),
    (13, "set_r13_default_random20", 34666),
    (14, "set_r14_whole04_random20", 11919),
    (15, "set_r15_prior_random20", 44342),
    (16, "set_r16_retry_ensemble_random20", 12009),
    (16, "set_r16_retry_ensemble_random20_second_viewer", 12009),
    (16, "set_r16_default_random20", 12009),
    (16, "set_r16_default_random20_second_viewer", 12009),
    (16, "set_r16c_ensemble_random20", 18962),
    (16, "set_r16c_ensemble_random20_second_viewer", 18962),
    (16, "set_r16c_default_random20", 18962),
    (16, "set_r16c_default_random20_second_viewer", 18962),
    (17, "set_r17_ensemble3_random20", 50719),
    (17, "set_r17_ensemble3_random20_second_viewer", 50719),
    (17, "set_r17_default_random20", 50719),
    (17, "set_r17_default_random20_second_viewer", 50719),
    (18, "set_r18_shrink_random20", 48319),
    (18, "set_r18_shrink_random20_second_viewer", 48319),
    (18, "set_r18_default_random20", 48319),
    (18, "set_r18_default_random20_second_viewer", 48319),
]
GROUPS = ("dog breeds", "other animals", "objects and the rest")


def group(target: int) -> str:
    """The group of an ImageNet class index (the rule in the module docstring)."""
    if 151 <= target <= 268:
        return GROUPS[0]
    return GROUPS[1] if target <= 397 else GROUPS[2]


def rescored(folder: str) -> list[dict]:
    """The set's images with today's strict and basic first hits."""
    key = json.loads((BLIND24 / folder / "key.json").read_text())
    guesses = blind.read_guesses(BLIND24 / folder / "answers.md")
    rows = []
    for e in key["entries"]:
        g = guesses.get(e["image"], [])
        strict, basic = blind.accept_lists(e["cls"])
        rows.append(dict(cls=e["cls"], target=e["target"], recipe=e["recipe"], guesses=g,
                         strict_hit=blind.first_hit(g, strict), basic_hit=blind.first_hit(g, strict + basic)))
    return rows


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    return dict(images=n, strict_first=sum(r["strict_hit"] == 1 for r in rows),
                strict_five=sum(r["strict_hit"] is not None for r in rows),
                basic_only_first=sum(r["basic_hit"] == 1 and r["strict_hit"] != 1 for r in rows),
                basic_first=sum(r["basic_hit"] == 1 for r in rows))


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} ({k / n:.0%})" if n else "-"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=None, help="write the tables here")
    args = parser.parse_args(argv)
    draws: dict[int, dict[str, int]] = {}
    by_set = []
    for rnd, folder, seed in SETS:
        rows = rescored(folder)
        for r in rows:
            r.update(round=rnd, set=folder, draw=seed, group=group(r["target"]))
        by_set.append(rows)
        draws.setdefault(seed, {r["cls"]: r["target"] for r in rows})
    print(f"{len(draws)} random draws of 20 (rounds 9-18), {sum(map(len, by_set))} scored images in {len(SETS)} sets")
    print("\n| draw (seed) | dog breeds | other animals | objects and the rest |")
    print("|---|---:|---:|---:|")
    counts = {g: [] for g in GROUPS}
    for seed, classes in draws.items():
        c = [sum(group(t) == g for t in classes.values()) for g in GROUPS]
        for g, k in zip(GROUPS, c):
            counts[g].append(k)
        print(f"| {seed} | {c[0]} | {c[1]} | {c[2]} |")
    mean = {g: sum(v) / len(v) for g, v in counts.items()}
    print(f"| mean per 20 | {mean[GROUPS[0]]:.1f} | {mean[GROUPS[1]]:.1f} | {mean[GROUPS[2]]:.1f} |")
    print(f"| all 1000 classes, per 20 | {118 / 50:.1f} | {280 / 50:.1f} | {602 / 50:.1f} |")

    rows = [r for s in by_set for r in s]
    tables = {}
    for label, sub in (("all sets (rounds 9-18)", rows),
                       ("rounds 16-18 (the Lite1/Lite2 ensemble recipes and their defaults)",
                        [r for r in rows if r["round"] >= 16])):
        print(f"\n**{label}**: viewer's images per group, named strictly first / in five, basic level only first")
        print("| group | images | strict first | strict in five | basic level first, not strict | basic first |")
        print("|---|---:|---:|---:|---:|---:|")
        tables[label] = {}
        for g in (*GROUPS, "all"):
            s = summary([r for r in sub if g in ("all", r["group"])])
            tables[label][g] = s
            n = s["images"]
            print(f"| {g} | {n} | {_pct(s['strict_first'], n)} | {_pct(s['strict_five'], n)} | "
                  f"{_pct(s['basic_only_first'], n)} | {_pct(s['basic_first'], n)} |")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(draws={str(k): v for k, v in draws.items()}, tables=tables),
                                              indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
