#!/usr/bin/env python3
"""Round 19 (r19-detail) development renders: issue 24's fine-detail last stage (``detail_steps``,
``detail_view``, ``detail_lr``) on the default ``object_ensemble3``.

For each class of a random development draw (``random.Random(19019).sample(range(1000), N)``, never scored) plus
round 18's strict misses (``--extra``), render the default (its plain-ground retry included) once at image seed 0,
then run each detail variant's stage on that kept run (the library's ``_detail_stage``, which
``class_visualization`` calls after the retry decision: the same images as the public call, without rendering the
coarse run once per variant). Logs each member's p of the class at 224 px (no transforms) and at the 128-px view,
the process CPU seconds of the run and of each stage (one thread), and the low-frequency change the stage made.
Images: ``IMAGES/<variant>/<class>.png``.

    python benchmarks/blind24/r19_dev/dev_r19.py --log L.jsonl --images DIR [--n 8] [--extra kuvasz "Persian cat"] [--variants ...]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

DEV_SEED = 19019
#: the stage's settings per variant (steps, view side, Adam rate)
VARIANTS = {
    "d224s12": {"detail_steps": 12, "detail_view": 224, "detail_lr": 0.05},
    "d160s20": {"detail_steps": 20, "detail_view": 160, "detail_lr": 0.05},
    "d224s12lr10": {"detail_steps": 12, "detail_view": 224, "detail_lr": 0.10},
    # second pass: the first three changed little by eye (a finer grain); stronger stages
    "d224s25lr15": {"detail_steps": 25, "detail_view": 224, "detail_lr": 0.15},
    "d224s25lr08": {"detail_steps": 25, "detail_view": 224, "detail_lr": 0.08},
    "f224s25lr05": {"detail_steps": 25, "detail_view": 224, "detail_lr": 0.05, "detail_param": "fourier"},
}


def low_pass_change(a: torch.Tensor, b: torch.Tensor, side: int = 32) -> float:
    """Mean absolute difference of the two images shrunk (antialiased) to ``side`` px."""
    f = torch.nn.functional
    small = [f.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False) for x in (a, b)]
    return float((small[0] - small[1]).abs().mean())


def main(args) -> int:
    import vizlab
    from vizlab.images import save_image
    from vizlab.optimize import classviz as cv
    from vizlab.optimize import preset

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
        done = {r["cls"] for r in map(json.loads, log.read_text().splitlines())}

    def probs(image, t):
        return {k: {str(side): cv.view_probability(m, image, t, side) for side in (224, 128)}
                for k, m in members.items()}

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
        row = dict(cls=cls, target=t, variant="base", cpu_s=cpu, retry=found.info.get("retry"),
                   p=probs(found.image, t))
        rows = [row]
        print(cls, "base", f"{cpu:.1f}", "retry" if row["retry"] else "", flush=True)
        for var in args.variants:
            change = VARIANTS[var]
            s = preset("object_ensemble3", **change)
            c = time.process_time()
            out = cv._detail_stage(model, found, canvas, s, **run)
            c = time.process_time() - c
            save(var, cls, out.image)
            rows.append(dict(cls=cls, target=t, variant=var, cpu_s=cpu + c, stage_cpu_s=c, retry=row["retry"],
                             p=probs(out.image, t), low_change=low_pass_change(found.image, out.image)))
            print(cls, var, f"{c:.1f}", rows[-1]["low_change"], flush=True)
        with log.open("a") as f:
            for r in rows:
                f.write(json.dumps(r, default=str) + "\n")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--extra", nargs="*", default=[])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS)[:3])
    raise SystemExit(main(ap.parse_args()))
