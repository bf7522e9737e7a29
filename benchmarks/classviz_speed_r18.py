"""The default class image, old code path against new, side by side in one process (issue 24 item 3's time budget).

Run:  python benchmarks/classviz_speed_r18.py [--classes zebra obelisk convertible] [--threads 1 2]
          [--old f4fac11] [--out benchmarks/classviz_speed_r18.jsonl]

``--old`` names the commit whose ``vizlab/optimize/classviz.py`` is the old path (round 17's code: the ghost network
computes every residual branch and multiplies the skipped ones by zero; the ensemble's members run one after
another); it is loaded from git into this process beside the current one, so both run on the same models, load and
thread setting. For every class and torch thread count the two paths alternate (old first for even classes, new
first for odd), each making the library default (``class_visualization(lite0, name)``: ``object_ensemble3``, its
plain-ground retry included). One JSON line per image is appended to ``--out`` as it finishes:

- ``wall``, ``cpu`` (process time) of each path and their ratios old / new;
- ``diff``: max |new - old| over the shown image's pixel values (0-1), and ``p_diff``: the largest difference in
  each member's (Lite0, Lite1, Lite2) probability of the class at the 128-px view;
- ``estimate_idle2``: the new path's wall on two idle cores estimated from its CPU times: the main thread's CPU
  time (the work between the members' passes) plus, for each batch of member passes, the shortest time two cores
  need for them (the longest pass, or half their sum if that is more). The machine these rounds run on is shared,
  so the measured wall of the threads says how much CPU the other processes left, not what two free cores do.

Nothing here is asserted; the timings depend on the machine and its load (``uptime`` is recorded).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_old(commit: str):
    """``vizlab/optimize/classviz.py`` at ``commit`` as a module of its own (its relative imports resolve in the
    current package)."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:vizlab/optimize/classviz.py"],
                         capture_output=True, text=True, check=True).stdout
    import vizlab.optimize  # noqa: F401  (the package the old module's relative imports need)

    mod = types.ModuleType("vizlab.optimize._classviz_old")
    mod.__package__ = "vizlab.optimize"
    sys.modules[mod.__name__] = mod
    exec(compile(src, f"classviz.py@{commit}", "exec"), mod.__dict__)
    return mod


class PassTimer:
    """Records the thread CPU time of every member pass the new path's workers run (``Ensemble._map``)."""

    def __init__(self, classviz):
        self.classviz, self.batches = classviz, []

    def __enter__(self):
        ens = self.classviz.Ensemble
        self._orig = ens._map
        timer = self

        def timed_map(this, fn, items):
            def one(item):
                start = time.thread_time()
                out = fn(item)
                return out, time.thread_time() - start

            pairs = timer._orig(this, one, items)
            timer.batches.append([t for _, t in pairs])
            return [out for out, _ in pairs]

        ens._map = timed_map
        return self

    def __exit__(self, *exc):
        self.classviz.Ensemble._map = self._orig
        return False

    def estimate(self, main_cpu: float, cores: int = 2) -> float:
        """Wall on ``cores`` idle cores: the main thread's CPU plus each batch's shortest schedule."""
        return main_cpu + sum(max(max(b), sum(b) / cores) for b in self.batches if b)


def view_ps(classviz, image, index):
    """Each member's p of the class at the 128-px view (how the retry judges)."""
    names = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
    return [classviz.view_probability(classviz.ensemble_member(n, "cpu"), image, index, 128) for n in names]


def run_one(classviz, model, name, timer=None):
    start_wall, start_cpu, start_main = time.perf_counter(), time.process_time(), time.thread_time()
    result = classviz.class_visualization(model, name, progress=False)
    wall, cpu, main = (time.perf_counter() - start_wall, time.process_time() - start_cpu,
                       time.thread_time() - start_main)
    return result, wall, cpu, main


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", nargs="+", default=["zebra", "obelisk", "convertible", "tripod", "vase"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--old", default="f4fac11", help="commit of the old classviz.py")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "classviz_speed_r18.jsonl"))
    parser.add_argument("--images", default=None, help="folder for the PNGs (old and new, per class and thread)")
    parser.add_argument("--no-old-at", nargs="*", type=int, default=[],
                        help="thread counts at which only the new path runs (compared with the old at 1 thread)")
    args = parser.parse_args(argv)

    old = load_old(args.old)
    from vizlab.models import load_model
    from vizlab.optimize import classviz as new

    model = load_model("efficientnet_lite0", "cpu")
    for path in (old, new):   # load the members and warm the kernels once, outside the timings
        path.class_visualization(model, "zebra", steps=2, progress=False, retry_plain=0.0)
    old_at_1 = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for k, name in enumerate(args.classes):
            index = model.class_index(name)
            order = ("old", "new") if k % 2 == 0 else ("new", "old")
            if threads in args.no_old_at:
                order = ("new",)
            row = dict(cls=name, threads=threads, load=os.getloadavg()[0], commit_old=args.old)
            images = {}
            for which in order:
                if which == "old":
                    r, wall, cpu, _ = run_one(old, model, name)
                else:
                    with PassTimer(new) as timer:
                        r, wall, cpu, main_cpu = run_one(new, model, name, timer)
                    row["estimate_idle2"] = timer.estimate(main_cpu)
                    row["main_cpu_new"] = main_cpu
                    row["member_cpu_new"] = sum(map(sum, timer.batches))
                images[which] = r.image
                if args.images:
                    from vizlab.images import save_image

                    Path(args.images).mkdir(parents=True, exist_ok=True)
                    save_image(r.image[0], Path(args.images) / f"{name}_{which}_t{threads}.png")
                row[f"wall_{which}"], row[f"cpu_{which}"] = wall, cpu
                row[f"retry_{which}"] = (r.info.get("retry") or {}).get("kept")
                row[f"p_{which}"] = view_ps(new, r.image, index)
            if threads == 1 and "old" in images:
                old_at_1[name] = (images["old"], row["p_old"])
            if name in old_at_1:   # the new path at any thread count against the old one at one thread
                ref, p_ref = old_at_1[name]
                row["diff_vs_old1"] = float((images["new"] - ref).abs().max())
                row["p_diff_vs_old1"] = max(abs(a - b) for a, b in zip(row["p_new"], p_ref))
            if "old" not in images:
                row.update(wall_old=float("nan"), cpu_old=float("nan"), retry_old=None, diff=float("nan"),
                           p_diff=float("nan"))
                images["old"] = images["new"]
            row["wall_ratio"] = row["wall_old"] / row["wall_new"]
            row["cpu_ratio"] = row["cpu_old"] / row["cpu_new"]
            if "diff" not in row:
                row["diff"] = float((images["new"] - images["old"]).abs().max())
                row["p_diff"] = max(abs(a - b) for a, b in zip(row["p_new"], row["p_old"]))
            row["load_end"] = os.getloadavg()[0]
            row["threads_alive"] = threading.active_count()
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{name:12s} t={threads} old {row['wall_old']:5.1f} s ({row['cpu_old']:5.1f} CPU) new "
                  f"{row['wall_new']:5.1f} s ({row['cpu_new']:5.1f} CPU) ratio wall {row['wall_ratio']:.2f} CPU "
                  f"{row['cpu_ratio']:.2f}; idle-2-core estimate {row['estimate_idle2']:5.1f} s; retry "
                  f"{row['retry_old']}/{row['retry_new']}; max|diff| {row['diff']:.2g}, p diff {row['p_diff']:.2g}; "
                  f"vs old at 1 thread {row.get('diff_vs_old1', float('nan')):.2g}, "
                  f"{row.get('p_diff_vs_old1', float('nan')):.2g}; load {row['load']:.1f}", flush=True)


if __name__ == "__main__":
    main()
