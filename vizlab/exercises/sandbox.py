"""The untrusted side of grading: run one submitted notebook and send back what its functions return.

:func:`runner` (the intermediate process, started by the grader, in a session of its own) forks the
*student* process,
which sets its resource limits, executes the notebook's code cells one by one, calls the student's
functions on every case of every exercise, and writes one frame per outcome to the inherited file
descriptor ``RESULTS_FD`` (an unlinked temporary file: it has no name the student could find and delete).
The runner waits and appends an ``exit`` frame with how the student process ended.

Nothing here decides a grade: the grader rebuilds every case and judges the returned values itself, so a
submission that patches vizlab's checks, or forges frames, gains nothing it could not compute honestly. If the
submission kills its parent (the runner), the grader sees the runner die without an ``exit`` frame.

Frame: 4-byte big-endian length, then ``torch.save`` of a dict of strings, numbers and tensors (read back with
``torch.load(weights_only=True)``, which does not run code).
"""
from __future__ import annotations

import io
import os
import resource
import signal
import struct
import time
import traceback
from typing import Any

MAX_FRAME = 16 * 2**20


class CallTimeout(Exception):
    """A cell or a call ran past the per-call limit."""


def _sanitize(value: Any, depth: int = 0) -> Any:
    import numpy as np
    import torch

    if depth > 4:
        return {"__unsupported__": "deeply nested value"}
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().as_subclass(torch.Tensor).clone().contiguous()
    if isinstance(value, np.ndarray) and value.dtype != object:
        return torch.from_numpy(np.ascontiguousarray(value)).clone()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, list)) and len(value) <= 64:
        return [_sanitize(v, depth + 1) for v in value]
    return {"__unsupported__": type(value).__name__}


def write_frame(fd: int, record: dict) -> None:
    import torch

    buf = io.BytesIO()
    torch.save(record, buf)
    data = buf.getvalue()
    if len(data) > MAX_FRAME:
        buf = io.BytesIO()
        torch.save({**{k: v for k, v in record.items() if k != "value"}, "value": None,
                    "error": f"the result is too large to send back ({len(data)} bytes)"}, buf)
        data = buf.getvalue()
    os.write(fd, struct.pack(">I", len(data)) + data)


def read_frames(data: bytes) -> tuple[list[dict], int]:
    """The frames in ``data`` and how many could not be read."""
    import torch

    frames, bad, pos = [], 0, 0
    while pos + 4 <= len(data):
        (size,) = struct.unpack(">I", data[pos:pos + 4])
        pos += 4
        if size > MAX_FRAME or pos + size > len(data):
            bad += 1
            break
        try:
            record = torch.load(io.BytesIO(data[pos:pos + size]), weights_only=True)
            if isinstance(record, dict):
                frames.append(record)
            else:
                bad += 1
        except Exception:
            bad += 1
        pos += size
    return frames, bad


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


def _limit(job: dict) -> None:
    """Resource limits of the student process (set after fork; they cannot be raised again)."""
    status = open("/proc/self/status").read() if os.path.exists("/proc/self/status") else ""
    vm = 0
    for line in status.splitlines():
        if line.startswith("VmSize:"):
            vm = int(line.split()[1]) * 1024
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
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the runner (if the notebook kills its parent)


def _student(job: dict, fd: int) -> None:
    import linecache

    import torch

    from . import catalog

    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        transform = TransformerManager().transform_cell
    except Exception:  # IPython missing: plain Python cells still work
        def transform(src: str) -> str:
            return src
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
    for name in job["exercises"]:
        exercise = catalog.get(name)
        timed_out = False
        fn = namespace.get(exercise.function)
        if not callable(fn):
            write_frame(fd, {"kind": "missing", "exercise": name})
            continue
        if exercise.no_loops:
            from .core import function_source
            source = function_source(fn)
            write_frame(fd, {"kind": "source", "exercise": name, "source": (source or "")[:20000]})
        for i, case in enumerate(exercise.cases(hidden=True)):
            record: dict[str, Any] = {"kind": "case", "exercise": name, "case": i, "value": None, "error": None}
            started = time.monotonic()
            if timed_out:
                record["error"] = "skipped: an earlier call of this function ran past the time limit"
                write_frame(fd, record)
                continue
            try:
                _alarm(limit)
                try:
                    record["value"] = _sanitize(exercise.call(fn, case))
                finally:
                    _alarm(0)
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
            write_frame(fd, record)
    write_frame(fd, {"kind": "done"})


def runner(job: dict, results: Any, log: Any, workdir: str) -> None:
    """The intermediate process: own session, fork the student process, wait, report how it ended.

    Started by the grader through a multiprocessing *forkserver* that has imported torch and vizlab once,
    so a submission starts in milliseconds; ``results`` and ``log`` are file descriptors handed over by it.
    """
    os.setsid()  # a process group of its own: the grader can stop it and everything it started
    fd = results.detach() if hasattr(results, "detach") else int(results)
    log_fd = log.detach() if hasattr(log, "detach") else int(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.chdir(workdir)
    os.environ.update({"TMPDIR": workdir, "HOME": workdir, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
                       "VIZLAB_STRICT_CHECKS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: processes the notebook starts and orphans stay our descendants
    pid = os.fork()
    if pid == 0:  # the student process
        code = 0
        try:
            _limit(job)
            _student(job, fd)
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)  # skip atexit handlers a notebook may have registered
    _, status = os.waitpid(pid, 0)
    leftovers = _kill_children()
    if os.WIFSIGNALED(status):
        write_frame(fd, {"kind": "exit", "signal": os.WTERMSIG(status), "code": None, "leftovers": leftovers})
    else:
        write_frame(fd, {"kind": "exit", "signal": None, "code": os.WEXITSTATUS(status), "leftovers": leftovers})
    os._exit(0)


def _prctl(option: int, value: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None).prctl(option, value, 0, 0, 0)
    except Exception:  # not Linux: no subreaper, no death signal
        pass


def _kill_children() -> int:
    """Kill and reap every process still below the runner (background processes the notebook left)."""
    me, killed = os.getpid(), 0
    for _ in range(50):
        children = []
        try:
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/stat") as f:
                            stat = f.read()
                    except OSError:
                        continue
                    fields = stat.rsplit(")", 1)[1].split()
                    if int(fields[1]) == me:  # field 4: the parent's pid
                        children.append((int(entry), fields[0] == "Z"))
        except OSError:
            return killed
        if not children:
            return killed
        for child, zombie in children:
            try:
                os.kill(child, signal.SIGKILL)
                killed += not zombie  # a zombie has already ended: only reap it
            except ProcessLookupError:
                pass
        for child, _ in children:
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass
    return killed
