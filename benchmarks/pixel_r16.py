#!/usr/bin/env python3
"""Issue 24 item 3, round 16: the lecture's pixel recipe (``cs231n``) from round 15's candidate (``blind.py``'s
``cs231n_r15_s300``): what makes it reach its class at the 128-px view for every one of the issue's ten, at 224 px,
across image seeds, thread counts and kernel sets (``ATEN_CPU_CAPABILITY``, set by the caller), one lever at a time.

    ATEN_CPU_CAPABILITY=default python benchmarks/pixel_r16.py --variants s300 ens150 --classes flamingo \
        --out /tmp/pix16 --jsonl rows.jsonl [--threads 2] [--seed 1]

Each variant renders with ``rescale=False`` and the script stretches the result itself exactly as the library's
``rescale=True`` does (``rescaled(image, 0.5)``), so one render gives both Lite0's p at the view of the optimised
picture and of the shown (stretched) one. Each row: variant, class, seed, threads, ISA, Lite0's p at the view
(optimised / shown), Lite0's p on the shown 224-px picture, Lite2's rank on it, wall and CPU seconds of the render.
Every shown image is saved as it comes (``<out>/<variant>_s<seed>_<class>.png``), and a contact sheet per
variant and seed (``<out>/<variant>_s<seed>.png``).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
import os
import time
from pathlib import Path

import torch

#: round 15's candidate (blind.py's cs231n_r15_s300), optimisation only (the stretch is applied here)
BASE = {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong", "chroma_blur": 4.0,
        "blur_sigma": 2.0, "blur_end": 0.5, "steps": 300}
ENS = ("efficientnet_lite1",)
VARIANTS = {
    "s300": {},                                       # round 15's candidate
    "ens150": {"ensemble": ENS, "steps": 150},        # Lite0 + Lite1 (the class must show to both), 150 steps
    "ens300": {"ensemble": ENS},                      # ... 300 steps
    "lr50": {"lr": 50.0},                             # a longer step early (the schedule falls to 0.1 of it)
    "lrend03": {"lr_end": 0.3},                       # a step that falls less (to 0.3 of 25)
    "starts2": {"starts": 2, "start_steps": 60},      # two starts, the one with the higher view score goes on
    # the ensemble, and a second run on the plain grey ground where the shown picture's p at the view stays below
    # 0.5 (retry_plain; with rescale the library judges the stretched pictures)
    "ens150_retry": {"ensemble": ENS, "steps": 150, "retry_plain": 0.5},
    "s300_retry": {"retry_plain": 0.5},
}


def main(argv=None) -> int:
    import vizlab
    from vizlab import optimize as opt
    from vizlab.images import save_image
    from vizlab.optimize.classviz import view_probability

    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="+", required=True)
    ap.add_argument("--classes", nargs="+", required=True)
    ap.add_argument("--extra", default="{}", help="JSON of further changes (applied to every variant)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--no-judge", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    isa = os.environ.get("ATEN_CPU_CAPABILITY", "unset")
    model = vizlab.load_model()
    for p in model.parameters():
        p.requires_grad_(False)
    judge = None if args.no_judge else vizlab.load_judge()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = json.loads(args.extra)
    for seed in args.seeds:
        for variant in args.variants:
            changes = {**BASE, **VARIANTS[variant], **extra}
            # the stretch applied here (both p's from one render), except with a retry, which the library must
            # judge on the stretched pictures itself
            changes["rescale"] = bool(changes.get("retry_plain"))
            settings = replace(opt.PIXELS_ROBUST, **changes)   # the pixel preset until round 16
            name = variant + args.tag
            images = []
            for cls in args.classes:
                cpu, wall = time.process_time(), time.perf_counter()
                r = opt.class_visualization(model, cls, settings, seed=seed, progress=False)
                shown = r.image if settings.rescale else opt.rescaled(r.image, 0.5)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                idx = model.class_index(cls)
                side = settings.view or settings.size
                row = dict(variant=name, cls=cls, changes={k: v for k, v in changes.items() if k != "ensemble"},
                           ensemble=list(settings.ensemble), threads=args.threads, isa=isa, seed=seed,
                           view_p_opt=None if settings.rescale else view_probability(model, r.image, idx, side),
                           view_p=view_probability(model, shown, idx, side),
                           lite0_p=opt.class_probability(model, shown, idx),
                           lite2_rank=None if judge is None else opt.verdict(judge, shown, cls)["rank"],
                           starts=r.info.get("starts"), retry=r.info.get("retry"), cpu_s=round(cpu, 2), wall_s=round(wall, 2))
                save_image(shown[0], out / f"{name}_s{seed}_{cls.replace(' ', '_')}.png")
                images.append(shown[0])
                with open(args.jsonl, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"{name:10s} s{seed} t{args.threads} {isa:7s} {cls:12s} view p {row['view_p_opt'] or float('nan'):.3f} "
                      f"shown {row['view_p']:.3f} p224 {row['lite0_p']:.3f} Lite2 {row['lite2_rank']} "
                      f"{cpu:.1f} CPU s {wall:.1f} wall s{' retry ' + str(row['retry']) if row['retry'] else ''}", flush=True)
            save_image(torch.cat(images, dim=2), out / f"{name}_s{seed}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
