"""Regularizers: each is one weighted term, so each slider maps to one number.

Two kinds, both applied by the render loop:

* **penalties** are added to the loss: :class:`L2` (``w * sum(((x - c) / s)^2)``, CS231n's ``l2_reg``) and
  :class:`TV` (total variation, ``w * sum((x[i+1,j] - x[i,j])^2 + (x[i,j+1] - x[i,j])^2)``);
* **projections** change the image after an update: :class:`Blur` (Gaussian of width ``sigma`` every
  ``every`` steps, CS231n's ``blur_every``, optionally on a schedule), :class:`ChromaBlur` and :class:`LumaBlur`
  (only the colour, only the brightness), :class:`ClipWeak` (reset the weakest
  pixels, Yosinski et al. 2015), :class:`ClipContribution` (reset the pixels that contribute least to the
  objective, same paper; it is handed the gradient at the image) and :class:`Clamp` (keep pixels in ``[lo, hi]``).

A weight (or sigma) of 0 switches a regularizer off.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F

from .._validate import check_int, check_number


class Regularizer:
    """Base class. ``penalty(x)`` returns a loss term or ``None``; ``project(x, step)`` a new image or ``None``."""

    def penalty(self, x: torch.Tensor) -> torch.Tensor | None:
        return None

    def project(self, x: torch.Tensor, step: int) -> torch.Tensor | None:
        return None

    def acts_at(self, step: int) -> bool:
        """Whether ``project(x, step)`` may change the image at ``step`` (``False``: it returns ``None`` there for
        every ``x``, so the render loop need not build the image for it; building a Fourier or MACO image after
        every step for a blur that never acts was about a tenth of the default class image's serial work)."""
        return True

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class L2(Regularizer):
    """``weight * sum(((x - centre) / scale)^2)``; with the model's mean/std this is CS231n's L2 on the input."""

    def __init__(self, weight: float = 1e-3, centre=0.0, scale=1.0):
        self.weight = check_number("weight", weight)
        self.centre, self.scale = centre, scale

    def penalty(self, x):
        if self.weight == 0:
            return None
        c = torch.as_tensor(self.centre, dtype=x.dtype, device=x.device)
        s = torch.as_tensor(self.scale, dtype=x.dtype, device=x.device)
        if c.numel() == 3:
            c = c.view(1, 3, 1, 1)
        if s.numel() == 3:
            s = s.view(1, 3, 1, 1)
        return self.weight * ((x - c) / s).pow(2).sum()


class TV(Regularizer):
    """Total variation ``weight * sum(dy^2 + dx^2)`` over neighbouring pixels (penalises speckle)."""

    def __init__(self, weight: float = 1e-2):
        self.weight = check_number("weight", weight)

    def penalty(self, x):
        if self.weight == 0:
            return None
        return self.weight * total_variation(x)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """``sum((x[..., 1:, :] - x[..., :-1, :])^2) + sum((x[..., :, 1:] - x[..., :, :-1])^2)``."""
    return (x[..., 1:, :] - x[..., :-1, :]).pow(2).sum() + (x[..., :, 1:] - x[..., :, :-1]).pow(2).sum()


def gaussian_kernel(sigma: float, radius: int | None = None, device=None, dtype=torch.float32) -> torch.Tensor:
    """1-D Gaussian ``exp(-t^2 / (2 sigma^2))`` normalised to sum 1, ``t = -radius..radius`` (default 4 sigma)."""
    sigma = check_number("sigma", sigma)
    if sigma == 0:
        return torch.ones(1, device=device, dtype=dtype)
    radius = max(1, int(4 * sigma + 0.5)) if radius is None else radius
    t = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def _symmetric_pad(x: torch.Tensor, r: int) -> torch.Tensor:
    """Pad the last two dims by ``r`` mirroring *including* the edge pixel (``d c b a | a b c d``).

    This is ``scipy.ndimage``'s default ``mode="reflect"``, which CS231n's blur uses; torch's own "reflect"
    skips the edge pixel.
    """
    while r > 0:
        k = min(r, x.shape[-1], x.shape[-2])  # an image smaller than the radius is padded in rounds
        x = torch.cat([x[..., :, :k].flip(-1), x, x[..., :, -k:].flip(-1)], dim=-1)
        x = torch.cat([x[..., :k, :].flip(-2), x, x[..., -k:, :].flip(-2)], dim=-2)
        r -= k
    return x


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of each channel, mirrored at the borders as ``scipy.ndimage.gaussian_filter`` does."""
    k = gaussian_kernel(sigma, device=x.device, dtype=x.dtype)
    if k.numel() == 1:
        return x
    r = k.numel() // 2
    n, c, h, w = x.shape
    y = _symmetric_pad(x.reshape(n * c, 1, h, w), r)
    y = F.conv2d(y, k.view(1, 1, 1, -1))
    y = F.conv2d(y, k.view(1, 1, -1, 1))
    return y.reshape(n, c, h, w)


class Blur(Regularizer):
    """Blur the image with a Gaussian of width ``sigma`` at steps ``0, every, 2*every, ...`` (CS231n: 0.5, 10).

    With ``end_sigma`` and ``steps`` the width falls linearly from ``sigma`` at step 0 to ``end_sigma`` at the
    last step (a blur schedule: strong blur first lets only large shapes form, a weak blur later lets the
    details in).
    """

    def __init__(self, sigma: float = 0.5, every: int = 10, end_sigma: float | None = None, steps: int | None = None):
        self.sigma = check_number("sigma", sigma)
        self.every = check_int("every", every, 1)
        self.end_sigma = self.sigma if end_sigma is None else check_number("end_sigma", end_sigma)
        if end_sigma is not None and steps is None:
            raise ValueError("steps (an integer >= 1, the run's length) must be given with end_sigma")
        self.steps = None if steps is None else check_int("steps", steps, 1)

    def sigma_at(self, step: int) -> float:
        """The blur width used at ``step``."""
        if self.steps is None or self.end_sigma == self.sigma:
            return self.sigma
        frac = min(1.0, step / max(1, self.steps - 1))
        return self.sigma + (self.end_sigma - self.sigma) * frac

    def project(self, x, step):
        if not self.acts_at(step):
            return None
        return self.blurred(x, self.sigma_at(step))

    def acts_at(self, step: int) -> bool:
        return step % self.every == 0 and self.sigma_at(step) != 0

    def blurred(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """``x`` blurred with width ``sigma`` (here every channel alike)."""
        return gaussian_blur(x, sigma)


class LumaBlur(Blur):
    """Blur only the brightness of the image: the grey level (the mean over the three channels) is blurred with a
    Gaussian of width ``sigma``, each pixel's difference from its grey level (its colour) is left as it is; every
    ``every`` steps, on :class:`Blur`'s schedule (``end_sigma``, ``steps``: the width falls linearly).

    The partner of :class:`ChromaBlur`: with the colour blurred, what is left of pixel ascent's fine grain is
    brightness (issue 24, round 13). Wide early and narrowing, it lets only large light and dark shapes form
    first and the detail in late, without blurring the colour a second time.
    """

    def blurred(self, x, sigma):
        grey = x.mean(dim=1, keepdim=True)
        return x - grey + gaussian_blur(grey, sigma)


class ChromaBlur(Regularizer):
    """Blur only the colour of the image: every ``every`` steps the part of each pixel that differs from its grey
    level (``x - mean over the three channels``) is blurred with a Gaussian of width ``sigma``, the grey level is
    left as it is.

    Pixel ascent puts much of its energy into fine grain whose three channels vary independently (a rainbow
    texture over the whole object, issue 24 rounds 11-12); a plain blur wide enough to remove it also removes the
    shapes' edges. This keeps the brightness detail and leaves colour only in regions of ``sigma`` and more, as
    photos have (and as JPEG keeps colour at a coarser resolution than brightness). ``sigma=0`` switches it off.
    """

    def __init__(self, sigma: float = 4.0, every: int = 4):
        self.sigma = check_number("sigma", sigma)
        self.every = check_int("every", every, 1)

    def acts_at(self, step: int) -> bool:
        return self.sigma != 0 and step % self.every == 0

    def project(self, x, step):
        if not self.acts_at(step):
            return None
        grey = x.mean(dim=1, keepdim=True)
        return grey + gaussian_blur(x - grey, self.sigma)


class ClipWeak(Regularizer):
    """Set the weakest pixels to ``centre`` (Yosinski et al. 2015, "clipping pixels with small norm").

    Every ``every`` steps, pixels whose colour vector ``(x - centre) / scale`` is shorter than the
    ``percentile``-th percentile of all pixels' are reset to ``centre`` (gray in the model's units): what the
    class does not need fades out, so the image is the object on a calm background instead of texture
    everywhere. ``percentile=0`` switches it off. ``region`` (a ``(1, 1, H, W)`` mask, e.g. a centre window):
    the percentile is taken over the pixels where the mask is above 0.5 and only those are reset (the ground
    outside a window would otherwise count as the weakest pixels).
    """

    #: pixels exactly at the percentile are kept (a uniform image stays as it is)
    inclusive = False

    def __init__(self, percentile: float = 10.0, every: int = 1, centre=0.5, scale=1.0, region=None):
        self.percentile = check_number("percentile", percentile, 0, 100, high_open=True)
        self.every = check_int("every", every, 1)
        self.centre, self.scale = centre, scale
        self.region = _region(region)

    def _units(self, x):
        c = torch.as_tensor(self.centre, dtype=x.dtype, device=x.device)
        s = torch.as_tensor(self.scale, dtype=x.dtype, device=x.device)
        c = c.view(1, -1, 1, 1) if c.numel() == 3 else c
        s = s.view(1, -1, 1, 1) if s.numel() == 3 else s
        return c, s

    def strength(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, H, W)``: how much each pixel counts (here the length of its normalised colour vector)."""
        c, s = self._units(x)
        return ((x - c) / s).norm(dim=1, keepdim=True)

    def project(self, x, step):
        if self.percentile == 0 or step % self.every != 0:
            return None
        score = self.strength(x)
        if score is None:
            return None
        c, _ = self._units(x)
        return torch.where(_weakest(score, self.percentile, self.region, self.inclusive), c.expand_as(x), x)


def _region(region):
    if region is None:
        return None
    if not isinstance(region, torch.Tensor):
        raise TypeError(f"region must be a (1, 1, H, W) mask tensor or None, got {type(region).__name__}")
    if region.dim() != 4 or region.shape[:2] != (1, 1):
        raise ValueError(f"region must be a (1, 1, H, W) mask tensor or None, got {tuple(region.shape)}")
    return region > 0.5


def _weakest(score: torch.Tensor, percentile: float, region, inclusive: bool = False) -> torch.Tensor:
    """``(N, 1, H, W)`` bool: the pixels whose ``score`` is below its ``percentile``-th percentile (``inclusive``:
    at most; inside ``region``, a ``(1, 1, H, W)`` bool mask, when given; pixels outside it are never chosen)."""
    below = torch.le if inclusive else torch.lt
    if region is None:
        cut = torch.quantile(score.flatten(1), percentile / 100, dim=1).view(-1, 1, 1, 1)
        return below(score, cut)
    if region.shape[-2:] != score.shape[-2:]:
        raise ValueError(f"region is {tuple(region.shape[-2:])} but the image {tuple(score.shape[-2:])}")
    inside = region.to(score.device).flatten()
    cut = torch.stack([torch.quantile(row[inside], percentile / 100) for row in score.flatten(1)])
    return below(score, cut.view(-1, 1, 1, 1)) & region.to(score.device)


class ClipContribution(ClipWeak):
    """Set the pixels that contribute least to the objective to ``centre`` (Yosinski et al. 2015, "clipping
    pixels with small contribution").

    A pixel's contribution is ``|sum_c z_c * g_c|``, with ``z = (x - centre) / scale`` its normalised colour and
    ``g`` the gradient of the objective with respect to it: to first order how much the objective would change if
    the pixel were set to ``centre``. Every ``every`` steps the pixels below the ``percentile``-th percentile of
    contribution (inside ``region``, when given) are reset to ``centre``: colour where the class does not need
    it fades, and the image keeps the parts that excite the class on a neutral ground.

    The render loop hands the gradient over: a regularizer with ``wants_gradient`` gets
    ``observe(image, gradient)`` (the gradient of minus the objective alone, without the penalties, at the image
    the model saw) before the update, and uses it in the ``project`` that follows.
    """

    wants_gradient = True
    #: pixels at the percentile are reset too: many contribute exactly nothing (e.g. those on the mean colour),
    #: and a strict cut at a percentile of 0 would then reset none
    inclusive = True

    def __init__(self, percentile: float = 10.0, every: int = 1, centre=0.5, scale=1.0, region=None):
        super().__init__(percentile, every, centre, scale, region)
        self._seen: tuple[torch.Tensor, torch.Tensor] | None = None

    def observe(self, x: torch.Tensor, grad: torch.Tensor) -> None:
        """Remember the image the model saw and the gradient of minus the objective with respect to it."""
        if grad.shape != x.shape:
            raise ValueError(f"grad must have the image's shape {tuple(x.shape)}, got {tuple(grad.shape)}")
        self._seen = (x.detach(), grad.detach())

    def strength(self, x):
        if self._seen is None:
            return None   # no gradient seen yet: nothing to judge by
        seen, grad = self._seen
        if seen.shape != x.shape:
            raise ValueError(f"the gradient was for a {tuple(seen.shape)} image, got {tuple(x.shape)}")
        c, s = self._units(seen)
        # the gradient in z units is s * d(-objective) / d x; the sign does not matter under the absolute value
        return (((seen - c) / s) * (grad * s)).sum(dim=1, keepdim=True).abs()


class Clamp(Regularizer):
    """Keep pixels in ``[lo, hi]`` (valid ``[0, 1]`` pixels by default) after every step."""

    def __init__(self, lo: float = 0.0, hi: float = 1.0):
        if not lo < hi:
            raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
        self.lo, self.hi = float(lo), float(hi)

    def project(self, x, step):
        return x.clamp(self.lo, self.hi)
