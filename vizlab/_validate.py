"""Argument checks shared across vizlab, kept free of heavy imports (no matplotlib): the training scripts and the
optimisation and style code import them without pulling in the attribution package and its plotting."""
from __future__ import annotations

import math
import numbers


#: torch's generators take a 64-bit seed; vizlab's seeds stay below 2**63, so ``seed + offset`` still fits
SEED_LIMIT = 2 ** 63


def check_int(name: str, value, low: int | None = 1, high: int | None = None, *, allowed: str | None = None) -> int:
    """``value`` checked as an integer in ``[low, high]`` (``None`` leaves an end unbounded): a TypeError for a
    non-integer (``bool`` too; NumPy integers are accepted and returned as ``int``), a ValueError outside the range,
    each naming the argument and what is allowed (``allowed`` words the range instead, e.g. ``">= 0 and < 2**63"``).
    The one integer check of the attribution, optimisation, style, data set and lab code (render's steps, a
    regulariser's period, a data set's size ...)."""
    if allowed is None:
        allowed = (f"in {low}..{high}" if low is not None and high is not None else f">= {low}" if low is not None
                   else f"<= {high}" if high is not None else "")
    what = f"an integer {allowed}" if allowed else "an integer"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__} {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def positive_int_arg(text: str) -> int:
    """An ``argparse`` type: a whole number >= 1 (``--cull-idle``, ``--patch``, ``--size`` ...). Anything else is an
    ``argparse.ArgumentTypeError``, which argparse prints as one line naming the option. The one such type of
    vizlab's command lines; standard library only, so ``--help`` stays free of torch."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (>= 1), got {value}")
    return value


def check_number(name: str, value, low: float | None = 0.0, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` checked as a finite real number in the interval ``[low, high]`` (an end is open with ``low_open``
    / ``high_open``; ``None`` leaves it unbounded): a TypeError for a non-number (``bool`` and numeric strings
    too; Python and NumPy ints and floats are accepted and returned as ``float``), a ValueError for NaN, an
    infinity or a value outside the interval, each naming the argument and what is allowed. The one real-number
    check of the regularisers, parameterizations and render (a weight, a sigma, a saturation ...)."""
    parts = []
    if low is not None:
        parts.append(f"> {low:g}" if low_open else f">= {low:g}")
    if high is not None:
        parts.append(f"< {high:g}" if high_open else f"<= {high:g}")
    allowed = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number) \
            or (low is not None and (number <= low if low_open else number < low)) \
            or (high is not None and (number >= high if high_open else number > high)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return number


def seeded_rng(seed, *streams: int, name: str = "seed"):
    """A NumPy ``Generator`` seeded with ``seed`` (``np.random.default_rng(seed)``), or with ``[seed, *streams]``
    when a call site keeps further streams of its own (e.g. ``seeded_rng(seed, 28)``): the NumPy twin of
    :func:`seeded_generator`. ``seed`` is checked with :func:`check_seed` under ``name`` first, so a bad seed is
    an error naming it (not NumPy's), and the draws for a valid seed are NumPy's own."""
    import numpy as np   # here, not at the top, as in seeded_generator

    seed = check_seed(name, seed)
    return np.random.default_rng([seed, *streams] if streams else seed)


def check_seed(name: str, value) -> int:
    """``value`` checked as a seed: an integer in ``[0, 2**63)`` (NumPy integers accepted, ``bool`` refused), as
    :func:`check_int` checks it. Returned as ``int``."""
    return check_int(name, value, 0, SEED_LIMIT - 1, allowed=">= 0 and < 2**63")


def seeded_generator(seed, offset: int = 0, *, name: str = "seed"):
    """A new CPU ``torch.Generator`` (CPU draws are the same on every machine and device) seeded with ``seed + offset``: the one place
    vizlab builds a seeded generator. ``seed`` is checked with :func:`check_seed` under ``name``; ``offset`` (an
    integer in ``[0, 2**63)``) gives a call site further streams of its own from one seed, e.g. the sliced loss's
    directions at ``seed + 7919``, apart from the start's draws at ``seed``.

    Example:
        >>> noise = torch.randn(3, generator=seeded_generator(0))     # doctest: +SKIP
    """
    import torch   # here, not at the top: this module stays free of heavy imports

    total = check_seed(name, seed) + check_seed("offset", offset)
    return torch.Generator().manual_seed(total)
