"""Explorers: one ipywidgets front end per technique, thin over the functions in vizlab.

Each explorer loads on first use: ``from vizlab.widgets import OcclusionExplorer``.
"""
from __future__ import annotations

import importlib

from .base import Explorer, figure_to_png

_EXPLORERS = {
    "FeatureMapExplorer": "feature_maps",
    "PatchExplorer": "patches",
    "OcclusionExplorer": "occlusion",
    "GradCamExplorer": "gradcam",
    "ClassVizExplorer": "classviz",
    "DeepDreamExplorer": "deepdream",
    "StyleExplorer": "style",
    "TrustExplorer": "trust",
}
__all__ = ["Explorer", "figure_to_png", *_EXPLORERS]


def __getattr__(name: str):
    if name in _EXPLORERS:
        return getattr(importlib.import_module(f".{_EXPLORERS[name]}", __name__), name)
    raise AttributeError(f"module 'vizlab.widgets' has no attribute {name!r}")
