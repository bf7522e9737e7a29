"""The autograder: ``vizlab grade SUBMISSIONS_DIR --out grades.csv``.

Each submitted notebook runs in a process of its own (see :mod:`vizlab.exercises.sandbox`): a fresh session
(its own process group), its own temporary working directory, a wall-clock limit, an address-space limit
(``RLIMIT_AS``), a CPU-time limit, a file-size limit that also caps what it prints, and a per-cell/per-call
limit; background processes it leaves are killed. The grader never trusts what the notebook shows: it rebuilds every case (visible and hidden) and judges
the values the student's functions returned. Whatever a submission does, it costs only its own points, with
the reason in its feedback file.

Layout: a submission is ``SUBMISSIONS_DIR/<student>.ipynb`` or a folder ``SUBMISSIONS_DIR/<student>/`` with
any number of notebooks (nbgrader's ``submitted/<student>/<assignment>/*.ipynb`` works). Results go to
``grades.csv`` and ``grades_feedback/<student>.txt`` (and ``.json``), each written atomically (temporary file
and ``os.replace``) as soon as that student is graded, so an interrupted run loses nothing; running again skips
students whose notebooks have not changed, unless ``regrade=True``.

Limits of the isolation: processes of one user can signal each other, so a submission that hunts for the
grader's own process id (not just its parent) could stop the run; run the grader as a separate user or in a
container for untrusted classes. Results already written are kept and the next run resumes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from multiprocessing import reduction
from typing import Any, Callable, Sequence

from . import catalog, sandbox
from .core import Unsupported
from .sandbox import read_frames

GRADER_VERSION = "1"


@dataclass
class Limits:
    """Per-notebook limits. ``memory_mb`` is address space beyond the interpreter with torch loaded."""

    timeout: float = 300.0
    memory_mb: int = 4096
    call_timeout: float = 60.0
    file_bytes: int = 32 * 2**20
    notebook_bytes: int = 50 * 2**20


@dataclass
class Run:
    """What happened when one notebook ran in the sandbox."""

    notebook: str
    frames: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ended: str | None = None        # why the run stopped early, when it did
    void: bool = False              # the run broke the rules (killed its parent, ran out of time): no points
    log_tail: str = ""


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "_"


def find_submissions(directory: str | Path) -> dict[str, list[Path]]:
    """``{student: [notebooks]}``: ``<student>.ipynb`` files and ``<student>/`` folders (searched recursively)."""
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR must be a folder; {str(directory)!r} is not")
    found: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.setdefault(entry.stem, []).append(entry)
        elif entry.is_dir():
            found[entry.name] = sorted(p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return found


def _code_cells(data: bytes) -> list[tuple[int, str]]:
    """The code cells to run, as ``(index, source)``; nbgrader test cells are skipped (the grader judges)."""
    nb = json.loads(data.decode("utf-8"))
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no list of cells)")
    cells = []
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        grader = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        if grader.get("grade") and not grader.get("solution"):
            continue
        source = cell.get("source", "")
        source = "".join(str(s) for s in source) if isinstance(source, list) else str(source)
        cells.append((index, source))
    return cells


_CONTEXT = None


def _context():
    """A multiprocessing forkserver that imports torch and vizlab once; every runner is forked from it.

    Its children are not the grader's children: a submission that kills its parent kills only its runner.
    multiprocessing restarts the server if it ever dies.
    """
    global _CONTEXT
    if _CONTEXT is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["vizlab.exercises.sandbox", "vizlab.exercises.catalog"])
        _CONTEXT = ctx
    return _CONTEXT


def _rebuild_fd(dup: Any) -> Any:
    return dup


class _Fd:
    """A file descriptor handed to a forkserver child (duplicated while the process object is pickled)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        return _rebuild_fd, (reduction.DupFd(self.fd),)


def _kill_group(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_notebook(path: Path, exercises: Sequence[str], limits: Limits, scratch: str | Path | None = None) -> Run:
    """Run one notebook in a sandbox process and collect its frames (never raises for a bad notebook).

    The notebook's working folder is a new temporary folder inside ``scratch`` (default: the system's).
    """
    run = Run(path.name)
    try:
        if path.stat().st_size > limits.notebook_bytes:
            run.ended = f"the notebook is larger than {limits.notebook_bytes} bytes"
            return run
        cells = _code_cells(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        run.ended = f"the file is not a valid notebook (not valid JSON: {exc})"
        return run
    except Exception as exc:  # noqa: BLE001 - any malformed file (also nesting deep enough to overflow the parser)
        run.ended = f"the file could not be read as a notebook: {type(exc).__name__}: {str(exc)[:200]}"
        return run
    job = {"cells": cells, "exercises": list(exercises), "memory_mb": limits.memory_mb,
           "file_bytes": limits.file_bytes, "timeout": limits.timeout, "call_timeout": limits.call_timeout}
    # Unlinked temporary files: the notebook cannot find them by name (to delete or overwrite another's).
    # The working folder sits in a folder of its own, removed whatever the notebook renamed inside it.
    base = tempfile.mkdtemp(prefix="vizlab-grade-", dir=scratch)
    work = os.path.join(base, "work")
    os.mkdir(work)
    with tempfile.TemporaryFile() as results, tempfile.TemporaryFile() as log:
        timed_out = False
        proc = _context().Process(target=sandbox.runner, args=(job, _Fd(results.fileno()), _Fd(log.fileno()), work),
                                  name=f"vizlab-grade-{path.name}", daemon=True)
        proc.start()
        try:
            proc.join(limits.timeout)
            timed_out = proc.exitcode is None
        finally:
            _kill_group(proc.pid)  # also whatever the notebook started in its session
            proc.kill()
            proc.join()
            shutil.rmtree(base, ignore_errors=True)
        returncode = proc.exitcode
        proc.close()
        data = os.pread(results.fileno(), limits.file_bytes + 1, 0)
        run.frames, bad = read_frames(data)
        if bad:
            run.notes.append(f"{run.notebook}: {bad} unreadable result record(s) were ignored")
        size = os.fstat(log.fileno()).st_size
        run.log_tail = os.pread(log.fileno(), 2000, max(0, size - 2000)).decode("utf-8", "replace")
    exits = [f for f in run.frames if f.get("kind") == "exit"]
    done = any(f.get("kind") == "done" for f in run.frames)
    last_cell = next((f.get("index") for f in reversed(run.frames) if f.get("kind") == "cell"), None)
    last_case = next((f for f in reversed(run.frames) if f.get("kind") == "case"), None)
    where = (f"after calling {last_case.get('exercise')} (case {last_case.get('case')})" if last_case
             else f"while running cell {last_cell}" if last_cell is not None else "before running any cell")
    if timed_out:
        run.ended = f"the notebook ran past the time limit of {limits.timeout:g} s and was stopped ({where})"
        run.void = True
    elif not exits:
        run.ended = (f"the process running the notebook was killed ({where}; exit status {returncode}): "
                     "did the notebook kill its parent process? No points for this notebook")
        run.void = True
    elif not done:
        sig, code = exits[-1].get("signal"), exits[-1].get("code")
        if sig:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            why = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed: memory exhausted or stopped)",
                   "SIGSEGV": " (crashed, often an allocation that failed)"}.get(name, "")
            run.ended = f"the notebook process was killed by {name}{why} {where}"
        else:
            run.ended = f"the notebook process exited early with code {code} (sys.exit/os._exit?) {where}"
    leftovers = sum(int(f.get("leftovers") or 0) for f in exits)
    if leftovers:
        run.notes.append(f"{run.notebook}: {leftovers} background process(es) it started were still running "
                         "and were killed")
    for frame in run.frames:
        if frame.get("kind") == "cell_error":
            run.notes.append(f"{run.notebook}, cell {frame.get('index')}: {frame.get('error')}")
    return run


def _unsupported(value: Any) -> Any:
    if isinstance(value, dict) and "__unsupported__" in value:
        return Unsupported(str(value["__unsupported__"]))
    if isinstance(value, list):
        return [_unsupported(v) for v in value]
    return value


def judge_run(run: Run, exercises: Sequence[str]) -> dict[str, dict]:
    """Per exercise: ``points``, ``max``, ``passed``, ``total`` and the ``problems`` found (trusted side)."""
    scores = {}
    for name in exercises:
        ex = catalog.get(name)
        cases = ex.cases(hidden=True)
        frames = {f.get("case"): f for f in run.frames if f.get("kind") == "case" and f.get("exercise") == name}
        missing = any(f.get("kind") == "missing" and f.get("exercise") == name for f in run.frames)
        source = next((f.get("source") for f in run.frames
                       if f.get("kind") == "source" and f.get("exercise") == name), None)
        passed, problems = 0, []
        for i, case in enumerate(cases):
            tag = " (hidden test)" if case.hidden else ""
            frame = frames.get(i)
            if run.void:
                problem = f"no points: {run.ended}"
            elif missing:
                problem = f"`{ex.function}` is not defined in {run.notebook}"
            elif frame is None:
                problem = f"not run{': ' + run.ended if run.ended else ''}"
            elif frame.get("error") == "not implemented":
                problem = f"`{ex.function}` is not implemented yet (raises NotImplementedError)"
            elif frame.get("error"):
                problem = f"calling {ex.function} on input {case.label}{tag} raised {frame['error']}"
            else:
                try:
                    problem = ex.judge(case, _unsupported(frame.get("value")), source if isinstance(source, str) else None)
                except Exception as exc:  # noqa: BLE001 - a strange value must not stop the grader
                    problem = f"the result for input {case.label} could not be judged: {type(exc).__name__}: {exc}"
                if problem and tag:
                    problem = problem.replace(f"input {case.label}.", f"input {case.label}{tag}.", 1)
            if problem is None:
                passed += 1
            elif problem not in problems:
                problems.append(problem)
        scores[name] = {"title": ex.title, "defined": not missing and not run.void, "points": round(ex.points * passed / len(cases), 2), "max": ex.points,
                        "passed": passed, "total": len(cases), "problems": problems[:2]}
    return scores


def _digest(paths: Sequence[Path], exercises: Sequence[str], limits: Limits) -> str:
    h = hashlib.sha256(f"{GRADER_VERSION}|{','.join(exercises)}|{json.dumps(asdict(limits))}".encode())
    for p in paths:
        h.update(p.name.encode() + b"\0")
        try:
            h.update(hashlib.sha256(p.read_bytes()).digest())
        except OSError:
            h.update(b"unreadable")
    return h.hexdigest()


def grade_student(student: str, paths: Sequence[Path], exercises: Sequence[str], limits: Limits,
                  scratch: str | Path | None = None) -> dict:
    """Grade one student's notebooks (each in its own sandbox); per exercise the best notebook counts."""
    started = time.monotonic()
    best: dict[str, dict] = {}
    notes: list[str] = []
    if not paths:
        notes.append("no notebook (.ipynb) found in the submission")
    for path in paths:
        run = run_notebook(path, exercises, limits, scratch)
        if run.ended:
            notes.append(f"{run.notebook}: {run.ended}")
            if run.log_tail.strip() and run.frames:
                notes.append(f"{run.notebook}: last output: {run.log_tail.strip()[-300:]}")
        notes.extend(run.notes)
        for name, score in judge_run(run, exercises).items():
            # the best notebook for this exercise; on a tie, one that defines the function explains more
            if name not in best or (score["points"], score["defined"]) > (best[name]["points"], best[name]["defined"]):
                best[name] = score
    for name in exercises:
        best.setdefault(name, judge_run(Run("(none)", ended="no notebook"), [name])[name])
    return {"student": student, "notebooks": [p.name for p in paths], "exercises": best,
            "total": round(sum(s["points"] for s in best.values()), 2),
            "max_total": sum(s["max"] for s in best.values()), "notes": notes[:20],
            "seconds": round(time.monotonic() - started, 2), "grader_version": GRADER_VERSION}


def feedback_text(result: dict) -> str:
    """The per-student feedback: score per exercise, what failed and why, notes about the run."""
    lines = [f"Feedback for {result['student']}  ({', '.join(result['notebooks']) or 'no notebook'})",
             f"Total: {result['total']:g} / {result['max_total']:g}", ""]
    for name, s in result["exercises"].items():
        mark = "✓" if s["passed"] == s["total"] else "✗"
        lines.append(f"{mark} {s['title']} [{name}]: {s['points']:g} / {s['max']:g}  "
                     f"({s['passed']} of {s['total']} tests passed, hidden tests included)")
        for problem in s["problems"]:
            lines.extend("    " + line for line in f"- {problem}".splitlines())
    if result["notes"]:
        lines += ["", "About the run:"] + [f"  - {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then ``os.replace`` it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_csv(out: Path, feedback: Path, students: Sequence[str], exercises: Sequence[str]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", *exercises, "total", "max_total", "notes"])
    for student in students:
        path = feedback / f"{_safe_name(student)}.json"
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        writer.writerow([student, *(result["exercises"].get(e, {}).get("points", 0) for e in exercises),
                         result["total"], result["max_total"], len(result["notes"])])
    atomic_write(out, buf.getvalue())


def grade(submissions: str | Path, out: str | Path = "grades.csv", *, exercises: Sequence[str] | None = None,
          limits: Limits | None = None, jobs: int | None = None, regrade: bool = False, progress: bool = True,
          feedback_dir: str | Path | None = None, on_result: Callable[[dict], None] | None = None,
          scratch: str | Path | None = None) -> list[dict]:
    """Grade every submission in ``submissions``; write ``out`` (CSV) and one feedback file per student.

    Args:
        submissions: folder of ``<student>.ipynb`` files or ``<student>/`` folders.
        out: the CSV of points (one column per exercise, ``total``, ``max_total``, number of notes).
        exercises: exercise names (default: all of :data:`~vizlab.exercises.catalog.EXERCISES`).
        limits: per-notebook limits (:class:`Limits`).
        jobs: parallel submissions (default: the number of CPU cores).
        regrade: grade again even students whose notebooks did not change since the last run.
        feedback_dir: where ``<student>.txt``/``.json`` go (default ``<out stem>_feedback`` beside ``out``).
        on_result: called with each new result (for progress displays and tests).
        scratch: the folder in which each notebook gets its temporary working folder (default: the system's
            temporary folder; give a folder of its own, so that a notebook that deletes ``..`` harms nothing).

    Returns:
        The results of this run (newly graded and reused), one dict per student.
    """
    limits = limits or Limits()
    exercises = list(exercises or catalog.EXERCISES)
    for name in exercises:
        catalog.get(name)
    out = Path(out)
    feedback = Path(feedback_dir) if feedback_dir else out.with_name(f"{out.stem}_feedback")
    feedback.mkdir(parents=True, exist_ok=True)
    found = find_submissions(submissions)
    students = list(found)
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    lock = threading.Lock()
    results: dict[str, dict] = {}
    todo = []
    for student, paths in found.items():
        digest = _digest(paths, exercises, limits)
        previous = feedback / f"{_safe_name(student)}.json"
        if not regrade and previous.exists():
            try:
                old = json.loads(previous.read_text(encoding="utf-8"))
                if old.get("digest") == digest:
                    results[student] = old
                    continue
            except (OSError, ValueError):
                pass
        todo.append((student, paths, digest))

    def work(student: str, paths: list[Path], digest: str) -> dict:
        result = grade_student(student, paths, exercises, limits, scratch)
        result["digest"] = digest
        name = _safe_name(student)
        with lock:
            atomic_write(feedback / f"{name}.txt", feedback_text(result))
            atomic_write(feedback / f"{name}.json", json.dumps(result, indent=1, ensure_ascii=False))
            _write_csv(out, feedback, students, exercises)
        return result

    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc="grading", unit="submission", disable=not progress)
    failures = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(work, *item): item[0] for item in todo}
        for future in as_completed(futures):
            student = futures[future]
            try:
                results[student] = future.result()
                if on_result:
                    on_result(results[student])
            except Exception as exc:  # noqa: BLE001 - a grader bug for one student must not stop the others
                failures.append(student)
                print(f"vizlab grade: internal error grading {student}: {type(exc).__name__}: {exc}", file=sys.stderr)
            bar.update(1)
    bar.close()
    _write_csv(out, feedback, students, exercises)
    return [results[s] for s in students if s in results]
