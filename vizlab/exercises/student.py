"""The student process: runs a notebook's code cells, then calls its functions on the cases it is handed.

Runs inside the sandbox (:mod:`vizlab.exercises.sandbox` forks it for each notebook); nothing here decides a grade.
It sets its resource limits, stands in for ``get_ipython()`` and for ``vizlab.exercises`` (the checks are the
grader's job), runs the cells, tells ``init`` it is ready, receives the exercises' cases (hidden ones included:
they reach the sandbox only now), calls the student's functions and writes one frame per outcome
(:mod:`vizlab.exercises.protocol`).
"""
from __future__ import annotations

import dis
import os
import pickle
import resource
import signal
import struct
import sys
import time
import traceback
import types
from typing import Any

from .protocol import MAX_STR, _sanitize, write_frame
from .sandbox import _EXPOSED, PR_SET_PDEATHSIG, _prctl

class CallTimeout(Exception):
    """A cell or a call ran past the per-call limit."""


def _alarm(seconds: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.0))


def _on_alarm(signum, frame):
    raise CallTimeout()


class _Shell:
    """Stands in for IPython's ``get_ipython()`` when grading: shell escapes and most magics do nothing, but the
    code under ``%time``/``%%time``, ``%timeit``/``%%timeit`` and ``%%capture`` runs once (it may define functions)."""

    RUNS_CODE = {"time", "timeit", "capture"}

    def __init__(self, namespace: dict | None = None, transform=lambda src: src):
        self.namespace = namespace if namespace is not None else {}
        self.transform = transform

    def _run(self, code: str) -> None:
        exec(compile(self.transform(code), "<magic>", "exec"), self.namespace)

    def run_line_magic(self, name, line, *args, **kwargs):
        if name in ("time", "timeit") and line.strip():
            self._run(line.split(None, 1)[-1] if line.lstrip().startswith("-") else line)
        return None

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if name in self.RUNS_CODE:
            self._run(cell)
        return None

    def system(self, *args, **kwargs):
        return None

    def getoutput(self, *args, **kwargs):
        return []

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _limit(job: dict, vm: int) -> None:
    """Resource limits of the student process (they cannot be raised again)."""
    limits = [(resource.RLIMIT_FSIZE, int(job["file_bytes"])), (resource.RLIMIT_CPU, int(job["timeout"]) + 5),
              (resource.RLIMIT_CORE, 0)]
    if vm:  # address space beyond what the interpreter with torch already maps (Linux; skipped elsewhere)
        limits.append((resource.RLIMIT_AS, vm + int(job["memory_mb"]) * 2**20))
    for which, value in limits:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with an error instead of a kill
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# --- what ran --------------------------------------------------------------------------------------------------

_LOOP_OPS = {dis.opmap[name] for name in ("FOR_ITER", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT",
                                          "JUMP_ABSOLUTE", "POP_JUMP_BACKWARD_IF_TRUE",
                                          "POP_JUMP_BACKWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_NONE",
                                          "POP_JUMP_BACKWARD_IF_NOT_NONE") if name in dis.opmap}


def code_loops(code: types.CodeType, nested: bool = True) -> list[str]:
    """Where ``code`` (and, with ``nested``, the code objects it defines) loops: ``["name (line n)", ...]``."""
    found = []
    line = None
    for ins in dis.get_instructions(code):
        if ins.starts_line is not None:
            line = ins.starts_line
        if ins.opcode in _LOOP_OPS:
            found.append(f"{getattr(code, 'co_qualname', code.co_name)} (line {line})")
            break
    if nested:
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found.extend(code_loops(const))
    return found


_LIBRARY_CODES: set = set()
_LIBRARY_MODULES: set = set()


def _snapshot_library() -> None:
    """Remember every code object loaded before any notebook runs: the library's own code (by value)."""
    import gc

    def add(code: types.CodeType) -> None:
        if code not in _LIBRARY_CODES:
            _LIBRARY_CODES.add(code)
            for const in code.co_consts:
                if isinstance(const, types.CodeType):
                    add(const)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isinstance on some deprecated torch objects warns
        for obj in gc.get_objects():
            if type(obj) is types.FunctionType:
                add(obj.__code__)
    _LIBRARY_MODULES.update(sys.modules)


def _is_library(code: types.CodeType) -> bool:
    if code in _LIBRARY_CODES:
        return True
    # a module imported later from a real file (the notebook imported a library the zygote had not loaded)
    for name, module in list(sys.modules.items()):
        if name not in _LIBRARY_MODULES and getattr(module, "__file__", None) == code.co_filename:
            return os.path.isfile(code.co_filename) and not _student_writable(code.co_filename)
    return False


def _student_writable(path: str) -> bool:
    """Whether a notebook could have written ``path``: under its private ``/tmp`` (or the working folder), but
    not in a read-only folder bound back into it (:data:`_EXPOSED`)."""
    if any(path.startswith(e.rstrip("/") + "/") for e in _EXPOSED):
        return False
    return path.startswith(("/tmp", os.getcwd()))


class _Guard:
    """An audit hook (it cannot be removed) that refuses what would blind the tracer while a function is graded:
    changing the trace or profile function, ctypes, new processes; and, at any time, searching the interpreter's
    memory for the harness (``gc.get_objects`` and friends)."""

    CALLS = ("sys.settrace", "sys.setprofile", "ctypes.", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec",
             "os.spawn", "os.system", "subprocess.Popen", "os.kill", "os.killpg", "signal.pthread_kill")
    ALWAYS = ("gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames")

    def __init__(self):
        self.calling = False   # a graded call is running
        self.harness = False   # the harness itself is switching the tracer

    def __call__(self, event: str, args: tuple) -> None:
        if self.harness:
            return
        if event.startswith(self.ALWAYS) or (self.calling and event.startswith(self.CALLS)):
            raise PermissionError(f"{event} is not allowed while a notebook is graded")


# --- the cells and the calls -----------------------------------------------------------------------------------

def _stub_exercises(notebooks: dict[str, list[list[str]]]) -> None:
    """A stand-in ``vizlab.exercises`` for the sandbox: the checks are the grader's job, not the notebook's.

    The real catalog (references, hidden cases) is not mounted; ``E1.saliency.check(fn)`` prints a line and
    ``passes(fn)`` is ``False``, so demonstration cells guarded by it are skipped.
    """
    from types import SimpleNamespace

    here = os.path.dirname(os.path.abspath(__file__))

    class Check:
        def __init__(self, name: str, function: str):
            self.name, self.function = name, function

        def check(self, *args, **kwargs):
            print(f"({self.name}: checked by the grader)")
            return SimpleNamespace(exercise=self.name, status="graded later", passed=False, cases=0)

        def passes(self, *args, **kwargs):
            return False

        def hint(self):
            return ""

        def solution(self):
            return ""

    stub = types.ModuleType("vizlab.exercises")
    stub.__path__ = [here]
    stub.__doc__ = "Stand-in used while grading (the real checks run in the grader)."
    all_checks = {}
    for notebook, pairs in notebooks.items():
        checks = {name: Check(name, function) for name, function in pairs}
        all_checks.update(checks)
        setattr(stub, notebook.split("_")[0], SimpleNamespace(**checks))
    stub.EXERCISES = all_checks
    sys.modules["vizlab.exercises"] = stub
    import vizlab

    vizlab.exercises = stub


def _student(job: dict, fd: int, ready_fd: int, cases_fd: int) -> None:
    import linecache
    import threading

    import torch

    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _on_alarm)
    transform = job["transform"]
    _stub_exercises(job["notebooks"])
    try:
        import tqdm

        tqdm.tqdm.monitor_interval = 0  # no monitor thread: threads left running void the grading
    except Exception:  # noqa: BLE001
        pass
    guard = _Guard()
    sys.addaudithook(guard)
    namespace: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}
    shell = _Shell(namespace, transform)
    namespace["get_ipython"] = lambda: shell
    limit = float(job["call_timeout"])
    for index, source in job["cells"]:
        write_frame(fd, {"kind": "cell", "index": index})
        error = None
        try:
            code = transform(source)
            name = f"<cell {index}>"
            linecache.cache[name] = (len(code), None, code.splitlines(True), name)
            compiled = compile(code, name, "exec")
            _alarm(limit)
            try:
                exec(compiled, namespace)
            finally:
                _alarm(0)
        except CallTimeout:
            error = f"the cell ran longer than {limit:g} s and was stopped"
        except SystemExit as exc:
            error = f"the cell called sys.exit({exc.code!r}); the grader ignored it and went on"
        except MemoryError:
            error = f"MemoryError: the cell ran out of memory (limit: {job['memory_mb']} MB)"
        except BaseException as exc:  # noqa: BLE001 - anything a notebook can raise
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        if error:
            write_frame(fd, {"kind": "cell_error", "index": index, "error": error})
    # The cells are done: only now do the cases (hidden ones included) enter the sandbox.
    guard.harness = True
    threads = len(sys._current_frames())
    guard.harness = False
    if threads > 1:
        write_frame(fd, {"kind": "threads", "count": threads - 1})
    os.write(ready_fd, b"R")
    os.close(ready_fd)
    with os.fdopen(cases_fd, "rb") as f:
        (size,) = struct.unpack(">Q", f.read(8))
        exercises = pickle.loads(f.read(size))  # from the trusted grader
    seen: set = set()

    def tracer(frame, event, arg):
        seen.add(frame.f_code)

    from .core import function_source

    for spec in exercises:
        name, function = spec["name"], spec["function"]
        timed_out = False
        fn = namespace.get(function)
        if not callable(fn):
            write_frame(fd, {"kind": "missing", "exercise": name})
            continue
        source = function_source(fn) if spec["no_loops"] else None
        code = getattr(fn, "__code__", None)
        static = code_loops(code) if spec["no_loops"] and isinstance(code, types.CodeType) else []
        write_frame(fd, {"kind": "function", "exercise": name, "source": (source or "")[:MAX_STR] or None,
                         "loops": static[:10]})
        forbidden = {tuple(f) for f in spec["forbidden"]}
        for i, (args, kwargs) in enumerate(spec["cases"]):
            record: dict[str, Any] = {"kind": "case", "exercise": name, "case": i, "value": None, "error": None,
                                      "seconds": 0.0, "forbidden": [], "loops": []}
            started = time.monotonic()
            if timed_out:
                record["error"] = "skipped: an earlier call of this function ran past the time limit"
                write_frame(fd, record)
                continue
            seen.clear()
            try:
                _alarm(limit)
                guard.harness = True
                threading.settrace(tracer)
                sys.settrace(tracer)
                guard.harness, guard.calling = False, True
                try:
                    value = fn(*args, **kwargs)
                finally:
                    guard.harness, guard.calling = True, False
                    sys.settrace(None)
                    threading.settrace(None)
                    guard.harness = False
                    _alarm(0)
                record["value"] = _sanitize(value)
            except NotImplementedError:
                record["error"] = "not implemented"
            except CallTimeout:
                record["error"] = f"the call ran longer than {limit:g} s and was stopped"
                timed_out = True
            except SystemExit as exc:
                record["error"] = f"the function called sys.exit({exc.code!r})"
            except MemoryError:
                record["error"] = f"MemoryError: the call ran out of memory (limit: {job['memory_mb']} MB)"
            except BaseException as exc:  # noqa: BLE001
                tb = traceback.extract_tb(exc.__traceback__)
                where = next((f" ({f.filename}, line {f.lineno})" for f in reversed(tb)
                              if f.filename.startswith("<cell")), "")
                record["error"] = f"{type(exc).__name__}: {str(exc)[:300]}{where}"
            record["seconds"] = time.monotonic() - started
            hits = sorted({f"{c.co_qualname}" for c in seen
                           if (c.co_filename, getattr(c, "co_qualname", c.co_name)) in forbidden})
            record["forbidden"] = hits[:10]
            if spec["no_loops"]:
                record["loops"] = sorted({loop for c in seen if not _is_library(c)
                                          for loop in code_loops(c, nested=False)})[:10]
            write_frame(fd, record)
    write_frame(fd, {"kind": "done"})
