"""Pick the device to compute on, and find the device a model lives on."""
from __future__ import annotations

import torch
from torch import nn

_ALLOWED = ("auto", "cuda", "mps", "cpu")


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return a torch device: CUDA when present, then Apple MPS, then CPU.

    Args:
        device: ``None`` or ``"auto"`` picks the best available device; a string such as ``"cpu"``,
            ``"cuda:1"`` or a ``torch.device`` is checked and returned.

    Example:
        >>> get_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        dev = device
    elif device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"device={device!r} is not a device; use one of {_ALLOWED} or e.g. 'cuda:0'") from exc
    else:
        raise TypeError(f"device must be None, a string or a torch.device, got {type(device).__name__}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here; use 'auto' or 'cpu'")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r} was asked for, but Apple MPS is not available here; use 'auto' or 'cpu'")
    return dev


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (or buffer); CPU for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """A one-line human description, e.g. ``'cuda (NVIDIA H100)'`` or ``'cpu (2 threads)'``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def scaled(cpu_value, gpu_value, device: torch.device | str | None = None):
    """Pick a setting by device: the small CPU value, or the larger one when computing on a GPU.

    Notebooks use it for image sizes and step counts so that they stay quick on a laptop CPU.
    """
    dev = get_device(device)
    return cpu_value if dev.type == "cpu" else gpu_value
