"""Grading rules that do not depend on the values returned: what an answer must not call, and what the sandbox
is handed (the cases, built on the trusted side)."""
from __future__ import annotations

import pickle
import sys
from typing import Sequence

from . import catalog

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
