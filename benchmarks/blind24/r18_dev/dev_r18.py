#!/usr/bin/env python3
"""Round 18 (r18-random20) development renders: issue 24's lever 3 (transformation robustness, steps) against the
default ``object_ensemble3``, one change at a time.

For each class of a random development draw (``random.Random(18018).sample(range(1000), N)``, never scored) plus
round 17's known failures (``--extra``), and each variant, render the full recipe (its plain-ground retry
included) at image seed 0 and log each member's p of the class at the 128-px view (Lite0, Lite1, Lite2), whether
the retry ran, and the process CPU seconds (one thread). Images: ``IMAGES/<variant>/<class>.png``.

    python benchmarks/blind24/r18_dev/dev_r18.py --log L.jsonl --images DIR [--n 7] [--variants base strong]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

DEV_SEED = 18018
#: one change of the default (object_ensemble3) each
VARIANTS = {
    "base": {},
    "strong": {"transforms": "strong", "jitter": 16},     # scale 0.75-1.25, rotate 20 degrees, jitter 16
    "steps120": {"steps": 120},                             # 1.2x the steps (the cost bound)
    # strong's ranges at the first step shrinking linearly to standard's at the last (transforms.Shrinking)
    "shrink": {"transforms": "shrinking", "jitter": 16},
}


def main(args) -> int:
    import vizlab
    from vizlab.images import save_image
    from vizlab.optimize import class_visualization, preset
    from vizlab.optimize.classviz import view_probability

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
        done = {(r["variant"], r["cls"]) for r in map(json.loads, log.read_text().splitlines())}
    for cls in names:
        for var in args.variants:
            if (var, cls) in done:
                continue
            s = preset("object_ensemble3", **VARIANTS[var])
            t = model.class_index(cls)
            cpu = time.process_time()
            r = class_visualization(model, t, s, seed=0, progress=False)
            cpu = time.process_time() - cpu
            folder = Path(args.images) / var
            folder.mkdir(parents=True, exist_ok=True)
            save_image(r.image[0], folder / f"{cls.replace(' ', '_').replace('/', '_')}.png")
            row = dict(cls=cls, target=t, variant=var, cpu_s=cpu, retry=r.info.get("retry"),
                       view={k: view_probability(m, r.image, t, 128) for k, m in members.items()})
            with log.open("a") as f:
                f.write(json.dumps(row, default=str) + "\n")
            print(cls, var, f"{cpu:.1f}", {k: round(v, 2) for k, v in row["view"].items()},
                  "retry" if row["retry"] else "", flush=True)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--n", type=int, default=7)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--extra", nargs="*", default=[])
    raise SystemExit(main(ap.parse_args()))
