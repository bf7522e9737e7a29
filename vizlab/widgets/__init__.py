"""Explorers: one ipywidgets front end per technique, thin over the functions in vizlab.

Each explorer loads on first use: ``from vizlab.widgets import OcclusionExplorer``.
``set_mode("thread" | "main" | "auto")`` chooses where every explorer runs its long jobs (see ``base``).
"""
from __future__ import annotations

import importlib

from .base import Explorer, figure_to_png, set_mode

_EXPLORERS = {
    "FeatureMapExplorer": "feature_maps",
    "PatchExplorer": "patches",
    "OcclusionExplorer": "occlusion",
    "GradCamExplorer": "gradcam",
    "ClassVizExplorer": "classviz",
    "DeepDreamExplorer": "deepdream",
    "StyleExplorer": "style",
    "AdainExplorer": "adain",
    "TrustExplorer": "trust",
    "LabExplorer": "lab",
}
__all__ = ["Explorer", "figure_to_png", "set_mode", *_EXPLORERS]


def __getattr__(name: str):
    if name in _EXPLORERS:
        return getattr(importlib.import_module(f".{_EXPLORERS[name]}", __name__), name)
    raise AttributeError(f"module 'vizlab.widgets' has no attribute {name!r}")
