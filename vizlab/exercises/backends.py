"""Sandbox backends (trusted side): start the zygote inside ``bwrap`` or ``unshare`` (or, for trusted notebooks
only, without isolation) and hand it one notebook at a time.

:class:`Sandbox` owns the zygote process and its control socket; :func:`zygote_command` builds the command line of
each backend; :func:`sandbox_view` says what the sandbox sees (deny by default). What runs inside is
:mod:`vizlab.exercises.sandbox`.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from . import sandbox

if TYPE_CHECKING:
    from .grading import Limits

BACKENDS = ("auto", "bwrap", "unshare", "none")


def _warn(message: str) -> None:
    bar = "!" * 78
    print(f"{bar}\nvizlab grade: WARNING: {message}\n{bar}", file=sys.stderr)


# --- what the sandbox sees -------------------------------------------------------------------------------------

# What the sandbox is allowed to see (everything else does not exist there): the system's programs and libraries,
# a few files of /etc that the dynamic loader and Python read, the interpreter and its packages, vizlab's package
# (without the catalog) and its data folder. Never a home folder, the checkout around vizlab, /run, /var or /tmp.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
                "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/mime.types")
DEVICES = sandbox.DEVICES  # the whole of /dev, with /dev/shm and these links:
DEV_LINKS = sandbox.DEV_LINKS
# What the sandbox runs of vizlab/exercises; the rest of that folder (catalog, references, grader) is masked.
SANDBOX_FILES = ("core.py", "sandbox.py", "student.py", "protocol.py")


def _inside(path: str, folders: Sequence[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def sandbox_view(hide: Sequence[str | Path] = ()) -> dict:
    """What the sandbox sees, deny by default.

    Returns ``{"ro": [(source, target), ...], "symlinks": [(target, link), ...], "mask": [(folder, [kept
    files]), ...], "expose": [...]}``: folders and files bound read-only, symbolic links recreated, folders
    covered by an empty one (keeping the named files), and what of ``ro`` lies under ``/tmp`` (bound back into
    each notebook's private ``/tmp``). ``hide`` (submissions, outputs) is masked where it lies inside a bound
    folder.
    """
    import vizlab

    package = os.path.realpath(os.path.dirname(vizlab.__file__))
    symlinks, wanted = [], []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            symlinks.append((os.readlink(path), path))
        elif os.path.isdir(path):
            wanted.append(path)
    wanted += [p for p in SYSTEM_FILES if os.path.lexists(p)]
    python = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    for entry in sys.path:
        # the package root (vizlab's checkout) gives only its vizlab folder; anything else on the path only when
        # it is a folder of installed packages (never a checkout or a home folder put on PYTHONPATH)
        if entry and os.path.isdir(entry) and os.path.realpath(entry) != os.path.dirname(package):
            name = os.path.basename(entry.rstrip("/"))
            if name in ("site-packages", "dist-packages") or entry.endswith((".zip", ".egg")):
                python.append(entry)
    wanted += [p for p in python if os.path.isdir(p)]
    wanted.append(package)
    data = os.path.join(os.path.dirname(package), "data")
    if os.path.isdir(data):
        wanted.append(data)  # the package's shipped data (style images, small networks)
    ro: list[tuple[str, str]] = []
    for path in sorted({os.path.realpath(p) for p in wanted} | {os.path.abspath(p) for p in wanted}):
        if not _inside(path, [d for _, d in ro]) and not _inside(path, [lnk for _, lnk in symlinks]):
            ro.append((os.path.realpath(path), path))
    targets = [t for _, t in ro]
    exercises = os.path.join(package, "exercises")
    mask = [(exercises, [n for n in SANDBOX_FILES if os.path.isfile(os.path.join(exercises, n))])]
    # the instructor notebooks (solutions) lie inside the package in a wheel (vizlab/_shipped/notebooks/exercises)
    from ..resources import shipped_dir

    instructor = shipped_dir("notebooks", must_exist=False) / "exercises"
    for extra in sorted({os.path.realpath(str(h)) for h in [*hide, instructor]}):
        if os.path.isdir(extra) and _inside(extra, targets) and not _inside(extra, [m for m, _ in mask]):
            mask.append((extra, []))
    expose = [t for t in targets if t.startswith("/tmp/")]
    return {"ro": ro, "symlinks": symlinks, "mask": mask, "expose": expose}


def exposed_under_tmp() -> list[str]:
    """Folders the sandbox needs that live under ``/tmp`` (a virtualenv or a clone of vizlab there, as in a CI
    checkout): each notebook's private ``/tmp`` would hide them, so they are bound back read-only."""
    return sandbox_view()["expose"]


def minimal_environment(extra: dict | None = None) -> dict:
    """The zygote's environment: nothing inherited from the grader (its variables may hold secrets)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
           "MPLCONFIGDIR": "/tmp", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    env.update(extra or {})
    return env


# --- starting the zygote ---------------------------------------------------------------------------------------

def zygote_command(backend: str, view: dict) -> tuple[list[str], dict]:
    """The command that starts the zygote with ``backend`` and the zygote's configuration (``view``: see
    :func:`sandbox_view`)."""
    # The catalog must never be imported in the sandbox: with unshare, the zygote builds its own root first,
    # running that code from sandbox.py's file before anything imports the vizlab.exercises package.
    code = (f"import importlib.util, json, os\n"
            f"spec = importlib.util.spec_from_file_location('_vizlab_boot', {sandbox.__file__!r})\n"
            f"boot = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(boot)\n"
            f"boot.root_from_config()\ndel boot\n"
            f"from vizlab.exercises.sandbox import zygote_main\nzygote_main()\n")
    python = [sys.executable, "-c", code]
    if backend == "bwrap":
        cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--proc", "/proc", "--tmpfs", "/tmp",
               "--tmpfs", "/dev", "--dir", "/dev/shm"]  # a /dev of our own: bwrap's --dev adds tty and console
        for name in DEVICES:
            cmd += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
        for name, target in DEV_LINKS:
            cmd += ["--symlink", target, f"/dev/{name}"]
        for target, link in view["symlinks"]:
            cmd += ["--symlink", target, link]
        for source, target in view["ro"]:
            cmd += ["--ro-bind", source, target]
        for folder, keep in view["mask"]:
            cmd += ["--tmpfs", folder]
            for name in keep:
                cmd += ["--ro-bind", os.path.join(folder, name), os.path.join(folder, name)]
            cmd += ["--remount-ro", folder]
        cmd += ["--remount-ro", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/"]
        return cmd + python, {"sandboxed": True, "expose": view["expose"]}
    if backend == "unshare":
        return (["unshare", "-Upfn", "--mount-proc", "-r", "--kill-child"] + python,
                {"sandboxed": True, "root": view, "expose": view["expose"]})
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
            problem = self._start(name, sandbox_view(hide), startup_timeout)
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

    def _start(self, backend: str, view: dict, timeout: float) -> str | None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd, config = zygote_command(backend, view)
        package_root = str(Path(__file__).resolve().parents[2])
        env = minimal_environment({"VIZLAB_ZYGOTE_FD": str(child.fileno()), "VIZLAB_ZYGOTE_CONFIG": json.dumps(config),
                                   "PYTHONPATH": package_root})
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
