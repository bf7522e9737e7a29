#!/usr/bin/env python3
"""Round 20 (r20-lever) development renders, second pass: levers on the whole default recipe
(``object_ensemble3_detail``: the coarse run, its retry and the detail stage), each rendered with the public
``class_visualization`` at image seed 0, one thread. Classes as ``dev_r20.py`` (seed 20020 plus round 19's strict
misses). The default's image is ``dev_r20.py``'s ``d25`` where that exists (the same call: its stage on the same kept
run), else rendered here. Logs each member's p at 224 px and the process CPU seconds. Images
``IMAGES/<variant>/<class>.png``.

    python benchmarks/blind24/r20_dev/dev_r20_run.py --log L.jsonl --images DIR [--part k/n] [--variants ...]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import torch

DEV_SEED = 20020
EXTRA = ["Dandie Dinmont", "Sealyham terrier", "Rhodesian ridgeback", "espresso", "lemon", "paintbrush", "maypole",
         "scoreboard", "harvestman"]
VARIANTS = {
    "d25": {},
    "sat07": {"saturation": 0.7},
    "sat05": {"saturation": 0.5},
    # round 18's shrinking transforms (transforms="shrinking", jitter=16: strong's ranges at the first step, standard's
    # at the last; basic-level names rose in round 18's blind test, strict ones did not) followed by round 19's stage
    "shrd": {"transforms": "shrinking", "jitter": 16},
}


def main(args) -> int:
    import vizlab
    from vizlab.images import save_image
    from vizlab.optimize import class_visualization
    from vizlab.optimize import classviz as cv

    torch.set_num_threads(1)
    model = vizlab.load_model()
    members = {"lite0": model, "lite1": vizlab.load_model("efficientnet_lite1"), "lite2": vizlab.load_judge()}
    for m in members.values():
        for p in m.parameters():
            p.requires_grad_(False)
    names = EXTRA + [model.categories[i] for i in random.Random(DEV_SEED).sample(range(1000), args.n)]
    k, n = map(int, args.part.split("/"))
    names = names[k::n]
    log = Path(args.log)
    done = set()
    if log.exists():
        done = {(r["cls"], r["variant"]) for r in map(json.loads, log.read_text().splitlines())}
    for cls in names:
        t = model.class_index(cls)
        for var in args.variants:
            if (cls, var) in done:
                continue
            path = Path(args.images) / var / f"{cls.replace(' ', '_')}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                continue   # the first pass's stage on the same kept run
            c = time.process_time()
            r = class_visualization(model, t, mode="object_ensemble3_detail", seed=0, progress=False,
                                    **VARIANTS[var])
            c = time.process_time() - c
            save_image(r.image[0], path)
            row = dict(cls=cls, target=t, variant=var, cpu_s=c, retry=r.info.get("retry"),
                       p={k: cv.view_probability(m, r.image, t, 224) for k, m in members.items()})
            print(cls, var, f"{c:.1f}", "R" if row["retry"] else "", {k: round(v, 3) for k, v in row["p"].items()},
                  flush=True)
            with log.open("a") as f:
                f.write(json.dumps(row, default=str) + "\n")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--part", default="0/1")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    raise SystemExit(main(ap.parse_args()))
