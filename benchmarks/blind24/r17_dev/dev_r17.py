#!/usr/bin/env python3
"""Round 17 (r17-random20) development renders: both runs of the plain-ground retry, for two ensembles.

For each class of a random development draw (``random.Random(17017).sample(range(1000), N)``, never scored; ``--extra``: round 16's two classes
that the ensemble never converged on, convertible and printer, for the diagnosis) and
each ensemble (``lite01``: the default ``object_ensemble``; ``lite012``: Lite2 as a third member), render the
default's first run (random ground) and its second run (plain ground) separately, image seed 0, and record each
member's p of the class at the 128-px view (Lite0, Lite1, Lite2), Lite0's p at 224 px, Lite2's rank at its own
size and the CPU seconds. Which run a retry rule keeps is then computed from the log (``--summary``), for the rule
of today (Lite0 alone) and for the rule judged by every member (the smallest member's p).

    python benchmarks/blind24/r17_dev/dev_r17.py --log L.jsonl --images DIR [--n 10]
    python benchmarks/blind24/r17_dev/dev_r17.py --summary L.jsonl
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from blind import proxies  # noqa: E402

DEV_SEED = 17017
ENSEMBLES = {"lite01": ("efficientnet_lite1",), "lite012": ("efficientnet_lite1", "efficientnet_lite2")}


def run(args) -> int:
    import vizlab
    from vizlab.images import save_image
    from vizlab.optimize import class_visualization, preset
    from vizlab.optimize.classviz import class_probability, view_probability

    torch.set_num_threads(1)
    model = vizlab.load_model()
    members = {"lite0": model, "lite1": vizlab.load_model("efficientnet_lite1"), "lite2": vizlab.load_judge()}
    for m in members.values():
        for p in m.parameters():
            p.requires_grad_(False)
    drawn = random.Random(DEV_SEED).sample(range(1000), args.n)
    names = list(args.extra) + [model.categories[i] for i in drawn]
    log = Path(args.log)
    done = set()
    if log.exists():
        done = {(r["ensemble"], r["ground"], r["cls"]) for r in map(json.loads, log.read_text().splitlines())}
    for cls in names:
        for ens in args.ensembles:
            for ground in ("random", "plain"):
                if (ens, ground, cls) in done:
                    continue
                s = preset("object_ensemble", ensemble=ENSEMBLES[ens], retry_plain=0.0, backdrop=ground == "random")
                t = model.class_index(cls)
                cpu = time.process_time()
                r = class_visualization(model, t, s, seed=0, progress=False)
                cpu = time.process_time() - cpu
                folder = Path(args.images) / f"{ens}_{ground}"
                folder.mkdir(parents=True, exist_ok=True)
                save_image(r.image[0], folder / f"{cls.replace(' ', '_').replace('/', '_')}.png")
                row = dict(cls=cls, target=t, ensemble=ens, ground=ground, cpu_s=cpu,
                           p224_lite0=class_probability(model, r.image, t),
                           view={k: view_probability(m, r.image, t, 128) for k, m in members.items()},
                           **proxies(members["lite2"], r.image, t))
                with log.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(cls, ens, ground, f"{cpu:.1f}", {k: round(v, 2) for k, v in row["view"].items()}, flush=True)
    return 0


def kept(rows: dict, rule: str, threshold: float = 0.5) -> tuple[str, float]:
    """Which run a retry rule keeps, and its cost: ``model`` judges by Lite0's p at the view, ``members`` by the
    smallest member's p (of the ensemble's members)."""
    def judge(r):
        if rule == "model":
            return r["view"]["lite0"]
        names = ["lite0", "lite1"] + (["lite2"] if r["ensemble"] == "lite012" else [])
        return min(r["view"][k] for k in names)
    first = rows["random"]
    if judge(first) >= threshold:
        return "random", first["cpu_s"]
    plain = rows["plain"]
    return ("plain" if judge(plain) > judge(first) else "random"), first["cpu_s"] + plain["cpu_s"]


def summary(args) -> int:
    rows = [json.loads(line) for line in Path(args.summary).read_text().splitlines()]
    by = {}
    for r in rows:
        by.setdefault((r["ensemble"], r["cls"]), {})[r["ground"]] = r
    print("| ensemble | rule | class | kept | Lite0 / Lite1 / Lite2 p at the view | Lite0 p 224 | Lite2 rank | CPU s |")
    print("|---|---|---|---|---|---:|---:|---:|")
    for (ens, cls), runs in sorted(by.items()):
        if len(runs) < 2:
            continue
        for rule in ("model", "members"):
            k, cost = kept(runs, rule)
            r = runs[k]
            v = r["view"]
            print(f"| {ens} | {rule} | {cls} | {k} | {v['lite0']:.2f} / {v['lite1']:.2f} / {v['lite2']:.2f} | "
                  f"{r['p224_lite0']:.2f} | {r['lite2_rank']} | {cost:.1f} |")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    ap.add_argument("--images")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--ensembles", nargs="+", default=list(ENSEMBLES))
    ap.add_argument("--extra", nargs="*", default=[], help="classes added after the draw (known failures of "
                    "earlier rounds, for the diagnosis)")
    ap.add_argument("--summary")
    a = ap.parse_args()
    raise SystemExit(summary(a) if a.summary else run(a))
