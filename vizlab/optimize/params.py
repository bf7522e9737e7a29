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

from typing import Callable, Sequence

import numpy as np
import torch

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
           noise: float = 0.1, seed: int | None = None, device: torch.device | str | None = None) -> Parameterization:
    """Plain pixels: ``image = centre + scale * z`` with ``z`` the parameters.

    Args:
        shape: ``(N, 3, H, W)`` (ignored when ``init`` is given).
        init: start from this image (``[0, 1]`` pixels) instead of noise.
        centre, scale: per-channel numbers; the model's mean and std make ``z`` the normalised image.
        noise: standard deviation of the random start, in units of ``z`` (CS231n: ``z ~ N(0, 1)``).
        seed: seed of the random start (a private generator: the global RNG is untouched).
        device: where the parameters live (take it from the model).
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    c = _channel_vector(centre, device, "centre")
    s = _channel_vector(scale, device, "scale")
    if (s <= 0).any():
        raise ValueError(f"scale must be positive, got {scale!r}")
    if init is not None:
        if not isinstance(init, torch.Tensor) or init.dim() != 4 or init.shape[1] != 3:
            raise ValueError(f"init must be an (N, 3, H, W) image tensor, got {getattr(init, 'shape', type(init))}")
        z = ((init.detach().to(device, torch.float32) - c) / s).clone()
    else:
        n, _, h, w = _shape(shape)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = (torch.randn(n, 3, h, w, generator=gen) * noise).to(device)
        # with the default centre 0.5 this starts as gray plus a little noise
    z.requires_grad_(True)

    def image() -> torch.Tensor:
        return c + s * z

    def set_image(x: torch.Tensor) -> None:
        z.copy_((x - c) / s)

    return Parameterization([z], image, set_image, "pixels")


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
    if decay < 0:
        raise ValueError(f"decay must be >= 0, got {decay}")
    scale = _frequency_scale(h, w, decay, device)
    mix = (COLOR_SQRT if decorrelate else torch.eye(3)).to(device)
    unmix = torch.linalg.inv(mix)
    offset = torch.logit(_channel_vector(mean, device, "mean").clamp(1e-3, 1 - 1e-3))
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
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


def make(kind: str, shape, *, device=None, seed: int | None = None, **kwargs) -> Parameterization:
    """``pixels`` or ``fourier`` by name (for widgets and settings objects)."""
    kinds = {"pixels": pixels, "fourier": fourier}
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
