"""vizlab: visualizing and understanding CNNs, in Jupyter.

The lecture in three parts: inside the network (``vizlab.inside``), why this decision
(``vizlab.attribution``) and optimizing the input (``vizlab.optimize``, ``vizlab.style``); interactive
explorers in ``vizlab.widgets``, graded exercises in ``vizlab.exercises``. Everything loads on first use, so
``import vizlab`` (and ``vizlab --help``) does not import torch.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"
# top-level name -> the module that defines it (imported on first access)
_NAMES = {
    "get_device": "device", "model_device": "device", "capture": "hooks",
    "load_image": "images", "sample_image": "images", "sample_names": "images", "to_image": "images",
    "to_tensor": "images",
    "ModelUnavailableError": "models", "VizModel": "models", "available_models": "models", "load_judge": "models",
    "load_model": "models",
    "by_profile": "profiles", "profile": "profiles",
}
_SUBPACKAGES = {"attribution", "claims", "evaluate", "exercises", "inside", "optimize", "plotting", "style", "toy",
                "widgets"}
# modules that ``import vizlab`` used to load eagerly, reachable as attributes (``vizlab.device.set_threads``)
_MODULES = {"device", "hooks", "images", "models", "profiles", "fastpath", "resources", "cli"}
__all__ = [*_NAMES, "__version__", *sorted(_SUBPACKAGES)]


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBPACKAGES or name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vizlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
