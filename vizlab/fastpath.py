"""The inference fast path: a frozen, batch-norm-folded, ``channels_last`` copy of a model for forward-only work.

Occlusion sweeps, feature extraction, maximally activating patches and predictions never take a gradient, so
they can run on a copy of the network that is cheaper to evaluate and computes the same function:

- **batch norm folded into the preceding convolution.** In eval mode batch norm is a per-channel affine map,
  ``y = gamma * (z - mu) / sqrt(var + eps) + beta``, so ``conv`` followed by it is one convolution with
  weights ``W * s`` and bias ``(b - mu) * s + beta``, ``s = gamma / sqrt(var + eps)``. The batch-norm module is
  replaced by what came after the normalisation (timm's ``BatchNormAct2d`` keeps its activation), so the
  module tree, the friendly layer names and forward hooks at the batch-norm layers still work;
- **channels_last** memory format (NHWC), which oneDNN's CPU convolutions prefer (measured in
  ``benchmarks/README.md``, "Inference fast path");
- parameters that do not require gradients, used under ``torch.inference_mode()``.

The copy is built once per model and cached; it is rebuilt when the model's weights change (any parameter or
buffer replaced, or modified in place: the key holds every tensor's storage address and version counter, and a
sample of its values, which also catches a tensor rewritten through ``.data``; after editing single weights
through ``.data`` call :func:`clear_cache`). Results equal the plain model's up to
float rounding (tests: max |logit difference| < 1e-4 on the package photos).

Gradient methods (saliency, Grad-CAM, optimisation) keep using the plain model.

Outputs of a *convolution that was folded* differ from the plain model (they include the batch norm): use
:func:`exact_at` before hooking such a layer on the fast copy (:func:`vizlab.inside.extract_features` does).

Example:
    >>> fast = inference_model(model)                     # doctest: +SKIP
    >>> with torch.inference_mode():                      # doctest: +SKIP
    ...     logits = fast(x)
    >>> logits = fast_forward(model, x)                   # the same, in one call  # doctest: +SKIP
"""
from __future__ import annotations

import copy
import threading
import weakref

import torch
import torch.fx as fx
from torch import nn

__all__ = ["inference_model", "fast_forward", "exact_at", "fold_batchnorm", "clear_cache"]


class AfterNorm(nn.Module):
    """What remains of a folded batch-norm module: the dropout and activation that timm's ``BatchNormAct2d``
    applies after the normalisation (identities for a plain ``nn.BatchNorm2d``)."""

    def __init__(self, drop: nn.Module | None = None, act: nn.Module | None = None):
        super().__init__()
        self.drop = drop if drop is not None else nn.Identity()
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(x))


class _LeafTracer(fx.Tracer):
    """Convolutions and batch norms (timm's subclasses included) stay single nodes, so a conv -> bn edge is
    visible. While it traces, fx patches ``nn.Module.__call__`` and ``__getattr__`` for the whole process: a
    forward pass in another thread (an explorer's sweep) would be traced into this graph and fail ("module is
    not installed as a submodule"). Calls and attribute reads from other threads pass straight through."""

    def __init__(self):
        super().__init__()
        self._thread = threading.get_ident()

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) or super().is_leaf_module(m, qualname)

    def call_module(self, m: nn.Module, forward, args, kwargs):
        if threading.get_ident() != self._thread:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr: str, attr_val, parameter_proxy_cache):
        if threading.get_ident() != self._thread:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)


def _conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """``(conv path, bn path)`` for every batch norm whose only input is a convolution used nowhere else."""
    try:
        graph = _LeafTracer().trace(model)
    except Exception:  # a model fx cannot trace (data-dependent control flow): nothing is folded
        return []
    modules = dict(model.named_modules())
    pairs, seen_conv, seen_bn = [], set(), set()
    uses: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            uses[node.target] = uses.get(node.target, 0) + 1
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules[node.target], nn.BatchNorm2d):
            continue
        src = node.args[0] if node.args else None
        if not (isinstance(src, fx.Node) and src.op == "call_module" and isinstance(modules[src.target], nn.Conv2d)):
            continue
        if len(src.users) != 1 or uses[src.target] != 1 or uses[node.target] != 1:
            continue  # a conv whose output is also used elsewhere (or a module called twice) must stay as it is
        if src.target in seen_conv or node.target in seen_bn:
            continue
        seen_conv.add(src.target)
        seen_bn.add(node.target)
        pairs.append((src.target, node.target))
    return pairs


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a batch norm without running statistics")
    with torch.no_grad():
        w = conv.weight.double()
        mean, var = bn.running_mean.double(), bn.running_var.double()
        gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(mean)
        beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(mean)
        scale = gamma / torch.sqrt(var + bn.eps)
        bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(mean)
        # Computed in float64 so the folded weights round once, not twice.
        conv.weight = nn.Parameter((w * scale.view(-1, 1, 1, 1)).to(conv.weight.dtype), requires_grad=False)
        conv.bias = nn.Parameter(((bias - mean) * scale + beta).to(conv.weight.dtype), requires_grad=False)


def fold_batchnorm(model: nn.Module) -> dict[str, str]:
    """Fold every eval-mode batch norm that directly follows a convolution into it, **in place**.

    The batch-norm module is replaced by an :class:`AfterNorm` (its activation, if any). Returns
    ``{conv path: bn path}`` of the folded pairs. ``model`` must be in eval mode (batch norm is then affine).
    """
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode (in training mode batch norm uses batch "
                         "statistics and is not a fixed affine map); call model.eval() first")
    pairs = _conv_bn_pairs(model)
    for conv_path, bn_path in pairs:
        conv, bn = model.get_submodule(conv_path), model.get_submodule(bn_path)
        _fold(conv, bn)
        parent_path, _, child = bn_path.rpartition(".")
        parent = model.get_submodule(parent_path) if parent_path else model
        setattr(parent, child, AfterNorm(getattr(bn, "drop", None), getattr(bn, "act", None)))
    return dict(pairs)


def _strip_hooks(model: nn.Module) -> None:
    # deepcopy copies registered hooks too; a capture() active on the plain model must not fire on the copy.
    for module in model.modules():
        for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
                     "_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called",
                     "_state_dict_hooks", "_load_state_dict_pre_hooks"):
            hooks = getattr(module, name, None)
            if hooks is not None:
                hooks.clear()
        # a ghost network active on the plain model (vizlab.optimize.classviz.ghost_network) replaces its residual
        # blocks' forward by an instance attribute; the copy runs whole anyway, without the detour
        own = module.__dict__.get("forward")
        if getattr(getattr(own, "__func__", None), "_vizlab_ghost", False):
            del module.__dict__["forward"]


def _weights_key(model: nn.Module) -> tuple:
    tensors = list(model.parameters()) + list(model.buffers())
    addresses = tuple((t.data_ptr(), t._version, t.dtype, tuple(t.shape), t.device) for t in tensors)
    floats = [t.detach().reshape(-1) for t in tensors if t.is_floating_point() and t.numel()]
    if not floats:
        return addresses
    with torch.no_grad():
        # Writes through ``.data`` bypass the version counter; a sample of about 8 values per tensor sees a
        # rewritten tensor (re-initialised, copied from another model) for ~2 ms, where summing all of
        # Lite0's weights would cost ~15 ms per call.
        sample = torch.cat([f[:: max(1, f.numel() // 8)].float().cpu() for f in floats])
    return addresses + (sample.numpy().tobytes(),)


_CACHE: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every cached fast copy."""
    with _LOCK:
        _CACHE.clear()


def _build(model: nn.Module, channels_last: bool) -> nn.Module:
    fast = copy.deepcopy(model)
    _strip_hooks(fast)
    fast.eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    fast.folded = fold_batchnorm(fast)
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    fast.fast_path_of = weakref.ref(model)
    return fast


def _default_channels_last(model: nn.Module) -> bool:
    # Measured on CPU (benchmarks/README.md): channels_last pays for the convolutions of the embedded model.
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def inference_model(model: nn.Module, *, channels_last: bool | None = None) -> nn.Module:
    """The cached fast copy of ``model`` for forward-only work (see the module docstring).

    Args:
        model: any ``nn.Module`` (a :class:`~vizlab.models.VizModel` keeps its methods: the copy is one too).
        channels_last: store 4-D weights in NHWC order (default: when the model has convolutions).

    Returns:
        A frozen eval-mode copy with batch norm folded; attribute ``folded`` maps folded convolution paths to
        their batch-norm paths. Call it under ``torch.inference_mode()`` (or use :func:`fast_forward`).

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if getattr(model, "fast_path_of", None) is not None:
        return model  # already a fast copy
    if channels_last is None:
        channels_last = _default_channels_last(model)
    key = (bool(channels_last), _weights_key(model))
    with _LOCK:
        entry = _CACHE.get(model)
        if entry is not None and entry["key"] == key:
            return entry["fast"]
        fast = _build(model, bool(channels_last))
        _CACHE[model] = {"key": key, "fast": fast}
        return fast


def fast_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` on the fast copy, under ``torch.inference_mode()`` (equal up to float rounding).

    The result is an inference tensor: ``.clone()`` it outside inference mode before it meets autograd.
    """
    fast = inference_model(model)
    with torch.inference_mode():
        return fast(x)


def exact_at(fast: nn.Module, layer_path: str) -> bool:
    """Whether hooking ``layer_path`` on the fast copy records what the plain model computes there.

    ``False`` only for a convolution whose batch norm was folded into it.
    """
    return layer_path not in getattr(fast, "folded", {})
