"""DeepDream (Mordvintsev, Olah and Tyka, 2015): amplify whatever a layer already sees in a photo.

At each octave (a pyramid level, smallest first) the image is changed by normalised gradient ascent on
``mean(A_layer^2)`` (or on similarity to a guide image's features)::

    x <- clamp(x + step_size * g / mean|g|),   g = d objective / d x  (through a random roll of the image)

and the detail it added (``x - base``) is carried up to the next, larger octave. Dividing by ``mean|g|``
makes ``step_size`` a size in pixel units, whatever the layer's scale.

Two levers of the Fourier class images also work here (round 6): ``ghost`` (a random sub-network of the model
at every step, see :class:`~vizlab.optimize.classviz.ghost_network`) and a preconditioned step, ``g`` filtered by
``1/f^decay`` and mixed across colours by the natural-photo colour covariance (``decorrelate``) before it is
normalised: the updates become large-scale and luminance-led instead of single-pixel, rainbow speckle.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_int, check_number
from ..device import model_device
from ..hooks import capture
from ..models import model_input
from .objectives import Objective, channel, guided, layer_activation
from .classviz import ghost_network
from .params import COLOR_SQRT, Parameterization, _frequency_scale, pixels
from .regularizers import Clamp, Regularizer, gaussian_blur
from .render import render
from .transforms import Jitter


@dataclass
class DreamResult:
    """The dream ``image`` ``(1, 3, H, W)``, one image per finished octave, and whether it was stopped."""

    image: torch.Tensor
    octaves: list[torch.Tensor] = field(default_factory=list)
    steps: int = 0
    reason: str = "finished"

    @property
    def stopped(self) -> bool:
        return self.reason in ("stopped", "interrupted")


def _resize(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == hw:
        return x
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False)


def octave_sizes(hw: tuple[int, int], octaves: int, octave_scale: float, smallest: int = 32) -> list[tuple[int, int]]:
    """Image sizes from smallest to the original: ``hw / octave_scale^k`` for ``k = octaves-1 .. 0``."""
    sizes = []
    for k in range(octaves - 1, -1, -1):
        f = octave_scale ** k
        sizes.append((max(smallest, round(hw[0] / f)), max(smallest, round(hw[1] / f))))
    return sizes


#: nb06's recipe for dreaming Lite0's ``head_conv`` (round 6): twice the usual step, a ghost of the network at
#: every step (p 0.35, as the Fourier class images) and a ``1/f``, colour-decorrelated step. It raises Lite2's
#: probability on animal classes, but a person does not see animals: judged blind in the lecture profile (256 px,
#: 4 octaves x 30 steps, seed 0) on five photos without animals, a fresh viewer named large round patterns (swirling
#: circles, ripples, a pale mandala-like disc in the temple's sky) and an animal part in 1 of 5 (eye-like swirls), no
#: fur (round 20, benchmarks/blind24/set_r20_head_dreams/). For animal parts use :data:`VGG_DREAM` (5 of 5).
HEAD_DREAM = dict(octave_scale=1.4, step_size=0.02, detail_blur=0.7, ghost=0.35, decay=1.0, decorrelate=True)

#: Round 9's "objects" dream, for ``load_model("vgg19_normalised")`` (the style-transfer VGG-19): its deep layer
#: ``relu5_2`` at 224 px, 4 octaves of ratio 1.4, 10 steps each, a colour-decorrelated step, the added detail
#: lightly blurred. A blind viewer named animal parts (dog faces, eyes, snouts) in 5 of 5 photos without animals
#: (benchmarks/README.md, issue 24, round 9), and a second one, asked only what it sees, in 5 of 5 again (4 of 5
#: naming more than fur; round 20, benchmarks/blind24/set_r20_head_dreams/). Use it whole:
#: ``deepdream(vgg, photo, **opt.VGG_DREAM)`` (it names the layer too).
#: About 25 s of CPU per 224-px dream on one core (process CPU time, estimated; 110 s wall on the shared 2-core
#: machine at load 12; 23-30 s wall with one thread on the same machine, busy with other work, in round 20).
VGG_DREAM = dict(layer="relu5_2", octaves=4, octave_scale=1.4, steps=10, step_size=0.01, jitter=16,
                 detail_blur=0.5, decorrelate=True)


def deepdream(model: nn.Module, image, layer: str = "block4", *, octaves: int = 3, octave_scale: float = 1.4,
              steps: int = 10, step_size: float = 0.01, jitter: int = 8, channel_index: int | None = None,
              guide=None, detail_blur: float = 0.0, ghost: float = 0.0, decay: float = 0.0,
              decorrelate: bool = False, seed: int | None = 0,
              callback: Callable[[int, torch.Tensor, float], None] | None = None,
              stop_event: threading.Event | None = None, progress: bool = True) -> DreamResult:
    """Dream ``layer`` into ``image``.

    Args:
        model: a classifier taking ``[0, 1]`` images.
        image: the photo (anything ``model.to_input`` takes, or a ``(1, 3, H, W)`` tensor in ``[0, 1]``).
        layer: layer to amplify (friendly name or module path). Shallow layers give strokes and textures,
            deep ones larger shapes (with GoogLeNet: eyes, fur, animal parts; with EfficientNet-Lite0: rounded,
            scale-like shapes).
        octaves: number of pyramid levels (1: no pyramid).
        octave_scale: size ratio between neighbouring levels (> 1).
        steps: gradient steps per octave.
        step_size: step length in pixel units (the gradient is divided by its mean absolute value).
        jitter: largest random roll in pixels.
        channel_index: amplify only this channel of ``layer`` (default: the whole layer).
        guide: optional guide image; the dream then moves towards the guide's features.
        detail_blur: after every step, blur what the dream has added to the photo (not the photo) with a Gaussian
            of this width: the single-pixel speckle that normalised steps pile up is removed, so the larger
            patterns of deep layers take their place; 0: off.
        ghost: skip each residual branch of the model with this probability at every forward pass (a different
            random sub-network each step; needs residual blocks with a ``drop_path`` slot, as timm's
            EfficientNets have); 0: off. The averaged-over-ghosts gradient favours what the whole family of
            sub-networks sees, larger parts rather than the one network's texture.
        decay: filter each step's gradient by ``1/f^decay`` (Fourier domain, mean colour left out) before it is
            normalised, so that the update is large-scale; 0: off.
        decorrelate: mix each step's gradient across the three colours by the colour covariance of natural
            photos (mostly brightness) before it is normalised: no rainbow blotches where ``decay`` moves large
            areas.
        seed, callback, stop_event, progress: as in :func:`~vizlab.optimize.render.render`; ``callback``
            gets ``(total steps so far, image, value)`` after each octave.

    Example:
        >>> dream = deepdream(model, "temple", "block4", octaves=3, steps=10)   # doctest: +SKIP
    """
    octaves, steps, jitter = check_int("octaves", octaves), check_int("steps", steps, 0), check_int("jitter", jitter, 0)
    octave_scale = check_number("octave_scale", octave_scale, 1, low_open=True)
    detail_blur = check_number("detail_blur", detail_blur)
    step_size = check_number("step_size", step_size, low_open=True)
    ghost = check_number("ghost", ghost, 0, 1, high_open=True)
    decay = check_number("decay", decay, 0, 4)   # 0: off
    if not isinstance(decorrelate, bool):
        raise TypeError(f"decorrelate must be True or False, got {type(decorrelate).__name__}")
    device = model_device(model)
    x0 = _as_input(model, image)
    if guide is not None:
        g = _as_input(model, guide)
        with torch.no_grad(), capture(model, layer) as cap:
            model(g)
        objective: Objective = guided(layer, cap[layer])
    elif channel_index is not None:
        objective = channel(layer, channel_index)
    else:
        objective = layer_activation(layer)
    sizes = octave_sizes(tuple(x0.shape[-2:]), octaves, octave_scale)
    detail = torch.zeros(1, 3, *sizes[0], device=device)
    result = DreamResult(image=x0.clone())
    total = 0
    with ghost_network(model, float(ghost), seed=seed):
        for k, hw in enumerate(sizes):
            base = _resize(x0, hw)
            detail = _resize(detail, hw)
            param = pixels(init=(base + detail).clamp(0, 1), centre=0.0, scale=1.0, device=device)
            if decay > 0 or decorrelate:
                param = _preconditioned(param, _frequency_filter(hw, float(decay), device) if decay > 0 else None,
                                        (COLOR_SQRT @ COLOR_SQRT.T).to(device) if decorrelate else None)
            regs = ([_BlurDetail(base, float(detail_blur))] if detail_blur > 0 else []) + [Clamp(0.0, 1.0)]
            r = render(model, objective, param, steps=steps, lr=step_size, optimizer="normalized_mean",
                       transforms=[Jitter(jitter)], regularizers=regs,
                       seed=None if seed is None else seed + k, stop_event=stop_event, progress=progress,
                       desc=f"octave {k + 1}/{len(sizes)} {tuple(hw)}")
            total += r.steps
            detail = r.image - base
            result.image = r.image
            result.octaves.append(r.image.cpu())
            if callback is not None:
                callback(total, r.image.cpu(), r.values[-1] if r.values else float("nan"))
            if r.stopped:
                result.reason = r.reason
                break
    result.steps = total
    return result


def _frequency_filter(hw: tuple[int, int], decay: float, device) -> torch.Tensor:
    """``1/f^decay`` on the ``rfft2`` grid of an ``hw`` image, 0 at ``f = 0`` (no shift of the mean colour)."""
    s = _frequency_scale(hw[0], hw[1], decay, device)  # the Fourier parameterization's spectrum
    s[0, 0] = 0.0
    return s / s.max()


class _Precondition(torch.autograd.Function):
    """Identity forward; backward filters the incoming gradient (spectrum and/or colour mixing)."""

    @staticmethod
    def forward(ctx, x, spectrum, colour):
        ctx.spectrum, ctx.colour = spectrum, colour
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        if ctx.spectrum is not None:
            g = torch.fft.irfft2(torch.fft.rfft2(g) * ctx.spectrum, s=tuple(g.shape[-2:]))
        if ctx.colour is not None:
            g = torch.einsum("ij,njhw->nihw", ctx.colour, g)
        return g, None, None


def _preconditioned(param, spectrum: torch.Tensor | None, colour: torch.Tensor | None):
    """The same pixels, but the gradient that reaches them is filtered (the image itself is unchanged)."""
    image = param.image
    return Parameterization(param.params, lambda: _Precondition.apply(image(), spectrum, colour),
                            param._set_image, f"{param.name} (preconditioned)")


class _BlurDetail(Regularizer):
    """Blur only the dream's addition to ``base``: ``x <- base + blur(x - base)``, every step."""

    def __init__(self, base: torch.Tensor, sigma: float):
        self.base, self.sigma = base, sigma

    def project(self, x, step):
        return self.base + gaussian_blur(x - self.base, self.sigma)


def _as_input(model: nn.Module, image) -> torch.Tensor:
    x = model_input(model, image).detach()
    if x.shape[0] != 1:
        raise ValueError(f"image must be one image, (1, 3, H, W); got a batch of shape {tuple(x.shape)}")
    return x


#: ImageNet's animal classes: indices 0 (tench) to 397 (puffer), fish, birds, reptiles, dogs, insects, ...
ANIMAL_CLASSES = range(0, 398)


@torch.no_grad()
def class_mass(model: nn.Module, image, classes=ANIMAL_CLASSES) -> float:
    """Total softmax probability that ``model`` gives the ``classes`` (default: the animals) for ``image``.

    A measurable sign that a deep-layer dream draws animal parts: the judge's animal mass rises over the photo's.
    The image is resized to the model's ``input_size`` when it has one.
    """
    from ..inside.features import resize_batch  # here, not at import: vizlab.optimize does not load vizlab.inside

    x = resize_batch(_as_input(model, image), getattr(model, "input_size", None))
    probs = model(x).softmax(dim=1)[0]
    index = torch.as_tensor(list(classes), dtype=torch.long, device=probs.device)
    if index.numel() == 0 or int(index.min()) < 0 or int(index.max()) >= probs.numel():
        raise ValueError(f"classes must be class indices in 0..{probs.numel() - 1}")
    return float(probs[index].sum())
