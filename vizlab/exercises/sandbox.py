"""The untrusted side of grading: a sandboxed *zygote* that runs submitted notebooks and reports what they return.

The grader (:mod:`vizlab.exercises.grading`) starts one zygote per run, inside ``bwrap`` or ``unshare`` (see
:func:`vizlab.exercises.backends.zygote_command`): its own PID namespace (it dies with the grader), no network, and
a root that holds only what :func:`vizlab.exercises.backends.sandbox_view` allows (deny by default: system
libraries, the interpreter and its packages, vizlab without its catalog), read-only. The zygote imports torch and
vizlab once; for each notebook it forks a process (:func:`_job`) that enters *new* namespaces of its own (user,
PID, mount, network, IPC), forks their ``init`` and watches it (:func:`_watch`: memory, memfd files, tmpfs,
processes and open files of the whole namespace; the namespace is killed at the first excess):

* ``init`` enters a mount namespace of its own, mounts a private, empty, ``noexec`` ``/tmp`` (the notebook's
  working folder) and, over ``/proc``, a read-only folder with only ``cpuinfo`` and ``meminfo`` (round 20: no
  ``/proc/self/mem``), then forks the *student* process, hands it the cases at its first request and stops it at a
  second one, waits for it, kills whatever else is left (when ``init`` exits, the kernel kills every process of
  the namespace: no double fork escapes), and writes how the student process ended, with the number of requests,
  to a status pipe the student process never holds;
* the *student* process sets its resource limits, drops every capability, runs the code cells, asks ``init`` for
  the exercises' cases (hidden ones included: they reach the sandbox only now, after the notebook's own code has
  run), calls the student's functions on them, and writes one frame per outcome to the results pipe.

Nothing here decides a grade: the grader rebuilds every case, parses the frames strictly (:func:`read_frames`)
and judges the values itself.

The student process itself is :mod:`vizlab.exercises.student`; the frames it writes are
:mod:`vizlab.exercises.protocol`; the trusted side that starts the zygote is :mod:`vizlab.exercises.backends`.
This file must not import anything of vizlab at module level: the ``unshare`` backend runs :func:`root_from_config`
from it before the package can be imported.
"""
from __future__ import annotations

import ctypes
import io
import json
import os
import pickle
import select
import signal
import socket
import struct
import sys
import time
import traceback

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
MS_NOEXEC = 8
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
DEVICES = ("null", "zero", "full", "random", "urandom")  # the whole of /dev in the sandbox: no terminal
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"))


# Folders under /tmp that the sandbox needs (a virtualenv or a clone of vizlab living in /tmp): the private /tmp
# hides them, so they are bound back, read-only (the grader puts them in the zygote's configuration).
_EXPOSED: list[str] = [p for p in json.loads(os.environ.get("VIZLAB_ZYGOTE_CONFIG", "{}")).get("expose", [])]


# --- system calls ----------------------------------------------------------------------------------------------

def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    try:
        _libc().prctl(option, value, 0, 0, 0)
    except Exception:  # not Linux: no subreaper, no death signal
        pass


def drop_privileges() -> bool:
    """No capability left, none to gain (bounding and ambient sets empty, ``no_new_privs``): the student process is
    root of its user namespace, and without this it could unmount what hides ``/proc`` or mount a new one (and read
    its own memory there, the harness's token with it). Whether every step succeeded (Linux; elsewhere ``False``)."""
    try:
        libc = _libc()
        ok = libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0
        for cap in range(64):  # beyond the kernel's last capability prctl fails with EINVAL: nothing to drop
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        ok &= libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
        header = struct.pack("=Ii", _LINUX_CAPABILITY_VERSION_3, 0)
        data = ctypes.create_string_buffer(24)  # effective, permitted, inheritable, twice (64 bits): all zero
        ok &= libc.capset(ctypes.c_char_p(header), data) == 0
        return bool(ok)
    except Exception:  # noqa: BLE001 - not Linux
        return False


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = _libc()
    _check(libc.mount(source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
                      ctypes.c_ulong(flags), data.encode() if data else None), f"mount {target}")


def _vm_size() -> int:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _bind_back(paths: list[str]) -> list[tuple[str, int]]:
    """Open the folders that a new mount on ``/tmp`` will hide, so that :func:`_rebind` can bind them back."""
    return [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in paths if os.path.isdir(p)]


def _rebind(opened: list[tuple[str, int]]) -> None:
    """Bind folders opened by :func:`_bind_back` back at their paths, read-only, with what is mounted inside them
    (the hidden catalog stays hidden)."""
    for path, fd in opened:
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)


# --- the per-notebook namespace and its init -------------------------------------------------------------------

def _enter_namespaces() -> None:
    """New user, PID, mount, network and IPC namespaces (the next child becomes PID 1 of the new one)."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc().unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _private_mounts(tmp_bytes: int) -> str:
    """Inside the new namespaces: an empty private ``/tmp`` (the working folder), ``/dev/shm`` and ``/proc``."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    opened = _bind_back(_EXPOSED)
    # nothing written there can be run (an extension module, a program): noexec
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={tmp_bytes},mode=1777")
    _rebind(opened)
    if os.path.isdir("/dev/shm"):
        try:
            _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64m,mode=1777")
        except OSError:
            pass
    # No /proc of any kind (round 20; before, a fresh one under unshare): /proc/self/mem let the notebook read the
    # harness's token from its own memory. An empty folder that shows only the machine's cpuinfo and meminfo (torch
    # reads them), read-only; the watchdog outside keeps the zygote's /proc
    copies = {}
    for name in ("cpuinfo", "meminfo"):
        try:
            with open(f"/proc/{name}", "rb") as f:
                copies[name] = f.read()
        except OSError:
            pass
    _mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m")
    for name, data in copies.items():
        with open(f"/proc/{name}", "wb") as f:
            f.write(data)
    _mount(None, "/proc", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    work = "/tmp/work"
    os.mkdir(work)
    return work


def _init(job: dict, fds: dict, sandboxed: bool, vm: int) -> None:
    """PID 1 of the notebook's namespace: fork the student process, hand it the cases, report how it ended."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    os.setsid()  # a session and process group of its own: killpg(0) from the notebook stays inside
    if sandboxed:
        # a mount namespace of its own: the watchdog in the parent keeps the zygote's /proc
        _check(_libc().unshare(CLONE_NEWNS), "unshare the mount namespace")
        work = _private_mounts(int(job["tmp_bytes"]))
    else:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        work = job["workdir"]
    ready_r, ready_w = os.pipe()
    cases_r, cases_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the student process
        code = 0
        try:
            for fd in (fds["status"], fds["cases"], ready_r, cases_w):
                os.close(fd)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(fds["log"], 1)
            os.dup2(fds["log"], 2)
            sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True, errors="replace")
            sys.stderr = sys.stdout
            os.chdir(work)
            os.environ.update({"TMPDIR": work, "HOME": work, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                               "MPLBACKEND": "Agg", "VIZLAB_STRICT_CHECKS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
            from .student import _limit, _student

            _limit(job, vm)
            _student(job, fds["results"], ready_w, cases_r)
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)  # skip atexit handlers a notebook may have registered
    for fd in (fds["results"], fds["log"], ready_w, cases_r):
        os.close(fd)
    status = None
    handed = False
    requests = 0  # bytes received on the ready pipe: the harness sends one, after the last cell (round 20)
    listening = True
    while status is None:
        if listening:
            readable, _, _ = select.select([ready_r], [], [], 0.05)
            if readable:
                chunk = os.read(ready_r, 64)
                if not chunk:
                    listening = False
                else:
                    requests += len(chunk)
                if chunk and not handed:
                    handed = True
                    if chunk[:1] == b"R":
                        _forward(fds["cases"], cases_w)
                    os.close(cases_w)
                if requests > 1:
                    # a second request: a cell asked for the cases itself (the harness's own request came after
                    # it), or it writes to the pipe to confuse this count. Stop the notebook at once: it has the
                    # cases and must not answer with them (the grader voids it, seeing the count)
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    listening = False
        done, st = os.waitpid(pid, os.WNOHANG if listening else 0)
        if done:
            status = st
    # the student process ended: kill whatever it left (in a namespace of its own, everything but us)
    leftovers = 0
    if sandboxed:
        while True:  # first reap what has already ended (e.g. the middle process of a double fork)
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
                leftovers += 1
            except ChildProcessError:
                break
    else:
        leftovers = _kill_children()
    try:  # what reached the ready pipe after the student process ended (all its processes are gone now)
        while select.select([ready_r], [], [], 0)[0]:
            chunk = os.read(ready_r, 64)
            if not chunk:
                break
            requests += len(chunk)
    except OSError:
        pass
    if os.WIFSIGNALED(status):
        report = {"signal": os.WTERMSIG(status), "code": None, "leftovers": leftovers, "requests": requests}
    else:
        report = {"signal": None, "code": os.WEXITSTATUS(status), "leftovers": leftovers, "requests": requests}
    os.write(fds["status"], json.dumps(report).encode())
    os._exit(0)


def _forward(src: int, dst: int) -> None:
    try:
        while True:
            chunk = os.read(src, 1 << 16)
            if not chunk:
                return
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst, view):]
    except OSError:  # the student process is gone
        return


def _kill_children() -> int:
    """Without namespaces: kill and reap every process still below us (background processes a notebook left)."""
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


WATCH_INTERVAL = 0.05  # seconds between two looks of the watchdog
CAPS_MECHANISM = (f"a watchdog over the notebook's PID namespace (every {WATCH_INTERVAL:g} s; cgroups are not "
                  "used by this version)")


def _descendants(root: int) -> set[int]:
    """``root`` and every process below it (for an init: every process of its PID namespace)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _usage(root: int, sandboxed: bool = True) -> dict:
    """What the processes below ``root`` hold together: how many, their private memory (what they wrote beyond
    the zygote's shared pages), their ``memfd`` files, their ``/tmp`` and ``/dev/shm``, the distinct files they
    have open."""
    pids = _descendants(root)
    memory = 0
    memfds: dict[tuple[int, int], int] = {}
    opened: set[tuple[int, int]] = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith((b"Private_Clean:", b"Private_Dirty:")):
                        memory += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"/proc/{pid}/fd/{fd}")
                opened.add((st.st_dev, st.st_ino))  # a file inherited by a child is still one file
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/memfd:"):
                    memfds[(st.st_dev, st.st_ino)] = st.st_blocks * 512
            except OSError:
                pass
    for folder in ("tmp", "dev/shm") if sandboxed else ():  # the init's private tmpfs mounts
        try:
            st = os.statvfs(f"/proc/{root}/root/{folder}")
            memory += (st.f_blocks - st.f_bfree) * st.f_frsize
        except OSError:
            pass
    return {"processes": len(pids), "memory": memory + sum(memfds.values()), "files": len(opened)}


def _watch(init: int, job: dict, sandboxed: bool) -> str | None:
    """Until ``init`` ends: cap what all the notebook's processes use together; kill its namespace (by killing
    its init) at the first excess and say why."""
    memory = int(job["memory_mb"]) * 2**20
    processes, files = int(job["processes"]), int(job["open_files"])
    while True:
        done, _ = os.waitpid(init, os.WNOHANG)
        if done:
            return None
        use = _usage(init, sandboxed)
        why = None
        if use["processes"] > processes:
            why = f"it ran more than {processes} processes at once"
        elif use["memory"] > memory:
            why = (f"it used more than {job['memory_mb']} MB of memory, all its processes together (resident "
                   f"memory, memfd files, /tmp and /dev/shm: {use['memory'] // 2**20} MB)")
        elif use["files"] > files:
            why = f"it held more than {files} files open, all its processes together"
        if why:
            try:
                os.kill(init, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(init, 0)  # when the init of a PID namespace is reaped, every process in it is gone
            return f"stopped by {CAPS_MECHANISM.split(' (')[0]}: {why}"
        time.sleep(WATCH_INTERVAL)


def _job(job: dict, fds: dict, sandboxed: bool) -> None:
    """The zygote's child for one notebook: enter new namespaces, fork their init, watch it (:func:`_watch`),
    and report how it ended on the status pipe."""
    code = 0
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        vm = _vm_size()
        if sandboxed:
            _enter_namespaces()
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(report_r)
                os.close(fds["status"])  # the grader's status pipe: only this process writes it (round 19: the
                # student process inherited it, and could write there)
                _init(job, {**fds, "status": report_w}, sandboxed, vm)
            finally:
                os._exit(4)
        os.close(report_w)
        status = fds.pop("status")
        for fd in fds.values():
            os.close(fd)
        cap = _watch(pid, job, sandboxed)
        data = b""
        while len(data) < 4096:
            chunk = os.read(report_r, 4096)
            if not chunk:
                break
            data += chunk
        try:
            report = json.JSONDecoder().raw_decode(data.decode("utf-8"))[0] if data else None
        except ValueError:
            report = None
        if cap:
            report = {"signal": int(signal.SIGKILL), "code": None, "leftovers": 0, "cap": cap, "requests": None}
        elif isinstance(report, dict):
            report["cap"] = None
        if report is not None:
            os.write(status, json.dumps(report).encode())
        os.close(status)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        code = 5
    os._exit(code)


# --- the zygote ------------------------------------------------------------------------------------------------

# torchvision before anything that imports it: it loads its operators with ctypes, which no notebook may use
# (student._Guard), so it must be imported here or never (r20-review2's finding 2)
PRELOAD = ["numpy", "torch", "torch.nn.functional", "torchvision", "torchvision.ops", "torchvision.transforms",
           "vizlab", "vizlab.toy", "vizlab.hooks", "vizlab.attribution",
           "vizlab.inside", "vizlab.optimize", "vizlab.style", "vizlab.plotting", "vizlab.exercises.core",
           "matplotlib.pyplot", "IPython.core.inputtransformer2", "tqdm.auto"]


def _mount_setattr_readonly(path: str) -> None:
    """Make every mount below ``path`` read-only (Linux 5.12+)."""
    attr = struct.pack("=QQQQ", 1, 0, 0, 0)  # attr_set=MOUNT_ATTR_RDONLY, attr_clr, propagation, userns_fd
    buf = ctypes.create_string_buffer(attr, len(attr))
    libc = _libc()
    _check(libc.syscall(442, -100, path.encode(), 0x8000, buf, len(attr)), "mount_setattr")


def _pivot_root(new: str, old: str) -> None:
    import platform

    number = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    _check(_libc().syscall(number, new.encode(), old.encode()), "pivot_root")


def _build_root(view: dict) -> None:
    """For the ``unshare`` backend (the zygote is root of its own user namespace): a new root holding only what
    ``view`` names (:func:`vizlab.exercises.backends.sandbox_view`), read-only, a minimal ``/dev`` (no terminals),
    a fresh ``/proc``; the old root is detached, so nothing else of the host exists any more."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # open everything first: the new root is built on a tmpfs over /tmp, which hides what lies there
    sources = [(target, os.open(source, os.O_PATH)) for source, target in view["ro"] if os.path.lexists(source)]
    devices = [(name, os.open(f"/dev/{name}", os.O_PATH)) for name in DEVICES if os.path.exists(f"/dev/{name}")]
    kept = [(os.path.join(folder, name), os.open(os.path.join(folder, name), os.O_PATH))
            for folder, names in view["mask"] for name in names]
    new = "/tmp"
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")

    def place(path: str, fd: int) -> None:
        where = new + path
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(where, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(where), exist_ok=True)
            open(where, "w").close()
        _mount(f"/proc/self/fd/{fd}", where, None, MS_BIND | MS_REC)
        os.close(fd)

    for target, link in view["symlinks"]:
        os.makedirs(os.path.dirname(new + link), exist_ok=True)
        os.symlink(target, new + link)
    for target, fd in sorted(sources):
        place(target, fd)
    for folder, _ in view["mask"]:
        _mount("tmpfs", new + folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    for path, fd in kept:
        place(path, fd)
    for folder in ("/tmp", "/proc", "/dev"):
        os.makedirs(new + folder, exist_ok=True)
    _mount("tmpfs", new + "/dev", "tmpfs", MS_NOSUID, "size=64k,mode=755")
    for name, fd in devices:
        place(f"/dev/{name}", fd)
    os.mkdir(new + "/dev/shm")
    for name, target in DEV_LINKS:
        os.symlink(target, f"{new}/dev/{name}")
    _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV)  # while the old /proc is still visible
    os.mkdir(new + "/.old")
    _pivot_root(new, new + "/.old")
    os.chdir("/")
    _check(_libc().umount2(b"/.old", 2), "umount the old root")  # MNT_DETACH
    os.rmdir("/.old")
    _mount_setattr_readonly("/")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)  # writable again: namespaces need /proc/self/uid_map


def root_from_config() -> None:
    """Run by the zygote's launcher before it imports vizlab.exercises (see :func:`_build_root`); a failure is
    kept for the hello message."""
    config = json.loads(os.environ.get("VIZLAB_ZYGOTE_CONFIG", "{}"))
    if config.get("root"):
        try:
            _build_root(config["root"])
        except BaseException as exc:  # noqa: BLE001
            os.environ["VIZLAB_ZYGOTE_ROOT_ERROR"] = f"{type(exc).__name__}: {exc}"


def _probe() -> str | None:
    """Whether a child can enter namespaces of its own here (``None``) or why not."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            _enter_namespaces()
            inner = os.fork()
            if inner == 0:
                try:
                    _private_mounts(1 << 20)
                    ok = os.getpid() == 1 and not os.listdir("/tmp/work")
                    os.write(w, b"ok" if ok else b"the new namespace does not look private")
                except BaseException as exc:  # noqa: BLE001
                    os.write(w, f"{type(exc).__name__}: {exc}".encode()[:300])
                finally:
                    os._exit(0)
            os.waitpid(inner, 0)
        except BaseException as exc:  # noqa: BLE001
            os.write(w, f"{type(exc).__name__}: {exc}".encode()[:300])
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 1024)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    answer = b"".join(chunks).decode("utf-8", "replace")
    return None if answer == "ok" else (answer or "the probe process ended without an answer")


def zygote_main() -> None:
    """Entry point of the zygote (``VIZLAB_ZYGOTE_FD`` names its control socket)."""
    sock = socket.socket(fileno=int(os.environ["VIZLAB_ZYGOTE_FD"]))
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    config = json.loads(os.environ.get("VIZLAB_ZYGOTE_CONFIG", "{}"))
    hello: dict = {"ok": True, "error": None}
    try:
        if os.environ.get("VIZLAB_ZYGOTE_ROOT_ERROR"):
            raise RuntimeError(f"building the sandbox's root failed: {os.environ['VIZLAB_ZYGOTE_ROOT_ERROR']}")
        if config.get("root") and any(m in sys.modules for m in ("vizlab.exercises.catalog",
                                                                  "vizlab.exercises.references")):
            raise RuntimeError("the exercise catalog was imported before it could be hidden")
        os.chdir("/")
        import importlib

        for name in PRELOAD:
            before = set(sys.modules)
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - optional extras
                # forget half-imported matplotlib, so that a notebook imports it afresh: it fails here, where /tmp
                # is read-only, and a later import found its submodules left behind ("module 'matplotlib' has no
                # attribute '_docstring'"; vizlab.attribution imports it)
                for module in set(sys.modules) - before:
                    if module.split(".")[0] in ("matplotlib", "mpl_toolkits"):
                        del sys.modules[module]
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            transform = TransformerManager().transform_cell
        except Exception:  # IPython missing: plain Python cells still work
            def transform(src: str) -> str:
                return src
        sandboxed = bool(config.get("sandboxed"))
        if sandboxed:
            why = _probe()
            if why:
                hello = {"ok": False, "error": f"a notebook cannot get namespaces of its own here: {why}"}
    except BaseException as exc:  # noqa: BLE001
        hello = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sock.sendall(json.dumps(hello).encode())
    if not hello["ok"]:
        os._exit(1)
    children: dict[int, int] = {}
    while True:
        readable, _, _ = select.select([sock], [], [], 0.05)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            job_id = children.pop(pid, None)
            if job_id is not None:
                sock.sendall(json.dumps({"end": job_id, "status": status}).encode())
        if not readable:
            continue
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 24, 8)
        except OSError:
            msg, fds = b"", []
        if not msg:
            break  # the grader is gone: end (and with us every notebook's namespace)
        request = pickle.loads(msg)  # from the trusted grader
        if request["op"] == "run" and len(fds) == 5:
            named = dict(zip(("results", "status", "log", "cases", "job"), fds))
            pid = os.fork()
            if pid == 0:
                sock.close()
                with os.fdopen(named.pop("job"), "rb") as f:
                    job = pickle.load(f)  # from the trusted grader
                job["transform"] = transform
                _job(job, named, sandboxed)
            for fd in fds:
                os.close(fd)
            children[pid] = request["id"]
        elif request["op"] == "kill":
            for pid, job_id in children.items():
                if job_id == request["id"]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(0)
