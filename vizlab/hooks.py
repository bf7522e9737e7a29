"""Capture activations and gradients at named layers; every hook is removed on exit, also after errors.

Gradients come from a forward hook plus ``Tensor.register_hook`` (or ``torch.autograd.grad`` on the kept
activation), never from module backward hooks, which break with in-place ReLU (pytorch issue 61519).
A layer followed by an in-place ReLU would see its stored output overwritten; the forward hook therefore
hands a copy downstream and keeps the original.

Example:
    >>> with capture(model, ["stem", "head"]) as cap:      # doctest: +SKIP
    ...     model(x)
    >>> cap["head"].shape                                   # doctest: +SKIP
    torch.Size([1, 1280, 7, 7])
"""
from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn

from .models import resolve_layer


class Capture:
    """What :func:`capture` recorded: ``activations[name]`` and, with ``gradients=True``, ``gradients[name]``."""

    def __init__(self) -> None:
        self.activations: dict[str, torch.Tensor] = {}
        self.gradients: dict[str, torch.Tensor] = {}
        self.modules: dict[str, nn.Module] = {}

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self.activations[name]
        except KeyError:
            if name in self.modules:
                raise KeyError(f"layer {name!r} was hooked but did not run in the forward pass") from None
            raise KeyError(f"layer {name!r} was not captured; captured: {', '.join(self.modules)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.activations

    def clear(self) -> None:
        self.activations.clear()
        self.gradients.clear()


def _first_tensor(output):
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f"can only capture layers whose output is a tensor, got {type(output).__name__}")


@contextmanager
def capture(model: nn.Module, layers: str | nn.Module | Sequence[str | nn.Module], *, gradients: bool = False,
            keep_graph: bool = False, any_thread: bool = False) -> Iterator[Capture]:
    """Record the outputs of ``layers`` during forward passes inside the ``with`` block.

    Only forward passes run by the thread that entered the block are recorded: two widgets computing on one
    model at once (each in its own worker thread) would otherwise overwrite each other's activations.

    Args:
        model: any ``nn.Module`` (a :class:`~vizlab.models.VizModel` also accepts friendly layer names).
        layers: one layer or several, by friendly name, module path, or module.
        gradients: also record ``d(output)/d(activation)`` into ``cap.gradients`` when ``backward`` runs.
        keep_graph: keep activations attached to the autograd graph (for ``torch.autograd.grad``);
            implied by ``gradients``. Otherwise activations are detached copies.
        any_thread: record forward passes of every thread (e.g. a model run by a pool of workers).

    Yields:
        A :class:`Capture`; a layer called several times in one pass keeps its last output.
    """
    if isinstance(layers, (str, nn.Module)):
        layers = [layers]
    if not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError("layers must name at least one layer")
    resolved = [resolve_layer(model, layer) for layer in layers]
    attached = gradients or keep_graph
    cap = Capture()
    handles = []
    warned: set[str] = set()
    owner = threading.get_ident()

    def make_hook(name: str):
        def hook(module, inputs, output):
            if not any_thread and threading.get_ident() != owner:
                return None  # another thread's forward pass (see the docstring)
            out = _first_tensor(output)
            if gradients and not out.requires_grad and name not in warned:
                warned.add(name)
                warnings.warn(f"capture: layer {name!r} ran without autograd (inside torch.no_grad(), or neither the "
                              f"input nor the weights require grad), so no gradient will be recorded for it",
                              RuntimeWarning, stacklevel=2)
            if not attached or not out.requires_grad:
                cap.activations[name] = out.detach().clone()
                return None
            cap.activations[name] = out
            if gradients:
                def save_grad(grad, name=name):
                    cap.gradients[name] = grad.detach()
                out.register_hook(save_grad)
            # Downstream in-place ops (ReLU(inplace=True)) must not overwrite the tensor we keep.
            copy = out.clone()
            if isinstance(output, torch.Tensor):
                return copy
            return (copy, *output[1:]) if isinstance(output, tuple) else [copy, *output[1:]]
        return hook

    try:
        for name, module in resolved:
            cap.modules[name] = module
            handles.append(module.register_forward_hook(make_hook(name)))
        yield cap
    finally:
        for handle in handles:
            handle.remove()


def activations(model: nn.Module, x: torch.Tensor, layers: str | Sequence[str], *, grad: bool = False):
    """Run ``model(x)`` and return ``(logits, {layer: activation})`` (detached unless ``grad``)."""
    names = [layers] if isinstance(layers, (str, nn.Module)) else list(layers)
    with capture(model, names, keep_graph=grad) as cap:
        if grad:
            out = model(x)
        else:
            with torch.no_grad():
                out = model(x)
    return out, dict(cap.activations)
