#!/usr/bin/env python3
"""Issue 24 item 3, round 15: the lecture's pixel recipe (``cs231n``) from round 14's candidate (``blind.py``'s
``cs231n_r14_rescale``): (a) what makes it converge in notebook 05's quick profile (a smaller image, fewer steps),
(b) one more lever, looked at by eye on the issue's ten; Lite0's p (on the picture and at the view) and Lite2's
rank are diagnostics only.

    python benchmarks/pixel_r15.py --variants r14 --classes flamingo tarantula --size 128 --steps 100 \
        --out /tmp/pix15 --jsonl rows.jsonl [--threads 2]

Each row: variant, class, size, steps, threads, Lite0's p on the picture and at the view, Lite2's rank, wall and
CPU seconds of the render (the rescale included). Every image is saved as it comes (``<out>/<variant>_<class>.png``)
and a contact sheet per variant (``<out>/<variant>.png``).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
import time
from pathlib import Path

import torch

#: round 14's frozen candidate (blind.py's cs231n_r14_rescale)
BASE = {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong", "chroma_blur": 4.0,
        "blur_sigma": 2.0, "blur_end": 0.5, "rescale": True}
VARIANTS = {
    "r14": {},
    "lsm": {"objective": "log_softmax"},             # push the other classes down too (what sets this one apart)
    "bev8": {"blur_every": 8},                       # the plain and colour blurs every 8 steps (round 14: one image)
    "s300": {"steps": 300},                          # twice the steps (the schedules stretched)
    "oct64": {"octaves": (64,)},                     # two stages: 64-px canvas, then 128
    "copies2": {"copies": 2},                        # two transformed copies per step (a steadier gradient)
    "preset": None,                                  # the library's CS231N as it is (no base)
}


def main(argv=None) -> int:
    import vizlab
    from vizlab import optimize as opt
    from vizlab.images import save_image
    from vizlab.inside.features import resize_batch

    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="+", required=True)
    ap.add_argument("--classes", nargs="+", required=True)
    ap.add_argument("--extra", default="{}", help="JSON of further changes (applied to every variant)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-judge", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = vizlab.load_model()
    for p in model.parameters():
        p.requires_grad_(False)
    judge = None if args.no_judge else vizlab.load_judge()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = json.loads(args.extra)
    for variant in args.variants:
        if variant in VARIANTS and VARIANTS[variant] is None:
            changes = dict(extra)
        else:
            changes = {**BASE, **VARIANTS.get(variant, {}), **extra}
        changes["size"] = args.size
        if args.steps:
            changes["steps"] = args.steps
        settings = replace(opt.PIXELS_ROBUST, **changes)   # the pixel preset until round 16
        name = variant + args.tag
        images = []
        for cls in args.classes:
            cpu, wall = time.process_time(), time.perf_counter()
            r = opt.class_visualization(model, cls, settings, seed=args.seed, progress=False)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            idx = model.class_index(cls)
            view = resize_batch(r.image, settings.view or settings.size)
            row = dict(variant=name, cls=cls, changes=changes, threads=args.threads, seed=args.seed,
                       lite0_p=r.info["target_probability"],
                       lite0_view_p=opt.class_probability(model, view, idx),
                       lite2_rank=None if judge is None else opt.verdict(judge, r.image, cls)["rank"],
                       cpu_s=round(cpu, 2), wall_s=round(wall, 2))
            save_image(r.image[0], out / f"{name}_{cls.replace(' ', '_')}.png")
            images.append(r.image[0])
            with open(args.jsonl, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{name:14s} {cls:12s} p {row['lite0_p']:.3f} view p {row['lite0_view_p']:.3f} "
                  f"Lite2 {row['lite2_rank']} {cpu:.1f} CPU s {wall:.1f} wall s", flush=True)
        save_image(torch.cat(images, dim=2), out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
