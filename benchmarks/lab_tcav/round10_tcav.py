"""Issue 28 item 3, round 10: the paired, minimum-effect TCAV of vizlab.lab.concepts.tcav against the ground truth.

For each training seed and model (the notebook's LabRecipe), class circle: TCAV on the notebook's 40 circles of
paired_sets(400, seed=1)["match"] at relu2 (20 random sets of 40, min_effect 1), and the intervention
(concept_effect on 40 cue-free circles: the concept painted instead of a random mark, 5 draws). Prints one line per
model: per concept the effect TCAV estimates, its standard error, its p-value, '*' if significant (Bonferroni over
the concepts tested), the intervention's logit change, and the CAV's held-out accuracy.

Usage: python benchmarks/lab_tcav/round10_tcav.py TRAIN_SEEDS... [--sets SET_SEED] [--concepts a b ...]
"""
import sys, time

from vizlab.lab import LabRecipe, lab_model, paired_sets
from vizlab.lab.concepts import concept_effect, tcav

args = sys.argv[1:]
def opt(name, default):
    if name not in args:
        return default
    i = args.index(name); vals = []
    for a in args[i + 1:]:
        if a.startswith("--"):
            break
        vals.append(a)
    return vals
cut = min([args.index(a) for a in args if a.startswith("--")] + [len(args)])
seeds = [int(s) for s in args[:cut]] or [0, 1, 2, 3, 4]
set_seed = int(opt("--sets", ["0"])[0])
concepts = opt("--concepts", ["red", "green", "blue", "yellow", "magenta", "cyan", "stripes", "checkers", "dots",
                              "random"])
sets = paired_sets(400, seed=1)
match, none = sets["match"], sets["none"]
circles = match.subset(match.labels == 0).batch()[:40]
bare = none.subset(none.labels == 0).subset(range(40))
for seed in seeds:
    for kind in ("shortcut", "clean"):
        model = lab_model(kind, seed=seed, recipe=LabRecipe(), progress=False)
        t = time.time()
        res = tcav(model, circles, 0, concepts, random_sets=20, n=40, seed=set_seed)
        dt = time.time() - t
        truth = concept_effect(model, bare, 0, concepts)
        print(f"train {seed} sets {set_seed} {kind:8s} {dt:4.1f}s | " + " | ".join(
            f"{c} {r.effect:+.2f}+-{r.stderr:.2f} p={r.p_value:.1g}{'*' if r.significant else ''} "
            f"IV={truth[c]:+.2f} acc={r.accuracy.mean():.2f}" for c, r in res.concepts.items()), flush=True)
