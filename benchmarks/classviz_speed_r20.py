"""The default class image, round 19's code against this one, side by side in one process (issue 24 item 3's
"<= 15 s per image on 2 cores"; round 20).

Run:  python benchmarks/classviz_speed_r20.py [--classes zebra kuvasz obelisk ...] [--threads 1 2]
          [--old 3c2bea6] [--out benchmarks/classviz_speed_r20.jsonl] [--images DIR]

``--old`` names the commit whose whole ``vizlab`` package is the old path: it is taken from git (``git archive``)
into a temporary folder as a package of its own (``vizlab_old``), so both paths run in this process on the same
load and thread setting (the old package's data files are the installed ones: it looks them up as ``vizlab``). For
every class and torch thread count the two paths alternate (old first for even classes, new first for odd), each
making the library default (``class_visualization(lite0, name)``: ``object_ensemble3_detail``, its plain-ground
retry included). One JSON line per image is appended to ``--out`` as it finishes:

- ``wall``, ``cpu`` (process time) and ``main`` (the calling thread's CPU time) of each path;
- ``same``: whether the new image equals the old one to the bit, and ``diff``, their max |difference|;
- ``retry``: which run each path kept (``None``: no second run), ``ahead``: whether the new path's second run was
  begun during the first (``_PlainAhead``) and used;
- ``load`` and ``load_end``: the one-minute load average before and after the pair.

Nothing here is asserted; the timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_old(commit: str, package: str = "vizlab_old"):
    """``vizlab`` at ``commit`` as the package ``package`` (its ``optimize.classviz`` module is returned)."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "vizlab"],
                          capture_output=True, check=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="vizlab_old_"))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "vizlab").rename(folder / package)
    sys.path.insert(0, str(folder))
    return importlib.import_module(f"{package}.optimize.classviz")


def run_one(classviz, model, name):
    start_wall, start_cpu, start_main = time.perf_counter(), time.process_time(), time.thread_time()
    result = classviz.class_visualization(model, name, progress=False)
    return result, dict(wall=time.perf_counter() - start_wall, cpu=time.process_time() - start_cpu,
                        main=time.thread_time() - start_main)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", nargs="+", default=["zebra", "kuvasz", "obelisk"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--old", default="3c2bea6", help="commit of the old vizlab package")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "classviz_speed_r20.jsonl"))
    parser.add_argument("--images", default=None, help="folder for the PNGs (old and new, per class and thread)")
    parser.add_argument("--new-only", action="store_true", help="time the new path alone")
    parser.add_argument("--ahead-nice", type=int, default=None,
                        help="the early second run's nice steps below the first (default: the library's AHEAD_NICE)")
    parser.add_argument("--no-ahead", action="store_true", help="the new path without the early second run")
    parser.add_argument("--variants", nargs="+", default=None,
                        help="instead of old/new: paths to alternate, 'old', 'new' (the library's AHEAD_NICE), "
                             "'new:N' (the early second run N nice steps below the first) or 'new:off' (none)")
    args = parser.parse_args(argv)
    if args.variants:
        return variants(args)

    old = None if args.new_only else load_old(args.old)
    from vizlab.models import load_model
    from vizlab.optimize import classviz as new

    ahead_used = []
    original_result = new._PlainAhead.result

    def result(self):   # whether the new path's second run came from the early start
        out = original_result(self)
        ahead_used.append(out is not None)
        return out

    new._PlainAhead.result = result
    if args.ahead_nice is not None:
        new.AHEAD_NICE = args.ahead_nice
    if args.no_ahead:
        new._priority_settable = lambda: False
    model = load_model("efficientnet_lite0", "cpu")
    for path in (old, new):   # load the members and warm the kernels once, outside the timings
        if path is not None:
            path.class_visualization(model, "zebra", steps=2, progress=False, retry_plain=0.0)
    for threads in args.threads:
        torch.set_num_threads(threads)
        for k, name in enumerate(args.classes):
            order = ("new",) if old is None else ("old", "new") if k % 2 == 0 else ("new", "old")
            row = dict(cls=name, threads=threads, load=os.getloadavg()[0], commit_old=args.old,
                       ahead_nice=None if args.no_ahead else new.AHEAD_NICE)
            images = {}
            for which in order:
                ahead_used.clear()
                r, t = run_one(old if which == "old" else new, model, name)
                images[which] = r.image
                row[which] = dict(t, retry=(r.info.get("retry") or {}).get("kept"), p=r.info["target_probability"])
                if which == "new":
                    row["ahead"] = bool(ahead_used and ahead_used[-1])
                if args.images:
                    from vizlab.images import save_image

                    Path(args.images).mkdir(parents=True, exist_ok=True)
                    save_image(r.image[0], Path(args.images) / f"{name}_{which}_t{threads}.png")
            if "old" in images:
                row["same"] = bool(torch.equal(images["new"], images["old"]))
                row["diff"] = float((images["new"] - images["old"]).abs().max())
            row["load_end"] = os.getloadavg()[0]
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            olds = (f"old {row['old']['wall']:5.1f} s ({row['old']['cpu']:5.1f} CPU) " if "old" in row else "")
            print(f"{name:14s} t={threads} {olds}new {row['new']['wall']:5.1f} s ({row['new']['cpu']:5.1f} CPU, main "
                  f"{row['new']['main']:4.1f}) retry {row.get('old', {}).get('retry')}/{row['new']['retry']} ahead "
                  f"{row.get('ahead')} same {row.get('same')} load {row['load']:.1f}-{row['load_end']:.1f}", flush=True)


def variants(args) -> None:
    """``--variants``: each class made by each path in turn (the order rotates by one per class)."""
    old = load_old(args.old) if "old" in args.variants else None
    from vizlab.models import load_model
    from vizlab.optimize import classviz as new

    default_nice, settable = new.AHEAD_NICE, new._priority_settable
    used = []
    original_result = new._PlainAhead.result

    def result(self):
        out = original_result(self)
        used.append(out is not None)
        return out

    new._PlainAhead.result = result
    model = load_model("efficientnet_lite0", "cpu")
    for path in (old, new):
        if path is not None:
            path.class_visualization(model, "zebra", steps=2, progress=False, retry_plain=0.0)
    for threads in args.threads:
        torch.set_num_threads(threads)
        for k, name in enumerate(args.classes):
            shift = k % len(args.variants)
            images = {}
            for which in args.variants[shift:] + args.variants[:shift]:
                new.AHEAD_NICE, new._priority_settable = default_nice, settable
                if which.startswith("new:"):
                    setting = which.split(":", 1)[1]
                    if setting == "off":
                        new._priority_settable = lambda: False
                    else:
                        new.AHEAD_NICE = int(setting)
                used.clear()
                load = os.getloadavg()[0]
                r, t = run_one(old if which == "old" else new, model, name)
                images[which] = r.image
                row = dict(cls=name, threads=threads, variant=which, load=load, load_end=os.getloadavg()[0],
                           retry=(r.info.get("retry") or {}).get("kept"), ahead=bool(used and used[-1]),
                           same_as_first=bool(torch.equal(r.image, next(iter(images.values())))), **t)
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"{name:14s} t={threads} {which:8s} {t['wall']:5.1f} s ({t['cpu']:5.1f} CPU, main {t['main']:4.1f})"
                      f" retry {row['retry']} ahead {row['ahead']} same {row['same_as_first']} load {load:.1f}",
                      flush=True)
    new.AHEAD_NICE, new._priority_settable = default_nice, settable


if __name__ == "__main__":
    main()
