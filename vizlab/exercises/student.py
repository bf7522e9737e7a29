"""The student process: runs a notebook's code cells, then calls its functions on the cases it is handed.

Runs inside the sandbox (:mod:`vizlab.exercises.sandbox` forks it for each notebook); nothing here decides a grade.
It sets its resource limits, stands in for ``get_ipython()`` and for ``vizlab.exercises`` (the checks are the
grader's job), runs the cells, tells ``init`` it is ready, receives the exercises' cases (hidden ones included:
they reach the sandbox only now), calls the student's functions and writes one frame per outcome
(:mod:`vizlab.exercises.protocol`). While a function is called, :class:`_LibraryWatch` records any vizlab code
outside the generic helpers that runs (deny by default); such a call's value is discarded. It also lists the
notebook's own code that starts during each call, which :func:`_run_report` sends back, with a token, for the
no-loops rule (the trust rules are in :mod:`vizlab.exercises.grading`).
"""
from __future__ import annotations

import operator
import os
import pickle
import resource
import signal
import struct
import sys
import threading
import time
import traceback
import types
from typing import Any

from .protocol import CODE_KINDS, MAGIC, MAX_RAN, _sanitize, encode_frame, write_frame
from .sandbox import PR_SET_PDEATHSIG, _prctl, drop_privileges

# Taken before any notebook code runs (this module is imported before the cells); the run-time report binds its
# own (:func:`_run_report`).
_settrace, _gettrace = sys.settrace, sys.gettrace
_is = operator.is_

class CallTimeout(Exception):
    """A cell or a call ran past the per-call limit."""


def _alarm(seconds: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.0))


def _on_alarm(signum, frame):
    raise CallTimeout()


def magic_line_code(line: str) -> str:
    """The code of a ``%time``/``%timeit`` line without its options (``-n 3 -r 2 x`` or ``-n3 -q x``: ``x``). The
    grader's judge (:mod:`.rules`) and the sandbox's stand-in shell both use it, so they agree on what runs."""
    rest = line.lstrip()
    while rest.startswith("-"):
        option, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if option in ("-n", "-r", "-p") and rest:  # an option whose value is the next word
            rest = rest.partition(" ")[2].lstrip()
    return rest


class MagicRefused(Exception):
    """The stand-in for ``get_ipython()`` was handed code the grader's judge did not read."""


class _Shell:
    """Stands in for IPython's ``get_ipython()`` when grading: shell escapes and most magics do nothing, but the
    code under ``%time``/``%%time``, ``%timeit``/``%%timeit`` and ``%%capture`` runs once (it may define functions)
    if it is one of the magic bodies the judge read (``allowed``, handed in by the grader; ``None``: any, for a
    notebook that needs review anyway). Anything else raises :class:`MagicRefused`: only what was judged runs."""

    RUNS_CODE = {"time", "timeit", "capture"}

    def __init__(self, namespace: dict | None = None, transform=lambda src: src, allowed=None):
        self.namespace = namespace if namespace is not None else {}
        self.transform = transform
        self.__allowed = None if allowed is None else frozenset(allowed)

    def __run(self, code: str) -> None:
        if self.__allowed is not None and code not in self.__allowed:
            raise MagicRefused("this magic's code was not run: the grader did not read it (only the literal code "
                               "under %time/%%time/%timeit/%%timeit/%%capture, at most 3 deep, runs)")
        exec(compile(self.transform(code), "<magic>", "exec"), self.namespace)

    def run_line_magic(self, name, line, *args, **kwargs):
        if name in ("time", "timeit") and line.strip():
            self.__run(magic_line_code(line))
        return None

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if name in self.RUNS_CODE:
            self.__run(cell)
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
              (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, int(job["open_files"])),
              (resource.RLIMIT_NPROC, int(job["processes"]))]  # NPROC binds only where the grader is not root
    if vm:  # address space beyond what the interpreter with torch already maps (Linux; skipped elsewhere)
        limits.append((resource.RLIMIT_AS, vm + int(job["memory_mb"]) * 2**20))
    for which, value in limits:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with an error instead of a kill
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    drop_privileges()  # (the process is root of its user namespace: no mount, no new /proc, nothing to regain)


# --- answers absent, not watched -------------------------------------------------------------------------------

class LibraryCallRefused(Exception):
    """Raised by a library function that implements a graded technique, while grading."""


def _refusing(fn: types.FunctionType, what: str) -> types.CodeType:
    """A code object that raises :class:`LibraryCallRefused`, with the same free variables as ``fn``'s (so it can
    replace ``fn.__code__``: every reference to the function, wherever it is held, now refuses)."""
    free = fn.__code__.co_freevars
    lines = ["def outer():"] + [f"    {v} = None" for v in free] + ["    def refused(*args, **kwargs):"]
    if free:
        lines.append(f"        ({', '.join(free)},)")
    lines += [f"        raise LibraryCallRefused({what!r})", "    return refused"]
    scope = {"LibraryCallRefused": LibraryCallRefused}
    exec(compile("\n".join(lines), f"<refused {what}>", "exec"), scope)
    return scope["outer"]().__code__


def refuse_library(forbidden: list) -> list[str]:
    """Make the library's implementations of the graded techniques unavailable in this process, before any
    notebook code runs: ``forbidden`` lists ``(file, qualified name)`` (:func:`vizlab.exercises.rules.
    forbidden_calls`). Returns those that were found and replaced."""
    done = []
    modules = {getattr(m, "__file__", None): m for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
    for filename, qualname in forbidden:
        obj = modules.get(filename)
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        obj = getattr(obj, "__func__", obj)
        if not isinstance(obj, types.FunctionType):
            continue
        what = f"{obj.__module__}.{qualname} is vizlab's own implementation of a graded exercise: not available " \
               "while grading (write it yourself)"
        obj.__globals__.setdefault("LibraryCallRefused", LibraryCallRefused)  # what the new code raises
        obj.__code__ = _refusing(obj, what)
        done.append(qualname)
    return done


# the modules of vizlab.exercises the sandbox ships beside the stub (the same as backends.SANDBOX_FILES; a test
# checks): the harness. The references and the catalog are not among them.
HARNESS_MODULES = ("core", "sandbox", "student", "protocol")
PROGRAMS_REFUSED = ("starting programs (subprocess, os.system, os.exec*, os.spawn*, os.posix_spawn) is not allowed in "
                    "graded notebooks")
CTYPES_REFUSED = "ctypes is not allowed in graded notebooks"
THREADS_REFUSED = "threads are not allowed in a graded function (the grader watches one thread only)"


def _refuse_threads(busy) -> None:
    """Make every way to start a thread (``threading.Thread``, ``ThreadPoolExecutor``, ``_thread.start_new_thread``)
    raise ``RuntimeError`` while ``busy()`` is true (a graded call runs): code in another thread would escape the
    watch. Python 3.11 has no audit event for a new thread, so the functions themselves are replaced."""
    import _thread

    start = _thread.start_new_thread

    def start_new_thread(*args, **kwargs):
        if busy():
            raise RuntimeError(THREADS_REFUSED)
        return start(*args, **kwargs)

    _thread.start_new_thread = _thread.start_new = start_new_thread
    threading._start_new_thread = start_new_thread


class _LibraryWatch:
    """Deny by default: while a graded function runs (``sys.settrace``; no thread can start meanwhile, see
    :func:`_refuse_threads`), every frame that starts is looked at, at any depth.

    * Code of a vizlab module outside the generic helpers (:data:`vizlab.exercises.rules.GENERIC_MODULES`, handed
      in as ``generic``) and the exercises package is the library's own implementation of some technique: a class
      or helper behind a reference, a duplicate of one, a module imported afresh or reloaded (its code comes from
      the same file): ``LibraryCallRefused``.
    * Code from a file outside the installed packages (the folders on ``sys.path`` when the watch is made, before
      the notebook runs, less the working folder): a module the notebook wrote and imported, e.g. a copy of
      vizlab's source or a helper with the loops the judge must see: ``CodeRefused`` (needs review).
    * Code from a pseudo file other than a judged cell (``cells``), a magic body the judge read (``<magic>``), a
      frozen module, or a module of the installed packages (dataclasses' ``<string>`` code): text a library ran as
      code (``cProfile.runctx``, ``timeit``, ``doctest``, ...): ``CodeRefused`` (needs review).

    The first such function is recorded and the call's value is discarded. It records, never raises, so a notebook
    cannot catch its way past it; removing it needs ``sys.settrace``, which :class:`_Guard` refuses during the call
    (and the source rules send to review)."""

    def __init__(self, generic, cells=None, harness=HARNESS_MODULES):
        import vizlab

        # pseudo files that are the notebook's own code: the judged cells, the magic bodies the judge read
        # (:class:`_Shell` runs nothing else), the interpreter's frozen modules
        self.cells = frozenset(f"<cell {index}>" for index in (cells or ()))
        # what ran: (cell, first line, kind) of every code object of a judged cell (``-1``: a magic body the judge
        # read; line 0: a cell's top level; kind: protocol.CODE_KINDS) that started during the call, for the no-loops
        # rule (see :func:`_run_report`)
        self.cell_of = {f"<cell {index}>": index for index in (cells or ())}
        self.cell_of["<magic>"] = -1
        self.ran: set[tuple[int, int, str]] = set()
        self.harness = frozenset(harness)

        self.root = os.path.dirname(os.path.realpath(vizlab.__file__)) + os.sep
        self.generic = set(generic)
        work = os.path.realpath(os.getcwd()) + os.sep
        roots = {os.path.realpath(p) + os.sep for p in sys.path if p not in ("", ".") and os.path.isdir(p)}
        for module in list(sys.modules.values()):  # what is loaded already (editable installs live off sys.path)
            file = getattr(module, "__file__", None)
            if isinstance(file, str):
                roots.add(os.path.dirname(os.path.realpath(file)) + os.sep)
        # never the working folder, nor a folder that holds it (the notebook writes there); vizlab's own folder is
        # judged by the rule for vizlab's code
        self.roots = (self.root, *(r for r in roots if not work.startswith(r) and not r.startswith(work)))
        # id(code) -> (code, verdict, (cell, first line, kind) or None)
        self.verdicts: dict[int, tuple[types.CodeType, tuple[str, str] | None, tuple[int, int, str] | None]] = {}
        import genericpath
        import posixpath
        import stat

        # what the judge (and os.path.realpath under it) calls, as it is before the notebook runs (not what is None
        # yet: a cache the module fills on first use, like posixpath._varprog)
        self.snapshot = []
        for module in dict.fromkeys((os, os.path, posixpath, genericpath, stat)):  # (os.path is posixpath here)
            kept = [(key, value) for key, value in list(vars(module).items()) if value is not None]
            self.snapshot.append((vars(module), module.__name__, tuple(k for k, _ in kept), tuple(v for _, v in kept)))
        self.whole = True  # the last call was watched from its start to its end, with the judge's functions intact
        self.hit: tuple[str, str] | None = None
        self.active = False

    def _allowed(self, module: str) -> bool:
        # the exercises package: only the stub and the harness modules the sandbox ships (backends.SANDBOX_FILES),
        # never the references or the catalog (with --sandbox none their files are reachable)
        return module in self.generic or module == "vizlab.exercises" or (
            module.startswith("vizlab.exercises.") and module[len("vizlab.exercises."):] in self.harness)

    def _module_code(self, globals_: dict, code: types.CodeType | None = None) -> bool:
        """Do ``globals_`` belong to a module of an installed package (e.g. the ``<string>`` code dataclasses make
        for it), to the interpreter's ``__main__`` (a dataclass a cell defines), or to a namedtuple's ``__new__``?"""
        name = globals_.get("__name__")
        if (isinstance(name, str) and name.startswith("namedtuple_") and globals_.get("_tuple_new") is tuple.__new__
                and set(globals_) == {"_tuple_new", "__builtins__", "__name__"} and globals_["__builtins__"] == {}
                and code is not None and code.co_name == "<lambda>" and set(code.co_names) <= {"_tuple_new"}):
            # collections.namedtuple's __new__ (made by eval in a namespace of its own): a lambda that can only
            # call tuple.__new__, without builtins; a notebook that forges such a namespace gains nothing by it
            return True
        module = sys.modules.get(name) if isinstance(name, str) else None
        if module is None or getattr(module, "__dict__", None) is not globals_:
            return False
        file = getattr(module, "__file__", None)
        return name == "__main__" or (isinstance(file, str) and os.path.realpath(file).startswith(self.roots))

    def _judge(self, code: types.CodeType, module, globals_=None) -> tuple[str, str] | None:
        names = []
        # a pseudo file (<cell 3>, <string>, <frozen ...>) is the notebook's own only for a judged cell or a magic
        # body the judge read; a real one (also a relative path that starts with "<") is judged by where it lies
        name = code.co_filename
        pseudo = name.startswith("<") and not os.path.exists(name)
        path = "" if pseudo else os.path.realpath(name)
        if path and not path.startswith(self.roots):
            return "file", path
        if not code.co_flags & CO_OPTIMIZED:  # a module or class body run by an import: defining is not calling
            return None
        if pseudo and not (name in self.cells or name == "<magic>" or name.startswith("<frozen ")
                           or (isinstance(globals_, dict) and self._module_code(globals_, code))):
            # text run as code by a library that calls exec (cProfile.runctx, timeit, doctest, pdb, ...)
            return "file", f"{name} (code run from text, not from a cell the grader read)"
        if path.startswith(self.root) and path.endswith(".py"):  # vizlab's file, whatever module name it runs as
            parts = path[len(self.root):-3].split(os.sep)
            names.append(".".join(["vizlab", *parts[:-1]] + ([] if parts[-1] == "__init__" else [parts[-1]])))
        if isinstance(module, str) and (module == "vizlab" or module.startswith("vizlab.")):
            names.append(module)
        for name in names:
            if not self._allowed(name):
                return "vizlab", f"{name}.{getattr(code, 'co_qualname', code.co_name)}"
        return None

    def __call__(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            seen = self.verdicts.get(id(code))
            if seen is None or seen[0] is not code:  # the code is kept, so its id is never reused meanwhile
                # what the run-time report lists for it: (cell, first line, kind) of a judged cell's code (a
                # generator resumed starts again: it is listed too), computed once per code object
                cell = self.cell_of.get(code.co_filename)
                key = None if cell is None else (cell, 0 if code.co_name == "<module>" else code.co_firstlineno,
                                                 code.co_name if code.co_name in CODE_KINDS else "")
                # the judge calls os.path functions here, where nothing is traced: never one the notebook replaced,
                # even for a moment (replaced and put back within the call)
                replaced = self._replaced()
                if replaced:  # (not kept as the code's verdict: it says nothing of the code)
                    seen, self.whole = (code, ("file", f"{replaced} (the notebook replaced it; the grader's watch "
                                                       "uses it)"), key), False
                else:
                    try:
                        verdict = self._judge(code, frame.f_globals.get("__name__"), frame.f_globals)
                    except BaseException as exc:  # noqa: BLE001 - a tracer that raises is removed: never let it
                        verdict = ("file", f"{code.co_filename} (the grader's watch could not judge it: "
                                           f"{type(exc).__name__})")
                        self.whole = False
                    seen = self.verdicts[id(code)] = (code, verdict, key)
            if seen[2] is not None:
                self.ran.add(seen[2])
            if seen[1] and self.hit is None:
                self.hit = seen[1]
        return None  # no line events: only calls are looked at

    def _replaced(self) -> str | None:
        """The first function of ``os``/``os.path``/``stat`` that differs from when the watch was made: the judge
        calls them inside the tracer, where the code they run is not traced."""
        for namespace, module, keys, values in self.snapshot:
            # identity only, in C (no __eq__ of the notebook's objects runs)
            if not all(map(_is, map(namespace.get, keys), values)):
                return next(f"{module}.{k}" for k, v in zip(keys, values) if namespace.get(k, _MISSING) is not v)
        return None

    def __enter__(self):
        self.hit = None
        self.ran = set()
        self.whole = True
        replaced = self._replaced()
        if replaced:
            self.hit, self.whole = ("file", f"{replaced} (the notebook replaced it; the grader's watch uses it)"), False
        self.previous = _gettrace()  # None in the sandbox; a coverage tool's in tests
        self.active = True
        _settrace(self)
        return self

    def __exit__(self, *exc):
        removed = _gettrace() is not self  # (a tracer that raised is removed: what ran after it was not seen)
        _settrace(self.previous)
        self.active = False
        replaced = None if removed else self._replaced()
        if removed or replaced:
            self.whole = False
            if self.hit is None:
                self.hit = ("file", "the grader's watch (removed during the call)" if removed else
                            f"{replaced} (the notebook replaced it; the grader's watch uses it)")
        return False

    def refusal(self) -> str:
        kind, what = self.hit
        if kind == "file":
            return f"{CODE_REFUSED_PREFIX}{what}"
        return (f"{REFUSED_PREFIX}{what} is vizlab's own code, not one of the generic helpers a graded function "
                "may use (write it yourself)")


def _run_report(fd: int, _write=os.write, _urandom=os.urandom, _pack=struct.Struct(">II").pack, _len=len,
                _sorted=sorted, _int=int, _bool=bool, _bytes=bytes, _memoryview=memoryview, _isinstance=isinstance,
                _str=str, _type=type, _kinds=CODE_KINDS):
    """Start the run-time report: write the ``hello`` frame, with a token made here, and return ``report(exercise,
    case, ran, whole, hit, frame)``, which writes one ``ran`` frame (what :class:`_LibraryWatch` saw start during
    that call, and the kind of its verdict: ``"vizlab"``, ``"file"`` or none) with the same token, and at once after
    it ``frame``, the call's ``case`` frame, encoded inside the watch. Called before any cell runs, so ``hello`` is the
    first frame of the results pipe: the grader takes its token as the harness's, believes a ``ran`` frame only when
    it carries that token, and a ``case`` frame only right after its ``ran`` frame.

    Round 20: every function this path uses is bound here, as a default argument, before any cell runs (round 19
    looked ``os.write`` and ``struct`` up in this module's globals, which a notebook can reach), and the value
    travels as bytes made inside the watch: a notebook that replaces ``json.dumps``, ``os.write`` or a method of
    ``torch.Tensor`` runs that code while the watch looks (and is judged for it), never after. The token is kept only
    in this closure; the process cannot read its own memory through ``/proc`` (not mounted in the sandbox) nor
    with ``ctypes`` (refused), see :func:`_limit` and :class:`_Guard`. What a notebook can still do (write frames of
    its own, end the process before a report is written) makes the report untrusted or incomplete, and the grader
    then applies the no-loops rule as read from the source alone."""
    token = _urandom(16).hex()

    def send(header: str, tail: bytes = b"") -> None:
        data = header.encode("ascii")
        view = _memoryview(MAGIC + _pack(_len(data), 0) + data + tail)
        while view:
            view = view[_write(fd, view):]

    send('{"kind": "hello", "token": "%s"}' % token)

    def named(exercise) -> str:
        """The exercise's name as a frame may carry it (an ASCII identifier), else ``"?"``."""
        return exercise if _isinstance(exercise, _str) and exercise.isascii() and exercise.isidentifier() else "?"

    def report(exercise: str, case: int, ran, whole: bool, hit: str = "", frame: bytes = b"") -> None:
        codes = _sorted(ran)
        if _len(codes) > MAX_RAN:  # the rest is not listed: the report is not whole
            codes, whole = codes[:MAX_RAN], False
        name = named(exercise)
        listed = ", ".join('[%d, %d, "%s"]' % (_int(cell), _int(line), kind if kind in _kinds else "")
                           for cell, line, kind in codes)
        kind = hit if hit in ("vizlab", "file") else ""
        send('{"kind": "ran", "exercise": "%s", "case": %d, "codes": [%s], "whole": %d, "hit": "%s", "token": "%s"}'
             % (name, _int(case), listed, 1 if whole else 0, kind, token),
             frame if _type(frame) is _bytes else b"")

    def note(kind: str, exercise: str = "", count: int = 0) -> None:
        """The other frames written after the cells (``function``, ``missing``, ``threads``, ``done``), by hand too."""
        name = named(exercise)
        if kind == "function":
            send('{"kind": "function", "exercise": "%s", "source": null, "loops": []}' % name)
        elif kind == "missing":
            send('{"kind": "missing", "exercise": "%s"}' % name)
        elif kind == "threads":
            send('{"kind": "threads", "count": %d}' % _int(count))
        elif kind == "done":
            send('{"kind": "done"}')

    report.note = note
    return report


_MISSING = object()
# how the harness ends when a cell has tampered with its way to the cases (the grader voids the notebook)
HARNESS_PIPES_REPLACED = 7   # the pipes to init are not the ones init made
HARNESS_CASES_WATCHED = 8    # the notebook's code ran while the harness read the cases
REFUSED_PREFIX = "LibraryCallRefused: "
CODE_REFUSED_PREFIX = "CodeRefused: "  # then the file's path
CO_OPTIMIZED = 0x0001  # set for the code of functions (also lambdas, comprehensions, generators)


class _Guard:
    """An audit hook (it cannot be removed): while a function is graded, no tracer; from the end of the cells on,
    no new processes; at any time, no ``ctypes`` (it reads and writes the process's memory: the harness's
    token, round 20) and no search of the interpreter's memory for the harness (``gc.get_objects`` and friends). A
    second line only: the rules themselves are judged outside this process (:mod:`vizlab.exercises.rules`)."""

    # ctypes reads and writes the process's memory; a new program (exec, spawn) runs without this hook, free to read
    # the memory of the process that started it: both refused at any time
    PROGRAMS = ("os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen")
    PROCESSES = ("os.fork", "os.forkpty", "os.kill", "os.killpg", "signal.pthread_kill")  # after the cells too
    CALLS = ("sys.settrace", "sys.setprofile") + PROCESSES + PROGRAMS  # during a graded call
    ALWAYS = ("gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames", "ctypes.") + PROGRAMS

    def __init__(self):
        self.calling = False      # a graded call is running
        self.after_cells = False  # the cells have ended: only the harness and the graded calls run
        self.harness = False      # the harness itself is counting threads

    def __call__(self, event: str, args: tuple) -> None:
        if self.harness:
            return
        if event.startswith(self.PROGRAMS) and not (self.calling or self.after_cells):
            # in a cell: a rule of graded notebooks, said as one (r20-review2's finding 5)
            raise PermissionError(f"{event}: {PROGRAMS_REFUSED}")
        if event.startswith("ctypes.") and not (self.calling or self.after_cells):
            raise PermissionError(f"{event}: {CTYPES_REFUSED}")
        if event.startswith(self.ALWAYS) or (self.calling and event.startswith(self.CALLS)) or (
                self.after_cells and event.startswith(self.PROCESSES)):
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

    import torch

    try:  # before the audit hook: torchvision loads its operators with ctypes, which the hook refuses (round 20)
        import torchvision
        import torchvision.ops
        import torchvision.transforms  # noqa: F401
    except ImportError:
        pass
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _on_alarm)
    transform = job["transform"]
    _stub_exercises(job["notebooks"])
    refuse_library(job.get("forbidden", []))
    try:
        import tqdm

        tqdm.tqdm.monitor_interval = 0  # no monitor thread: threads left running void the grading
    except Exception:  # noqa: BLE001
        pass
    guard = _Guard()
    sys.addaudithook(guard)
    watch = _LibraryWatch(job.get("generic", ()), [index for index, _ in job["cells"]])
    report = _run_report(fd)  # the first frame, before any of the notebook's code
    _refuse_threads(lambda: guard.calling or guard.after_cells or watch.active)
    namespace: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}
    shell = _Shell(namespace, transform, job.get("magics"))
    namespace["get_ipython"] = lambda: shell
    limit = float(job["call_timeout"])
    bound = (os.write, os.read, os.close, os.fstat, pickle.loads, sys._current_frames, os._exit, len, int.from_bytes,
             time.monotonic)
    pipes = [(st.st_dev, st.st_ino) for st in (os.fstat(ready_fd), os.fstat(cases_fd))]
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
    # The cells are done: only now do the cases (hidden ones included) enter the sandbox. From here on no thread,
    # process or ctypes may start (:class:`_Guard`, :func:`_refuse_threads`), and the harness uses only what it
    # bound before the cells ran (``bound``): a cell may have replaced os.write, os.read, pickle.loads or
    # sys._current_frames.
    guard.after_cells = True
    write, read, close, fstat, loads, frames_now, exit_now, length, from_bytes, monotonic = bound
    guard.harness = True
    threads = length(frames_now())
    guard.harness = False
    if threads > 1:
        report.note("threads", count=threads - 1)
    try:  # the pipes to init must be the ones it made: a cell that put its own there would read the request
        same = [(st.st_dev, st.st_ino) for st in (fstat(ready_fd), fstat(cases_fd))] == pipes
    except OSError:
        same = False
    if not same:
        exit_now(HARNESS_PIPES_REPLACED)
    # One request, once: init hands the cases on the first byte it receives and stops the notebook at a second one
    # (a cell that asked for the cases itself: round 20, tests/test_grading_r20.py)
    write(ready_fd, b"R")
    close(ready_fd)

    def exactly(n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            chunk = read(cases_fd, min(n - got, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            got += length(chunk)
        return b"".join(chunks)

    size = from_bytes(exactly(8), "big")
    data = exactly(size)
    close(cases_fd)
    with watch:  # torch rebuilds the tensors by name: no function the notebook put there may see the cases
        exercises = loads(data)  # from the trusted grader
    # the notebook's own code, or code from a file it wrote, ran meanwhile (with a replaced os.path function the
    # watch is not whole: every graded call then needs review anyway, as round 19 decided)
    if watch.whole and (watch.ran or (watch.hit and watch.hit[0] == "file")):
        exit_now(HARNESS_CASES_WATCHED)
    for spec in exercises:
        name, function = spec["name"], spec["function"]
        timed_out = False
        fn = namespace.get(function)
        if not callable(fn):
            report.note("missing", name)
            continue
        # the rules (no loops, no library implementation, no tricks) are judged outside this process, on the
        # notebook's source and on what the calls raised: "forbidden" and "loops" stay empty
        report.note("function", name)
        for i, (args, kwargs) in enumerate(spec["cases"]):
            record: dict[str, Any] = {"kind": "case", "exercise": name, "case": i, "value": None, "error": None,
                                      "seconds": 0.0, "forbidden": [], "loops": []}
            started = monotonic()
            if timed_out:
                record["error"] = "skipped: an earlier call of this function ran past the time limit"
                with watch:  # (a replaced json.dumps is notebook code: judged, never unwatched)
                    try:
                        encoded = encode_frame(record)
                    except BaseException:  # noqa: BLE001
                        encoded = None
                report(name, i, watch.ran, False, watch.hit[0] if watch.hit else "", encoded)
                continue
            whole = True  # the call ran to its end (returned or raised by itself), not stopped by the grader
            encoded = None
            # Everything the notebook's objects can run, and everything that turns the value into bytes (json,
            # torch, the exception's text), runs inside the watch: a function the notebook replaced is judged like
            # the graded function itself (round 20; before, the frame was encoded after the watch had ended)
            with watch:  # also while the value is read back: a tensor subclass could run code then
                try:
                    try:
                        _alarm(limit)
                        guard.calling = True
                        try:
                            value = fn(*args, **kwargs)
                        finally:
                            guard.calling = False
                            _alarm(0)
                        record["value"] = _sanitize(value)
                        value = None  # (its __del__, if any, runs here, inside the watch)
                    except NotImplementedError:
                        record["error"] = "not implemented"
                    except CallTimeout:
                        record["error"] = f"the call ran longer than {limit:g} s and was stopped"
                        timed_out, whole = True, False
                    except SystemExit as exc:
                        record["error"] = f"the function called sys.exit({exc.code!r})"
                    except MemoryError:
                        record["error"] = f"MemoryError: the call ran out of memory (limit: {job['memory_mb']} MB)"
                        whole = False
                    except BaseException as exc:  # noqa: BLE001
                        tb = traceback.extract_tb(exc.__traceback__)
                        where = next((f" ({f.filename}, line {f.lineno})" for f in reversed(tb)
                                      if f.filename.startswith("<cell")), "")
                        record["error"] = f"{type(exc).__name__}: {str(exc)[:300]}{where}"
                    if watch.hit and not str(record["error"] or "").startswith((REFUSED_PREFIX, CODE_REFUSED_PREFIX)):
                        record["value"], record["error"] = None, watch.refusal()  # whatever it returned or raised
                    record["seconds"] = monotonic() - started
                    encoded = encode_frame(record)
                except BaseException as exc:  # noqa: BLE001 - e.g. an exception whose text raises: no value
                    whole = False
                    encoded = None
            # the watch's verdict travels in the report; the case frame right after it, as bytes made above
            # (no case frame when it could not be encoded: the grader then has nothing to believe for this case)
            report(name, i, watch.ran, whole and watch.whole and encoded is not None,
                   watch.hit[0] if watch.hit else "", encoded)
    report.note("done")
