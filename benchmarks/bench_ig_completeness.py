"""Completeness of Integrated Gradients per package photo: ``|sum(attributions) - (S(x) - S(0))| / |S(x) - S(0)|``.

    python benchmarks/bench_ig_completeness.py [--rules adaptive gauss-legendre] [--steps 64] [--size 224]

Embedded EfficientNet-Lite0, each photo's top-1 class, black baseline (vizlab's default). Prints one row per
photo: the gap, the gradient points used and the CPU seconds of the process (all threads) per rule; then the
median and worst gap per rule. ``adaptive`` is vizlab's default (``--steps`` does not apply to it: it starts at
32 points and refines to a 2 % tolerance within 512); issue 26 asks for <= 5 % at the defaults.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import vizlab
from vizlab.attribution import integrated_gradients


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, nargs="+", default=[64])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--rules", nargs="+", default=["adaptive", "gauss-legendre"])
    ap.add_argument("--photos", nargs="+", default=None)
    args = ap.parse_args()
    model = vizlab.load_model()
    photos = args.photos or vizlab.sample_names()
    configs = [(r, None) if r == "adaptive" else (r, s) for r in args.rules
               for s in ([None] if r == "adaptive" else args.steps)]
    gaps: dict = {c: [] for c in configs}
    cpu: dict = {c: 0.0 for c in configs}
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'photo':18s} {'class':22s} {'S(x)-S(0)':>10s} " +
          " ".join(f"{r[:5]}@{s or 'def'}: gap/points/cpu s" for r, s in configs))
    for photo in photos:
        x = model.to_input(photo, args.size)
        with torch.no_grad():
            c = int(model(x).argmax())
        row, change = [], None
        for rule, steps in configs:
            kw = {} if steps is None else {"steps": steps}
            t0 = time.process_time()
            _, info = integrated_gradients(model, x, c, rule=rule, return_info=True, **kw)
            spent = time.process_time() - t0
            change = float(info["score_change"][0])
            gap = float(info["gap"][0])
            gaps[(rule, steps)].append(gap)
            cpu[(rule, steps)] += spent
            row.append(f"{100 * gap:6.2f} % {int(info['steps'][0]):4d} {spent:6.1f}")
        print(f"{photo:18s} {model.categories[c][:22]:22s} {change:10.3f} " + "   ".join(row), flush=True)
    for (rule, steps), g in gaps.items():
        print(f"{rule} {steps or 'default'}: median {100 * statistics.median(g):.2f} %, worst {100 * max(g):.2f} %, "
              f"CPU {cpu[(rule, steps)]:.0f} s for {len(g)} photos")


if __name__ == "__main__":
    main()
