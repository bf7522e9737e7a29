#!/usr/bin/env python3
"""Do class images made on EfficientNet-Lite0 transfer to EfficientNet-Lite2 (the independent judge)?

For each class and each mode, :func:`vizlab.optimize.class_visualization` makes an image on Lite0 with the mode's
preset; Lite2 (at its 260 px) ranks the class among its 1000 scores. A class image the judge ranks first shows
the class; one only Lite0 recognises is an adversarial pattern. Two class sets: the ten classes of issue 12
and ``--random`` classes drawn from all 1000 with ``--seed`` (not a seed the recipes were tuned on).

Run it niced and single-threaded on a shared machine; each row is printed (and appended to ``--jsonl``) as it
finishes, so a partial run is still a result. Besides wall seconds each row has the process's CPU seconds: with
one thread they are what the image costs one idle core, whatever else the machine runs, and so an upper bound
of its wall time on two idle cores:

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/transfer.py --modes fourier cs231n --random 20 --seed 2027

``--old N`` also times the first N classes with the first version of each mode (Fourier: 150 steps at rate
0.05; pixels: the assignment's defaults for 200 steps), alternating with the new recipe in the same process,
and prints the time ratio new / old (the fair measure on a shared machine).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import torch

ISSUE_CLASSES = ["flamingo", "goldfish", "volcano", "tarantula", "jellyfish", "pizza", "lemon", "monarch",
                 "peacock", "bell pepper"]
#: The first versions, for the time ratio.
OLD = {"fourier": dict(mode="fourier", steps=150, lr=0.05, lr_end=1.0),
       "cs231n": dict(mode="assignment", steps=200)}


def judge_image(judge, image: torch.Tensor, target: int) -> tuple[int, float]:
    """``(rank, probability)`` of ``target`` under the judge at its own input size."""
    with torch.no_grad():
        rank = int(judge.rank(image, target)[0])
        x = torch.nn.functional.interpolate(image.to(judge.device), size=(judge.input_size,) * 2, mode="bilinear",
                                            align_corners=False, antialias=True).clamp(0, 1)
        p = float(judge(x).softmax(dim=1)[0, target])
    return rank, p


def make(model, target: int, mode: str, size: int, seed: int, **changes):
    from vizlab.optimize import class_visualization, preset

    settings = preset(mode, size=size, **changes)
    start, cpu = time.perf_counter(), time.process_time()
    r = class_visualization(model, target, settings, seed=seed, progress=False)
    r.info["cpu_seconds"] = time.process_time() - cpu
    return r, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", default=["fourier", "cs231n"])
    parser.add_argument("--classes", nargs="*", default=None, help="class names (default: the issue's ten)")
    parser.add_argument("--random", type=int, default=0, help="also this many random classes")
    parser.add_argument("--seed", type=int, default=2027, help="seed of the random class draw")
    parser.add_argument("--only-random", action="store_true", help="skip the fixed classes")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--image-seed", type=int, default=0)
    parser.add_argument("--old", type=int, default=0, help="time the first version on this many classes too")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--jsonl", default=None, help="append each row as JSON to this file")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="change preset fields, e.g. --set steps=60 lr=0.2 (for trying a recipe)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    changes = {}
    for item in args.set:
        key, _, value = item.partition("=")
        changes[key] = json.loads(value) if value not in ("True", "False") else value == "True"
    import vizlab

    model = vizlab.load_model()
    judge = vizlab.load_judge()
    for p in model.parameters():
        p.requires_grad_(False)
    sets = []
    if not args.only_random:
        sets.append(("issue 12", [model.class_index(c) for c in (args.classes or ISSUE_CLASSES)]))
    if args.random:
        drawn = random.Random(args.seed).sample(range(len(model.categories)), args.random)
        sets.append((f"{args.random} random (seed {args.seed})", drawn))
    out = open(args.jsonl, "a") if args.jsonl else None
    print(f"threads: {torch.get_num_threads()}, size {args.size}, image seed {args.image_seed}, changes {changes}")
    for title, targets in sets:
        for mode in args.modes:
            rows = []
            print(f"\n### {mode} mode, {title}\n")
            print("| class | Lite0 p | Lite2 rank | Lite2 p | seconds | CPU s |" + (" old rank | old s |" if args.old else ""))
            print("|---|---|---|---|---|---|" + ("---|---|" if args.old else ""))
            for i, target in enumerate(targets):
                old = None
                if i < args.old:  # the first version first, then the new one: the same machine state for both
                    r_old, s_old = make(model, target, OLD[mode].get("mode"), args.size, args.image_seed,
                                        **{k: v for k, v in OLD[mode].items() if k != "mode"})
                    old = (judge_image(judge, r_old.image, target)[0], s_old)
                r, seconds = make(model, target, mode, args.size, args.image_seed, **changes)
                rank, p = judge_image(judge, r.image, target)
                row = dict(set=title, mode=mode, cls=model.categories[target], target=target,
                           p0=r.info["target_probability"], rank=rank, p=p, seconds=seconds,
                           cpu_seconds=r.info["cpu_seconds"],
                           old_rank=old[0] if old else None, old_seconds=old[1] if old else None,
                           threads=torch.get_num_threads())
                rows.append(row)
                if out:
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                extra = f" {old[0]} | {old[1]:.1f} |" if old else (" | |" if args.old else "")
                print(f"| {row['cls']} | {row['p0']:.3f} | {rank} | {p:.3f} | {seconds:.1f} | {row['cpu_seconds']:.1f} |" + extra, flush=True)
            top1 = sum(r["rank"] == 1 for r in rows)
            top5 = sum(r["rank"] <= 5 for r in rows)
            print(f"\n**{mode}, {title}: Lite2 top-1 {top1}/{len(rows)}, top-5 {top5}/{len(rows)}, "
                  f"median {statistics.median(r['seconds'] for r in rows):.1f} s per image "
                  f"({statistics.median(r['cpu_seconds'] for r in rows):.1f} CPU s)**")
            timed = [r for r in rows if r["old_seconds"]]
            if timed:
                ratio = sum(r["seconds"] for r in timed) / sum(r["old_seconds"] for r in timed)
                print(f"time new / old over {len(timed)} classes: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
