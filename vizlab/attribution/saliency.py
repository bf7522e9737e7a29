"""The saliency family: gradients of a class score with respect to the pixels.

All methods share one base, :class:`GradientMethod`, which computes ``g = dS_c/dx`` for a batch in one
backward pass and reduces it to a map; the variants only change how ``g`` is obtained:

- :func:`saliency` (Simonyan et al. 2014, as in CS231n): ``M[n, h, w] = max_ch |g[n, ch, h, w]|``.
- :func:`smoothgrad` (Smilkov et al. 2017): the average map over noisy copies ``x + N(0, sigma^2)`` with
  ``sigma = noise * (max(x) - min(x))``.
- :func:`guided_backprop` (Springenberg et al. 2015): the backward pass through every ReLU keeps only
  positive gradients where the input was positive. The model's ``nn.ReLU``/``nn.ReLU6`` modules are swapped
  for a custom autograd function while it runs and always put back (no module backward hooks).
- :func:`integrated_gradients` (Sundararajan et al. 2017): ``(x - x0) * sum_k w_k g(x0 + a_k (x - x0))`` over
  ``steps`` points ``a_k`` of the straight path from a baseline ``x0``: Gauss-Legendre nodes and weights by
  default (exact for polynomials of degree ``2 steps - 1``), or the midpoint rule ``a_k = (k + 1/2) / steps``,
  ``w_k = 1 / steps``.
  Completeness: the attributions sum to ``S(x) - S(x0)``; the gap is kept in ``.delta``.

Shapes: ``image`` is ``(N, 3, H, W)``; maps come back as ``(N, H, W)`` (``reduce="max"`` or ``"mean"``), or as
the signed gradient ``(N, 3, H, W)`` with ``reduce="none"``.

Example:
    >>> m = saliency(model, "cat", "Egyptian cat")            # doctest: +SKIP
    >>> m.shape                                               # doctest: +SKIP
    torch.Size([1, 224, 224])
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from ._common import as_batch, check_int
from .targets import TargetLike, as_class_target, as_target

REDUCTIONS = ("max", "mean", "none")


def reduce_gradient(grad: torch.Tensor, reduce: str = "max") -> torch.Tensor:
    """``(N, 3, H, W)`` gradient to a map: ``max`` or ``mean`` of ``|g|`` over colour channels, or ``none``."""
    if reduce == "max":
        return grad.abs().amax(1)
    if reduce == "mean":
        return grad.abs().mean(1)
    if reduce == "none":
        return grad
    raise ValueError(f"reduce={reduce!r} is unknown; use one of {', '.join(REDUCTIONS)}")


class GradientMethod:
    """Base of the saliency family: ``gradient(x)`` is ``dS/dx`` for a batch; ``__call__`` reduces it."""

    def __init__(self, model: nn.Module):
        self.model = model

    def input_gradient(self, x: torch.Tensor, target: TargetLike) -> torch.Tensor:
        """``d(sum_n S_n(x_n)) / dx``: each image's own score, since images do not interact in eval mode."""
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            logits = self.model(x)
            scores = as_target(self.model, target, logits.detach())(logits)
            (grad,) = torch.autograd.grad(scores.sum(), x)
        return grad

    def maps(self, x: torch.Tensor, target: TargetLike, reduce: str) -> torch.Tensor:
        return reduce_gradient(self.input_gradient(x, target), reduce)

    def __call__(self, image, target: TargetLike = None, *, reduce: str = "max") -> torch.Tensor:
        reduce_gradient(torch.zeros(1, 3, 1, 1), reduce)  # checks the name before any work
        x = as_batch(self.model, image)
        return self.maps(x, target, reduce).detach()


class SmoothGrad(GradientMethod):
    """Average of the maps of ``samples`` noisy copies (noise ``sigma = noise * (max - min)`` of each image)."""

    def __init__(self, model: nn.Module, samples: int = 16, noise: float = 0.15, batch_size: int = 8, seed: int = 0):
        super().__init__(model)
        self.samples = check_int("samples", samples, 1)
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 1:
            raise ValueError(f"noise={noise!r} is not allowed; use a fraction of the value range in [0, 1]")
        self.noise = float(noise)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.seed = seed

    def maps(self, x: torch.Tensor, target: TargetLike, reduce: str) -> torch.Tensor:
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        total = None
        for n in range(x.shape[0]):  # per image, so batch results equal per-image results
            xi = x[n:n + 1]
            sigma = self.noise * float(xi.max() - xi.min())
            tgt = _one_target(self.model, target, xi, n, x.shape[0])
            acc = torch.zeros_like(reduce_gradient(torch.zeros_like(xi), reduce))
            for start in range(0, self.samples, self.batch_size):
                k = min(self.batch_size, self.samples - start)
                noise = torch.randn((k, *xi.shape[1:]), generator=gen).to(xi.device) * sigma
                grad = self.input_gradient(xi + noise, tgt)
                acc += reduce_gradient(grad, reduce).sum(0, keepdim=True)
            total = acc if total is None else torch.cat([total, acc])
            gen.manual_seed(self.seed)  # the same noise for every image
        return total / self.samples


def _one_target(model, target, xi, n, batch):
    """Image ``n``'s class, fixed on the clean image (noisy copies must explain the same class)."""
    if callable(target) and not isinstance(target, torch.Tensor) and not hasattr(target, "indices"):
        return target
    with torch.no_grad():
        logits = model(xi)
    if isinstance(target, (list, tuple)) or (isinstance(target, torch.Tensor) and target.numel() > 1):
        if len(target) != batch:
            raise ValueError(f"target has {len(target)} entries for a batch of {batch} images")
        target = target[n]
    elif hasattr(target, "indices"):
        target = int(target.indices(batch)[n])
    cls = as_target(model, target, logits)
    return int(cls.indices(1)[0])


class _GuidedReLUFunction(torch.autograd.Function):
    """``y = clamp(x, 0, upper)``; backward passes ``max(grad, 0)`` only where the input was in range."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, upper: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.upper = upper
        return x.clamp(min=0) if upper is None else x.clamp(0, upper)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        passed = x > 0
        if ctx.upper is not None:
            passed &= x < ctx.upper
        return grad.clamp(min=0) * passed, None


class GuidedReLU(nn.Module):
    """Stand-in for ``nn.ReLU``/``nn.ReLU6`` during guided backpropagation (never in place)."""

    def __init__(self, upper: float | None = None):
        super().__init__()
        self.upper = upper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedReLUFunction.apply(x, self.upper)


@contextmanager
def guided_relus(model: nn.Module) -> Iterator[int]:
    """Swap every ``nn.ReLU``/``nn.ReLU6`` module of ``model`` for :class:`GuidedReLU`; restore them on exit.

    Yields the number of swapped modules. ReLUs called as functions (``F.relu``) are not seen.
    """
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    try:
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.ReLU6):
                    upper = 6.0
                elif type(child) is nn.ReLU:
                    upper = None
                else:
                    continue
                swapped.append((parent, name, child))
                setattr(parent, name, GuidedReLU(upper))
        if not swapped:
            raise ValueError("guided backprop needs nn.ReLU or nn.ReLU6 modules, and this model has none")
        yield len(swapped)
    finally:
        for parent, name, child in reversed(swapped):
            setattr(parent, name, child)


class GuidedBackprop(GradientMethod):
    """Gradient through guided ReLUs (see :func:`guided_relus`)."""

    def input_gradient(self, x: torch.Tensor, target: TargetLike) -> torch.Tensor:
        with guided_relus(self.model):
            return super().input_gradient(x, target)


RULES = ("gauss-legendre", "midpoint")


def path_points(steps: int, rule: str = "gauss-legendre") -> tuple[torch.Tensor, torch.Tensor]:
    """``(alphas, weights)``, float64 ``(steps,)`` each: a quadrature of ``int_0^1 g(a) da = sum_k w_k g(a_k)``.

    ``"gauss-legendre"`` is exact for polynomials of degree ``2 steps - 1``; ``"midpoint"`` takes
    ``a_k = (k + 1/2) / steps`` with equal weights (exact up to degree 1).
    """
    check_int("steps", steps, 1)
    if rule == "gauss-legendre":
        import numpy as np

        nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]
        return torch.from_numpy((nodes + 1) / 2), torch.from_numpy(weights / 2)
    if rule == "midpoint":
        alphas = (torch.arange(steps, dtype=torch.float64) + 0.5) / steps
        return alphas, torch.full((steps,), 1.0 / steps, dtype=torch.float64)
    raise ValueError(f"rule={rule!r} is unknown; use one of {', '.join(RULES)}")


class IntegratedGradients(GradientMethod):
    """Integrated Gradients along the straight path from ``baseline`` to the image.

    Args:
        model: a classifier (any input range: a plain module gets the tensor as it is).
        steps: points on the path where the gradient is taken (more steps, smaller completeness gap).
        baseline: a number (a flat image; ``0`` is black) or a tensor broadcastable to the batch.
        batch_size: path points per forward/backward pass.
        rule: the quadrature (:func:`path_points`): ``"gauss-legendre"`` (default) or ``"midpoint"``, captum's
            ``"gausslegendre"`` and ``"riemann_middle"``. On the embedded model and the package photos, 64
            Gauss-Legendre steps (the default) leave a completeness gap of 1.8-33 % of ``S(x) - S(x0)`` (median
            6.4 %, 6 of 15 photos at most 5 %; 32 steps: 2-26 % on four photos):
            the class score of a dimmed photo rises within a few percent of the path next to black, and the
            gradient along the path is rough (benchmarks/bench_ig_completeness.py). Check ``delta``.

    After a call, ``delta`` ``(N,)`` holds the completeness gap ``sum(attributions) - (S(x) - S(x0))`` and
    ``score_change`` ``(N,)`` holds ``S(x) - S(x0)`` (``S`` the target logit).
    """

    def __init__(self, model: nn.Module, steps: int = 64, baseline: float | torch.Tensor = 0.0,
                 batch_size: int = 16, rule: str = "gauss-legendre"):
        super().__init__(model)
        self.steps = check_int("steps", steps, 1)
        self.alphas, self.weights = path_points(self.steps, rule)
        self.rule = rule
        if not isinstance(baseline, (int, float, torch.Tensor)) or isinstance(baseline, bool):
            raise TypeError(f"baseline must be a number or a tensor, got {type(baseline).__name__}")
        self.baseline = baseline
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.delta: torch.Tensor | None = None
        self.score_change: torch.Tensor | None = None

    def attributions(self, x: torch.Tensor, target: TargetLike) -> torch.Tensor:
        """Signed attributions ``(N, 3, H, W)``; sets :attr:`delta` and :attr:`score_change`."""
        x0 = torch.as_tensor(self.baseline, dtype=x.dtype, device=x.device).expand_as(x)
        with torch.no_grad():
            classes = as_class_target(self.model, target, self.model(x)).indices(x.shape[0]).to(x.device)
            ends = self.model(torch.cat([x, x0]))
            score_change = (ends[:x.shape[0]] - ends[x.shape[0]:]).gather(1, classes[:, None])[:, 0]
        alphas = self.alphas.to(device=x.device, dtype=x.dtype)
        weights = self.weights.to(device=x.device, dtype=x.dtype)
        total = torch.zeros_like(x)
        for start in range(0, self.steps, self.batch_size):
            a = alphas[start:start + self.batch_size, None, None, None, None]
            w = weights[start:start + self.batch_size, None, None, None, None]
            # (k, N, 3, H, W) -> one batch of k * N path points; each keeps its own image's class
            path = x0[None] + a * (x - x0)[None]
            grad = GradientMethod.input_gradient(self, path.flatten(0, 1), classes.repeat(len(a)).tolist())
            total += (grad.view(len(a), *x.shape) * w).sum(0)
        attr = (x - x0) * total
        self.score_change = score_change.detach()
        self.delta = (attr.flatten(1).sum(1) - score_change).detach()
        return attr

    def maps(self, x: torch.Tensor, target: TargetLike, reduce: str) -> torch.Tensor:
        return reduce_gradient(self.attributions(x, target), reduce)


def saliency(model: nn.Module, image, target: TargetLike = None, *, reduce: str = "max") -> torch.Tensor:
    """Vanilla gradient saliency ``max_ch |dS_c/dx|``, ``(N, H, W)`` (``reduce="none"``: ``(N, 3, H, W)``).

    Args:
        model: a classifier taking ``[0, 1]`` images.
        image: ``(N, 3, H, W)`` tensor in ``[0, 1]`` (or anything ``model.to_input`` takes).
        target: class index/name, one per image, a callable ``logits -> (N,)`` scores, or ``None`` (top-1).
        reduce: ``"max"`` (CS231n), ``"mean"`` over channels of ``|g|``, or ``"none"`` for the signed gradient.
    """
    return GradientMethod(model)(image, target, reduce=reduce)


def smoothgrad(model: nn.Module, image, target: TargetLike = None, *, samples: int = 16, noise: float = 0.15,
               batch_size: int = 8, seed: int = 0, reduce: str = "max") -> torch.Tensor:
    """SmoothGrad: ``1/n sum_i M(x + eps_i)``, ``eps_i ~ N(0, (noise * (max x - min x))^2)``; shapes as :func:`saliency`.

    The class is fixed on the clean image; the noise is seeded (``seed``) so maps are reproducible.
    """
    return SmoothGrad(model, samples, noise, batch_size, seed)(image, target, reduce=reduce)


def guided_backprop(model: nn.Module, image, target: TargetLike = None, *, reduce: str = "max") -> torch.Tensor:
    """Guided backpropagation; shapes as :func:`saliency` (``reduce="none"`` gives the RGB gradient)."""
    return GuidedBackprop(model)(image, target, reduce=reduce)


def integrated_gradients(model: nn.Module, image, target: TargetLike = None, *, steps: int = 64,
                         baseline: float | torch.Tensor = 0.0, batch_size: int = 16, reduce: str = "max",
                         return_delta: bool = False, rule: str = "gauss-legendre"):
    """Integrated Gradients; shapes as :func:`saliency` (``reduce="none"`` gives the signed ``(N, 3, H, W)``).

    With ``return_delta``, returns ``(maps, delta)`` where ``delta = sum(attributions) - (S(x) - S(x0))``
    per image (the completeness gap: check it; on deep networks it shrinks with ``steps`` only on the whole). ``rule`` picks the quadrature along the
    path: ``"gauss-legendre"`` (default, as captum's) or ``"midpoint"``.

    Example:
        >>> maps, delta = integrated_gradients(model, "cat", "Egyptian cat", return_delta=True)  # doctest: +SKIP
    """
    method = IntegratedGradients(model, steps, baseline, batch_size, rule)
    maps = method(image, target, reduce=reduce)
    return (maps, method.delta) if return_delta else maps
