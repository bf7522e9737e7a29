"""Prototype: TCAV with a null of the concept runs' own design, on every colour for both models, over seeds."""
import sys, time
import numpy as np, torch
from scipy import stats
from vizlab.lab import lab_model, paired_sets
from vizlab.lab.concepts import concept_images, _flat_activations, _layer_gradients, cav
from vizlab.inside.shapes import COLOURS

seeds = [int(s) for s in sys.argv[1:]] or [0, 1, 2]
none = paired_sets(400, seed=1)["match"]
circ = none.subset(none.labels == 0).batch()[:40]
R, n, layer = 20, 40, "relu2"
concepts = list(COLOURS) + ["stripes", "dots"]
for seed in seeds:
    for kind in ("shortcut", "clean"):
        for tseed in (0, 1):
            m = lab_model(kind, seed=seed, progress=False).eval()
            t = time.time()
            g = _layer_gradients(m, circ, layer, 0)
            pool = [_flat_activations(m, concept_images("random", n, 32, seed=tseed * 1000 + 1 + i), layer)
                    for i in range(R + 1)]
            S = np.full((R + 1, R + 1), np.nan); D = S.copy()
            for i in range(R + 1):
                for j in range(i + 1, R + 1):
                    dd = g @ cav(pool[i], pool[j], seed=j)
                    s = float((dd > 0).float().mean())
                    S[i, j], S[j, i] = s, 1 - s
                    D[i, j], D[j, i] = float(dd.mean()), -float(dd.mean())
            mi = np.nanmean(S, axis=1); di = np.nanmean(D, axis=1)
            sd = mi.std(ddof=1); sdd = di.std(ddof=1)
            out = []
            for c in concepts:
                a = _flat_activations(m, concept_images(c, n, 32, seed=tseed), layer)
                dds = [g @ cav(a, pool[j], seed=j) for j in range(R + 1)]
                sc = np.array([float((dd > 0).float().mean()) for dd in dds])
                dm = np.array([float(dd.mean()) for dd in dds])
                tstat = (sc.mean() - 0.5) / (sd * np.sqrt(1 + 1 / len(mi)))
                p = 2 * stats.t.sf(abs(tstat), len(mi) - 1)
                t2 = dm.mean() / (sdd * np.sqrt(1 + 1 / len(di)))
                p2 = 2 * stats.t.sf(abs(t2), len(di) - 1)
                out.append(f"{c[:4]} {sc.mean():.2f} p={p:.1g}{'*' if p < 0.05 / 4 else ''} "
                           f"d={dm.mean():+.2f} z={t2:+.1f}{'*' if p2 < 0.05 / 4 else ''}")
            print(f"seed {seed} set-seed {tseed} {kind:8s} {time.time() - t:.0f}s null sd {sd:.2f} dsd {sdd:.2f} | " + " ".join(out),
                  flush=True)
