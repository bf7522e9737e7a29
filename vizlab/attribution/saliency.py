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
  points ``a_k`` of the straight path from a baseline ``x0``. By default the path is cut into panels with four
  Gauss-Legendre points each, and the panels whose gradients miss their own score change ``S(b) - S(a)`` the
  most are split until the attributions sum to ``S(x) - S(x0)`` within 2 % (``rule="adaptive"``); fixed rules:
  Gauss-Legendre nodes and weights (exact for polynomials of degree ``2 steps - 1``), or the midpoint rule
  ``a_k = (k + 1/2) / steps``, ``w_k = 1 / steps``.
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

from .._validate import check_number, check_seed, seeded_generator
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
        self.noise = check_number("noise", noise, 0, 1)   # a fraction of the image's value range
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.seed = check_seed("seed", seed)

    def maps(self, x: torch.Tensor, target: TargetLike, reduce: str) -> torch.Tensor:
        gen = seeded_generator(self.seed)
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


RULES = ("adaptive", "gauss-legendre", "midpoint")
FIXED_RULES = RULES[1:]

#: Gauss-Legendre points per panel of the adaptive rule.
PANEL_POINTS = 4


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
    raise ValueError(f"rule={rule!r} is unknown; use one of {', '.join(FIXED_RULES)}")


class IntegratedGradients(GradientMethod):
    """Integrated Gradients along the straight path from ``baseline`` to the image.

    Args:
        model: a classifier (any input range: a plain module gets the tensor as it is).
        steps: with a fixed rule, the points on the path where the gradient is taken; with ``"adaptive"``, the
            points of the first pass (the path cut into ``ceil(steps / 4)`` equal panels, 4 Gauss-Legendre points
            each).
        baseline: a number (a flat image; ``0`` is black) or a tensor broadcastable to the batch.
        batch_size: path points per forward/backward pass.
        rule: ``"adaptive"`` (default), or a fixed quadrature (:func:`path_points`): ``"gauss-legendre"``
            (captum's ``"gausslegendre"``) or ``"midpoint"`` (captum's ``"riemann_middle"``).
        tolerance: the adaptive rule refines until ``|delta| <= tolerance * |S(x) - S(x0)|``.
        max_steps: the adaptive rule's budget of gradient points per image (it stops there even when the
            tolerance is not reached; :attr:`steps_used` and :attr:`delta` say so).

    Why adaptive: a ReLU network is piecewise linear, so along the path the score ``S(a)`` is a polyline with
    a kink wherever a unit switches on or off, and its slope ``dS/da`` (what the quadrature integrates) jumps
    there. No fixed rule is accurate for such an integrand: on the embedded model and the package photos 64
    Gauss-Legendre points left a completeness gap of 1.8-33 % (median 6.4 %). But the score at the ends of any
    panel ``[a, b]`` costs one forward pass, and ``S(b) - S(a)`` is exactly what the panel's gradients should sum
    to; so each panel's own error is known, and the rule splits the panels with the largest errors (where the
    slope changes fastest, mostly the first few percent of the path from black) until the whole gap is within
    the tolerance (benchmarks/bench_ig_completeness.py).

    After a call, ``delta`` ``(N,)`` holds the completeness gap ``sum(attributions) - (S(x) - S(x0))``,
    ``score_change`` ``(N,)`` holds ``S(x) - S(x0)`` (``S`` the target logit), ``steps_used`` ``(N,)`` the
    gradient points taken per image (including those of panels split later) and, for the adaptive rule,
    ``cuts`` the final panel boundaries per image (where the path was refined).
    """

    def __init__(self, model: nn.Module, steps: int = 32, baseline: float | torch.Tensor = 0.0,
                 batch_size: int = 16, rule: str = "adaptive", tolerance: float = 0.02, max_steps: int = 512):
        super().__init__(model)
        self.steps = check_int("steps", steps, 1)
        if rule not in RULES:
            raise ValueError(f"rule={rule!r} is unknown; use one of {', '.join(RULES)}")
        self.rule = rule
        if rule != "adaptive":
            self.alphas, self.weights = path_points(self.steps, rule)
        # a fraction of S(x) - S(x0)
        self.tolerance = check_number("tolerance", tolerance, 0, 1, low_open=True, high_open=True)
        self.max_steps = check_int("max_steps", max_steps, 1)
        if not isinstance(baseline, torch.Tensor):   # a number: finite (NumPy numbers too), else named
            baseline = check_number("baseline", baseline, None)
        self.baseline = baseline
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.delta: torch.Tensor | None = None
        self.score_change: torch.Tensor | None = None
        self.steps_used: torch.Tensor | None = None
        self.cuts: list[list[float]] = []

    def attributions(self, x: torch.Tensor, target: TargetLike) -> torch.Tensor:
        """Signed attributions ``(N, 3, H, W)``; sets :attr:`delta`, :attr:`score_change`, :attr:`steps_used`."""
        x0 = torch.as_tensor(self.baseline, dtype=x.dtype, device=x.device).expand_as(x)
        with torch.no_grad():
            classes = as_class_target(self.model, target, self.model(x)).indices(x.shape[0]).to(x.device)
        self.cuts = []
        if self.rule == "adaptive":
            parts = [self._adaptive(x[n:n + 1], x0[n:n + 1], int(classes[n])) for n in range(x.shape[0])]
            attr = torch.cat([p[0] for p in parts])
            score_change = torch.tensor([p[1] for p in parts], dtype=x.dtype, device=x.device)
            self.steps_used = torch.tensor([p[2] for p in parts])
        else:
            attr, score_change = self._fixed(x, x0, classes)
            self.steps_used = torch.full((x.shape[0],), self.steps)
        self.score_change = score_change.detach()
        self.delta = (attr.flatten(1).double().sum(1) - score_change.double()).to(x.dtype).detach()
        return attr

    def _gradients(self, path: torch.Tensor, classes: list[int]) -> torch.Tensor:
        """``dS/dx`` at each path point, ``batch_size`` points per pass."""
        return torch.cat([GradientMethod.input_gradient(self, path[i:i + self.batch_size],
                                                        classes[i:i + self.batch_size])
                          for i in range(0, len(path), self.batch_size)])

    def _fixed(self, x: torch.Tensor, x0: torch.Tensor, classes: torch.Tensor):
        with torch.no_grad():
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
        return (x - x0) * total, score_change

    def _scores(self, alphas: list[float], x: torch.Tensor, x0: torch.Tensor, cls: int) -> list[float]:
        """``S(x0 + a (x - x0))`` for each ``a`` (forward passes only)."""
        a = torch.tensor(alphas, dtype=x.dtype, device=x.device)[:, None, None, None]
        out = []
        with torch.no_grad():
            for i in range(0, len(alphas), self.batch_size):
                out += self.model(x0 + a[i:i + self.batch_size] * (x - x0))[:, cls].double().tolist()
        return out

    def _adaptive(self, x: torch.Tensor, x0: torch.Tensor, cls: int) -> tuple[torch.Tensor, float, int]:
        """One image: ``(attributions (1, 3, H, W), S(x) - S(x0), gradient points used)``.

        Panels ``[a, b]`` of the path, each integrated with :data:`PANEL_POINTS` Gauss-Legendre points; a
        panel's error is its gradients' sum minus ``S(b) - S(a)``. Each round splits the panels that hold the
        larger half of the total absolute error, until the signed total is within the tolerance or the next
        round would pass ``max_steps``.
        """
        k = PANEL_POINTS
        nodes, weights = path_points(k, "gauss-legendre")
        diff = (x - x0).double()

        def panels(bounds: list[tuple[float, float, float, float]]) -> list[list]:
            """``[a, b, S(a), S(b)]`` -> ``[a, b, S(a), S(b), weighted gradient sum (float64), error]``."""
            pts = torch.tensor([a + (b - a) * float(t) for a, b, _, _ in bounds for t in nodes],
                               dtype=x.dtype, device=x.device)
            grads = self._gradients(x0 + pts[:, None, None, None] * (x - x0), [cls] * len(pts))
            grads = grads.double().view(len(bounds), k, *x.shape[1:])
            w = weights.to(device=x.device)[None, :, None, None, None]
            sums = (grads * w).sum(1) * torch.tensor([b - a for a, b, _, _ in bounds], dtype=torch.float64,
                                                     device=x.device)[:, None, None, None]
            est = (sums * diff).flatten(1).sum(1).tolist()
            return [[a, b, sa, sb, sums[i:i + 1], est[i] - (sb - sa)] for i, (a, b, sa, sb) in enumerate(bounds)]

        n0 = max(1, -(-min(self.steps, self.max_steps) // k))
        cuts = [i / n0 for i in range(n0 + 1)]
        s = self._scores(cuts, x, x0, cls)
        todo = [(cuts[i], cuts[i + 1], s[i], s[i + 1]) for i in range(n0)]
        change = s[-1] - s[0]
        done = panels(todo)
        used = k * len(done)
        while True:
            errors = [p[5] for p in done]
            if abs(sum(errors)) <= self.tolerance * abs(change):
                break
            budget = (self.max_steps - used) // (2 * k)
            if budget < 1:
                break
            order = sorted(range(len(done)), key=lambda i: -abs(errors[i]))
            total_abs, picked, acc = sum(abs(e) for e in errors), [], 0.0
            for i in order[:budget]:
                picked.append(i)
                acc += abs(errors[i])
                if acc >= total_abs / 2:
                    break
            mids = [(done[i][0] + done[i][1]) / 2 for i in picked]
            s_mid = self._scores(mids, x, x0, cls)
            halves = []
            for i, m, sm in zip(picked, mids, s_mid):
                a, b, sa, sb = done[i][:4]
                halves += [(a, m, sa, sm), (m, b, sm, sb)]
            keep = [p for j, p in enumerate(done) if j not in set(picked)]
            done = sorted(keep + panels(halves), key=lambda p: p[0])
            used += 2 * k * len(picked)
        total = torch.cat([p[4] for p in done]).sum(0, keepdim=True)
        self.cuts.append([p[0] for p in done] + [done[-1][1]])
        return (diff * total).to(x.dtype), change, used

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


def integrated_gradients(model: nn.Module, image, target: TargetLike = None, *, steps: int = 32,
                         baseline: float | torch.Tensor = 0.0, batch_size: int = 16, reduce: str = "max",
                         return_delta: bool = False, rule: str = "adaptive", tolerance: float = 0.02,
                         max_steps: int = 512, return_info: bool = False):
    """Integrated Gradients; shapes as :func:`saliency` (``reduce="none"`` gives the signed ``(N, 3, H, W)``).

    ``rule="adaptive"`` (default) refines the path where the gradient changes fastest until the completeness
    gap ``|sum(attributions) - (S(x) - S(x0))|`` is at most ``tolerance`` (2 %) of ``|S(x) - S(x0)|``, within
    ``max_steps`` gradient points per image; ``"gauss-legendre"`` (captum's default) and ``"midpoint"`` take
    exactly ``steps`` points (see :class:`IntegratedGradients`).

    With ``return_delta``, returns ``(maps, delta)`` where ``delta = sum(attributions) - (S(x) - S(x0))`` per
    image. With ``return_info``, returns ``(maps, info)``: a dict of ``(N,)`` tensors ``delta``,
    ``score_change`` (``S(x) - S(x0)``), ``gap`` (``|delta| / |score_change|``) and ``steps`` (gradient points
    used per image).

    Example:
        >>> maps, info = integrated_gradients(model, "cat", "Egyptian cat", return_info=True)  # doctest: +SKIP
        >>> info["gap"], info["steps"]                                                        # doctest: +SKIP
    """
    method = IntegratedGradients(model, steps, baseline, batch_size, rule, tolerance, max_steps)
    maps = method(image, target, reduce=reduce)
    if return_info:
        return maps, {"delta": method.delta, "score_change": method.score_change, "steps": method.steps_used,
                      "gap": method.delta.abs() / method.score_change.abs()}
    return (maps, method.delta) if return_delta else maps
