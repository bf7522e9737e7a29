#!/usr/bin/env python3
"""Margins of every asserted optimisation/training outcome, across seeds and thread counts.

Each ``benchmarks/claims_*.py`` module lists the outcomes that a notebook or a test asserts, as
``CLAIMS = [dict(name=..., run=fn, threshold=..., higher_is_better=True, where="notebooks/05... cell 6")]``:
``run(seed)`` recomputes the asserted number with that seed (in the profile the assertion runs in) and returns
it as a float. This script runs every claim for each seed and each ``OMP_NUM_THREADS`` value in a fresh process
(a different reduction order stands in for another CPU), then prints the worst case beside the threshold:

    margin = (worst - threshold) / |threshold|      (for higher_is_better=False: (threshold - worst) / |threshold|)

A claim whose margin is below 10 % is flagged: change the recipe or the claim, do not only loosen it.

    python benchmarks/margins.py                      # every claim, seeds 0-4, threads 1 and 2
    python benchmarks/margins.py -k classviz --seeds 0 1 --threads 1
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
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


def _child(path: str, name: str, seed: int) -> None:
    """Run one claim with one seed in this process and print its value as JSON on the last line."""
    claim = next(c for c in load_claims(Path(path)) if c["name"] == name)
    start = time.perf_counter()
    value = float(claim["run"](seed))
    print(json.dumps({"value": value, "seconds": time.perf_counter() - start}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only claims whose module or name contains this text")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--child", nargs=3, metavar=("MODULE", "CLAIM", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    rows, flagged = [], 0
    for path in claim_modules():
        for claim in load_claims(path):
            if args.k and args.k not in path.stem and args.k not in claim["name"]:
                continue
            higher = claim.get("higher_is_better", True)
            values = []
            for threads in args.threads:
                env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                           OMP_WAIT_POLICY="PASSIVE")
                env.setdefault("VIZLAB_PROFILE", claim.get("profile", "quick"))
                for seed in args.seeds:
                    out = subprocess.run([sys.executable, __file__, "--child", str(path), claim["name"], str(seed)],
                                         env=env, capture_output=True, text=True)
                    if out.returncode != 0:
                        print(out.stderr[-2000:], file=sys.stderr)
                        raise SystemExit(f"{claim['name']} failed for seed {seed}, {threads} thread(s)")
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    values.append(result["value"])
                    print(f"  {claim['name']}: seed {seed}, {threads} thread(s): {result['value']:.4g} "
                          f"({result['seconds']:.1f} s)", flush=True)
            worst = min(values) if higher else max(values)
            t = float(claim["threshold"])
            margin = ((worst - t) if higher else (t - worst)) / (abs(t) or 1.0)
            flagged += margin < FLAG
            rows.append((claim["name"], claim.get("where", path.name), ">" if higher else "<", t, worst, margin))
    print("\n| claim | asserted in | threshold | worst of %d runs | margin |" % (len(args.seeds) * len(args.threads)))
    print("|---|---|---:|---:|---:|")
    for name, where, op, t, worst, margin in rows:
        mark = " **(< 10 %)**" if margin < FLAG else ""
        print(f"| {name} | {where} | {op} {t:.4g} | {worst:.4g} | {margin:+.0%}{mark} |")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
