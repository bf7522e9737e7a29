#!/usr/bin/env python3
"""Margins of every asserted optimisation/training outcome, across seeds, thread counts and instruction sets.

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

Another CPU, cheaply (issue 29): torch picks its kernels by the instruction set it finds, so a claim can hold on
one CPU and fail on the next (E5's deletion order flipped between AVX2 and the default kernels). Every run is
repeated for each ``--isa`` (``ATEN_CPU_CAPABILITY``: ``default``, ``avx2``, and ``avx512`` where this CPU has it),
so the table's worst case covers seeds x threads x instruction sets.

Notebook claims need no list: ``--notebooks`` executes each notebook (quick profile) with ``VIZLAB_CLAIMS_LOG``
set, once per thread count and instruction set, and reads back every ``vizlab.claims.claim`` it made (in that mode
``claim`` records instead of raising, so one failing claim does not hide the rest). A notebook fixes its own seeds,
so these rows vary threads and instruction sets; the ``claims_*.py`` registry varies the seeds of the outcomes that
have one.

    python benchmarks/margins.py                      # every registered claim, seeds 0-4, threads 1 and 2, all ISAs
    python benchmarks/margins.py -k classviz --seeds 0 1 --threads 1 --isa default
    python benchmarks/margins.py --notebooks          # every claim of every notebook, threads 1 and 2, all ISAs
    python benchmarks/margins.py --notebooks notebooks/exercises/E5_trust.ipynb --isa default avx2
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
ROOT = HERE.parent
FLAG = 0.10


def available_isas() -> list[str]:
    """The ``ATEN_CPU_CAPABILITY`` values this CPU can run: ``default`` always; on x86 ``avx2`` and ``avx512``
    where /proc/cpuinfo lists them (elsewhere torch has one kernel family, named ``native`` here)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    isas = ["default"]
    if " avx2" in flags:
        isas.append("avx2")
    if " avx512f" in flags and " avx512bw" in flags and " avx512vl" in flags and " avx512dq" in flags:
        isas.append("avx512")
    return isas if len(isas) > 1 else ["native"]


def _env(threads: int, isa: str, profile: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
    env.pop("ATEN_CPU_CAPABILITY", None)
    if isa != "native":
        env["ATEN_CPU_CAPABILITY"] = isa
    env.setdefault("VIZLAB_PROFILE", profile)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _margin(worst: float, threshold: float, higher: bool) -> float:
    return ((worst - threshold) if higher else (threshold - worst)) / (abs(threshold) or 1.0)


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


def run_notebook(path: Path, threads: int, isa: str, timeout: int) -> tuple[list[dict], str]:
    """Execute one notebook in a fresh kernel with claims recorded; return the records and any error text."""
    from vizlab.claims import LOG_ENV

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "claims.jsonl"
        env = _env(threads, isa, "quick")
        env[LOG_ENV] = str(log)
        code = ("import sys, nbformat; from nbclient import NotebookClient; "
                "nb = nbformat.read(sys.argv[1], as_version=4); "
                f"NotebookClient(nb, timeout={timeout}, allow_errors=True, kernel_name='python3', "
                "resources={'metadata': {'path': sys.argv[2]}}).execute(); "
                "errors = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []) "
                "if o.get('output_type') == 'error']; "
                "print('ERRORS', len(errors), '|'.join(e['ename'] + ': ' + e['evalue'][:200] for e in errors))")
        out = subprocess.run([sys.executable, "-c", code, str(path), str(path.parent)], env=env, text=True,
                             capture_output=True)
        records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        summary = [line for line in out.stdout.splitlines() if line.startswith("ERRORS ")]
        if out.returncode == 0 and summary and summary[-1].startswith("ERRORS 0 "):
            return records, ""
        return records, summary[-1] if summary else (out.stderr.strip().splitlines() or ["failed"])[-1]


def notebook_margins(paths: list[Path], threads_list: list[int], isas: list[str], k: str, timeout: int) -> int:
    rows, flagged = [], 0
    for path in paths:
        if k and k not in str(path):
            continue
        if "claim(" not in path.read_text(encoding="utf-8"):
            continue
        where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        values: dict[str, list] = {}
        meta: dict[str, tuple[str, float]] = {}
        for threads in threads_list:
            for isa in isas:
                start = time.perf_counter()
                records, error = run_notebook(path, threads, isa, timeout)
                print(f"  {where}: {threads} thread(s), {isa}: {len(records)} claims in "
                      f"{time.perf_counter() - start:.0f} s{'; ' + error if error else ''}", flush=True)
                for r in records:
                    values.setdefault(r["name"], []).append((r["value"], threads, isa))
                    meta[r["name"]] = (r["op"], r["threshold"])
        runs = len(threads_list) * len(isas)
        for name, vals in values.items():
            op, t = meta[name]
            higher = op.startswith(">")
            worst, threads, isa = (min if higher else max)(vals, key=lambda v: v[0])
            median = statistics.median(v for v, _, _ in vals)
            margin = _margin(worst, t, higher)
            bad = margin < FLAG or len(vals) < runs
            flagged += bad
            mark = " **(< 10 %)**" if margin < FLAG else ""
            missing = f" ({runs - len(vals)} run(s) without it)" if len(vals) < runs else ""
            rows.append((name, where, op, t, f"{worst:.4g}", f"{threads} thr., {isa}", f"{median:.4g}",
                         f"{margin:+.0%}{mark}{missing}"))
    print(f"\n| claim | notebook | threshold | worst of {len(threads_list) * len(isas)} runs | worst at | median "
          "| margin |")
    print("|---|---|---:|---:|---|---:|---:|")
    for name, where, op, t, worst, at, median, margin in rows:
        print(f"| {_cell(name)} | {where} | {op} {t:.4g} | {worst} | {at} | {median} | {margin} |")
    return 1 if flagged else 0


def _cell(text: str) -> str:
    """A claim's name as a markdown table cell (names such as 'max |a - b|' carry bars)."""
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only claims whose module or name contains this text")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--isa", nargs="+", default=None,
                        help="ATEN_CPU_CAPABILITY values (default: every one this CPU has: "
                             + ", ".join(available_isas()) + ")")
    parser.add_argument("--notebooks", nargs="*", default=None, metavar="NOTEBOOK",
                        help="measure the claims of these notebooks (none named: every notebook in notebooks/)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per notebook cell (--notebooks)")
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument("--child", nargs="+", metavar="MODULE CLAIM SEED", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], [int(s) for s in args.child[2:]])
        return 0
    isas = args.isa or available_isas()
    unknown = set(isas) - {"default", "avx2", "avx512", "native"}
    if unknown:
        parser.error(f"--isa takes default, avx2, avx512 or native, got {sorted(unknown)}")
    if args.notebooks is not None:
        paths = ([Path(p).resolve() for p in args.notebooks] if args.notebooks else
                 sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb")))
        return notebook_margins(paths, args.threads, isas, args.k, args.timeout)
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
                for isa in isas:
                    env = _env(threads, isa, claim.get("profile", "quick"))
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
                            errors.append((seed, threads, isa))
                            print(f"  {claim['name']}: seed {seed}, {threads} thread(s), {isa}: ERROR", flush=True)
                            continue
                        values.append((value, seed, threads, isa))
                        print(f"  {claim['name']}: seed {seed}, {threads} thread(s), {isa}: {value:.4g} "
                              f"({result['seconds']:.1f} s)", flush=True)
                    child.wait()
                    log.seek(0)
                    stderr = log.read()
                    log.close()
                    missing = [seed for seed in args.seeds if seed not in done]
                    if errors or missing or child.returncode != 0:
                        print(stderr[-3000:], file=sys.stderr)
                        print(f"  {claim['name']}, {threads} thread(s), {isa}: the child exited with status "
                              f"{child.returncode}{'; no result for seeds ' + str(missing) if missing else ''}",
                              flush=True)
                    errors.extend((seed, threads, isa) for seed in missing)
            t = float(claim["threshold"])
            op = ">" if higher else "<"
            if errors or not values:
                flagged += 1
                rows.append((claim["name"], claim.get("where", path.name), op, t, "error", "", "",
                             f"{len(errors)} run(s) raised"))
                continue
            worst, seed, threads, isa = (min if higher else max)(values, key=lambda v: v[0])
            median = statistics.median(v[0] for v in values)
            margin = _margin(worst, t, higher)
            flagged += margin < FLAG
            mark = " **(< 10 %)**" if margin < FLAG else ""
            rows.append((claim["name"], claim.get("where", path.name), op, t, f"{worst:.4g}",
                         f"seed {seed}, {threads} thr., {isa}", f"{median:.4g}", f"{margin:+.0%}{mark}"))
    if args.list:
        return 0
    print("\n| claim | asserted in | threshold | worst of %d runs | worst at | median | margin |"
          % (len(args.seeds) * len(args.threads) * len(isas)))
    print("|---|---|---:|---:|---|---:|---:|")
    for name, where, op, t, worst, at, median, margin in rows:
        print(f"| {_cell(name)} | {where} | {op} {t:.4g} | {worst} | {at} | {median} | {margin} |")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
