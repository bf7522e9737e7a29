#!/usr/bin/env python3
"""Issue 24 item 3, round 13: the lecture's pixel recipe (``cs231n``) with Yosinski et al. 2015's clips and with
octaves (coarse-to-fine canvases), one lever at a time on round 12's candidate, on a small development set
looked at by eye; Lite0 at the view and Lite2's rank are diagnostics only (round 12: convergence was not what
stopped the recipe).

    python benchmarks/pixel_r13.py --variants r12 oct contrib50 --out /tmp/pix13 --jsonl rows.jsonl

Each row: variant, class, Lite0's p on the 224-px image and at the 128-px view, Lite2's rank, CPU seconds (one
thread). A contact sheet per variant (``<out>/<variant>.png``, the classes in the order given) to look at.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

#: round 12's candidate (``blind.py``'s ``cs231n_r12``): centre window, 128-px view and canvas, strong transforms
BASE = {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong"}
VARIANTS = {
    "r12": {},
    "oct": {"octaves": (32, 64)},                                  # coarse-to-fine: 32 -> 64 -> 128 px canvas
    "oct16": {"octaves": (16, 32, 64)},
    "contrib50": {"clip_contrib": 50.0, "clip_every": 4},          # Yosinski: small contribution -> mean colour
    "weak50": {"clip_weak": 50.0, "clip_every": 4},                # Yosinski: small norm -> mean colour
    "oct_contrib50": {"octaves": (32, 64), "clip_contrib": 50.0, "clip_every": 4},
    "chroma4": {"chroma_blur": 4.0},                               # blur only the colour (no rainbow grain)
    "oct_chroma4": {"octaves": (32, 64), "chroma_blur": 4.0},
}
DEV = ["flamingo", "lemon", "tarantula", "strawberry"]


def main(argv=None) -> int:
    import vizlab
    from vizlab import optimize as opt
    from vizlab.images import save_image

    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="+", required=True)
    ap.add_argument("--classes", nargs="+", default=DEV)
    ap.add_argument("--extra", default="{}", help="JSON of further changes applied to every variant")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = vizlab.load_model()
    for p in model.parameters():
        p.requires_grad_(False)
    judge = vizlab.load_judge()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = json.loads(args.extra)
    for variant in args.variants:
        changes = {**BASE, **VARIANTS[variant], **extra}
        settings = opt.preset("cs231n", **changes)
        name = variant + args.tag
        images = []
        for cls in args.classes:
            cpu = time.process_time()
            r = opt.class_visualization(model, cls, settings, seed=args.seed, progress=False)
            cpu = time.process_time() - cpu
            idx = model.class_index(cls)
            row = dict(variant=name, cls=cls, changes={k: list(v) if isinstance(v, tuple) else v
                                                        for k, v in changes.items()},
                       lite0_p=r.info["target_probability"],
                       lite0_view_p=__import__("vizlab.optimize.classviz", fromlist=["x"]).view_probability(model, r.image, idx, settings.view or settings.size),
                       lite2_rank=opt.verdict(judge, r.image, cls)["rank"], cpu_s=round(cpu, 1))
            save_image(r.image[0], out / f"{name}_{cls.replace(' ', '_')}.png")
            images.append(r.image[0])
            with open(args.jsonl, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{name:14s} {cls:12s} p {row['lite0_p']:.3f} view p {row['lite0_view_p']:.3f} "
                  f"Lite2 {row['lite2_rank']:4d} {cpu:.1f} CPU s", flush=True)
        save_image(torch.cat(images, dim=2), out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
