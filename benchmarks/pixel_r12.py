#!/usr/bin/env python3
"""Issue 24 item 3, round 12: levers of the lecture's pixel recipe (``cs231n``), one at a time, on a small
development set looked at by eye, with Lite0/Lite2 as diagnostics (not as the judge: see README, round 11).

    python benchmarks/pixel_r12.py --variants base blur3 --out /tmp/pix --jsonl rows.jsonl
    # round 12's other rows: one lever on top of "delta", e.g. strong scale/rotation or a 96-px canvas
    python benchmarks/pixel_r12.py --variants delta --tag _strong --extra '{"transforms": "strong"}' ...
    python benchmarks/pixel_r12.py --variants delta --tag _c96 --extra '{"canvas": 96}' ...

Each row: variant, class, Lite0's p on the 224-px image and on the 128-px view, Lite2's rank, CPU seconds. A
contact sheet per variant (``<out>/<variant>.png``, the classes in the order given) is saved to look at.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
import time
from pathlib import Path

import torch

#: round 11's set e (``blind.py``'s ``cs231n_centre_canvas``) is the base; each variant changes one lever
BASE = {"centre": 0.3, "view": 128, "canvas": 128}
VARIANTS = {
    "preset": {},                                   # the CS231N preset as it is in the library now
    "base": {},                                     # round 11's set e (its write-back: the shrunk picture)
    "blur3": {"blur_sigma": 3.0, "blur_end": 0.5},  # strong blur first, narrowing
    "noclamp": {},   # no clamp projection every step (the image is clamped when it is drawn anyway)
    "delta": {},     # projections write only their change back to the canvas (upsampled(write="change"))
    "delta_decor": {"decorrelate": True},           # ... and colour-decorrelated pixels
}


DEV = ["flamingo", "lemon", "monarch", "tarantula", "strawberry", "koala"]


def main(argv=None, variants=None, base=None, dev=None, patch: bool = True) -> int:
    """Render each variant's images and rows. ``variants``, ``base`` and ``dev`` default to round 12's;
    ``patch``: round 12's variants swap the pixel path's clamp and write-back by name (``noclamp*``, ``delta*``;
    round 13's script, ``pixel_r13.py``, runs the library as it is and passes ``False``)."""
    variants = VARIANTS if variants is None else variants
    base = BASE if base is None else base
    import vizlab
    from vizlab import optimize as opt
    from vizlab.images import save_image
    from vizlab.inside.features import resize_batch

    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="+", required=True)
    ap.add_argument("--classes", nargs="+", default=DEV if dev is None else dev)
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
        changes = {} if variant == "preset" else {**base, **variants[variant], **extra}
        settings = replace(opt.PIXELS_ROBUST, **changes)   # the pixel preset until round 16
        if patch:
            import vizlab.optimize.classviz as cv
            from vizlab.optimize.regularizers import Clamp, Regularizer
            cv.Clamp = (lambda lo, hi: Regularizer()) if variant.startswith("noclamp") else Clamp
            from vizlab.optimize.params import upsampled
            cv.upsampled = upsampled if variant.startswith("delta") else (
                lambda param, size, write="image": upsampled(param, size))   # round 11's write-back (base)
        name = variant + args.tag
        images = []
        for cls in args.classes:
            cpu = time.process_time()
            r = opt.class_visualization(model, cls, settings, seed=args.seed, progress=False)
            cpu = time.process_time() - cpu
            idx = model.class_index(cls)
            view = resize_batch(r.image, settings.view or settings.size)
            row = dict(variant=name, cls=cls, changes=changes, lite0_p=r.info["target_probability"],
                       lite0_view_p=opt.class_probability(model, view, idx),
                       lite2_rank=opt.verdict(judge, r.image, cls)["rank"], cpu_s=round(cpu, 1))
            save_image(r.image[0], out / f"{name}_{cls.replace(' ', '_')}.png")
            images.append(r.image[0])
            with open(args.jsonl, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{name:12s} {cls:12s} p {row['lite0_p']:.3f} view p {row['lite0_view_p']:.3f} "
                  f"Lite2 {row['lite2_rank']:4d} {cpu:.1f} CPU s", flush=True)
        sheet = torch.cat(images, dim=2)
        save_image(sheet, out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
