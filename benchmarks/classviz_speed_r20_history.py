"""Did round 19's code make round 18's default class image slower? Round 18's, round 19's and this round's
``vizlab`` in one process (``classviz_speed_r20.load_old``), each making ``class_visualization(lite0, name,
mode="object_ensemble3")`` (round 18's default: no detail stage), in turn, at one torch thread (CPU seconds) and at
two (CPU seconds, and the calling thread's CPU seconds: the work between the members' passes).

Run:  python benchmarks/classviz_speed_r20_history.py [--classes zebra] [--repeats 2] [--threads 1 2]
          [--commits 043e8c7 3c2bea6] [--out benchmarks/classviz_speed_r20_history.jsonl]

Nothing is asserted; one JSON line per image.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from classviz_speed_r20 import load_old  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", nargs="+", default=["zebra"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--commits", nargs="+", default=["043e8c7", "3c2bea6"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "classviz_speed_r20_history.jsonl"))
    args = parser.parse_args(argv)
    from vizlab.models import load_model
    from vizlab.optimize import classviz as new

    paths = {c: load_old(c, f"vizlab_{c}") for c in args.commits}
    paths["r20"] = new
    model = load_model("efficientnet_lite0", "cpu")
    for cv in paths.values():
        cv.class_visualization(model, "zebra", steps=2, progress=False, retry_plain=0.0, mode="object_ensemble3")
    images = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name in args.classes:
            for rep in range(args.repeats):
                order = list(paths) if rep % 2 == 0 else list(paths)[::-1]
                for which in order:
                    load = os.getloadavg()[0]
                    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
                    r = paths[which].class_visualization(model, name, progress=False, mode="object_ensemble3")
                    row = dict(cls=name, threads=threads, code=which, rep=rep, wall=time.perf_counter() - t0,
                               cpu=time.process_time() - c0, main=time.thread_time() - m0, load=load,
                               load_end=os.getloadavg()[0], retry=(r.info.get("retry") or {}).get("kept"))
                    ref = images.setdefault((name, rep), r.image)
                    row["same_as_first"] = bool(torch.equal(ref, r.image))
                    with open(args.out, "a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}),
                          flush=True)


if __name__ == "__main__":
    main()
