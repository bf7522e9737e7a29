#!/usr/bin/env python3
"""Does the default class image converge? (issue 24, round 10): one lever of ``opt.OBJECT`` at a time.

For each variant and class, render the class image (224 px, image seed given), and record Lite0's probability
of the class on the final image (at 224 px, and at the 128-px view the optimisation used), the proxies of
``blind.py`` (Lite2's rank on the image and on degraded copies) and the process CPU seconds. One JSON line per
image goes to ``--log``; the image to ``--images/<variant>_s<seed>/<class>.png`` so that a person can look.

    python benchmarks/converge.py --variants base steps150 --seeds 0 --log /tmp/c.jsonl --images /tmp/c
    python benchmarks/converge.py --summary /tmp/c.jsonl      # one row per variant (and derived variants)

The classes are the issue's ten plus round 9's seeded random 20 (``--random-seed 61206``), or with ``--random N
--random-seed S`` N classes drawn from all 1000 (round 12's development set: ``--random 14 --random-seed 1206``). Derived variants are
computed from the log, not rendered: ``restart2`` (of seeds 0 and 1 of ``base``, the image whose proxy is best:
Lite2's rank, then its rank on the blurred copy; cost = both renders + the proxy) and ``ensemble_weak``
(``base``, re-rendered with the Lite0+Lite1 ensemble where Lite0's p on the base image is below 0.3; cost =
both renders).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blind import ISSUE_CLASSES, RANDOM_SEED_R9, proxies  # noqa: E402

#: Each variant changes one setting of round 11's ``opt.OBJECT`` (:data:`BASE`: today's default without the
#: round-12 second run, so that ``base`` and the levers mean what the round-10 to round-12 tables measured).
VARIANTS = {
    "base": {},
    "steps150": {"steps": 150},
    "steps200": {"steps": 200},
    "lr03": {"lr": 0.3},
    "view160": {"view": 160},
    "ensemble": {"ensemble": ("efficientnet_lite1",)},
    # the model sees 128 px: optimise a 128-px canvas and enlarge it (no unseen, never-optimised fine detail)
    "canvas128": {"canvas": 128},
    # round 12 (the default has canvas=128 since round 11): levers for random classes
    "log_softmax": {"objective": "log_softmax"},
    "strong": {"transforms": "strong", "jitter": 16},
    "steps200lr03": {"steps": 200, "lr": 0.3},
    "tilt05": {"tilt": 0.5},
    "tilt1": {"tilt": 1.0},
    "nocentre": {"centre": 0.0},
    "centre04": {"centre": 0.4},
    # the window on its plain grey ground at every step (no random colour behind it)
    "nobackdrop": {"backdrop": False},
    "nobackdrop_tilt05": {"backdrop": False, "tilt": 0.5},
    # round 12's default: a second run on the plain ground where the view's p stays below 0.5
    "retry": {"retry_plain": 0.5},
    # round 13, each on round 12's default (the second run included): levers for converged-but-unreadable images
    "retry_sat05": {"retry_plain": 0.5, "saturation": 0.5},
    "retry_starts3": {"retry_plain": 0.5, "starts": 3},
    "retry_copies2": {"retry_plain": 0.5, "copies": 2},
    # the colour-difference channels' magnitude tilted by 1/f at the same colour energy (colour in areas, not grain)
    "retry_ctilt1": {"retry_plain": 0.5, "colour_tilt": 1.0},
    # round 14, on round 12's default: a zoomed-out second copy of the view every step (the whole object must
    # score too, not only a close-up part)
    "retry_whole055": {"retry_plain": 0.5, "whole": 0.55},
    "retry_whole04": {"retry_plain": 0.5, "whole": 0.4},
    "retry_wholeonly06": {"retry_plain": 0.5, "whole": 0.6, "whole_only": True},
    # round 16 (r16-random20), levers for generality on a random development set: round 12's default with the Lite1
    # ensemble (what the image shows must work for two networks); round 15's generator prior (preset "prior") with
    # the default's plain-ground second run, at its rate and at twice it (Adam 0.3: shape classes that never reached
    # their class at the view in 100 steps)
    "retry_ensemble": {"retry_plain": 0.5, "ensemble": ("efficientnet_lite1",)},
    "prior_retry": {"retry_plain": 0.5, "maco": False, "generator": True, "code_range": "statistics",
                    "code_init": "grey", "ensemble": ("efficientnet_lite1",)},
    "prior_retry_lr03": {"retry_plain": 0.5, "maco": False, "generator": True, "code_range": "statistics",
                         "code_init": "grey", "ensemble": ("efficientnet_lite1",), "lr": 0.3},
}
BASE = {"retry_plain": 0.0}
#: Round 9's random draw (``random.Random(61206).sample(range(1000), 20)``), for the summary's split.
RANDOM20_R9 = ("packet", "spotted salamander", "abacus", "drumstick", "Leonberg", "long-horned beetle",
               "Australian terrier", "puck", "chiffonier", "thunder snake", "whippet", "Indian elephant", "frying pan",
               "espresso", "agama", "valley", "Weimaraner", "paper towel", "bell pepper", "volcano")
#: Lite0's p below which ``ensemble_weak`` re-renders a class with the ensemble.
WEAK = 0.3


def classes(model, random_seed: int = RANDOM_SEED_R9) -> list[str]:
    drawn = random.Random(random_seed).sample(range(len(model.categories)), 20)
    names = list(ISSUE_CLASSES) + [model.categories[i] for i in drawn]
    return list(dict.fromkeys(names))  # bell pepper and volcano are in both


def run(args) -> int:
    import vizlab
    from vizlab.images import save_image
    from vizlab.optimize import class_visualization, preset
    from vizlab.optimize.classviz import view_probability

    torch.set_num_threads(args.threads)
    model = vizlab.load_model()
    for p in model.parameters():
        p.requires_grad_(False)
    judge = vizlab.load_judge()
    names = args.classes or classes(model)
    if args.random:
        drawn = random.Random(args.random_seed).sample(range(len(model.categories)), args.random)
        names = [model.categories[i] for i in drawn]
    only = set(json.loads(Path(args.only_weak).read_text())) if args.only_weak else None
    log = Path(args.log)
    done = set()
    if log.exists():
        done = {(r["variant"], r["seed"], r["cls"]) for r in map(json.loads, log.read_text().splitlines())}
    for variant in args.variants:
        for seed in args.seeds:
            folder = Path(args.images) / f"{variant}_s{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            for cls in names:
                if (variant, seed, cls) in done or (only is not None and cls not in only):
                    continue
                target = model.class_index(cls)
                settings = preset("object", **{**BASE, **VARIANTS[variant]})
                start, cpu = time.perf_counter(), time.process_time()
                r = class_visualization(model, target, settings, seed=seed, progress=False)
                seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
                start_p = time.process_time()
                row = dict(variant=variant, seed=seed, cls=cls, target=target, lite0_p=r.info["target_probability"],
                           lite0_p_view=view_probability(model, r.image, target, settings.view or settings.size),
                           seconds=seconds, cpu_seconds=cpu_s, threads=torch.get_num_threads(),
                           load=open("/proc/loadavg").read().split()[0], **proxies(judge, r.image, target),
                           **({"retry": r.info["retry"]} if "retry" in r.info else {}))
                row["proxy_cpu_seconds"] = time.process_time() - start_p
                save_image(r.image[0], folder / f"{cls.replace(' ', '_')}.png")
                with log.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{variant} s{seed} {cls}: p {row['lite0_p']:.2f} (view {row['lite0_p_view']:.2f}) "
                      f"Lite2 {row['lite2_rank']} blur {row['lite2_blur_rank']} {cpu_s:.1f} CPU s", flush=True)
    return 0


def _stats(rows: list[dict]) -> str:
    n = len(rows)
    p = [r["lite0_p"] for r in rows]
    view = [r["lite0_p_view"] for r in rows if r["lite0_p_view"] == r["lite0_p_view"]]  # NaN: not measured
    return (f"{n} | {statistics.median(p):.2f} | {sum(x >= 0.5 for x in p)} | "
            f"{statistics.median(view) if view else float('nan'):.2f} | "
            f"{sum(r['lite2_rank'] <= 5 for r in rows)} | {sum(r['lite2_rank'] <= 1 for r in rows)} | "
            f"{sum(r['lite2_blur_rank'] <= 1 for r in rows)} | "
            f"{statistics.median(r['cpu_seconds'] for r in rows):.1f} | {max(r['cpu_seconds'] for r in rows):.1f}")


def derived(rows: list[dict]) -> dict[str, list[dict]]:
    """``restart2`` and ``ensemble_weak`` from the rendered rows (see the module's docstring)."""
    by = {(r["variant"], r["seed"], r["cls"]): r for r in rows}
    out = {"restart2": [], "ensemble_weak": []}
    has_ensemble = any(v == "ensemble" for v, _, _ in by)
    for (variant, seed, cls), r in by.items():
        if variant != "base" or seed != 0:
            continue
        other = by.get(("base", 1, cls))
        if other is not None:
            best = min((r, other), key=lambda x: (x["lite2_rank"], x["lite2_blur_rank"]))
            out["restart2"].append(dict(best, cpu_seconds=r["cpu_seconds"] + other["cpu_seconds"]
                                        + r["proxy_cpu_seconds"] + other["proxy_cpu_seconds"]))
        if not has_ensemble:
            continue  # not measured: the strong classes alone would read as a result
        if r["lite0_p"] >= WEAK:
            out["ensemble_weak"].append(r)
        elif ("ensemble", 0, cls) in by:
            e = by[("ensemble", 0, cls)]
            out["ensemble_weak"].append(dict(e, cpu_seconds=r["cpu_seconds"] + e["cpu_seconds"]))
    return out


def summary(args) -> int:
    unique = {}
    for path in args.summary:
        for line in Path(path).read_text().splitlines():
            r = json.loads(line)
            unique.setdefault((r["variant"], r["seed"], r["cls"]), r)
    rows = list(unique.values())
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(f"{r['variant']}_s{r['seed']}", []).append(r)
    groups.update({k: v for k, v in derived(rows).items() if v})
    ten = set(ISSUE_CLASSES)
    drawn = set(RANDOM20_R9)
    print("| variant | set | n | median Lite0 p | Lite0 p >= 0.5 | median p at the view | Lite2 top-5 | Lite2 top-1 "
          "| Lite2 blurred top-1 | median CPU s | max CPU s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, sub in groups.items():
        for label, part in (("ten", [r for r in sub if r["cls"] in ten]),
                            ("random 20", [r for r in sub if r["cls"] in drawn])):
            if part:
                print(f"| {name} | {label} | {_stats(part)} |")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["base"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--classes", nargs="*", default=None)
    parser.add_argument("--random", type=int, default=0, help="instead: this many classes drawn from all 1000")
    parser.add_argument("--random-seed", type=int, default=RANDOM_SEED_R9, help="the seed of --random's draw")
    parser.add_argument("--only-weak", default=None, help="a JSON list of class names: render only these")
    parser.add_argument("--log", default=None)
    parser.add_argument("--images", default="/tmp/converge")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summary", nargs="+", default=None, help="summarise these logs instead of rendering")
    args = parser.parse_args(argv)
    if args.summary:
        return summary(args)
    if not args.log:
        parser.error("--log is needed to render")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
