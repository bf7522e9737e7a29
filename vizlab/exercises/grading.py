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
anything is allocated). Only this, trusted, process judges: it rebuilds every case (visible and hidden), judges
the values the student's functions returned, and writes the feedback and the CSV, after the notebook's
namespace is gone. An answer that runs the library's own implementation of the graded technique (seen by a
tracer while it is called, so ``exec``/``eval`` do not hide it) scores zero for that exercise, and so does a
loop in a no-loops exercise (found in the bytecode that ran, not only in the source text).

Layout: a submission is ``SUBMISSIONS_DIR/<student>.ipynb`` or a folder ``SUBMISSIONS_DIR/<student>/`` with
any number of notebooks (nbgrader's ``submitted/<student>/<assignment>/*.ipynb`` works). Results go to
``grades.csv`` and ``grades_feedback/<name>.txt`` (and ``.json``), ``<name>`` being the student's name made safe
plus a hash of the exact name (no two students share a file). Each is written atomically as soon as that student
is graded, so an interrupted run loses nothing; running again skips students whose notebooks have not changed,
unless ``regrade=True``.

``sandbox="none"`` runs notebooks as plain processes of your user, with the limits but without isolation: only
for trusted notebooks (it warns loudly).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from . import catalog, sandbox
from .core import Unsupported
from .sandbox import read_frames

GRADER_VERSION = "2"
BACKENDS = ("auto", "bwrap", "unshare", "none")


@dataclass
class Limits:
    """Per-notebook limits. ``memory_mb`` is address space beyond the interpreter with torch loaded."""

    timeout: float = 300.0
    memory_mb: int = 4096
    call_timeout: float = 60.0
    file_bytes: int = 32 * 2**20
    notebook_bytes: int = 50 * 2**20

    def __post_init__(self):
        for name in ("timeout", "memory_mb", "call_timeout", "file_bytes", "notebook_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not value > 0 or value != value or value == float("inf"):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")


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


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "_"


def feedback_name(student: str) -> str:
    """The file stem of a student's feedback: readable, and distinct for distinct names (a hash of the name)."""
    digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_safe_name(student).lstrip('.')[:60] or '_'}-{digest}"


def find_submissions(directory: str | Path) -> dict[str, list[Path]]:
    """``{student: [notebooks]}``: ``<student>.ipynb`` files and ``<student>/`` folders (searched recursively).

    Names starting with a dot count like any other (a dot-file is a submission too); only Jupyter's own
    ``.ipynb_checkpoints`` folders are left out.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR must be a folder; {str(directory)!r} is not")
    found: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name == ".ipynb_checkpoints":
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.setdefault(entry.name[:-len(".ipynb")] or entry.name, []).append(entry)
        elif entry.is_dir():
            found.setdefault(entry.name, []).extend(
                sorted(p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file()))
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


# --- what an answer must not call ------------------------------------------------------------------------------

_GENERIC = {"vizlab", "vizlab.hooks", "vizlab.models", "vizlab.images", "vizlab.toy", "vizlab.device",
            "vizlab.profiles"}
_FORBIDDEN: dict[str, list[tuple[str, str]]] = {}


def forbidden_calls(name: str) -> list[tuple[str, str]]:
    """``(file, qualified name)`` of the library functions that implement exercise ``name``'s technique.

    Derived, not listed: the exercise's reference runs once under a tracer, and every vizlab function it calls
    (outside the exercises package and the generic helpers: hooks, models, images, toy, device) is the library's
    implementation of what the student must write. A reference that is plain tensor code (CAM) forbids nothing.
    """
    if name in _FORBIDDEN:
        return _FORBIDDEN[name]
    ex = catalog.get(name)
    found: dict[tuple[str, str], None] = {}

    def module_of(frame) -> str:
        return str(frame.f_globals.get("__name__", ""))

    def tracer(frame, event, arg):
        mod = module_of(frame)
        if mod.startswith("vizlab.") and not mod.startswith("vizlab.exercises") and mod not in _GENERIC:
            caller = frame.f_back
            while caller is not None and not module_of(caller).startswith("vizlab"):
                caller = caller.f_back  # through decorators and torch wrappers
            if caller is not None and module_of(caller).startswith("vizlab.exercises"):
                code = frame.f_code
                if code.co_name != "<module>":  # importing a module is not calling it
                    found[(code.co_filename, getattr(code, "co_qualname", code.co_name))] = None
        return None

    case = ex.cases(hidden=False)[0]
    args, kwargs = case.make()
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        ex.reference(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a reference that fails here forbids what it reached
        pass
    finally:
        sys.settrace(previous)
    _FORBIDDEN[name] = list(found)
    return _FORBIDDEN[name]


def _cases_blob(exercises: Sequence[str]) -> bytes:
    """What the sandbox receives after a notebook's cells have run: for each exercise its cases' inputs."""
    specs = []
    for name in exercises:
        ex = catalog.get(name)
        specs.append({"name": name, "function": ex.function, "no_loops": bool(ex.no_loops),
                      "forbidden": forbidden_calls(name), "cases": [c.make() for c in ex.cases(hidden=True)]})
    data = pickle.dumps(specs, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(8, "big") + data


def _notebooks_map() -> dict[str, list[list[str]]]:
    return {nb: [[n, catalog.get(n).function] for n in names] for nb, names in catalog.NOTEBOOKS.items()}


# --- the sandbox (trusted side) -------------------------------------------------------------------------------

def _warn(message: str) -> None:
    bar = "!" * 78
    print(f"{bar}\nvizlab grade: WARNING: {message}\n{bar}", file=sys.stderr)


def _never_hide(path: Path) -> bool:
    """Folders that hold the interpreter or vizlab itself (hiding them would break the sandbox)."""
    needed = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent,
              Path(__file__).resolve().parents[1], *(Path(p) for p in sys.path if p and os.path.isdir(p))]
    path = path.resolve()
    return any(path == n.resolve() or path in n.resolve().parents for n in needed)


def hidden_paths(extra: Sequence[str | Path] = ()) -> dict:
    """What the sandbox must not see: the catalog (everything of ``vizlab/exercises`` but the sandbox's own
    code), the instructor notebooks, and ``extra`` (submissions, outputs, scratch)."""
    from .release import SOURCE_DIR

    exercises_dir = str(Path(__file__).resolve().parent)
    dirs: list[str] = []
    candidates = sorted({Path(p).resolve() for p in [SOURCE_DIR, *extra]}, key=lambda p: len(p.parts))
    for p in candidates:
        inside = any(Path(d) in p.parents for d in dirs)  # already hidden with the folder around it
        if p.is_dir() and not inside and not _never_hide(p) and not str(p).startswith("/tmp/"):
            dirs.append(str(p))
    return {"dirs": [exercises_dir, *dirs], "keep": {exercises_dir: ["core.py", "sandbox.py"]},
            "expose": exposed_under_tmp()}


def exposed_under_tmp() -> list[str]:
    """Folders the sandbox needs that live under ``/tmp`` (a virtualenv or a clone of vizlab there, as in a CI
    checkout): the sandbox's private ``/tmp`` would hide them, so they are bound back read-only. Only the
    interpreter's prefix and vizlab's own package folder: never the clone around them (instructor notebooks)."""
    needed = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(__file__).resolve().parents[1]}
    under = sorted(str(p) for p in needed if str(p).startswith("/tmp/"))
    return [p for p in under if not any(p.startswith(q + "/") for q in under)]  # outermost folders only


def zygote_command(backend: str, hide: dict) -> tuple[list[str], dict]:
    """The command that starts the zygote with ``backend`` and the zygote's configuration."""
    # The catalog must never be imported in the sandbox: with unshare, the zygote hides it itself, running the
    # hiding code from sandbox.py's file before anything imports the vizlab.exercises package.
    code = (f"import importlib.util, json, os\n"
            f"spec = importlib.util.spec_from_file_location('_vizlab_boot', {sandbox.__file__!r})\n"
            f"boot = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(boot)\n"
            f"boot.hide_from_config()\ndel boot\n"
            f"from vizlab.exercises.sandbox import zygote_main\nzygote_main()\n")
    python = [sys.executable, "-c", code]
    if backend == "bwrap":
        cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for directory in hide.get("expose", []):  # before the hiding mounts, which may lie inside them
            cmd += ["--ro-bind", directory, directory]
        cmd += ["--unshare-all", "--die-with-parent", "--new-session"]
        for directory in hide["dirs"]:
            cmd += ["--tmpfs", directory]
        for directory, names in hide["keep"].items():
            for name in names:
                cmd += ["--ro-bind", os.path.join(directory, name), os.path.join(directory, name)]
        for directory in hide["dirs"]:
            cmd += ["--remount-ro", directory]
        cmd += ["--remount-ro", "/tmp"]
        return cmd + python, {"sandboxed": True, "expose": hide.get("expose", [])}
    if backend == "unshare":
        return (["unshare", "-Upfn", "--mount-proc", "-r", "--kill-child"] + python,
                {"sandboxed": True, "hide": hide, "expose": hide.get("expose", [])})
    return python, {"sandboxed": False}


class Sandbox:
    """A running zygote and the notebooks it runs (see :mod:`vizlab.exercises.sandbox`)."""

    def __init__(self, backend: str = "auto", hide: Sequence[str | Path] = (), startup_timeout: float = 120.0):
        if backend not in BACKENDS:
            raise ValueError(f"sandbox must be one of {', '.join(BACKENDS)}; got {backend!r}")
        self.lock = threading.Lock()
        self.ended: dict[int, threading.Event] = {}
        self.statuses: dict[int, int] = {}
        self.next_id = 0
        self.gone = False
        self.proc: subprocess.Popen | None = None
        errors = []
        candidates = ["bwrap", "unshare"] if backend == "auto" else [backend]
        for name in candidates:
            if name != "none" and not shutil.which(name):
                errors.append(f"{name}: not installed")
                continue
            problem = self._start(name, hidden_paths(hide), startup_timeout)
            if problem is None:
                self.backend = name
                break
            errors.append(f"{name}: {problem}")
        else:
            hint = ("install bubblewrap (apt-get install bubblewrap) or allow unprivileged user namespaces, or "
                    "pass --sandbox none to run trusted notebooks without isolation")
            raise RuntimeError(f"no sandbox could be started ({'; '.join(errors)}); {hint}")
        if self.backend == "none":
            _warn("--sandbox none: notebooks run as YOUR user with access to your files, your network and the "
                  "grader's processes. Use it only for notebooks you trust.")

    def _start(self, backend: str, hide: dict, timeout: float) -> str | None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd, config = zygote_command(backend, hide)
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "VIZLAB_ZYGOTE_FD": str(child.fileno()), "VIZLAB_ZYGOTE_CONFIG": json.dumps(config),
               "PYTHONPATH": os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])]),
               "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": "/tmp",
               "PYTHONWARNINGS": "ignore"}
        self.errlog = tempfile.TemporaryFile()

        def die_with_us():  # PR_SET_PDEATHSIG: the zygote's launcher dies with the grader, even on SIGKILL
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)

        try:
            proc = subprocess.Popen(cmd, pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL,
                                    stdout=self.errlog, stderr=self.errlog, preexec_fn=die_with_us,
                                    start_new_session=True)
        except OSError as exc:
            return str(exc)
        finally:
            child.close()
        parent.settimeout(timeout)
        try:
            hello = json.loads(parent.recv(1 << 16) or b"null")
        except (OSError, ValueError):
            hello = None
        if not isinstance(hello, dict) or not hello.get("ok"):
            proc.kill()
            proc.wait()
            parent.close()
            size = self.errlog.seek(0, 2)
            self.errlog.seek(max(0, size - 600))
            tail = self.errlog.read().decode("utf-8", "replace").strip().splitlines()
            why = (hello or {}).get("error") if isinstance(hello, dict) else None
            return why or (tail[-1] if tail else "the sandbox did not start")
        parent.settimeout(None)
        self.proc, self.sock = proc, parent
        self.reader = threading.Thread(target=self._read_control, daemon=True)
        self.reader.start()
        return None

    def _read_control(self) -> None:
        while True:
            try:
                msg = self.sock.recv(1 << 16)
            except OSError:
                msg = b""
            if not msg:
                with self.lock:
                    self.gone = True  # results of notebooks still running now are not the notebooks' doing
                    for event in self.ended.values():
                        event.set()  # the zygote is gone: every running notebook is gone with it
                return
            try:
                data = json.loads(msg)
                job_id, status = int(data["end"]), int(data["status"])
            except (ValueError, KeyError, TypeError):
                continue
            with self.lock:
                self.statuses[job_id] = status
                event = self.ended.get(job_id)
            if event:
                event.set()

    def run(self, job: dict, cases: bytes, limits: Limits) -> dict:
        """Run one notebook; returns its raw results, the status its init reported, the log tail, timing."""
        with self.lock:
            job_id = self.next_id
            self.next_id += 1
            event = self.ended[job_id] = threading.Event()
        results_r, results_w = os.pipe()
        status_r, status_w = os.pipe()
        log, cases_file, job_file = tempfile.TemporaryFile(), tempfile.TemporaryFile(), tempfile.TemporaryFile()
        workdir = None
        if self.backend == "none":
            workdir = tempfile.mkdtemp(prefix="vizlab-grade-", dir=job.pop("scratch", None))
            job["workdir"] = os.path.join(workdir, "work")
            os.mkdir(job["workdir"])
        job.pop("scratch", None)
        cases_file.write(cases)
        cases_file.seek(0)
        pickle.dump(job, job_file, protocol=pickle.HIGHEST_PROTOCOL)
        job_file.seek(0)
        collected: dict[str, Any] = {"results": bytearray(), "overflow": False, "status": b""}

        def drain(fd: int, key: str, cap: int) -> None:
            buf = collected[key]
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                if len(buf) + len(chunk) <= cap:
                    buf.extend(chunk)
                else:  # keep draining (the notebook must not block), but keep nothing more
                    collected["overflow" if key == "results" else "status_overflow"] = True
            os.close(fd)

        collected["status"] = bytearray()
        readers = [threading.Thread(target=drain, args=(results_r, "results", limits.file_bytes), daemon=True),
                   threading.Thread(target=drain, args=(status_r, "status", 4096), daemon=True)]
        for r in readers:
            r.start()
        started = time.monotonic()
        timed_out = False
        try:
            socket.send_fds(self.sock, [pickle.dumps({"op": "run", "id": job_id})],
                            [results_w, status_w, log.fileno(), cases_file.fileno(), job_file.fileno()])
        finally:
            for fd in (results_w, status_w):
                os.close(fd)
        try:
            if not event.wait(limits.timeout):
                timed_out = True
                self.sock.send(pickle.dumps({"op": "kill", "id": job_id}))
                event.wait(30)
        finally:
            for r in readers:
                r.join(30)
            with self.lock:
                self.ended.pop(job_id, None)
                zygote_status = self.statuses.pop(job_id, None)
            cases_file.close()
            job_file.close()
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
        size = os.fstat(log.fileno()).st_size
        tail = os.pread(log.fileno(), 2000, max(0, size - 2000)).decode("utf-8", "replace")
        log.close()
        return {"results": bytes(collected["results"]), "overflow": collected["overflow"],
                "status": bytes(collected["status"]), "log_tail": tail, "timed_out": timed_out,
                "seconds": time.monotonic() - started, "zygote_status": zygote_status,
                "alive": not self.gone and self.proc is not None and self.proc.poll() is None}

    def close(self) -> None:
        """Stop the zygote (and with it every notebook still running)."""
        if self.proc is None:
            return
        with self.lock:
            self.gone = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader; the zygote sees the end and stops
            self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.errlog.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _parse_status(data: bytes) -> dict | None:
    """The init's report ``{"signal", "code", "leftovers"}``, checked field by field."""
    try:
        report = json.loads(data.decode("utf-8")) if data else None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(report, dict) or set(report) != {"signal", "code", "leftovers"}:
        return None
    for key in report:
        value = report[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**16):
            return None
    return report


def run_notebook(path: Path, exercises: Sequence[str], limits: Limits, box: Sandbox,
                 scratch: str | Path | None = None, cases: bytes | None = None) -> Run:
    """Run one notebook in the sandbox and collect its frames (never raises for a bad notebook)."""
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
    job = {"cells": cells, "notebooks": _notebooks_map(), "memory_mb": limits.memory_mb,
           "file_bytes": limits.file_bytes, "timeout": limits.timeout, "call_timeout": limits.call_timeout,
           "tmp_bytes": max(limits.file_bytes * 4, 64 * 2**20), "scratch": scratch}
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
    status = _parse_status(out["status"])
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
    elif not done:
        sig, code = status["signal"], status["code"]
        if sig:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            why = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed: memory exhausted or stopped)",
                   "SIGSEGV": " (crashed, often an allocation that failed)"}.get(name, "")
            run.ended = f"the notebook process was killed by {name}{why} {where}"
        else:
            run.ended = f"the notebook process exited early with code {code} (sys.exit/os._exit?) {where}"
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
        frames = {f["case"]: f for f in run.frames if f["kind"] == "case" and f["exercise"] == name}
        missing = any(f["kind"] == "missing" and f["exercise"] == name for f in run.frames)
        function = next((f for f in run.frames if f["kind"] == "function" and f["exercise"] == name), None)
        source = function["source"] if function else None
        forbidden = sorted({hit for f in frames.values() for hit in f["forbidden"]})
        loops = list(dict.fromkeys([*(function["loops"] if function else []),
                                    *(loop for f in frames.values() for loop in f["loops"])]))
        rule = None
        if forbidden and not run.void:
            rule = (f"`{ex.function}` calls vizlab's own implementation of this technique ({', '.join(forbidden)}); "
                    "write it yourself. No points for this exercise")
        elif ex.no_loops and loops and not run.void:
            rule = (f"{ex.function} must not use Python loops (found running: {', '.join(loops[:4])}). "
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
            elif frame["error"] == "not implemented":
                problem = f"`{ex.function}` is not implemented yet (raises NotImplementedError)"
            elif frame["error"]:
                problem = f"calling {ex.function} on input {case.label}{tag} raised {frame['error']}"
            else:
                try:
                    problem = ex.judge(case, _unsupported(frame["value"]), source)
                except Exception as exc:  # noqa: BLE001 - a strange value must not stop the grader
                    problem = f"the result for input {case.label} could not be judged: {type(exc).__name__}: {exc}"
                if problem and tag:
                    problem = problem.replace(f"input {case.label}.", f"input {case.label}{tag}.", 1)
            if problem is None:
                passed += 1
            elif problem not in problems:
                problems.append(problem)
        scores[name] = {"title": ex.title, "defined": not missing and not run.void,
                        "points": round(ex.points * passed / len(cases), 2), "max": ex.points,
                        "passed": passed, "total": len(cases), "problems": problems[:2]}
    return scores


_JUDGE_LOCK = threading.Lock()


def _digest(paths: Sequence[Path], exercises: Sequence[str], limits: Limits) -> str:
    h = hashlib.sha256(f"{GRADER_VERSION}|{','.join(exercises)}|{json.dumps(asdict(limits))}".encode())
    for p in paths:
        h.update(p.name.encode("utf-8", "surrogatepass") + b"\0")
        try:
            h.update(hashlib.sha256(p.read_bytes()).digest())
        except OSError:
            h.update(b"unreadable")
    return h.hexdigest()


def grade_student(student: str, paths: Sequence[Path], exercises: Sequence[str], limits: Limits,
                  box: Sandbox, scratch: str | Path | None = None, cases: bytes | None = None) -> dict:
    """Grade one student's notebooks (each in its own sandbox); per exercise the best notebook counts."""
    started = time.monotonic()
    best: dict[str, dict] = {}
    notes: list[str] = []
    failed = False
    if not paths:
        notes.append("no notebook (.ipynb) found in the submission")
    if student.startswith("."):
        notes.append(f"the submission's name {student!r} starts with a dot (a hidden file): graded all the same")
    for path in paths:
        run = run_notebook(path, exercises, limits, box, scratch, cases)
        failed = failed or run.failed
        if run.ended:
            notes.append(f"{run.notebook}: {run.ended}")
            if run.log_tail.strip() and run.frames:
                notes.append(f"{run.notebook}: last output: {run.log_tail.strip()[-300:]}")
        notes.extend(run.notes)
        with _JUDGE_LOCK:  # one judge at a time: the references run autograd and hooks on the trusted side
            scores = judge_run(run, exercises)
        for name, score in scores.items():
            # the best notebook for this exercise; on a tie, one that defines the function explains more
            if name not in best or (score["points"], score["defined"]) > (best[name]["points"], best[name]["defined"]):
                best[name] = score
    for name in exercises:
        if name not in best:
            with _JUDGE_LOCK:  # building the cases draws from torch's global generator: one thread at a time
                best[name] = judge_run(Run("(none)", ended="no notebook"), [name])[name]
    return {"student": student, "notebooks": [p.name for p in paths], "exercises": best,
            "total": round(sum(s["points"] for s in best.values()), 2),
            "max_total": sum(s["max"] for s in best.values()), "notes": notes[:20],
            "seconds": round(time.monotonic() - started, 2), "grader_version": GRADER_VERSION,
            "ungraded": failed}


def _error_result(student: str, paths: Sequence[Path], exercises: Sequence[str], why: str) -> dict:
    """A zero with the reason, for a submission the grader itself could not grade (never a missing row)."""
    run = Run("(none)", ended="the grader could not grade this submission")
    scores = {name: judge_run(run, [name])[name] for name in exercises}
    return {"student": student, "notebooks": [p.name for p in paths], "exercises": scores, "total": 0,
            "max_total": sum(s["max"] for s in scores.values()), "notes": [f"could not be graded: {why}"],
            "seconds": 0.0, "grader_version": GRADER_VERSION, "ungraded": True}


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


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula: text starting with ``= + - @`` (or a tab or carriage
    return) gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _write_csv(out: Path, feedback: Path, students: Sequence[str], exercises: Sequence[str],
               results: dict[str, dict] | None = None) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", *exercises, "total", "max_total", "notes"])
    for student in students:
        result = (results or {}).get(student)
        if result is None:
            try:
                result = json.loads((feedback / f"{feedback_name(student)}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
        writer.writerow([csv_cell(student), *(result["exercises"].get(e, {}).get("points", 0) for e in exercises),
                         result["total"], result["max_total"], len(result["notes"])])
    atomic_write(out, buf.getvalue())


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
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    exercises = list(exercises or catalog.EXERCISES)
    for name in exercises:
        catalog.get(name)
    out = Path(out)
    feedback = Path(feedback_dir) if feedback_dir else out.with_name(f"{out.stem}_feedback")
    feedback.mkdir(parents=True, exist_ok=True)
    found = find_submissions(submissions)
    students = list(found)
    jobs = jobs or os.cpu_count() or 1
    lock = threading.Lock()
    results: dict[str, dict] = {}
    todo = []
    for student, paths in found.items():
        digest = _digest(paths, exercises, limits)
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
            result = grade_student(student, paths, exercises, limits, box, scratch, cases)
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
