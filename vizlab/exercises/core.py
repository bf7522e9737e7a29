"""Exercise check objects: ``check()``, ``hint()``, ``solution()`` (the pattern of Kaggle learntools).

An :class:`Exercise` knows the function a student writes (its name and signature), a reference, a list of
:class:`Case` s (seeded inputs: random tensors, tiny seeded CNNs from :mod:`vizlab.toy`), and the usual
wrong variants ("forgot the ReLU", "summed instead of max over channels"). ``check`` calls the student's
function on every case and *judges* each result against the reference. Judging is split from calling so
that the autograder can call in a sandboxed process and judge in the trusted one
(:mod:`vizlab.exercises.grading`).

What ``check`` does with each outcome (this is a decision; it keeps student notebooks runnable):

* correct: prints a ✓ line and returns a :class:`CheckResult` with ``status == "correct"``;
* wrong result, or the function raised: raises ``AssertionError`` with the case, the expected and the got,
  and, when the result matches a known wrong variant, what the usual mistake is;
* the function still raises ``NotImplementedError`` (the released stub) or is not defined yet: prints
  "not implemented yet" and returns ``status == "not implemented"``, *without* raising, so a student
  notebook runs top to bottom. With ``strict=True`` (used by hidden tests and by grading), or when the
  environment variable ``VIZLAB_STRICT_CHECKS=1`` or nbgrader's ``NBGRADER_EXECUTION`` is set, it raises
  ``AssertionError`` instead, so an nbgrader/otter test cell fails for an unimplemented stub.
"""
from __future__ import annotations

import ast
import inspect
import math
import os
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

Args = tuple[tuple, dict]


@dataclass
class Case:
    """One input to an exercise: ``make()`` builds fresh ``(args, kwargs)`` each call (seeded, deterministic)."""

    label: str
    make: Callable[[], Args]
    hidden: bool = False


@dataclass
class CheckResult:
    """What :meth:`Exercise.check` found: ``status`` is ``"correct"`` or ``"not implemented"``."""

    exercise: str
    status: str
    cases: int = 0
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __repr__(self) -> str:
        return f"CheckResult({self.exercise!r}, {self.status!r}, cases={self.cases})"


class NotImplementedYet(AssertionError):
    """Strict checks raise this for a function that is missing or still raises ``NotImplementedError``."""


@dataclass
class Unsupported:
    """Stands in for a result the sandbox could not send back (an object that is not tensors/numbers)."""

    type_name: str


def strict_default() -> bool:
    """Whether checks treat "not implemented" as a failure by default (graders set an environment flag)."""
    if os.environ.get("VIZLAB_STRICT_CHECKS", "").strip() not in ("", "0"):
        return True
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def describe(value: Any) -> str:
    """A short description of a value for messages: shape, dtype and range of a tensor."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if isinstance(value, torch.Tensor):
        if value.numel() == 0:
            return f"an empty tensor of shape {tuple(value.shape)}"
        v = value.detach()
        v = (v.abs() if v.is_complex() else v).float()
        if value.dim() == 0:
            return f"tensor({v.item():.6g})"
        return (f"tensor of shape {tuple(value.shape)}, {str(value.dtype).replace('torch.', '')}, "
                f"values in [{v.min().item():.4g}, {v.max().item():.4g}]")
    if isinstance(value, Unsupported):
        return f"an object of type {value.type_name}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(describe(v) for v in value[:4])
        return f"{type(value).__name__} of {len(value)}: ({inner}{', ...' if len(value) > 4 else ''})"
    if value is None:
        return "None (did you forget `return`?)"
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def _as_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray) and value.dtype != object:
        return torch.from_numpy(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value))
    return None


def compare(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5, where: str = "") -> str | None:
    """``None`` when ``got`` matches ``expected`` (tensors, numbers, tuples of them), else what differs."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected{where} a tuple of {len(expected)} values, got {describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, rtol, atol, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, int) and not isinstance(expected, bool):
        g = _as_tensor(got)
        if g is None or g.numel() != 1 or not math.isclose(float(g.reshape(())), expected, abs_tol=1e-6):
            return f"expected{where} {expected}, got {describe(got)}"
        return None
    e = _as_tensor(expected)
    g = _as_tensor(got)
    if e is None:
        raise TypeError(f"cannot compare against a reference of type {type(expected).__name__}")
    if g is None:
        return f"expected{where} a {describe(e)}, got {describe(got)}"
    if e.dim() == 0 and g.numel() == 1:
        g = g.reshape(())
    if tuple(g.shape) != tuple(e.shape):
        return f"expected{where} shape {tuple(e.shape)}, got shape {tuple(g.shape)}"
    if g.is_complex():
        return f"expected{where} real values, got a complex tensor"
    g, e = g.double(), e.double()
    if not torch.isfinite(g).all():
        return f"got{where} NaN or infinite values ({describe(got)})"
    if not torch.allclose(g, e, rtol=rtol, atol=atol):
        err = (g - e).abs()
        idx = np.unravel_index(int(err.argmax()), tuple(e.shape)) if e.dim() else ()
        at = f" at index {tuple(int(i) for i in idx)}" if idx else ""
        return (f"wrong values{where}: largest difference {err.max().item():.4g}{at} "
                f"(expected {e[idx].item():.6g}, got {g[idx].item():.6g})")
    return None


def loops_in(source: str) -> list[str]:
    """The Python loops (``for``, ``while``, comprehensions) in a function's source, as ``"for (line 3)"``."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return []
    kinds = {ast.For: "for", ast.While: "while", ast.ListComp: "list comprehension",
             ast.GeneratorExp: "generator", ast.SetComp: "set comprehension", ast.DictComp: "dict comprehension"}
    return [f"{kinds[type(node)]} (line {node.lineno})" for node in ast.walk(tree) if type(node) in kinds]


def function_source(fn: Callable) -> str | None:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


class Exercise:
    """One exercise: the function to write, its reference, seeded cases, known mistakes, hint and solution.

    Args:
        name: short id (``"gram_matrix"``), also the column in grade files.
        title: a human title.
        function: the name of the function the student defines.
        signature: its ``def`` line, used for the released stub.
        reference: the correct function (called on the same cases).
        cases: ``cases(hidden) -> list[Case]``; hidden cases run only with ``hidden=True`` (grading).
        mistakes: ``[(what went wrong, wrong_function), ...]``: a wrong result equal to one of these gets the
            explanation in its message.
        hint: a nudge; solution: the reference solution's code (what ``solution()`` shows).
        judge: optional ``judge(args, kwargs, got) -> message | None`` for property checks (fooling images);
            by default the result is compared to the reference with ``rtol``/``atol``.
        no_loops: the function must not use Python loops (checked on its source).
        points: what the exercise is worth in grading (visible and hidden cases together).
    """

    def __init__(self, name: str, title: str, function: str, signature: str, reference: Callable,
                 cases: Callable[[bool], Sequence[Case]], *, mistakes: Sequence[tuple[str, Callable]] = (),
                 hint: str = "", solution: str = "", judge: Callable | None = None, rtol: float = 1e-4,
                 atol: float = 1e-5, no_loops: bool = False, points: int = 2, doc: str = ""):
        self.name, self.title, self.function, self.signature = name, title, function, signature
        self.reference, self._cases, self.mistakes = reference, cases, list(mistakes)
        self._hint, self._solution, self._judge = hint, textwrap.dedent(solution).strip(), judge
        self.rtol, self.atol, self.no_loops, self.points, self.doc = rtol, atol, no_loops, points, doc

    def __repr__(self) -> str:
        return f"<Exercise {self.name}: {self.title} -- write {self.signature.strip()}>"

    def cases(self, hidden: bool = False) -> list[Case]:
        """The visible cases, plus the hidden ones when ``hidden``."""
        return [c for c in self._cases(hidden) if hidden or not c.hidden]

    def hint(self) -> str:
        """Print (and return) a hint."""
        text = f"Hint ({self.title}): {self._hint}"
        print(text)
        return text

    def solution(self) -> str:
        """Print (and return) a reference solution."""
        text = f"Solution ({self.title}):\n{self._solution}"
        print(text)
        return text

    def stub(self) -> str:
        """The code a student starts from: the signature, the docstring, ``raise NotImplementedError``."""
        doc = textwrap.indent(f'"""{self.doc.strip()}\n"""', "    ") + "\n" if self.doc else ""
        return f"{self.signature.rstrip()}\n{doc}    raise NotImplementedError  # your code here\n"

    # --- judging (trusted side) ------------------------------------------------------------------------------
    def judge(self, case: Case, got: Any, source: str | None = None) -> str | None:
        """``None`` when ``got`` is right for ``case``; otherwise a message that helps the student."""
        if self.no_loops and source:
            loops = loops_in(source)
            if loops:
                return (f"{self.function} must not use Python loops (found: {', '.join(loops)}). "
                        "Use tensor slicing and whole-tensor operations instead.")
        args, kwargs = case.make()
        if self._judge is not None:
            problem = self._judge(args, kwargs, got)
        else:
            expected = self.reference(*args, **kwargs)
            problem = compare(got, expected, self.rtol, self.atol)
            if problem:
                problem += f"\n  expected: {describe(expected)}\n  got:      {describe(got)}"
        if not problem:
            return None
        message = f"{self.title}: wrong result for input {case.label}.\n  {problem}"
        diagnosis = self.diagnose(case, got)
        if diagnosis:
            message += f"\n  This looks like a usual mistake: {diagnosis}"
        elif self._hint:
            message += f"\n  Hint: {self._hint}"
        return message

    def diagnose(self, case: Case, got: Any) -> str | None:
        """The descriptions of the known wrong variants whose result equals ``got``, if any."""
        found = []
        for what, wrong in self.mistakes:
            try:
                args, kwargs = case.make()
                if compare(got, wrong(*args, **kwargs), self.rtol, self.atol) is None:
                    found.append(what)
            except Exception:  # a wrong variant may not apply to every case (e.g. a shape error)
                continue
        return "; or ".join(found) if found else None

    # --- calling (student side) ------------------------------------------------------------------------------
    def call(self, fn: Callable, case: Case) -> Any:
        """Call ``fn`` on a fresh copy of the case's inputs."""
        args, kwargs = case.make()
        return fn(*args, **kwargs)

    def check(self, fn: Callable | None = None, *, strict: bool | None = None, hidden: bool = False,
              quiet: bool = False) -> CheckResult:
        """Run ``fn`` (default: the function named ``self.function`` in the caller's globals) on every case.

        Raises:
            AssertionError: a wrong result or an exception, with the case and the likely mistake; also for a
                missing/unimplemented function when ``strict`` (see the module docstring).
        """
        strict = strict_default() if strict is None else strict
        if fn is None:
            caller = inspect.currentframe().f_back  # type: ignore[union-attr]
            fn = caller.f_globals.get(self.function) if caller is not None else None
            if fn is None:
                return self._not_implemented(strict, quiet, f"`{self.function}` is not defined yet")
        if not callable(fn):
            raise AssertionError(f"{self.title}: expected a function, got {describe(fn)}")
        cases = self.cases(hidden)
        source = function_source(fn) if self.no_loops else None
        for case in cases:
            try:
                got = self.call(fn, case)
            except NotImplementedError:
                return self._not_implemented(strict, quiet, f"`{self.function}` is not implemented yet")
            except Exception as exc:
                raise AssertionError(f"{self.title}: calling {self.function} on input {case.label} raised "
                                     f"{type(exc).__name__}: {exc}") from exc
            try:
                problem = self.judge(case, got, source)
            except Exception as exc:  # e.g. a complex or string tensor that cannot be compared
                raise AssertionError(f"{self.title}: the result for input {case.label} could not be compared with "
                                     f"the reference ({type(exc).__name__}: {exc}); got {describe(got)}") from exc
            if problem:
                raise AssertionError(problem)
        if not quiet:
            print(f"✓ Correct: {self.title} ({len(cases)} {'case' if len(cases) == 1 else 'cases'} passed)")
        return CheckResult(self.name, "correct", len(cases))

    def passes(self, fn: Callable | None) -> bool:
        """Whether ``fn`` passes the visible cases; never raises or prints (for "run this once it works" cells)."""
        if fn is None:
            return False
        try:
            return self.check(fn, strict=True, quiet=True).passed
        except Exception:  # noqa: BLE001 - a wrong or unimplemented function simply does not pass
            return False

    def _not_implemented(self, strict: bool, quiet: bool, why: str) -> CheckResult:
        message = f"{self.title}: not implemented yet ({why}). Replace `raise NotImplementedError` with your code."
        if strict:
            raise NotImplementedYet(message)
        if not quiet:
            print(f"… {message}")
        return CheckResult(self.name, "not implemented", 0, message)
