"""Faithfulness: does removing the highlighted pixels change the model's mind?

- :func:`deletion` (Petsiuk et al. 2018, RISE): replace pixels by a baseline (black) in order of decreasing heat
  and follow the target's probability; a faithful map makes it fall fast (low area under the curve).
- :func:`insertion`: start from a blurred copy and put the original pixels back in the same order; a faithful
  map makes the probability rise fast (high area).
- :func:`average_drop` and :func:`increase_in_confidence` (Chattopadhay et al. 2018, Grad-CAM++): show the model
  only ``image * heat`` and compare the probability with the original one.
- :func:`road` (Rong et al. 2022): remove a fraction of the most (or least) relevant pixels and fill them by
  :func:`noisy_linear_imputation` (each removed pixel the weighted mean of its eight neighbours, plus a little
  noise), so removal leaves no sharp edges that the model might react to instead of the missing content.

Everything runs in batches on the model's device: the perturbed images of one curve are built from one ranking
of the pixels and scored ``batch_size`` at a time. Scores are softmax probabilities of the target class
(``score="logit"`` for raw logits).

Example:
    >>> heat = grad_cam(model, x, "Egyptian cat")                        # doctest: +SKIP
    >>> curve = deletion(model, x, heat, "Egyptian cat"); curve.auc     # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..attribution._common import as_batch
from ..attribution.targets import TargetLike, as_class_target
from .._validate import check_int, seeded_generator

SCORES = ("prob", "logit")


@dataclass
class Curve:
    """A perturbation curve: ``scores[n, k]`` after removing (or inserting) ``fractions[k]`` of the pixels.

    ``auc`` ``(N,)`` is the trapezoidal area under each curve over the fractions (``[0, 1]`` for probabilities
    when the fractions span ``[0, 1]``).
    """

    kind: str
    fractions: torch.Tensor
    scores: torch.Tensor
    classes: torch.Tensor

    @property
    def auc(self) -> torch.Tensor:
        return auc(self.fractions, self.scores)


def auc(fractions: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Trapezoidal area under ``scores`` ``(N, K)`` over ``fractions`` ``(K,)``: ``(N,)``."""
    return torch.trapezoid(scores, fractions.to(scores), dim=-1)


def _check_score(score: str) -> None:
    if score not in SCORES:
        raise ValueError(f"score={score!r} is unknown; use one of {', '.join(SCORES)}")


def _heat(heat, x: torch.Tensor) -> torch.Tensor:
    """``heat`` as ``(N, H, W)`` on ``x``'s device and resolution (bilinear when it is coarser)."""
    if not isinstance(heat, torch.Tensor):
        raise TypeError(f"heat must be a torch.Tensor (N, H, W), got {type(heat).__name__}")
    h = heat.detach().float().to(x.device)
    if h.dim() == 2:
        h = h[None]
    if h.dim() != 3 or h.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"heat must have shape (N, H, W) with N = {x.shape[0]} images, got {tuple(heat.shape)}")
    if not torch.isfinite(h).all():
        raise ValueError("heat contains NaN or infinite values")
    if h.shape[-2:] != x.shape[-2:]:
        h = F.interpolate(h[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return h.expand(x.shape[0], -1, -1)


def default_batch(device: torch.device, batch_size: int | None) -> int:
    """``batch_size``, or by device: 32 perturbed images per pass on an accelerator, 1 on the CPU (measured with
    EfficientNet-Lite0 on a 2-core CPU: batches of 8-32 were 3-8 x slower per image than single images)."""
    if batch_size is None:
        return 1 if device.type == "cpu" else 32
    return check_int("batch_size", batch_size, 1)


def _scores(model: nn.Module, batch: torch.Tensor, c: int, score: str) -> torch.Tensor:
    out = model(batch)
    return (out.softmax(1) if score == "prob" else out)[:, c]


def pixel_ranks(heat: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` rank of each pixel by decreasing heat (0 = hottest); ties keep raster order (stable sort)."""
    flat = heat.flatten(1)
    order = torch.argsort(-flat, dim=1, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return ranks.view_as(heat)


def _curve(kind: str, model: nn.Module, image, heat, target: TargetLike, steps: int, start: torch.Tensor | None,
           end: torch.Tensor | None, batch_size: int, score: str) -> Curve:
    """Move pixels from ``start`` to ``end`` images (per pixel, hottest first) in ``steps`` equal steps."""
    _check_score(score)
    steps = check_int("steps", steps, 1)
    x = as_batch(model, image)
    batch_size = default_batch(x.device, batch_size)
    h = _heat(heat, x)
    with torch.no_grad():
        classes = as_class_target(model, target, model(x)).indices(x.shape[0])
        ranks = pixel_ranks(h)
        pixels = h.shape[1] * h.shape[2]
        counts = torch.round(torch.linspace(0, pixels, steps + 1, device=x.device)).long()
        scores = torch.empty(x.shape[0], steps + 1, device=x.device)
        for n in range(x.shape[0]):
            a, b = start[n:n + 1], end[n:n + 1]
            for s in range(0, steps + 1, batch_size):
                k = counts[s:s + batch_size]
                moved = (ranks[n][None] < k[:, None, None])[:, None]       # (k, 1, H, W): pixels already moved
                batch = torch.where(moved, b, a)
                scores[n, s:s + len(k)] = _scores(model, batch, int(classes[n]), score)
    return Curve(kind, counts.float().cpu() / pixels, scores.cpu(), classes.cpu())


def blur(x: torch.Tensor, sigma: float = 5.0, size: int = 11) -> torch.Tensor:
    """Gaussian blur of ``(N, 3, H, W)`` (RISE's insertion start: kernel 11, sigma 5), edge pixels repeated at the border."""
    r = torch.arange(size, dtype=x.dtype, device=x.device) - (size - 1) / 2
    g = torch.exp(-r ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    c = x.shape[1]
    pad = size // 2
    y = F.pad(x, (pad, pad, 0, 0), mode="replicate")
    y = F.conv2d(y, g.view(1, 1, 1, -1).expand(c, 1, 1, size), groups=c)
    y = F.pad(y, (0, 0, pad, pad), mode="replicate")
    return F.conv2d(y, g.view(1, 1, -1, 1).expand(c, 1, size, 1), groups=c)


def deletion(model: nn.Module, image, heat: torch.Tensor, target: TargetLike = None, *, steps: int = 50,
             baseline: float = 0.0, batch_size: int | None = None, score: str = "prob") -> Curve:
    """Deletion curve: the target's score as the hottest pixels are set to ``baseline`` (0 = black), ``steps``
    equal steps from none to all. Lower area = the map found what the model needs.

    Args:
        model: a classifier taking ``[0, 1]`` images.
        image: ``(N, 3, H, W)`` in ``[0, 1]`` (or what ``model.to_input`` takes).
        heat: ``(N, H, W)`` maps (any non-negative scale; coarser maps are upsampled).
        target: the class (default: each image's top-1 class).
        steps: number of removal steps (``steps + 1`` scores, including the untouched image).
        baseline: the value removed pixels take.
        batch_size: perturbed images per forward pass (default: 32 on a GPU, 1 on the CPU; see
            :func:`default_batch`).
        score: ``"prob"`` (softmax) or ``"logit"``.
    """
    x = as_batch(model, image)
    return _curve("deletion", model, x, heat, target, steps, x, torch.full_like(x, float(baseline)), batch_size,
                  score)


def insertion(model: nn.Module, image, heat: torch.Tensor, target: TargetLike = None, *, steps: int = 50,
              sigma: float = 5.0, batch_size: int | None = None, score: str = "prob") -> Curve:
    """Insertion curve: start from a blurred copy (``sigma``) and restore the hottest pixels first. Higher area
    = the map found what the model needs. Arguments as :func:`deletion`."""
    x = as_batch(model, image)
    return _curve("insertion", model, x, heat, target, steps, blur(x, sigma), x, batch_size, score)


def _confidences(model: nn.Module, image, heat, target) -> tuple[torch.Tensor, torch.Tensor]:
    x = as_batch(model, image)
    h = _heat(heat, x)
    peak = h.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    with torch.no_grad():
        probs = model(x).softmax(1)
        classes = as_class_target(model, target, probs).indices(x.shape[0]).to(x.device)
        masked = model(x * (h / peak).clamp(0, 1)[:, None]).softmax(1)
    pick = classes[:, None]
    return probs.gather(1, pick)[:, 0].cpu(), masked.gather(1, pick)[:, 0].cpu()


def average_drop(model: nn.Module, image, heat: torch.Tensor, target: TargetLike = None) -> torch.Tensor:
    """``(N,)`` relative drop ``max(0, Y - O) / Y`` of the target probability when the model sees only
    ``image * heat`` (heat scaled to ``[0, 1]``); the paper's "average drop %" is ``100 * mean``. Lower is better."""
    y, o = _confidences(model, image, heat, target)
    return (y - o).clamp(min=0) / y.clamp_min(1e-12)


def increase_in_confidence(model: nn.Module, image, heat: torch.Tensor, target: TargetLike = None) -> torch.Tensor:
    """``(N,)`` 1.0 where the probability on ``image * heat`` exceeds the original one, else 0.0; the paper's
    "increase in confidence %" is ``100 * mean``. Higher is better."""
    y, o = _confidences(model, image, heat, target)
    return (o > y).float()


# -- ROAD ------------------------------------------------------------------------------------------------------
# Weights of the eight neighbours (edges 1/6, corners 1/12): each imputed pixel is their weighted mean.
_NEIGHBOURS = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])


def noisy_linear_imputation(images: torch.Tensor, removed: torch.Tensor, *, noise: float = 0.01,
                            generator: torch.Generator | None = None, tol: float = 1e-3,
                            max_iter: int = 2000) -> torch.Tensor:
    """Fill the ``removed`` pixels so each is the weighted mean of its in-image neighbours, plus noise.

    The fill solves the linear system ``sum_j w_ij (u_i - u_j) = 0`` for every removed pixel ``i`` (known pixels
    fixed) by conjugate gradients on the image's device, for all images and channels at once; the system is
    symmetric positive definite when each hole touches a known pixel.

    Args:
        images: ``(N, C, H, W)``.
        removed: ``(N, H, W)`` or ``(N, 1, H, W)`` boolean, ``True`` where a pixel is removed (not all of them).
        noise: standard deviation of the Gaussian noise added to the filled pixels (ROAD uses a small amount
            so the fill is not perfectly smooth).
        generator: for the noise (CPU generator; the noise is moved to the device).
        tol: relative residual at which the solver stops.
        max_iter: the most conjugate-gradient iterations.
    """
    if removed.dim() == 3:
        removed = removed[:, None]
    if removed.shape[0] != images.shape[0] or removed.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"removed has shape {tuple(removed.shape)}, images {tuple(images.shape)}")
    m = removed.to(images.device, images.dtype).expand_as(images)
    if bool((m.flatten(1).amin(1) > 0).any()):
        raise ValueError("removed covers a whole image; keep at least one pixel to impute from")
    c = images.shape[1]
    kernel = _NEIGHBOURS.to(images).view(1, 1, 3, 3).expand(c, 1, 3, 3)

    def spread(u):
        return F.conv2d(u, kernel, padding=1, groups=c)

    wsum = spread(torch.ones_like(images[:1]))          # weights of the neighbours inside the image

    def apply(z):                                       # the system on removed pixels: (Wsum z - W z) there
        return m * (wsum * z - spread(m * z))

    known = (1 - m) * images
    b = m * spread(known)
    mean = known.sum((2, 3), keepdim=True) / (1 - m).sum((2, 3), keepdim=True)
    z = m * mean                                         # start from each channel's mean of the known pixels
    r = b - apply(z)
    p = r.clone()
    rr = (r * r).sum((2, 3), keepdim=True)
    stop = (tol * (b * b).sum((2, 3), keepdim=True).sqrt()).clamp_min(1e-20) ** 2
    for _ in range(max_iter):
        if bool((rr <= stop).all()):
            break
        ap = apply(p)
        alpha = rr / (p * ap).sum((2, 3), keepdim=True).clamp_min(1e-30)
        z = z + alpha * p
        r = r - alpha * ap
        rr_new = (r * r).sum((2, 3), keepdim=True)
        p = r + (rr_new / rr.clamp_min(1e-30)) * p
        rr = rr_new
    if noise:
        z = z + m * torch.randn(images.shape, generator=generator).to(images) * noise
    return known + m * z


def road(model: nn.Module, image, heat: torch.Tensor, target: TargetLike = None, *,
         fractions=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), order: str = "morf", noise: float = 0.01,
         seed: int = 0, batch_size: int | None = None, score: str = "prob") -> Curve:
    """ROAD: the target's score after removing each fraction of pixels and imputing them
    (:func:`noisy_linear_imputation`).

    ``order="morf"`` removes the most relevant pixels first (a faithful map: the score falls, low area);
    ``"lerf"`` the least relevant first (the score should stay, high area). ``scores[:, 0]`` is the untouched
    image (fraction 0). Other arguments as :func:`deletion`; ``seed`` fixes the imputation noise.
    """
    _check_score(score)
    if order not in ("morf", "lerf"):
        raise ValueError(f"order={order!r} is unknown; use 'morf' (most relevant first) or 'lerf'")
    fr = torch.as_tensor(list(fractions), dtype=torch.float32)
    if fr.numel() == 0 or bool(((fr <= 0) | (fr >= 1)).any()):
        raise ValueError(f"fractions must lie strictly between 0 and 1, got {fr.tolist()}")
    x = as_batch(model, image)
    batch_size = default_batch(x.device, batch_size)
    h = _heat(heat, x)
    if order == "lerf":
        h = -h
    gen = seeded_generator(seed)
    with torch.no_grad():
        logits = model(x)
        classes = as_class_target(model, target, logits).indices(x.shape[0])
        ranks = pixel_ranks(h)
        pixels = h.shape[1] * h.shape[2]
        counts = torch.round(fr * pixels).long().to(x.device)
        first = (logits.softmax(1) if score == "prob" else logits).gather(1, classes[:, None].to(x.device))[:, 0]
        scores = torch.empty(x.shape[0], len(fr) + 1, device=x.device)
        scores[:, 0] = first
        for n in range(x.shape[0]):
            for s in range(0, len(fr), batch_size):
                k = counts[s:s + batch_size]
                removed = ranks[n][None] < k[:, None, None]
                batch = noisy_linear_imputation(x[n:n + 1].expand(len(k), -1, -1, -1), removed, noise=noise,
                                                generator=gen)
                scores[n, 1 + s:1 + s + len(k)] = _scores(model, batch, int(classes[n]), score)
    return Curve(f"ROAD ({order})", torch.cat([torch.zeros(1), fr]), scores.cpu(), classes.cpu())
