#!/usr/bin/env python3
"""Margins of every asserted optimisation/training outcome, across seeds and thread counts.

Each ``benchmarks/claims_*.py`` module lists the outcomes that a notebook or a test asserts, as
``CLAIMS = [dict(name=..., run=fn, threshold=..., higher_is_better=True, where="notebooks/05... cell 6")]``:
``run(seed)`` recomputes the asserted number with that seed (in the profile the assertion runs in) and returns
it as a float. This script runs every claim for each seed and each ``OMP_NUM_THREADS`` value, each thread count
in a fresh process (a different reduction order stands in for another CPU; the seeds of one thread count share
that process, so ``run`` must seed whatever it draws), then prints the worst case beside the threshold:

    margin = (worst - threshold) / |threshold|      (for higher_is_better=False: (threshold - worst) / |threshold|)

A claim whose margin is below 10 % is flagged: change the recipe or the claim, do not only loosen it. A run
that raises counts as a failed claim (the table says "error") and the others still run. The table also names
the seed and thread count of the worst case and the median of all runs; the exit status is 1 if any claim is
flagged.

    python benchmarks/margins.py                      # every claim, seeds 0-4, threads 1 and 2
    python benchmarks/margins.py -k classviz --seeds 0 1 --threads 1
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLAG = 0.10


def claim_modules() -> list[Path]:
    return sorted(HERE.glob("claims_*.py"))


def load_claims(path: Path) -> list[dict]:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    claims = list(module.CLAIMS)
    for claim in claims:
        missing = {"name", "run", "threshold"} - set(claim)
        if missing:
            raise ValueError(f"{path.name}: claim {claim.get('name')!r} lacks {sorted(missing)}")
    return claims


def _child(path: str, name: str, seeds: list[int]) -> None:
    """Run one claim for each seed in this process; print one JSON line per seed (an error ends the line's
    value as null and the process carries on with the next seed)."""
    import traceback

    claim = next(c for c in load_claims(Path(path)) if c["name"] == name)
    for seed in seeds:
        start = time.perf_counter()
        try:
            value = float(claim["run"](seed))
        except Exception:
            traceback.print_exc()
            value = None
        print(json.dumps({"seed": seed, "value": value, "seconds": time.perf_counter() - start}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only claims whose module or name contains this text")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument("--child", nargs="+", metavar="MODULE CLAIM SEED", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], [int(s) for s in args.child[2:]])
        return 0
    rows, flagged = [], 0
    for path in claim_modules():
        for claim in load_claims(path):
            if args.k and args.k not in path.stem and args.k not in claim["name"]:
                continue
            higher = claim.get("higher_is_better", True)
            if args.list:
                print(f"{path.stem}: {claim['name']} ({'>' if higher else '<'} {claim['threshold']:.4g}, "
                      f"{claim.get('where', '')})")
                continue
            values, errors = [], []
            for threads in args.threads:
                env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                           OMP_WAIT_POLICY="PASSIVE")
                env.setdefault("VIZLAB_PROFILE", claim.get("profile", "quick"))
                cmd = [sys.executable, __file__, "--child", str(path), claim["name"], *map(str, args.seeds)]
                log = tempfile.TemporaryFile("w+")  # not a pipe: a chatty child must not block on a full one
                child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
                done = set()
                for line in child.stdout:
                    if not line.startswith("{"):
                        continue
                    result = json.loads(line)
                    seed, value = result["seed"], result["value"]
                    done.add(seed)
                    if value is None or value != value:  # raised, or NaN
                        errors.append((seed, threads))
                        print(f"  {claim['name']}: seed {seed}, {threads} thread(s): ERROR", flush=True)
                        continue
                    values.append((value, seed, threads))
                    print(f"  {claim['name']}: seed {seed}, {threads} thread(s): {value:.4g} "
                          f"({result['seconds']:.1f} s)", flush=True)
                child.wait()
                log.seek(0)
                stderr = log.read()
                log.close()
                missing = [seed for seed in args.seeds if seed not in done]
                if errors or missing or child.returncode != 0:
                    print(stderr[-3000:], file=sys.stderr)
                    print(f"  {claim['name']}, {threads} thread(s): the child exited with status {child.returncode}"
                          f"{'; no result for seeds ' + str(missing) if missing else ''}", flush=True)
                errors.extend((seed, threads) for seed in missing)
            t = float(claim["threshold"])
            op = ">" if higher else "<"
            if errors or not values:
                flagged += 1
                rows.append((claim["name"], claim.get("where", path.name), op, t, "error", "", "",
                             f"{len(errors)} run(s) raised"))
                continue
            worst, seed, threads = (min if higher else max)(values)
            median = statistics.median(v for v, _, _ in values)
            margin = ((worst - t) if higher else (t - worst)) / (abs(t) or 1.0)
            flagged += margin < FLAG
            mark = " **(< 10 %)**" if margin < FLAG else ""
            rows.append((claim["name"], claim.get("where", path.name), op, t, f"{worst:.4g}",
                         f"seed {seed}, {threads} thr.", f"{median:.4g}", f"{margin:+.0%}{mark}"))
    if args.list:
        return 0
    print("\n| claim | asserted in | threshold | worst of %d runs | worst at | median | margin |"
          % (len(args.seeds) * len(args.threads)))
    print("|---|---|---:|---:|---|---:|---:|")
    for name, where, op, t, worst, at, median, margin in rows:
        print(f"| {name} | {where} | {op} {t:.4g} | {worst} | {at} | {median} | {margin} |")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
