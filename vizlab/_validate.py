"""Argument checks shared across vizlab, kept free of heavy imports (no matplotlib): the training scripts and the
optimisation and style code import them without pulling in the attribution package and its plotting."""
from __future__ import annotations

import numbers


def check_int(name: str, value, low: int = 1, high: int | None = None) -> int:
    """``value`` checked as an integer in ``[low, high]`` (no upper bound without ``high``): a TypeError for a
    non-integer (``bool`` too; NumPy integers are accepted and returned as ``int``), a ValueError outside the range,
    each naming the argument and what is allowed. The one integer check of the attribution, optimisation, style,
    data set and lab code (render's steps, a regulariser's period, a data set's size ...)."""
    allowed = f"in {low}..{high}" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer {allowed}, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return value
