"""Claims: the numbers a notebook or a test asserts about a model, an optimisation or a training.

A lecture notebook that says "hiding the cat raises p(espresso)" asserts it. Such an outcome depends on seeds,
thread counts and the CPU's instruction set (torch picks its kernels by it), so every asserted outcome is
*registered*: ``benchmarks/claims_*.py`` lists it under the same name with a ``run(seed)`` that recomputes the
number, and ``benchmarks/margins.py`` measures its worst case across seeds x threads x instruction sets.

In a notebook::

    from vizlab.claims import claim
    claim("occlusion: hiding the cat raises p(espresso)", gain, ">", 0.05)

Registration needs no list kept by hand: ``benchmarks/margins.py --notebooks`` executes each notebook with
``VIZLAB_CLAIMS_LOG`` set, in a fresh process per thread count and instruction set, and reads back every
``claim`` it made. In that mode ``claim`` records the value and does not raise, so one failing claim does not hide
the others. ``tests/test_claims_registry.py`` reads every notebook and fails when an ``assert`` is neither a
``claim(...)`` nor marked ``# exact`` (a structural fact: a shape, a type, an identity that holds bit for bit or
to float tolerance), so a new notebook cannot add an unmeasured claim; in the tests, an assert comparing a
computed number with a float literal names its registered claim (``# claim: <name>``) or is marked ``# exact``.
"""
from __future__ import annotations

import json
import math
import numbers
import operator
import os

__all__ = ["claim", "OPS", "LOG_ENV"]

LOG_ENV = "VIZLAB_CLAIMS_LOG"  # set by benchmarks/margins.py: record every claim there instead of raising

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def claim(name: str, value, op: str, threshold: float) -> None:
    """Assert ``value op threshold`` for the registered claim ``name``.

    Returns nothing, so a ``claim(...)`` on a notebook cell's last line prints no bare number under the figure.

    Args:
        name: what is claimed, unique within its notebook: the margins table reports it under this name.
        value: a number, or a tensor/array with one element.
        op: one of ``">"``, ``">="``, ``"<"``, ``"<="``.
        threshold: the bound.

    Raises:
        AssertionError: the claim does not hold (the message names the claim, the value and the bound), so it
            fails a notebook under nbval and a grader's test cell alike.

    Example:
        >>> claim("demo: two is more than one", 2.0, ">", 1.0)
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty string naming a registered claim, got {name!r}")
    if op not in OPS:
        raise ValueError(f"op must be one of {sorted(OPS)}, got {op!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a real number, got {type(threshold).__name__}")
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"value of claim {name!r} must be a number or a one-element tensor/array, "
                        f"got {type(value).__name__}") from exc
    holds = not math.isnan(number) and OPS[op](number, float(threshold))
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"name": name, "value": number, "op": op, "threshold": float(threshold),
                                "holds": holds}) + "\n")
        return
    if not holds:
        raise AssertionError(f"claim {name!r} does not hold: {number:.6g} is not {op} {threshold:.6g}")
