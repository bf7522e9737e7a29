"""Issue 28 item 3, round 10: the same TCAV at other layers of the lab's CNN (training seeds from the command line).
Prints per layer and model the effect of red (the cue), blue and the random pseudo-concept, '*' if significant.

Usage: python benchmarks/lab_tcav/round10_layers.py TRAIN_SEEDS...
"""
import sys
import time

from vizlab.lab import LabRecipe, lab_model, paired_sets
from vizlab.lab.concepts import tcav

seeds = [int(s) for s in sys.argv[1:]] or [0, 1, 2]
match = paired_sets(400, seed=1)["match"]
circles = match.subset(match.labels == 0).batch()[:40]
for seed in seeds:
    for kind in ("shortcut", "clean"):
        model = lab_model(kind, seed=seed, recipe=LabRecipe(), progress=False)
        for layer in ("relu1", "pool1", "relu2", "relu3"):
            t = time.time()
            res = tcav(model, circles, 0, ["red", "blue", "random"], layer=layer, random_sets=20, n=40)
            print(f"train {seed} {kind:8s} {layer:5s} {time.time() - t:4.1f}s | " + " | ".join(
                f"{c} {r.effect:+.2f}{'*' if r.significant else ''} acc={r.accuracy.mean():.2f}"
                for c, r in res.concepts.items()), flush=True)
