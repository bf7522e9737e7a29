"""vizlab: visualizing and understanding CNNs, in Jupyter.

The lecture in three parts: inside the network (``vizlab.inside``), why this decision
(``vizlab.attribution``) and optimizing the input (``vizlab.optimize``, ``vizlab.style``); interactive
explorers in ``vizlab.widgets``, graded exercises in ``vizlab.exercises``. Sub-packages load on first use.
"""
from __future__ import annotations

import importlib

from .device import get_device, model_device
from .hooks import capture
from .images import load_image, sample_image, sample_names, to_image, to_tensor
from .models import ModelUnavailableError, VizModel, available_models, load_judge, load_model
from .profiles import by_profile, profile

__version__ = "0.1.0"
_SUBPACKAGES = {"attribution", "claims", "evaluate", "exercises", "inside", "optimize", "plotting", "style", "toy",
                "widgets"}
__all__ = ["get_device", "model_device", "capture", "load_image", "sample_image", "sample_names", "to_image",
           "to_tensor", "ModelUnavailableError", "VizModel", "available_models", "load_judge", "load_model",
           "by_profile", "profile", "__version__",
           *sorted(_SUBPACKAGES)]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vizlab' has no attribute {name!r}")
