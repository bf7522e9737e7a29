"""Issue 28 item 3: why the clean model's "red for circle" TCAV verdict is significant (measure, do not guess).

Per training seed: (a) intervention truth: paint a cue-sized mark of each colour at the cue's place on the
cue-free circle images and measure the circle logit's change; (b) the current tcav verdicts for the cue's colour
and irrelevant concepts; (c) a null with the concept runs' own design (a random "pseudo-concept" set scored
against the same random sets).
"""
import sys, time
from vizlab.lab import lab_model, paired_sets
from vizlab.lab.concepts import mark_effect, tcav

seeds = [int(s) for s in sys.argv[1:]] or [0, 1, 2]
sets = paired_sets(400, seed=1)
none = sets["none"]
circ = none.subset(none.labels == 0).batch()[:40]
for seed in seeds:
    for kind in ("shortcut", "clean"):
        t = time.time()
        m = lab_model(kind, seed=seed, progress=False).eval()
        tt = time.time() - t
        d = mark_effect(m, circ, 0)
        t = time.time()
        res = tcav(m, circ, 0, ["red", "blue", "stripes", "dots"], random_sets=20, n=40, seed=0)
        tt2 = time.time() - t
        print(f"seed {seed} {kind:8s} train/load {tt:.0f}s tcav {tt2:.0f}s  dlogit(circle): " +
              " ".join(f"{k}={v:+.2f}" for k, v in d.items()), flush=True)
        print("   " + " | ".join(f"{c}: mean {r.mean:.2f} p {r.p_value:.1g} {'SIG' if r.significant else '-'}"
                                  for c, r in res.concepts.items()), flush=True)
