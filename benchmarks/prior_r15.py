#!/usr/bin/env python3
"""Round 15 (issue 24 item 3): class images through a generator prior (the AdaIN decoder), development runs.

Each variant is the default ``OBJECT`` recipe with the MACO canvas replaced by :func:`vizlab.optimize.params.generator`
(a ``relu4_1`` code decoded by AdaIN's decoder) and some levers changed. One image per (variant, class), image seed 0,
saved as ``OUT/<variant>/<class>.png`` as it comes, one JSON line per image in ``OUT/prior_r15_dev.jsonl``
(Lite0's p at 224 px and at the view, process CPU seconds). ``sheet`` puts variants side by side (the default's
column from round 11's blind set, whose ten images are today's default's: every one converges, so no retry).

    python benchmarks/prior_r15.py run --variants gen_clip --classes flamingo goldfish
    python benchmarks/prior_r15.py sheet --variants default gen_clip --out sheet.png
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUT = HERE / "blind24" / "r15_prior"
TEN = ["flamingo", "goldfish", "volcano", "tarantula", "jellyfish", "pizza", "lemon", "monarch", "peacock",
       "bell pepper"]
#: the default's images of the ten: round 11's blind set a (the default OBJECT's first run; all ten converge)
DEFAULT_SET = HERE / "blind24" / "set_r11_a_canvas_ten"

# the generator in place of MACO, all else the default's (no retry: the dev runs look at the first run)
GEN = dict(maco=False, generator=True, l2=0.0, retry_plain=0.0)
VARIANTS = {
    "gen_clip": dict(GEN),
    "gen_stats": dict(GEN, code_range="statistics"),
    "gen_free": dict(GEN, code_range="free"),
    "gen_clip_noise": dict(GEN, code_init="noise"),
    "gen_clip_random": dict(GEN, code_init="random"),
    "gen_clip_lr05": dict(GEN, lr=0.05),
    "gen_clip_lr03": dict(GEN, lr=0.3),
    "gen_clip_s50": dict(GEN, steps=50),
    "gen_stats_random": dict(GEN, code_range="statistics", code_init="random"),
    "gen_clip_nowin": dict(GEN, centre=0.0),
    "gen_clip_ens": dict(GEN, ensemble=("efficientnet_lite1",)),
    # Adam's rate 0.3 (0.15 left the flamingo at p 0.09 at the view after 100 steps)
    "gen_lr03_nowin": dict(GEN, lr=0.3, centre=0.0),
    "gen_lr03_s60": dict(GEN, lr=0.3, steps=60),
    "gen_lr03_ens": dict(GEN, lr=0.3, ensemble=("efficientnet_lite1",)),
    "gen_free_lr03": dict(GEN, lr=0.3, code_range="free"),
    "gen_random_lr03": dict(GEN, lr=0.3, code_init="random"),
    "gen_noise_lr03": dict(GEN, lr=0.3, code_init="noise"),
    "gen_stats_lr03": dict(GEN, lr=0.3, code_range="statistics"),
    # a 96-px canvas (a 12 x 12 code): coarser shapes, about half the decoder's cost
    "gen_stats_c96": dict(GEN, code_range="statistics", canvas=96),
    "gen_stats_s60": dict(GEN, code_range="statistics", steps=60),
    "gen_stats_ens": dict(GEN, code_range="statistics", ensemble=("efficientnet_lite1",)),
    # from 09:36 the photo statistics leave out hubble, ihc and retina (NOT_PHOTOS): "p8" = the 8 everyday photos
    "p8_stats": dict(GEN, code_range="statistics"),
    "p8_stats_lr03": dict(GEN, code_range="statistics", lr=0.3),
    "p8_clip_lr03": dict(GEN, lr=0.3),
    "p8_stats_random": dict(GEN, code_range="statistics", code_init="random"),
    "p8_stats_ens": dict(GEN, code_range="statistics", ensemble=("efficientnet_lite1",)),
    "p8_stats_strong": dict(GEN, code_range="statistics", transforms="strong", jitter=16),
    # the ensemble in 60 steps at a larger rate (the time budget), and with the default's plain-ground second run
    "p8_ens_s60": dict(GEN, code_range="statistics", ensemble=("efficientnet_lite1",), steps=60, lr=0.2),
    "p8_ens_retry": dict(GEN, code_range="statistics", ensemble=("efficientnet_lite1",), retry_plain=0.5),
    # after the random 20 (8 of 20 short of their class at the view): a larger rate on three of those (dev only)
    "p8_ens_lr03": dict(GEN, code_range="statistics", ensemble=("efficientnet_lite1",), lr=0.3),
}


def settings_of(variant: str):
    from vizlab.optimize.classviz import OBJECT

    return replace(OBJECT, **VARIANTS[variant])


def run(args) -> None:
    from vizlab.models import load_model
    from vizlab.optimize.classviz import class_visualization, view_probability
    from vizlab.images import save_image

    torch.set_num_threads(args.threads)
    model = load_model("efficientnet_lite0", "cpu")
    log = OUT / "prior_r15_dev.jsonl"
    for variant in args.variants:
        settings = settings_of(variant)
        (OUT / variant).mkdir(parents=True, exist_ok=True)
        for cls in args.classes:
            png = OUT / variant / f"{cls.replace(' ', '_')}.png"
            if png.exists() and not args.force:
                continue
            t0, w0 = time.process_time(), time.perf_counter()
            r = class_visualization(model, cls, settings, seed=args.image_seed, progress=False)
            cpu, wall = time.process_time() - t0, time.perf_counter() - w0
            x = r.image
            save_image(x[0], png)
            row = dict(variant=variant, cls=cls, lite0_p=r.info["target_probability"],
                       view_p=view_probability(model, x, r.info["target"], settings.view or settings.size),
                       cpu_seconds=cpu, wall_seconds=wall, image_seed=args.image_seed, threads=args.threads,
                       min=float(x.min()), max=float(x.max()), time=time.strftime("%H:%M:%S"))
            print(json.dumps(row), flush=True)
            with log.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


def default_images() -> dict[str, Path]:
    key = json.loads((DEFAULT_SET / "key.json").read_text())
    return {e["cls"]: DEFAULT_SET / "images" / e["image"] for e in key["entries"]}


def sheet(args) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = {}
    if (OUT / "prior_r15_dev.jsonl").exists():
        for line in (OUT / "prior_r15_dev.jsonl").read_text().splitlines():
            r = json.loads(line)
            rows[(r["variant"], r["cls"])] = r
    base = default_images()
    classes = args.classes
    fig, axes = plt.subplots(len(args.variants), len(classes), figsize=(1.9 * len(classes), 2.1 * len(args.variants)),
                             squeeze=False)
    for i, variant in enumerate(args.variants):
        for j, cls in enumerate(classes):
            ax = axes[i][j]
            ax.axis("off")
            path = base.get(cls) if variant == "default" else OUT / variant / f"{cls.replace(' ', '_')}.png"
            if path is None or not Path(path).exists():
                continue
            ax.imshow(np.asarray(Image.open(path).convert("RGB")))
            r = rows.get((variant, cls))
            note = f"p {r['lite0_p']:.2f}/{r['view_p']:.2f}" if r else ""
            ax.set_title(f"{cls}\n{variant} {note}" if i == 0 else f"{variant} {note}", fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=args.dpi)
    print(args.out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--variants", nargs="+", required=True, choices=list(VARIANTS))
    r.add_argument("--classes", nargs="+", default=TEN)
    r.add_argument("--image-seed", type=int, default=0)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--force", action="store_true")
    s = sub.add_parser("sheet")
    s.add_argument("--variants", nargs="+", required=True)
    s.add_argument("--classes", nargs="+", default=TEN)
    s.add_argument("--out", required=True)
    s.add_argument("--dpi", type=int, default=80)
    args = p.parse_args()
    run(args) if args.cmd == "run" else sheet(args)


if __name__ == "__main__":
    main()
