"""Counts from round10_tcav.log: per model and concept, how often TCAV calls it significant, beside the
intervention; the false-positive and miss counts against the intervention (a concept "matters" when painting it
moves the circle logit by at least 1 against a random mark); and the same counts for other values of min_effect,
recomputed from each run's effect and standard error (Bonferroni over the 10 concepts of the sweep).

Usage: python benchmarks/lab_tcav/round10_summary.py [LOG ...]   (default: round10_tcav.log, then
round10_tcav_random.log, whose "random" runs replace the first log's: those were measured before the concept
"random" became a third random draw; in the first log it was the random set itself, its effect minus the null's)
"""
import re
import sys
from collections import defaultdict

from scipy.stats import t as student_t

paths = sys.argv[1:] or ["benchmarks/lab_tcav/round10_tcav.log", "benchmarks/lab_tcav/round10_tcav_random.log"]
pat = re.compile(r"(\w+) ([+-]\d+\.\d+)\+-(\d+\.\d+) p=\S+? IV=([+-]\d+\.\d+) acc=(\d\.\d+)")
found = {}     # a later log replaces an earlier one's run of the same (seed, sets, model, concept)
for path in paths:
    for line in open(path):
        m = re.match(r"train (\d+) sets (\d+) (\w+)\s+([\d.]+)s \| (.*)", line)
        if not m:
            continue
        seed, sets, kind, secs, rest = m.groups()
        for c, e, se, iv, acc in pat.findall(rest):
            found[int(seed), int(sets), kind, c] = dict(seed=int(seed), sets=int(sets), kind=kind, concept=c,
                                                        e=float(e), se=float(se), iv=float(iv), acc=float(acc))
runs = list(found.values())
path = " + ".join(paths)
K, R, ALPHA, MATTERS = 10, 20, 0.05, 1.0


def significant(r, tau):
    m, se = abs(r["e"]), max(r["se"], 1e-12)
    p = student_t.sf((m - tau) / se, R - 1) + student_t.sf((m + tau) / se, R - 1)
    return p < ALPHA / K


print(f"{len(runs)} concept runs from {path}")
print("\nmin_effect 1: per model and concept, significant / runs; TCAV effect range; intervention range")
table = defaultdict(list)
for r in runs:
    table[r["kind"], r["concept"]].append(r)
for (kind, c), rs in table.items():
    hits = sum(significant(r, 1.0) for r in rs)
    lo, hi = min(r["e"] for r in rs), max(r["e"] for r in rs)
    print(f"  {kind:8s} {c:9s} {hits:2d}/{len(rs)}  effect {lo:+.2f}..{hi:+.2f}"
          f"  intervention {min(r['iv'] for r in rs):+.2f}..{max(r['iv'] for r in rs):+.2f}"
          f"  CAV acc {min(r['acc'] for r in rs):.2f}..{max(r['acc'] for r in rs):.2f}")
print(f"\nagainst the intervention (matters: |intervention| >= {MATTERS}); colours and the random pseudo-concept, "
      "then patterns")
for group, names in (("colours+random", None), ("patterns", ("stripes", "checkers", "dots"))):
    sel = [r for r in runs if (r["concept"] in names if names else r["concept"] not in ("stripes", "checkers", "dots"))]
    for tau in (0.25, 0.5, 0.75, 1.0, 1.5):
        fp = sum(significant(r, tau) and abs(r["iv"]) < MATTERS for r in sel)
        neg = sum(abs(r["iv"]) < MATTERS for r in sel)
        miss = sum(not significant(r, tau) and abs(r["iv"]) >= MATTERS for r in sel)
        pos = sum(abs(r["iv"]) >= MATTERS for r in sel)
        cue = [r for r in sel if r["kind"] == "shortcut" and r["concept"] == "red"]
        cue_hits = sum(significant(r, tau) for r in cue)
        sign_wrong = sum(significant(r, tau) and r["e"] * r["iv"] < 0 for r in sel)
        names = [f"{r['kind']} {r['concept']} (train {r['seed']}, sets {r['sets']}: {r['e']:+.2f}, intervention "
                 f"{r['iv']:+.2f})" for r in sel if significant(r, tau) and abs(r["iv"]) < MATTERS]
        print(f"  {group:15s} min_effect {tau:4.2f}: false positives {fp}/{neg}, misses {miss}/{pos}, "
              f"wrong sign {sign_wrong}" + (f", the cue found {cue_hits}/{len(cue)}" if cue else "")
              + (f"; false positives: {', '.join(names)}" if names and tau >= 0.5 else ""))
print("\nper run (training seed, set seed): the cue for the shortcut model, red for the clean model, and every "
      "significant concept that does not matter by intervention (min_effect 1)")
by_run = defaultdict(list)
for r in runs:
    by_run[r["seed"], r["sets"]].append(r)
for (seed, sets), rs in sorted(by_run.items()):
    get = {(r["kind"], r["concept"]): r for r in rs}
    s, c = get.get(("shortcut", "red")), get.get(("clean", "red"))
    if s is None or c is None:
        continue
    fps = [f"{r['kind']} {r['concept']}" for r in rs if significant(r, 1.0) and abs(r["iv"]) < MATTERS]
    print(f"  train {seed} sets {sets}: shortcut red {s['e']:+.2f} ({'significant' if significant(s, 1) else 'NOT'})"
          f", clean red {c['e']:+.2f} ({'significant' if significant(c, 1) else 'not'}); false positives: "
          f"{', '.join(fps) or 'none'}")
print("\nmarkdown, per run (min_effect 1; * significant; FP: significant where the intervention moves the logit by < 1)")
print("| training seed, set seed | shortcut: red (the cue) | shortcut: also significant | clean: red | "
      "clean: significant | false positives |")
print("|---|---|---|---|---|---|")
for (seed, sets), rs in sorted(by_run.items()):
    get = {(r["kind"], r["concept"]): r for r in rs}
    s, c = get.get(("shortcut", "red")), get.get(("clean", "red"))
    if s is None or c is None:
        continue
    also = [f"{r['concept']} {r['e']:+.2f}" for r in rs
            if r["kind"] == "shortcut" and r["concept"] != "red" and significant(r, 1.0)]
    clean_sig = [f"{r['concept']} {r['e']:+.2f}" for r in rs if r["kind"] == "clean" and significant(r, 1.0)]
    fps = sum(significant(r, 1.0) and abs(r["iv"]) < MATTERS for r in rs)
    print(f"| {seed}, {sets} | {s['e']:+.2f}{'*' if significant(s, 1) else ''} | {', '.join(also) or '-'} | "
          f"{c['e']:+.2f}{'*' if significant(c, 1) else ''} | {', '.join(clean_sig) or '-'} | {fps} |")
