"""The autograder: ``vizlab grade SUBMISSIONS_DIR --out grades.csv``.

Every submitted notebook runs in a sandbox (see :mod:`vizlab.exercises.sandbox`): one *zygote* per run, started
inside ``bwrap`` (Debian/Ubuntu package ``bubblewrap``) or, without it, ``unshare -Upfn --mount-proc -r``, has
imported torch and vizlab once; each notebook is forked from it into namespaces of its own: its own PID namespace
(every process it starts dies with it, however it detaches), no network, an empty private ``/tmp`` as its working
folder, the rest of the file system read-only, and the submissions, the output folder, the instructor notebooks
and the exercise catalog (references, hidden cases) not mounted at all. Inside, the usual limits apply: wall
clock, address space (``RLIMIT_AS``), CPU time, file size (which also caps what it prints), and a limit per cell
and per call.

Results come back only through a pipe, capped in size and parsed strictly (schema and sizes are checked before
anything is allocated; each tensor takes the next bytes of its frame). Only this, trusted, process judges: it
rebuilds every case (visible and hidden, the hidden ones derived from a key the package does not hold), judges
the values the student's functions returned, and writes the feedback and the CSV, after the notebook's
namespace is gone. The rules are judged here too, on the notebook's source (:mod:`~vizlab.exercises.rules`): a
loop in a no-loops exercise; "needs review" for ``exec``/``eval``/TorchScript/frame, tracer and re-import tricks
and for a graded function defined below top level or several times; and any vizlab code outside the generic
helpers that runs inside a graded call, at any depth (deny by default: the sandbox records it and voids the call),
and code from a file the notebook wrote (voided, "needs review"). Only the cells the judge could read are run.
Caps for the whole notebook (memory with memfd and tmpfs, processes, open files) are kept by a watchdog over its
PID namespace; wall time per notebook and per student. One notebook per exercise: an exercise defined in several
notebooks of one submission is refused.

Layout: a submission is ``SUBMISSIONS_DIR/<student>.ipynb`` or a folder ``SUBMISSIONS_DIR/<student>/`` with
any number of notebooks (nbgrader's ``submitted/<student>/<assignment>/*.ipynb`` works). Results go to
``grades.csv`` and ``grades_feedback/<name>.txt`` (and ``.json``), ``<name>`` being the student's name made safe
plus a hash of the exact name (no two students share a file). Each is written atomically as soon as that student
is graded, so an interrupted run loses nothing; running again skips students whose notebooks have not changed,
unless ``regrade=True``.

``sandbox="none"`` runs notebooks as plain processes of your user, with the limits but without isolation: only
for trusted notebooks (it warns loudly).

**The no-loops rule judges what ran** (round 19). The source reading alone charged a looping helper that only
built a constant at top level (``CONST = list(map(_helper, range(3)))``), sent an honest ``if torch.cuda.
is_available(): def f ... else: def f ...`` to review, and did not see a helper returned by a factory (``helper =
make()``). Now an exercise's loops are the union of

* the loops in the judged code that *ran* during its graded calls: the sandbox's watch (``sys.settrace``, set
  before each call) lists the ``(cell, first line, kind)`` of every code object of a judged cell or magic body
  that starts, at any depth (kind: ``"<lambda>"`` or a comprehension's code name, else ``""``); the judge has
  parsed every cell, so each maps to its def, lambda, class or comprehension and the loops of its own body
  (:attr:`SourceRules.code_loops`; the rule's definition of a loop is unchanged: ``for``, ``while`` and
  comprehensions, where they are written), and
* what the source requires whatever ran: the loops in the defs the function reaches by name (its def, the helpers
  it names, theirs: :attr:`SourceRules.direct_loops`). Only a helper reached through a *value* made at top level
  (``H = {"f": _impl}``, ``CONST = list(map(_helper, ...))``) is left to the run-time facts.

*How the facts travel.* Before any cell runs, the harness writes a ``hello`` frame with a random token it keeps only
in a closure (:func:`vizlab.exercises.student._run_report`); after each call a ``ran`` frame with the codes, whether
the call ran to its end, and the token, and at once after it the call's ``case`` frame. The ``ran`` frame is built
from built-in types with functions bound (as default arguments of the closure) before the cells ran; the ``case``
frame is *encoded inside the watch* (round 20: before, ``json`` and torch encoded it after the watch had ended, so a
notebook that replaced ``json.dumps`` rewrote the value unseen), so whatever code the notebook put in the encoder's
way is judged like the graded function; both are written by the closure. The notebook cannot read the results
pipe, and importing the harness modules or reaching code objects (``gi_code``), tracebacks or closures needs review
(:mod:`~vizlab.exercises.rules`). The watch lists a code before it judges it,
its judge never raises (a tracer that raises is removed), and a call is not watched whole, and needs review, when
the tracer was gone at its end or a function of ``os``, ``os.path`` or ``stat`` (which the judge calls inside the
tracer, where nothing is traced) differs from before the cells ran.

*What is believed* (:func:`what_ran`). The student process is hostile and can write frames of its own (its
results pipe is open to it) or end itself mid-call. So a listed code may always *add* loops, from any ``ran``
frame; but the report may *narrow* the rule (drop a helper reached through a value that did not run, settle which of
several defs ran) only when it is whole: the first frame is the harness's ``hello`` (no notebook code has run
before it) and there is no second one, every ``ran`` frame of the run carries that token, each case of the exercise
has exactly one ``ran`` frame, no call was stopped by a limit or skipped, and every code listed is one the judge
placed. *When it is missing or not whole* (an old sandbox, a crash, a forged or cut report), the rule is the source
reading alone, as before: every loop found in the defs reached by name or through a value counts, and several
defs still need review (deny).

*The token and the cases* (round 20). The notebook's namespace has no ``/proc`` (an empty folder with the machine's
``cpuinfo`` and ``meminfo``, under both backends), the student process keeps no capability (it cannot mount one),
``/tmp`` is ``noexec``, and ``ctypes``, ``exec`` and ``spawn`` are refused at any time (:class:`vizlab.exercises.
student._Guard`): it cannot read its own memory through ``/proc/self/mem`` as it could under ``unshare``. The cases
reach the student process only when the harness asks its init for them, once, after the last cell; a notebook that
asked itself (it holds the pipe) makes the harness's request the second one: init stops the notebook at once and
reports the count, and the run is void; one that put a pipe or file of its own where the harness's pipes were ends
the harness (:data:`~vizlab.exercises.student.HARNESS_PIPES_REPLACED`), void too. *What this does not stop*: code
in the same process as the harness can always rewrite the harness (through frames, closures, format strings that
walk attributes, a module reached by name). The source rules send every route the project knows of to review, but
they are a list; a route missing from it reads the token or suppresses the harness's request unseen. Closing that
for good needs the harness's secret and its request out of the notebook's process, which this version does not do.

The code, by job: :mod:`~vizlab.exercises.backends` (starting the sandbox), :mod:`~vizlab.exercises.sandbox` (the
zygote and each notebook's namespaces), :mod:`~vizlab.exercises.student` (the process that runs the cells and
calls the functions), :mod:`~vizlab.exercises.protocol` (the frames it sends back), :mod:`~vizlab.exercises.rules`
(what an answer must not do), :mod:`~vizlab.exercises.submissions` (finding and reading notebooks),
:mod:`~vizlab.exercises.feedback` (feedback files and the CSV); this module runs and judges.
"""
from __future__ import annotations

import hashlib
import json
import numbers
import os
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from .._validate import check_number
from . import catalog
from .backends import BACKENDS, Sandbox, sandbox_view, zygote_command  # noqa: F401 (re-exported)
from .cli import LIMIT_BOUNDS, MAX_JOBS
from .core import Unsupported
from .feedback import _write_csv, atomic_write, csv_cell, feedback_name, feedback_text  # noqa: F401 (re-exported)
from .protocol import parse_status, read_frames
from .rules import (GENERIC_MODULES, SourceRules, _cases_blob, _notebooks_map, forbidden_calls, judge_source,
                    loop_key)
from .student import CODE_REFUSED_PREFIX, HARNESS_CASES_WATCHED, HARNESS_PIPES_REPLACED, REFUSED_PREFIX
from .submissions import (NotebookTooLarge, _code_cells, display_name, find_submissions,  # noqa: F401
                          read_notebook, scan_submissions)

GRADER_VERSION = "3"


@dataclass
class Limits:
    """What one notebook (all its processes together) and one student may use.

    ``timeout``: wall seconds per notebook; ``student_timeout``: wall seconds for all of a student's notebooks
    (default: twice ``timeout``); ``call_timeout``: seconds per cell or call; ``memory_mb``: memory of all the
    notebook's processes together, beyond the interpreter with torch loaded (resident memory, ``memfd`` files
    and its private ``/tmp`` and ``/dev/shm`` alike); ``processes``: processes at once; ``open_files``: open files
    per process; ``file_bytes``: the largest file it may write (which also caps what it prints and sends back);
    ``notebook_bytes``: the largest notebook read. Each has an upper bound (:data:`LIMIT_BOUNDS`).
    """

    timeout: float = 300.0
    memory_mb: int = 4096
    call_timeout: float = 60.0
    file_bytes: int = 32 * 2**20
    notebook_bytes: int = 50 * 2**20
    student_timeout: float | None = None
    processes: int = 64
    open_files: int = 256

    def __post_init__(self):
        for name, bound in LIMIT_BOUNDS.items():   # timeout comes before student_timeout, its default
            value = getattr(self, name)
            if name == "student_timeout" and value is None:
                value = self.student_timeout = 2 * self.timeout
            number = check_number(name, value, 0, bound, low_open=True)
            if type(value) not in (int, float):   # NumPy numbers: stored as Python numbers (JSON, repr)
                setattr(self, name, int(value) if isinstance(value, numbers.Integral) else number)
        if self.processes < 4:
            raise ValueError(f"processes must be at least 4 (the notebook's init and its helpers), got {self.processes}")


@dataclass
class Run:
    """What happened when one notebook ran in the sandbox."""

    notebook: str
    frames: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ended: str | None = None        # why the run stopped early, when it did
    void: bool = False              # the run broke the rules (ran out of time, left threads): no points
    log_tail: str = ""
    failed: bool = False            # the grader could not run it at all (not the notebook's fault)
    rules: SourceRules = field(default_factory=SourceRules)  # what its source says (judged outside the sandbox)


# --- running and judging ---------------------------------------------------------------------------------------

def run_notebook(path: Path, exercises: Sequence[str], limits: Limits, box: Sandbox,
                 scratch: str | Path | None = None, cases: bytes | None = None) -> Run:
    """Run one notebook in the sandbox and collect its frames (never raises for a bad notebook)."""
    run = Run(display_name(path.name))
    try:
        cells = _code_cells(read_notebook(path, limits.notebook_bytes))
    except NotebookTooLarge as exc:
        run.ended = str(exc)
        return run
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        run.ended = f"the file is not a valid notebook (not valid JSON: {exc})"
        return run
    except Exception as exc:  # noqa: BLE001 - any malformed file (also nesting deep enough to overflow the parser)
        run.ended = f"the file could not be read as a notebook: {type(exc).__name__}: {str(exc)[:200]}"
        return run
    run.rules = _judge_source(cells, [catalog.get(name).function for name in exercises])
    for index, why in run.rules.unparsed:
        run.notes.append(f"{run.notebook}, cell {index} was not run: the grader cannot read it ({why})")
    forbidden = sorted({tuple(f) for name in exercises for f in forbidden_calls(name)})
    judged = set(run.rules.parsed)  # only what was judged runs
    job = {"cells": [cell for cell in cells if cell[0] in judged], "notebooks": _notebooks_map(),
           "forbidden": forbidden, "generic": list(GENERIC_MODULES), "memory_mb": limits.memory_mb,
           "file_bytes": limits.file_bytes, "timeout": limits.timeout, "call_timeout": limits.call_timeout,
           "tmp_bytes": max(limits.file_bytes * 4, 64 * 2**20), "scratch": scratch, "processes": limits.processes,
           "open_files": limits.open_files, "magics": run.rules.magics}
    out = box.run(job, cases if cases is not None else _cases_blob(exercises), limits)
    if not out["alive"] and out["zygote_status"] is None:
        run.failed = True
        run.ended = "the grader's sandbox stopped while running this notebook (not the notebook's fault); run again"
        return run
    run.frames, bad = read_frames(out["results"])
    if bad:
        run.notes.append(f"{run.notebook}: {bad} unreadable result record(s) were ignored")
    if out["overflow"]:
        run.notes.append(f"{run.notebook}: the notebook sent more than {limits.file_bytes} bytes of results; "
                         "the rest was ignored")
    run.log_tail = out["log_tail"]
    status = parse_status(out["status"])
    done = any(f["kind"] == "done" for f in run.frames)
    last_cell = next((f["index"] for f in reversed(run.frames) if f["kind"] == "cell"), None)
    last_case = next((f for f in reversed(run.frames) if f["kind"] == "case"), None)
    where = (f"after calling {last_case['exercise']} (case {last_case['case']})" if last_case
             else f"while running cell {last_cell}" if last_cell is not None else "before running any cell")
    if out["timed_out"]:
        run.ended = f"the notebook ran past the time limit of {limits.timeout:g} s and was stopped ({where})"
        run.void = True
    elif status is None:
        run.ended = (f"the notebook's sandbox ended without a report ({where}): was it killed from inside? "
                     "No points for this notebook")
        run.void = True
    elif status["cap"]:
        run.ended = f"the notebook was {status['cap']} ({where}); no points for what it had not answered yet"
    elif not done:
        sig, code = status["signal"], status["code"]
        if sig:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            why = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed: memory exhausted or stopped)",
                   "SIGSEGV": " (crashed, often an allocation that failed)"}.get(name, "")
            run.ended = f"the notebook process was killed by {name}{why} {where}"
        else:
            run.ended = f"the notebook process exited early with code {code} (sys.exit/os._exit?) {where}"
    tampered = None  # the harness asks for the cases once, after the last cell, and ends so only when a cell
    if status and (status["requests"] or 0) > 1:  # tampered with that (round 20)
        tampered = (f"asked for the exercises' cases itself before its cells had ended ({status['requests']} "
                    "requests; the grader makes one)")
    elif status and status["code"] == HARNESS_PIPES_REPLACED and not done:
        tampered = ("asked for the exercises' cases itself before its cells had ended, or put pipes or files of its "
                    "own where the grader hands them over")
    elif status and status["code"] == HARNESS_CASES_WATCHED and not done:
        tampered = ("ran code of its own while the grader unpacked the exercises' cases (it replaced a function "
                    "the unpacking uses)")
    if tampered and not run.void:
        run.void = True
        run.ended = f"the notebook {tampered}: no points for this notebook"
    if status and status["leftovers"]:
        run.notes.append(f"{run.notebook}: {status['leftovers']} background process(es) it started were still "
                         "running and were killed")
    threads = next((f["count"] for f in run.frames if f["kind"] == "threads"), 0)
    if threads and not run.void:
        run.void = True
        run.ended = (f"{threads} thread(s) the notebook started were still running when its functions were "
                     "called; that is not allowed (no points)")
    for frame in run.frames:
        if frame["kind"] == "cell_error":
            run.notes.append(f"{run.notebook}, cell {frame['index']}: {frame['error']}")
    return run


def _judge_source(cells: Sequence[tuple[int, str]], functions: Sequence[str]) -> SourceRules:
    """:func:`~vizlab.exercises.rules.judge_source`; if it fails in any way, the whole notebook needs review (never
    an internal error that zeroes the student and regrades them on every run)."""
    try:
        return judge_source(cells, functions)
    except Exception as exc:  # noqa: BLE001 - RecursionError, MemoryError, a bug: a person looks
        return SourceRules(review=[f"is code the grader could not judge ({type(exc).__name__}: {str(exc)[:120]})"],
                           parsed=[index for index, _ in cells], magics=None)


def _unsupported(value: Any) -> Any:
    if isinstance(value, dict) and "__unsupported__" in value:
        return Unsupported(str(value["__unsupported__"]))
    if isinstance(value, list):
        return [_unsupported(v) for v in value]
    return value


def what_ran(run: Run, exercise: str) -> tuple[set[tuple[int, int, str]], bool]:
    """What the sandbox's watch saw start during ``exercise``'s graded calls: the ``(cell, first line, kind)`` of
    every judged code object, from every ``ran`` frame of that exercise (believed or not: a listed code can only
    add loops), and whether the report is *whole*, the only case in which it may narrow the no-loops rule:

    * the run's first frame is the harness's ``hello`` (written before any cell ran) and no other ``hello`` follows;
    * every ``ran`` frame of the run carries that ``hello``'s token (one that does not was written by the notebook);
    * each of the exercise's cases has exactly one ``ran`` frame, and every call ran to its end (not stopped by a
      time or memory limit, nor skipped);
    * every code listed is one the judge placed in the notebook's source (:attr:`SourceRules.code_loops`).
    """
    frames = run.frames
    token = frames[0]["token"] if frames and frames[0]["kind"] == "hello" else None
    ran = [f for f in frames if f["kind"] == "ran"]
    mine = [f for f in ran if f["exercise"] == exercise]
    keys = {(cell, line, kind) for f in mine for cell, line, kind in f["codes"]}
    cases = len(catalog.get(exercise).cases(hidden=True))
    whole = (token is not None and sum(f["kind"] == "hello" for f in frames) == 1
             and all(f["token"] == token for f in ran)
             and sorted(f["case"] for f in mine) == list(range(cases)) and all(f["whole"] == 1 for f in mine)
             and keys <= set(run.rules.code_loops))
    return keys, whole


UNCONFIRMED = ("the grader could not confirm this result: the sandbox's own report of the call is missing, or "
               "the notebook wrote result records of its own")


def believed_cases(run: Run, exercise: str) -> dict[int, dict]:
    """``exercise``'s case frames, by case, as the grader believes them.

    A run whose first frame is the harness's ``hello`` (every real run: it is written before any cell) has, for
    each call, a ``ran`` frame with the token, then at once the call's ``case`` frame. A case frame is believed
    only there, and only when it is the one case frame of that case in the run; any other (a frame the notebook
    wrote, a second one) leaves the case unconfirmed: no value, no points. The watch's verdict is taken from the
    ``ran`` frame (``hit``), out of reach of a notebook that rewrites what the harness's frame writer sends: a case
    whose call the watch refused is refused even when its case frame says otherwise. Frames without a ``hello``
    (made by hand, in tests) are read as they are.
    """
    cases = [f for f in run.frames if f["kind"] == "case" and f["exercise"] == exercise]
    token = run.frames[0]["token"] if run.frames and run.frames[0]["kind"] == "hello" else None
    if token is None:
        return {f["case"]: f for f in cases}
    count = Counter(f["case"] for f in cases)
    believed: dict[int, dict] = {}
    for i, frame in enumerate(run.frames[:-1]):
        if frame["kind"] != "ran" or frame["exercise"] != exercise or frame["token"] != token:
            continue
        case, after = frame["case"], run.frames[i + 1]
        if case in believed or count[case] != 1 or after["kind"] != "case" or after["exercise"] != exercise \
                or after["case"] != case:
            believed[case] = None  # (a second ran frame with the token cannot come from the harness either)
            continue
        error = after["error"] or ""
        if frame["hit"] == "vizlab" and not error.startswith(REFUSED):
            after = {**after, "value": None, "error": f"{REFUSED}vizlab code outside the generic helpers (the "
                                                      "sandbox's report) is vizlab's own code"}
        elif frame["hit"] == "file" and not error.startswith(CODE_REFUSED):
            after = {**after, "value": None, "error": f"{CODE_REFUSED}code the sandbox's watch refused (its report)"}
        believed[case] = after
    for case in count:  # a case frame with no believed place
        if believed.get(case) is None:
            believed[case] = {"kind": "case", "exercise": exercise, "case": case, "value": None,
                              "error": UNCONFIRMED, "seconds": 0.0, "forbidden": [], "loops": []}
    return {case: f for case, f in believed.items() if f is not None}


def no_loops_verdict(run: Run, exercise: str) -> tuple[list[str], bool]:
    """The loops charged to ``exercise``'s function, and whether run-time facts settle which of several defs ran.

    Loops: those in what ran during its graded calls (:func:`what_ran`), plus what the source requires
    whatever ran: with a whole report, the loops in the defs the function reaches by name
    (:attr:`SourceRules.direct_loops`); without one, every loop the source reading found, as before run-time facts
    were used (deny). Settled: the function is defined by several plain defs, or one inside an if/else (which one
    runs is decided at run time), the whole report shows one of them ran, and (for a no-loops exercise) no loop is
    charged: then no choice could have hidden a loop, and it is not sent to review for that.
    """
    ex = catalog.get(exercise)
    rules, function = run.rules, ex.function
    keys, whole = what_ran(run, exercise)
    charged = list(rules.direct_loops.get(function, []) if whole else rules.loops.get(function, []))
    seen = {loop_key(loop) for loop in charged}
    for key in sorted(keys):
        for loop in rules.code_loops.get(key, []):
            if loop_key(loop) not in seen:
                seen.add(loop_key(loop))
                charged.append(loop)
    settled = (whole and function in rules.chosen and bool(keys & rules.def_keys.get(function, set()))
               and not (ex.no_loops and charged))
    return charged, settled


REFUSED = REFUSED_PREFIX   # how the sandbox's records start (vizlab.exercises.student): one spelling
CODE_REFUSED = CODE_REFUSED_PREFIX


def judge_run(run: Run, exercises: Sequence[str]) -> dict[str, dict]:
    """Per exercise: ``points``, ``max``, ``passed``, ``total``, ``review`` and the ``problems`` found (trusted side).

    Before any value is judged, in this order: "needs review" (:func:`~vizlab.exercises.rules.judge_source`: tricks
    in the notebook, or the function not defined by a plain ``def``, unless run-time facts settle which of several
    defs ran), a call of the library's own implementation (refused inside the sandbox), a loop in a no-loops
    exercise (:func:`no_loops_verdict`: what ran during its calls, plus the defs the function names). Each costs the
    exercise's points, with the reason.
    """
    scores = {}
    for name in exercises:
        ex = catalog.get(name)
        cases = ex.cases(hidden=True)
        frames = believed_cases(run, name)
        missing = any(f["kind"] == "missing" and f["exercise"] == name for f in run.frames)
        defined = any(f["kind"] == "function" and f["exercise"] == name for f in run.frames)
        loops, settled = no_loops_verdict(run, name)
        refused = sorted({f["error"].split(": ", 1)[-1].split(" is vizlab")[0] for f in frames.values()
                          if f["error"] and f["error"].startswith(REFUSED)})
        review = list(run.rules.review) + ([] if settled else list(run.rules.unsure.get(ex.function, [])))
        files = sorted({f["error"][len(CODE_REFUSED):].strip()[:200] for f in frames.values()
                        if f["error"] and f["error"].startswith(CODE_REFUSED)})
        if files:  # what ran cannot be judged from the notebook's source
            review.append(f"runs code from a file it wrote, or text run as code, while `{ex.function}` is graded "
                          f"({', '.join(files[:2])}); only the notebook's cells and the installed packages are judged")
        if defined and ex.function not in run.rules.plain and not settled:
            review.append(f"`{ex.function}` is not defined by a plain `def` at the notebook's top level")
        rule = None
        if run.void or missing or not defined:
            pass
        elif review:
            rule = (f"needs review by a person: the notebook {'; '.join(review[:3])}"
                    f"{f' (and {len(review) - 3} more)' if len(review) > 3 else ''}. Such code can change what the "
                    "grader sees, so it is never scored automatically: no points until a person has looked")
        elif refused:
            rule = (f"`{ex.function}` calls vizlab's own implementation of this technique ({', '.join(refused)}); "
                    "write it yourself. No points for this exercise")
        elif ex.no_loops and loops:
            rule = (f"{ex.function} must not use Python loops (found: {', '.join(loops[:4])}). "
                    "Use tensor slicing and whole-tensor operations instead. No points for this exercise")
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
            elif rule:
                problem = rule
            elif frame["error"] == UNCONFIRMED:
                problem = f"input {case.label}{tag}: {UNCONFIRMED} (no points for it)"
            elif frame["error"] == "not implemented":
                problem = f"`{ex.function}` is not implemented yet (raises NotImplementedError)"
            elif frame["error"]:
                problem = f"calling {ex.function} on input {case.label}{tag} raised {frame['error']}"
            else:
                try:
                    # (no source: the no-loops rule was decided above, on what ran; a helper the source names
                    # but the call never ran must not be charged here again)
                    problem = ex.judge(case, _unsupported(frame["value"]), None)
                except Exception as exc:  # noqa: BLE001 - a strange value must not stop the grader
                    problem = f"the result for input {case.label} could not be judged: {type(exc).__name__}: {exc}"
                if problem and tag:
                    problem = problem.replace(f"input {case.label}.", f"input {case.label}{tag}.", 1)
            if problem is None:
                passed += 1
            elif problem not in problems:
                problems.append(problem)
        # only a notebook that reached the cases and sent the function defines it (one that is not JSON, exits
        # or is killed before does not: it must not void a correct answer in another notebook)
        scores[name] = {"title": ex.title, "defined": defined and not run.void,
                        "points": round(ex.points * passed / len(cases), 2), "max": ex.points,
                        "passed": passed, "total": len(cases), "problems": problems[:2],
                        "review": bool(review) and rule is not None and rule.startswith("needs review")}
    return scores


_JUDGE_LOCK = threading.Lock()


def grading_key(feedback: Path) -> bytes:
    """The key the hidden cases are derived from (:func:`vizlab.exercises.catalog.hidden_key`):
    ``VIZLAB_GRADER_KEY`` or ``VIZLAB_GRADER_KEY_FILE`` when set, else ``.hidden-cases.key`` in the feedback
    folder (created once, readable only by you; the sandbox never sees that folder)."""
    if os.environ.get("VIZLAB_GRADER_KEY") or os.environ.get("VIZLAB_GRADER_KEY_FILE"):
        catalog.use_key(None)
        return catalog.hidden_key()
    path = feedback / ".hidden-cases.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return read_notebook(path, 4096).strip()


_PACKAGE = Path(__file__).resolve().parents[1]   # the vizlab package imported


def _library_files(root: Path | None = None) -> list[Path]:
    """Every ``*.py`` of the vizlab package (``root``), at any depth: the references call the library (and the
    sandbox runs it), so any of them can change a grade."""
    root = _PACKAGE if root is None else Path(root)
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def library_fingerprint(root: Path | None = None) -> str:
    """A hash of the code of the vizlab package (``root``; default: the one imported) and of torch's version."""
    root = _PACKAGE if root is None else Path(root)
    import torch

    h = hashlib.sha256(f"torch {torch.__version__}".encode())
    for path in _library_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def catalog_fingerprint() -> str:
    """A hash of what decides a grade besides the notebook: the code of the whole vizlab package (catalog,
    references, rules, judging, and the library the references call), torch's version and the hidden cases' key.
    Stored with each result; a change regrades (cached grades of an older catalog or library are never reused)."""
    h = hashlib.sha256(GRADER_VERSION.encode())
    h.update(library_fingerprint().encode())
    h.update(catalog.key_fingerprint().encode())  # a new key for the hidden cases regrades
    for name, ex in sorted(catalog.EXERCISES.items()):  # what is loaded (a catalog changed at run time too)
        h.update(repr((name, ex.function, ex.points, ex.rtol, ex.atol, ex.no_loops,
                       [(c.label, c.hidden) for c in ex.cases(hidden=True)])).encode())
    return h.hexdigest()


def _digest(paths: Sequence[Path], exercises: Sequence[str], limits: Limits, fingerprint: str = "") -> str:
    h = hashlib.sha256(f"{GRADER_VERSION}|{fingerprint}|{','.join(exercises)}|{json.dumps(asdict(limits))}".encode())
    for p in paths:
        h.update(p.name.encode("utf-8", "surrogateescape") + b"\0")
        try:  # the size is checked before anything is read or hashed
            h.update(hashlib.sha256(read_notebook(p, limits.notebook_bytes)).digest())
        except NotebookTooLarge as exc:
            h.update(f"too large: {exc}".encode())
        except OSError:
            h.update(b"unreadable")
    return h.hexdigest()


def grade_student(student: str, paths: Sequence[Path], exercises: Sequence[str], limits: Limits,
                  box: Sandbox, scratch: str | Path | None = None, cases: bytes | None = None,
                  problems: Sequence[str] = ()) -> dict:
    """Grade one student's notebooks, each in a sandbox of its own, all within ``limits.student_timeout``.

    One notebook per exercise: an exercise is graded from the notebook that defines its function. When several
    notebooks define it, the exercise is refused (no points, with a note naming them): a student cannot hand in
    several guesses and keep the best. ``problems`` (entries of the submission that were refused) become notes.
    """
    started = time.monotonic()
    notes: list[str] = list(problems)
    runs: list[tuple[Run, dict[str, dict]]] = []
    failed = False
    if not paths:
        notes.append("no notebook (.ipynb) found in the submission")
    if student.startswith("."):
        notes.append(f"the submission's name {student!r} starts with a dot (a hidden file): graded all the same")
    for path in paths:
        left = limits.student_timeout - (time.monotonic() - started)
        if left < 1:
            notes.append(f"{display_name(path.name)}: not run: the student's time budget of "
                         f"{limits.student_timeout:g} s (all notebooks together) was spent")
            continue
        run = run_notebook(path, exercises, replace(limits, timeout=min(limits.timeout, left)), box, scratch, cases)
        failed = failed or run.failed
        if run.ended:
            notes.append(f"{run.notebook}: {run.ended}")
            if run.log_tail.strip() and run.frames:
                notes.append(f"{run.notebook}: last output: {run.log_tail.strip()[-300:]}")
        notes.extend(run.notes)
        with _JUDGE_LOCK:  # one judge at a time: the references run autograd and hooks on the trusted side
            runs.append((run, judge_run(run, exercises)))
    best: dict[str, dict] = {}
    for name in exercises:
        answering = [(run, scores[name]) for run, scores in runs if scores[name]["defined"]]
        if len(answering) > 1:
            ex = catalog.get(name)
            where = ", ".join(run.notebook for run, _ in answering)
            best[name] = {**answering[0][1], "points": 0, "passed": 0, "problems": [
                f"`{ex.function}` is defined in {len(answering)} notebooks ({where}); each exercise must be answered "
                "in one notebook only, so it was not graded (no points)"]}
        elif answering:
            best[name] = answering[0][1]
        elif runs:
            best[name] = runs[0][1][name]
        else:
            with _JUDGE_LOCK:  # building the cases draws from torch's global generator: one thread at a time
                best[name] = judge_run(Run("(none)", ended="no notebook"), [name])[name]
    return {"student": student, "notebooks": [display_name(p.name) for p in paths], "exercises": best,
            "total": round(sum(s["points"] for s in best.values()), 2),
            "max_total": sum(s["max"] for s in best.values()), "notes": notes[:20],
            "seconds": round(time.monotonic() - started, 2), "grader_version": GRADER_VERSION,
            "ungraded": failed, "caps": caps_line(limits)}


def caps_line(limits: Limits) -> str:
    """What the feedback header says about the caps, and which mechanism enforced them."""
    from .sandbox import CAPS_MECHANISM

    return (f"memory {limits.memory_mb} MB, {limits.processes} processes, {limits.open_files} open files (all of a "
            f"notebook's processes together); {limits.timeout:g} s per notebook, {limits.student_timeout:g} s per "
            f"student; enforced by {CAPS_MECHANISM}")


def _error_result(student: str, paths: Sequence[Path], exercises: Sequence[str], why: str) -> dict:
    """A zero with the reason, for a submission the grader itself could not grade (never a missing row)."""
    run = Run("(none)", ended="the grader could not grade this submission")
    scores = {name: judge_run(run, [name])[name] for name in exercises}
    return {"student": student, "notebooks": [display_name(p.name) for p in paths], "exercises": scores, "total": 0,
            "max_total": sum(s["max"] for s in scores.values()), "notes": [f"could not be graded: {why}"],
            "seconds": 0.0, "grader_version": GRADER_VERSION, "ungraded": True}


def grade(submissions: str | Path, out: str | Path = "grades.csv", *, exercises: Sequence[str] | None = None,
          limits: Limits | None = None, jobs: int | None = None, regrade: bool = False, progress: bool = True,
          feedback_dir: str | Path | None = None, on_result: Callable[[dict], None] | None = None,
          scratch: str | Path | None = None, sandbox: str | None = None) -> list[dict]:
    """Grade every submission in ``submissions``; write ``out`` (CSV) and one feedback file per student.

    Args:
        submissions: folder of ``<student>.ipynb`` files or ``<student>/`` folders.
        out: the CSV of points (one column per exercise, ``total``, ``max_total``, number of notes).
        exercises: exercise names (default: all of :data:`~vizlab.exercises.catalog.EXERCISES`).
        limits: per-notebook limits (:class:`Limits`).
        jobs: parallel submissions (default: the number of CPU cores); must be positive.
        regrade: grade again even students whose notebooks did not change since the last run.
        feedback_dir: where ``<name>.txt``/``.json`` go (default ``<out stem>_feedback`` beside ``out``).
        on_result: called with each new result (for progress displays and tests).
        scratch: with ``sandbox="none"`` only, the folder for the notebooks' working folders (sandboxed
            notebooks work in a private ``/tmp`` of their own).
        sandbox: ``"auto"`` (``bwrap``, else ``unshare``), ``"bwrap"``, ``"unshare"``, or ``"none"`` (no
            isolation, with a warning); default: the environment variable ``VIZLAB_SANDBOX``, else ``"auto"``.

    Returns:
        One result per submission (newly graded and reused), in the order of the submissions. A submission
        the grader could not grade gets a zero with the reason and ``"ungraded": True``.
    """
    limits = limits or Limits()
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS):
        raise ValueError(f"jobs must be a positive integer of at most {MAX_JOBS}, got {jobs!r}")
    exercises = list(exercises or catalog.EXERCISES)
    for name in exercises:
        catalog.get(name)
    out = Path(out)
    found = scan_submissions(submissions)  # a bad SUBMISSIONS_DIR fails before anything is created
    feedback = Path(feedback_dir) if feedback_dir else out.with_name(f"{out.stem}_feedback")
    feedback.mkdir(parents=True, exist_ok=True)
    catalog.use_key(grading_key(feedback))
    students = list(found)
    jobs = jobs or os.cpu_count() or 1
    lock = threading.Lock()
    results: dict[str, dict] = {}
    todo = []
    fingerprint = catalog_fingerprint()
    for student, sub in found.items():
        paths = sub.paths
        digest = _digest(paths, exercises, limits, fingerprint + "|" + "|".join(sub.problems))
        previous = feedback / f"{feedback_name(student)}.json"
        if not regrade and previous.exists():
            try:
                old = json.loads(previous.read_text(encoding="utf-8"))
                if old.get("digest") == digest and old.get("student") == student and not old.get("ungraded"):
                    results[student] = old
                    continue
            except (OSError, ValueError):
                pass
        todo.append((student, paths, digest))

    def save(result: dict) -> None:
        name = feedback_name(result["student"])
        with lock:
            atomic_write(feedback / f"{name}.txt", feedback_text(result))
            atomic_write(feedback / f"{name}.json", json.dumps(result, indent=1, ensure_ascii=False))
            _write_csv(out, feedback, students, exercises, results)

    if not todo:
        _write_csv(out, feedback, students, exercises, results)
        return [results[s] for s in students]
    hide = [Path(submissions), feedback, out.parent, *([scratch] if scratch else []), Path.cwd()]
    box = Sandbox(sandbox or os.environ.get("VIZLAB_SANDBOX") or "auto", hide=hide)
    try:
        cases = _cases_blob(exercises)

        def work(student: str, paths: list[Path], digest: str) -> dict:
            result = grade_student(student, paths, exercises, limits, box, scratch, cases, found[student].problems)
            result["digest"] = digest
            with lock:
                results[student] = result
            save(result)
            return result

        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="grading", unit="submission", disable=not progress)
        pool = ThreadPoolExecutor(max_workers=jobs)
        try:
            futures = {pool.submit(work, *item): item for item in todo}
            for future in as_completed(futures):
                student, paths, digest = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a grader bug for one student must not stop the others
                    print(f"vizlab grade: internal error grading {student}: {type(exc).__name__}: {exc}",
                          file=sys.stderr)
                    result = _error_result(student, paths, exercises, f"internal error: {type(exc).__name__}: {exc}")
                    result["digest"] = digest
                    with lock:
                        results[student] = result
                    save(result)
                if on_result:
                    on_result(result)
                bar.update(1)
        finally:
            # stop the zygote first (every notebook still running dies with it, so the workers return at once),
            # then wait for the workers: Ctrl-C leaves nothing behind
            box.close()
            pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    finally:
        box.close()
    _write_csv(out, feedback, students, exercises, results)
    return [results[s] for s in students]
