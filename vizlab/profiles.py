"""Two profiles, one switch: ``"quick"`` under the test command, ``"lecture"`` for students.

Notebooks take image sizes and step counts from :func:`by_profile`, so the same notebook runs in seconds
under ``python3 go.py test`` (which sets ``VIZLAB_PROFILE=quick``) and shows lecture-quality figures when a
student runs it. On a GPU the lecture profile can ask for more (``gpu=``).

Example:
    >>> import os; os.environ["VIZLAB_PROFILE"] = "quick"
    >>> by_profile(quick=96, lecture=224)
    96
"""
from __future__ import annotations

import os

import torch

from .device import get_device

PROFILES = ("quick", "lecture")
ENV = "VIZLAB_PROFILE"


def profile() -> str:
    """The active profile: the environment variable ``VIZLAB_PROFILE`` (``quick`` or ``lecture``), default
    ``"lecture"``.

    Raises:
        ValueError: the variable is set to something else.
    """
    value = os.environ.get(ENV, "").strip().lower() or "lecture"
    if value not in PROFILES:
        raise ValueError(f"the environment variable {ENV}={os.environ[ENV]!r} is not a profile; "
                         f"use one of {', '.join(PROFILES)} (or leave it unset for 'lecture')")
    return value


def by_profile(quick, lecture, gpu=None, device: str | torch.device | None = None):
    """The setting for the active profile: ``quick`` under the test command, else ``lecture``; ``gpu`` (when
    given) replaces ``lecture`` when computing on a GPU (``device``, default: the best available)."""
    if profile() == "quick":
        return quick
    if gpu is not None and get_device(device).type != "cpu":
        return gpu
    return lecture
