"""Issue 28 item 3: the false-positive rate and the power of vizlab.lab.concepts.tcav, over training seeds and
random-set seeds. Prints one line per (training seed, set seed, model): each concept's TCAV score, its derivative in
null spreads and its p-value (uncorrected); '*' marks p < 0.05 / 4 (the notebook's Bonferroni over 4 concepts).

Usage: python benchmarks/lab_tcav/false_positives.py TRAIN_SEEDS... [--sets 0 1]
"""
import sys, time
from vizlab.lab import lab_model, paired_sets
from vizlab.lab.concepts import tcav

args = sys.argv[1:]
sets_at = args.index("--sets") if "--sets" in args else len(args)
seeds = [int(s) for s in args[:sets_at]] or [0, 1, 2]
set_seeds = [int(s) for s in args[sets_at + 1:]] or [0, 1]
match = paired_sets(400, seed=1)["match"]
circles = match.subset(match.labels == 0).batch()[:40]
concepts = ["red", "blue", "stripes", "dots", "magenta", "cyan"]
for s_set in set_seeds:
    for seed in seeds:
        for kind in ("clean", "shortcut"):
            m = lab_model(kind, seed=seed, progress=False)
            t = time.time()
            res = tcav(m, circles, 0, concepts, random_sets=20, n=40, seed=s_set)
            print(f"train {seed} sets {s_set} {kind:8s} {time.time() - t:4.0f}s | " + " ".join(
                f"{c[:4]} {r.mean:.2f} {r.effect:+.1f} p={r.p_value:.1g}{'*' if r.p_value < 0.05 / 4 else ''}"
                for c, r in res.concepts.items()), flush=True)
