#!/usr/bin/env python3
"""Round 20 (r20-lever) development renders: levers on the default's fine-detail stage (``object_ensemble3_detail``).

For each class of a random development draw (``random.Random(20020).sample(range(1000), N)``, never scored) plus
round 19's strict misses (``--extra``), render the default's coarse run (``object_ensemble3``, its plain-ground
retry included) once at image seed 0, then run each variant's detail stage on that kept run (the library's
``_detail_stage``, as ``class_visualization`` calls it after the retry's decision). Variant ``d25`` is today's
default stage. Logs each member's p at 224 px, process CPU seconds (one thread). Images:
``IMAGES/<variant>/<class>.png``. (Two more variants, a stage whose MACO colour magnitude was blurred by 1.5 and 3 px,
ran on two classes with a library patch that was withdrawn: no visible change; not in this script.)

    python benchmarks/blind24/r20_dev/dev_r20.py --log L.jsonl --images DIR [--n 6] [--extra ...] [--variants ...]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

DEV_SEED = 20020
#: each variant: changes to the default preset for the stage (the coarse run is shared)
VARIANTS = {
    "d25": {},
    "ls": {"objective": "log_softmax"},
    "s40": {"detail_steps": 40},
    "lr25": {"detail_lr": 0.25},
    # the stage alone less colourful (the shared coarse run keeps the photos' colour): the stage's MACO magnitude of
    # the two colour channels times 0.7
    "dsat07": {"saturation": 0.7},
}


def main(args) -> int:
    import vizlab
    from vizlab.images import save_image
    from vizlab.optimize import classviz as cv
    from vizlab.optimize import preset

    torch.set_num_threads(1)
    print("vizlab from", vizlab.__file__, flush=True)
    model = vizlab.load_model()
    members = {"lite0": model, "lite1": vizlab.load_model("efficientnet_lite1"), "lite2": vizlab.load_judge()}
    for m in members.values():
        for p in m.parameters():
            p.requires_grad_(False)
    drawn = random.Random(DEV_SEED).sample(range(1000), args.n)
    names = list(args.extra) + [model.categories[i] for i in drawn]
    if args.part:
        k, n = map(int, args.part.split("/"))
        names = names[k::n]
    log = Path(args.log)
    done = set()
    if log.exists():
        done = {r["cls"] for r in map(json.loads, log.read_text().splitlines())}

    def probs(image, t):
        return {k: cv.view_probability(m, image, t, 224) for k, m in members.items()}

    def save(var, cls, image):
        folder = Path(args.images) / var
        folder.mkdir(parents=True, exist_ok=True)
        save_image(image[0], folder / f"{cls.replace(' ', '_').replace('/', '_')}.png")

    for cls in names:
        if cls in done:
            continue
        base = preset("object_ensemble3")
        t = model.class_index(cls)
        run = dict(seed=0, snapshots=None, callback=None, stop_event=None, progress=False, workers=None)
        cpu = time.process_time()
        found = cv._class_image(model, t, base, **run)
        cpu = time.process_time() - cpu
        canvas = found.info.pop("_canvas")
        save("base", cls, found.image)
        rows = [dict(cls=cls, target=t, variant="base", cpu_s=cpu, retry=found.info.get("retry"),
                     p=probs(found.image, t))]
        print(cls, "base", f"{cpu:.1f}", "retry" if rows[0]["retry"] else "", flush=True)
        for var in args.variants:
            s = preset("object_ensemble3_detail", **VARIANTS[var])
            c = time.process_time()
            out = cv._detail_stage(model, found, canvas, s, **run)
            c = time.process_time() - c
            save(var, cls, out.image)
            rows.append(dict(cls=cls, target=t, variant=var, stage_cpu_s=c, p=probs(out.image, t)))
            print(cls, var, f"{c:.1f}", {k: round(v, 3) for k, v in rows[-1]["p"].items()}, flush=True)
        with log.open("a") as f:
            for r in rows:
                f.write(json.dumps(r, default=str) + "\n")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--extra", nargs="*", default=[])
    ap.add_argument("--part", default="")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    raise SystemExit(main(ap.parse_args()))
