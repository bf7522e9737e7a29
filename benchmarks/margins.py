#!/usr/bin/env python3
"""Margins of every asserted optimisation/training outcome, across seeds, thread counts and instruction sets.

Each ``benchmarks/claims_*.py`` module lists the outcomes that a notebook or a test asserts, as
``CLAIMS = [dict(name=..., run=fn, threshold=..., higher_is_better=True, where="notebooks/05... cell 6")]`` (an
``op`` of ``">="`` or ``"<="`` where the notebook asserts an inclusive bound):
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
    python benchmarks/margins.py -k claims_lab --record benchmarks/margins_runs.jsonl   # every run, one JSON line
    python benchmarks/margins.py --table benchmarks/margins_runs.jsonl                  # the table from records
    python benchmarks/margins.py --coverage            # registered claims lacking a threads x ISA setting there

Machine-readable results: ``--record PATH`` appends one JSON line per run (claim, where, operator, threshold,
seed, threads, instruction set, value, CPU and wall seconds) as it goes, so a long matrix can be run in pieces and
an interrupted one keeps what it measured; ``--table`` prints the worst-case table from such records (and, per
claim, how far the value moved between instruction sets at the same seed and thread count) without running.

Cost: the claims of one ``claims_*.py`` module run in one process per thread count and instruction set (a
process start with torch costs seconds, which dominated the matrix of the cheap claims). A claim whose first
seed costs more than ``--costly`` CPU seconds (default 20) runs only the first three of ``--seeds`` in that
process; the table says so.
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
        claim_op(claim, path.name)
    return claims


def claim_op(claim: dict, source: str = "") -> str:
    """The comparison a registered claim asserts: its ``op`` (one of ``>``, ``>=``, ``<``, ``<=``, as the notebook's
    ``claim(...)`` states it) or, without one, ``>`` for ``higher_is_better`` (the default) and ``<`` otherwise."""
    higher = claim.get("higher_is_better", True)
    op = claim.get("op", ">" if higher else "<")
    if op not in (">", ">=", "<", "<=") or op.startswith(">") != higher:
        raise ValueError(f"{source}: claim {claim.get('name')!r} has op {op!r} and higher_is_better={higher}: "
                         f"op must be '>' or '>=' when higher is better, '<' or '<=' otherwise")
    return op


def _child(path: str, names: list[str], seeds: list[int], costly: float) -> None:
    """Run the named claims of one module for each seed in this process; print one JSON line per run (an error
    makes the value null and the process carries on). A claim whose first seed took more than ``costly`` CPU
    seconds runs only the first three seeds (one line says so)."""
    import traceback

    claims = {c["name"]: c for c in load_claims(Path(path))}
    for name in names:
        todo = list(seeds)
        i = 0
        while i < len(todo):
            seed = todo[i]
            start, cpu = time.perf_counter(), time.process_time()
            try:
                value = float(claims[name]["run"](seed))
            except Exception:
                traceback.print_exc()
                value = None
            cpu = time.process_time() - cpu
            print(json.dumps({"name": name, "seed": seed, "value": value, "seconds": time.perf_counter() - start,
                              "cpu_seconds": cpu}), flush=True)
            if i == 0 and cpu > costly and len(todo) > 3:
                todo = todo[:3]
                print(json.dumps({"name": name, "costly": cpu, "seeds": todo}), flush=True)
            i += 1


def _record(path: str | None, row: dict) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


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


def notebook_margins(paths: list[Path], threads_list: list[int], isas: list[str], k: str, timeout: int,
                     record: str | None) -> list[dict]:
    """Execute each notebook once per thread count and instruction set; return one record per claim and run."""
    rows = []
    for path in paths:
        if k and k not in str(path):
            continue
        if "claim(" not in path.read_text(encoding="utf-8"):
            continue
        where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        for threads in threads_list:
            for isa in isas:
                start = time.perf_counter()
                records, error = run_notebook(path, threads, isa, timeout)
                seconds = time.perf_counter() - start
                print(f"  {where}: {threads} thread(s), {isa}: {len(records)} claims in {seconds:.0f} s"
                      f"{'; ' + error if error else ''}", flush=True)
                base = dict(kind="notebook", module=where, where=where, seed=None, threads=threads, isa=isa,
                            notebook_seconds=round(seconds, 1), notebook_error=error or None,
                            when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                for r in records:
                    row = dict(base, claim=r["name"], op=r["op"], threshold=r["threshold"], value=r["value"])
                    rows.append(row)
                    _record(record, row)
                if not records:
                    row = dict(base, claim=f"(every claim of {where})", op=">", threshold=0.0, value=None)
                    rows.append(row)
                    _record(record, row)
    return rows


def _setting(r: dict) -> str:
    return (f"seed {r['seed']}, " if r.get("seed") is not None else "") + f"{r['threads']} thr., {r['isa']}"


def table(rows: list[dict]) -> tuple[str, int]:
    """The worst case of every claim in ``rows`` (records of runs) as a markdown table; return it and the number
    of claims flagged (margin under 10 %, or a run without a value).

    "moved across ISAs": for each seed and thread count measured on several instruction sets, the range of the
    values over those sets relative to their mean magnitude; the largest such range and where it was."""
    claims: dict[tuple, list[dict]] = {}
    for r in rows:
        claims.setdefault((r["kind"], r["where"], r["claim"]), []).append(r)
    lines = ["| claim | asserted in | threshold | runs | worst | worst at | median | margin | moved across ISAs |",
             "|---|---|---:|---|---:|---|---:|---:|---|"]
    flagged = 0
    for (kind, where, name), runs in claims.items():
        op, t = runs[-1]["op"], float(runs[-1]["threshold"])
        higher = op.startswith(">")
        good = [r for r in runs if r["value"] is not None and r["value"] == r["value"]]
        seeds = sorted({r["seed"] for r in runs if r.get("seed") is not None})
        threads = sorted({r["threads"] for r in runs})
        isas = sorted({r["isa"] for r in runs}, key=lambda i: ["default", "avx2", "avx512", "native"].index(i))
        shape = (f"{len(runs)} = " + (f"seeds {_span(seeds)} x " if seeds else "")
                 + f"thr. {'/'.join(map(str, threads))} x {'/'.join(isas)}")
        bad = len(good) < len(runs)
        if not good:
            flagged += 1
            lines.append(f"| {_cell(name)} | {where} | {op} {t:.4g} | {shape} | error | | | "
                         f"{len(runs)} run(s) without a value | |")
            continue
        worst = (min if higher else max)(good, key=lambda r: r["value"])
        median = statistics.median(r["value"] for r in good)
        margin = _margin(worst["value"], t, higher)
        flagged += bad or margin < FLAG
        mark = " **(< 10 %)**" if margin < FLAG else ""
        missing = f"; {len(runs) - len(good)} run(s) without a value" if bad else ""
        lines.append(f"| {_cell(name)} | {where} | {op} {t:.4g} | {shape} | {worst['value']:.4g} | "
                     f"{_setting(worst)} | {median:.4g} | {margin:+.0%}{mark}{missing} | {_moved(good)} |")
    return "\n".join(lines), flagged


def _span(seeds: list[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 else \
        " ".join(map(str, seeds))


def _moved(good: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in good:
        groups.setdefault((r.get("seed"), r["threads"]), []).append(r)
    best = None
    for rs in groups.values():
        if len({r["isa"] for r in rs}) < 2:
            continue
        values = [r["value"] for r in rs]
        spread = max(values) - min(values)
        scale = statistics.mean(abs(v) for v in values) or 1.0
        if best is None or spread / scale > best[0]:
            best = (spread / scale, rs)
    if best is None:
        return "n/a (one ISA)"
    if best[0] == 0:
        return "none (bit for bit)"
    rs = best[1]
    lo, hi = min(rs, key=lambda r: r["value"]), max(rs, key=lambda r: r["value"])
    share = f"{best[0]:.1%}" if best[0] >= 0.001 else "< 0.1%"
    return (f"{share} ({lo['isa']} {lo['value']:.4g} vs {hi['isa']} {hi['value']:.4g}; "
            + (f"seed {lo['seed']}, " if lo.get("seed") is not None else "") + f"{lo['threads']} thr.)")


def load_records(paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def rejudge(rows: list[dict], registered: dict[str, dict]) -> tuple[list[dict], list[str]]:
    """Judge registry records by today's claims: a record of a registered claim whose threshold or direction has
    changed since it was run gets the registered ones (its value does not depend on them; the old threshold stays
    as ``recorded_threshold``). Returns the rows and the names of the claims that changed."""
    out, changed = [], set()
    for r in rows:
        c = registered.get(r["claim"]) if r.get("kind", "registry") == "registry" else None
        if c is not None:
            op = claim_op(c)
            if (op, float(c["threshold"])) != (r["op"], float(r["threshold"])):
                r = dict(r, op=op, threshold=float(c["threshold"]), recorded_threshold=r["threshold"])
                changed.add(r["claim"])
        out.append(r)
    return out, sorted(changed)


def _cell(text: str) -> str:
    """A claim's name as a markdown table cell (names such as 'max |a - b|' carry bars)."""
    return text.replace("|", "\\|")


def coverage(rows: list[dict], registered: list[tuple[str, dict]], threads: list[int],
             isas: list[str], known: set[str] | None = None) -> tuple[str, int]:
    """Which registered claims lack runs in the matrix ``threads`` x ``isas``: a report and how many claims lack
    one cell or more.

    ``registered`` is (module stem, claim) for every claim of the ``claims_*.py`` modules; ``rows`` the records
    (``--record`` files). A cell (thread count, instruction set) counts once one of its runs has a value; a claim
    whose runs there all failed is listed with "no value". Records of claims no longer registered are named too
    (a renamed claim leaves its old records behind); ``known``: every registered name, when ``registered`` is a
    selection (``-k``), so that the other claims' records are not taken for stale ones."""
    runs: dict[str, dict[tuple, list]] = {}
    for r in rows:
        if r.get("kind", "registry") == "registry":
            runs.setdefault(r["claim"], {}).setdefault((r["threads"], r["isa"]), []).append(r)
    cells = [(t, i) for t in threads for i in isas]
    names = {c["name"] for _, c in registered} | set(known or ())
    lines, lacking = [], 0
    for stem, c in registered:
        mine = runs.get(c["name"], {})
        missing = [f"{t} thr. {i}" for t, i in cells if (t, i) not in mine]
        failed = [f"{t} thr. {i}" for t, i in cells
                  if (t, i) in mine and all(r["value"] is None for r in mine[(t, i)])]
        if not missing and not failed:
            continue
        lacking += 1
        seeds = sorted({r["seed"] for rs in mine.values() for r in rs if r.get("seed") is not None})
        have = (f"; has {sum(map(len, mine.values()))} run(s), seeds {_span(seeds) if seeds else '-'}" if mine
                else "; no runs")
        what = ([f"missing {', '.join(missing)}"] if missing else []) + \
               ([f"no value on {', '.join(failed)}"] if failed else [])
        lines.append(f"  {stem}: {c['name']} [{c.get('profile', 'quick')}]: {'; '.join(what)}{have}")
    stale = sorted(set(runs) - names)
    head = (f"{len(registered) - lacking} of {len(registered)} registered claims have a run with a value on every "
            f"one of {len(cells)} settings (threads {'/'.join(map(str, threads))} x {'/'.join(isas)})")
    text = "\n".join([head + (":" if lines else "."), *lines])
    if stale:
        text += f"\n{len(stale)} claim name(s) in the records are not registered (renamed or removed): " + \
                "; ".join(stale)
    return text, lacking


def registry_margins(args, isas: list[str]) -> list[dict]:
    """Run every selected registered claim over seeds x threads x instruction sets; return one record per run."""
    rows = []
    for path in claim_modules():
        selected = [c for c in load_claims(path)
                    if (not args.k or args.k in path.stem or args.k in c["name"])
                    and (not args.profile or c.get("profile", "quick") == args.profile)]
        if args.list:
            for c in selected:
                print(f"{path.stem}: {c['name']} ({claim_op(c)} "
                      f"{c['threshold']:.4g}, {c.get('where', '')})")
            continue
        by_profile: dict[str, list[dict]] = {}
        for c in selected:
            by_profile.setdefault(c.get("profile", "quick"), []).append(c)
        for profile, claims in by_profile.items():
            info = {c["name"]: c for c in claims}
            for threads in args.threads:
                for isa in isas:
                    env = _env(threads, isa, profile)
                    cmd = [sys.executable, __file__, "--child", str(path), str(args.costly),
                           ",".join(map(str, args.seeds)), *info]
                    log = tempfile.TemporaryFile("w+")  # not a pipe: a chatty child must not block on a full one
                    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
                    expected = {name: list(args.seeds) for name in info}
                    done: set[tuple] = set()
                    for line in child.stdout:
                        if not line.startswith("{"):
                            continue
                        result = json.loads(line)
                        name = result["name"]
                        if "costly" in result:
                            expected[name] = result["seeds"]
                            print(f"  {name}: {result['costly']:.0f} CPU s for one run: seeds "
                                  f"{result['seeds']} only", flush=True)
                            continue
                        done.add((name, result["seed"]))
                        value = result["value"]
                        if value is not None and value != value:  # NaN
                            value = None
                        c = info[name]
                        row = dict(kind="registry", module=path.stem, claim=name,
                                   where=c.get("where", path.name),
                                   op=claim_op(c),
                                   threshold=float(c["threshold"]), profile=profile, seed=result["seed"],
                                   threads=threads, isa=isa, value=value,
                                   seconds=round(result["seconds"], 2),
                                   cpu_seconds=round(result.get("cpu_seconds", float("nan")), 2),
                                   when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                        rows.append(row)
                        _record(args.record, row)
                        shown = "ERROR" if value is None else f"{value:.4g}"
                        print(f"  {name}: seed {result['seed']}, {threads} thread(s), {isa}: {shown} "
                              f"({result['seconds']:.1f} s, {result.get('cpu_seconds', 0):.1f} CPU s)",
                              flush=True)
                    child.wait()
                    log.seek(0)
                    stderr = log.read()
                    log.close()
                    missing = [(n, s) for n, ss in expected.items() for s in ss if (n, s) not in done]
                    if missing or child.returncode != 0 or "Traceback" in stderr:
                        print(stderr[-3000:], file=sys.stderr)
                        print(f"  {path.stem}, {threads} thread(s), {isa}: the child exited with status "
                              f"{child.returncode}; no result for {missing}", flush=True)
                    for name, seed in missing:
                        c = info[name]
                        row = dict(kind="registry", module=path.stem, claim=name, where=c.get("where", path.name),
                                   op=claim_op(c),
                                   threshold=float(c["threshold"]), profile=profile, seed=seed, threads=threads,
                                   isa=isa, value=None, error=f"child exited with status {child.returncode}",
                                   when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                        rows.append(row)
                        _record(args.record, row)
    return rows


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
    parser.add_argument("--costly", type=float, default=20.0,
                        help="CPU seconds: a claim whose first seed costs more runs only the first three seeds")
    parser.add_argument("--record", metavar="PATH", help="append every run as one JSON line to this file")
    parser.add_argument("--table", nargs="+", metavar="PATH",
                        help="print the worst-case table from --record files and exit (runs nothing)")
    parser.add_argument("--profile", choices=["quick", "lecture"], default=None,
                        help="only the registered claims measured in this profile")
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument("--coverage", nargs="*", metavar="PATH", default=None,
                        help="list the registered claims that lack runs on some --threads x --isa setting (--isa "
                             "default: default avx2) in these --record files (none named: "
                             "benchmarks/margins_runs.jsonl) and exit (status 1 if any lacks one)")
    parser.add_argument("--child", nargs="+", metavar="MODULE COSTLY SEEDS CLAIM", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        path, costly, seeds, *names = args.child
        _child(path, names, [int(s) for s in seeds.split(",")], float(costly))
        return 0
    if args.coverage is not None:
        paths = args.coverage or [str(HERE / "margins_runs.jsonl")]
        every = [(path.stem, c) for path in claim_modules() for c in load_claims(path)]
        registered = [(stem, c) for stem, c in every if not args.k or args.k in stem or args.k in c["name"]]
        text, lacking = coverage(load_records(paths), registered, args.threads, args.isa or ["default", "avx2"],
                                 known={c["name"] for _, c in every})
        print(text)
        return 1 if lacking else 0
    if args.table:
        registered = {c["name"]: c for path in claim_modules() for c in load_claims(path)}
        rows, changed = rejudge(load_records(args.table), registered)
        text, flagged = table(rows)
        print(text)
        if changed:
            print(f"\nJudged by today's threshold (records ran with another): {'; '.join(changed)}")
        return 1 if flagged else 0
    isas = args.isa or available_isas()
    unknown = set(isas) - {"default", "avx2", "avx512", "native"}
    if unknown:
        parser.error(f"--isa takes default, avx2, avx512 or native, got {sorted(unknown)}")
    if args.notebooks is not None:
        paths = ([Path(p).resolve() for p in args.notebooks] if args.notebooks else
                 sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb")))
        rows = notebook_margins(paths, args.threads, isas, args.k, args.timeout, args.record)
    else:
        rows = registry_margins(args, isas)
        if args.list:
            return 0
    text, flagged = table(rows)
    print("\n" + text)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
