"""vizlab: visualizing and understanding CNNs, in Jupyter.

The lecture in three parts: inside the network (``vizlab.inside``), why this decision
(``vizlab.attribution``) and optimizing the input (``vizlab.optimize``, ``vizlab.style``).
"""
from .device import get_device, model_device
from .hooks import capture
from .images import load_image, sample_image, sample_names, to_image, to_tensor
from .models import ModelUnavailableError, VizModel, available_models, load_model

__version__ = "0.1.0"
__all__ = ["get_device", "model_device", "capture", "load_image", "sample_image", "sample_names", "to_image",
           "to_tensor", "ModelUnavailableError", "VizModel", "available_models", "load_model", "__version__"]
