"""Inside the network by optimisation: images that excite one channel or one neuron of a hidden layer.

The lecture's "visualise intermediate features": the class-image recipe (:data:`~.classviz.MACO`: the phase
of the spectrum optimised, its magnitude fixed to the sample photos', random pad/jitter/scale/rotate at every
step, Adam along a falling cosine) aimed at a unit instead of a class score, with several images optimised
together and pushed apart by a diversity term (:func:`~.objectives.diversity`), so that the batch shows
several facets of what the unit responds to. Put them beside the unit's maximally activating natural patches
(:func:`vizlab.inside.max_activating_patches`) with :func:`~.plots.show_units`.

Example:
    >>> r = unit_visualization(model, "block4", 12, n=3)          # doctest: +SKIP
    >>> r.image.shape, r.info["peak"]                              # doctest: +SKIP
    (torch.Size([3, 3, 224, 224]), [...])
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

import torch
from torch import nn

from .._validate import check_int, check_number
from ..device import model_device
from ..hooks import capture
from ..models import resolve_layer
from .classviz import MACO, ClassVizSettings, build, ghost_network
from .objectives import Context, Objective, channel as channel_objective, diversity as diversity_objective, neuron as neuron_objective
from .render import RenderResult, cosine_decay, render
from .transforms import Transform, roll

#: The unit recipe: :data:`~.classviz.MACO` (phase only, the photos' magnitude, standard transforms, Adam 0.15
#: falling to 0.015) with the model looking at a 128-px view of the 224-px image, 64 steps, and no ghost network
#: (the branches before a hidden layer are the unit's own input: dropping them at random only blurs the goal).
#: No centre window: a channel answers everywhere in the image, so its picture fills the frame.
UNIT = replace(MACO, view=128, steps=64, ghost=0.0)
#: The default weight of the diversity term, relative to the unit's activation (see :func:`unit_visualization`).
DIVERSITY = 0.5


class _Shift(Transform):
    """A fixed circular shift by ``(dy, dx)`` pixels (for the neuron mode, see :func:`unit_visualization`)."""

    def __init__(self, dy: int, dx: int):
        self.dy, self.dx = int(dy), int(dx)

    def __call__(self, x, rng):
        return roll(x, self.dy, self.dx)


def _mean_jitter(settings: ClassVizSettings) -> int:
    """The mean shift (pixels, down and right) of the random transforms of ``settings``: the two jitters of
    :func:`~.transforms.standard` / :func:`~.transforms.strong` roll by ``0..j`` and ``0..max(1, j // 2)``."""
    j = settings.jitter
    if j <= 0:
        return 0
    if settings.mode == "cs231n" and not settings.robust:
        return round(j / 2)
    return round(j / 2 + max(1, j // 2) / 2)


class _Reached(Exception):
    """Raised inside a forward pass once every layer an objective reads has run."""


class _Upto(nn.Module):
    """``model`` run only as far as ``layers``: the forward pass stops once each of them has produced its output
    (the hooks registered before, e.g. by :func:`~vizlab.hooks.capture`, have recorded it) and returns a dummy
    ``(N, 1)`` logits tensor. A unit of a hidden layer needs nothing after it; skipping the rest of the network
    saves its forward pass (the backward pass never visits it anyway)."""

    def __init__(self, model: nn.Module, layers):
        super().__init__()
        self.model = model
        self.modules_ = [resolve_layer(model, name)[1] for name in layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen: set[int] = set()

        def hook(module, inputs, output):
            seen.add(id(module))
            if len(seen) == len({id(m) for m in self.modules_}):
                raise _Reached

        # registered now, after the caller's capture hooks, so those run (and record) first
        handles = [m.register_forward_hook(hook) for m in self.modules_]
        try:
            return self.model(x)
        except _Reached:
            return torch.zeros(len(x), 1, device=x.device)
        finally:
            for h in handles:
                h.remove()


def _probe(model: nn.Module, layer: str, size: int) -> torch.Size:
    """The shape of ``layer``'s output for one grey ``size`` image (validates the layer name on the way)."""
    device = model_device(model)
    with torch.no_grad(), capture(model, [layer]) as cap:
        model(torch.full((1, 3, size, size), 0.5, device=device))
    return cap.activations[layer].shape


def unit_values(model: nn.Module, images: torch.Tensor, layer: str, channel: int, *,
                size: int | None = None) -> dict[str, torch.Tensor]:
    """How much ``images`` excite a unit: ``{"mean": (N,), "peak": (N,), "centre": (N,)}``.

    ``mean`` is the channel's mean over positions (the channel objective), ``peak`` its largest value (what a
    maximally activating patch reports), ``centre`` its value at the centre position (the neuron objective).
    ``size``: resize the images to this side first (the side the model saw during the optimisation).
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be an (N, 3, H, W) tensor, got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    return _unit_stats(_activations(model, images, [layer], size)[layer], channel)


def _activations(model: nn.Module, images: torch.Tensor, layers, size: int | None) -> dict[str, torch.Tensor]:
    """``{layer: activation}`` of ``images`` (resized to ``size`` first), one forward pass for all ``layers``."""
    from ..inside.features import resize_batch  # here, not at import: vizlab.optimize does not load vizlab.inside

    x = resize_batch(images.to(model_device(model)), size)
    with torch.no_grad(), capture(model, list(dict.fromkeys(layers))) as cap:
        model(x)
    return dict(cap.activations)


def _unit_stats(activation: torch.Tensor, channel: int) -> dict[str, torch.Tensor]:
    a = activation[:, channel].float()
    h, w = a.shape[-2:]
    return {"mean": a.flatten(1).mean(1).cpu(), "peak": a.flatten(1).amax(1).cpu(),
            "centre": a[:, h // 2, w // 2].cpu()}


def _gram_similarity(activations: dict[str, torch.Tensor], layer: str) -> float:
    n = len(activations[layer])
    return -float(diversity_objective(layer)(Context(torch.zeros(n, 1), activations)))


def gram_similarity(model: nn.Module, images: torch.Tensor, layer: str, size: int | None = None) -> float:
    """Mean pairwise cosine similarity of the Gram matrices of ``layer`` between ``images`` (1: alike in style).

    Minus :func:`~.objectives.diversity`'s value; a measure of how different a batch of unit images is.
    """
    return _gram_similarity(_activations(model, images, [layer], size), layer)


def unit_visualization(model: nn.Module, layer: str, channel: int, n: int = 3, *, neuron: bool = False,
                       diversity: float = DIVERSITY, diversity_layer: str | None = None,
                       settings: ClassVizSettings | None = None, seed: int | None = 0, snapshots=None,
                       callback: Callable[[int, torch.Tensor, float], None] | None = None,
                       stop_event: threading.Event | None = None, progress: bool = True,
                       **changes) -> RenderResult:
    """``n`` images that excite channel ``channel`` of ``layer`` (or, with ``neuron``, its centre unit), made
    with the class-image recipe and pushed apart by a diversity term.

    The objective (maximised) is::

        U + diversity * |U| * D(x_1..x_n),      U = mean_i u(x_i)

    where ``u`` is the channel's mean activation (:func:`~.objectives.channel`) or the activation at the
    centre position (:func:`~.objectives.neuron`), ``D`` is :func:`~.objectives.diversity` at
    ``diversity_layer`` (minus the mean pairwise Gram cosine similarity, in ``[-1, 0]``) and ``|U|`` is held
    constant within each step (no gradient through it): the weight is relative to the unit's current
    activation, so one number means the same for weak and strong units, early and late in the run.

    Args:
        model: a network taking ``[0, 1]`` images (a classifier or a feature trunk).
        layer: a spatial layer (friendly name or module path).
        channel: the channel index.
        n: how many images, optimised together.
        neuron: the centre unit of the channel instead of its mean over positions.
        diversity: weight of the diversity term (0: off; ignored for ``n = 1``).
        diversity_layer: the layer whose Gram matrices are compared (default: ``layer``).
        settings: a :class:`~.classviz.ClassVizSettings` (default :data:`UNIT`); ``**changes`` override fields.
        seed, snapshots, callback, stop_event, progress: as in :func:`~.render.render`.

    Returns:
        A :class:`~.render.RenderResult` with ``image`` ``(n, 3, size, size)``; ``info`` holds ``layer``,
        ``channel``, ``neuron``, ``mean``/``peak``/``centre`` (lists, per image, measured on the final images
        at the size the model saw them, see :func:`unit_values`), ``similarity`` (:func:`gram_similarity` at
        ``diversity_layer``), ``diversity`` and ``settings``.

    Example:
        >>> r = unit_visualization(load_model(), "block4", 12, n=3)    # doctest: +SKIP
        >>> show_units({"block4:12": (r.image, patches[12])})          # doctest: +SKIP
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str), got {type(layer).__name__}")
    if isinstance(channel, bool) or not isinstance(channel, int):
        raise TypeError(f"channel must be an int, got {type(channel).__name__} {channel!r}")
    n = check_int("n", n)
    if not isinstance(neuron, bool):
        raise TypeError(f"neuron must be True or False, got {type(neuron).__name__} {neuron!r}")
    diversity = check_number("diversity", diversity)
    if diversity_layer is not None and not isinstance(diversity_layer, str):
        raise TypeError(f"diversity_layer must be a layer name (str) or None, got {type(diversity_layer).__name__}")
    if settings is None:
        settings = UNIT
    elif not isinstance(settings, ClassVizSettings):
        raise TypeError(f"settings must be a ClassVizSettings, got {type(settings).__name__}")
    settings = replace(settings, **changes) if changes else settings
    div_layer = layer if diversity_layer is None else diversity_layer
    side = settings.view or settings.size
    try:
        resolve_layer(model, layer)
        if div_layer != layer:
            resolve_layer(model, div_layer)
    except (KeyError, AttributeError) as exc:
        raise ValueError(f"unknown layer: {exc}") from exc
    shape = _probe(model, layer, side)
    if len(shape) != 4:
        raise ValueError(f"layer {layer!r} is not spatial (output shape {tuple(shape)}); pick a convolutional layer")
    if not 0 <= channel < shape[1]:
        raise ValueError(f"channel={channel} is out of range for layer {layer!r} with {shape[1]} channels "
                         f"(0..{shape[1] - 1})")

    param, transforms, regs, optimizer = build(model, settings, seed, n=n)
    if neuron:
        # the jitters roll only down and right (by about 6 px on average with the default 8): without this
        # shift back the optimised neuron would sit that far up and left of the final image's centre
        back = _mean_jitter(settings)
        if back:
            transforms.insert(0, _Shift(-back, -back))
    use_div = n > 1 and diversity > 0
    # the network is run only up to the layers the objective reads (named by module path inside the wrapper)
    net = _Upto(model, [layer, div_layer] if use_div else [layer])
    path = {name: "model." + (model.layer_path(name) if hasattr(model, "layer_path") else name)
            for name in {layer, div_layer}}
    unit = neuron_objective(path[layer], channel) if neuron else channel_objective(path[layer], channel)
    goal = unit / n
    if use_div:
        spread = diversity_objective(path[div_layer])
        weight = float(diversity)

        def fn(c: Context) -> torch.Tensor:
            u = unit(c) / n
            # the term is weighed against the unit's current mean activation (a constant in each step), so one
            # weight means the same for weak and strong units and early and late in the run
            return u + weight * u.detach().abs().clamp_min(1e-3) * spread(c)

        goal = Objective(fn, unit.layers | spread.layers, f"{unit.name} + {weight:g}·|u|·{spread.name}")
    kind = "neuron" if neuron else "channel"
    with ghost_network(model, settings.ghost, seed=seed, strict=False):
        result = render(net, goal, param, steps=settings.steps, lr=settings.lr, optimizer=optimizer,
                        transforms=transforms, regularizers=regs, seed=seed, snapshots=snapshots, callback=callback,
                        stop_event=stop_event, progress=progress, desc=f"{layer}:{channel} ({kind})",
                        lr_schedule=None if settings.lr_end == 1 else cosine_decay(settings.lr_end))
    # one forward pass for both measures (unit_values and gram_similarity on the final images)
    acts = _activations(model, result.image, [layer, div_layer] if n > 1 else [layer], side)
    values = _unit_stats(acts[layer], channel)
    result.info.update(layer=layer, channel=channel, neuron=neuron, settings=settings, diversity=float(diversity),
                       diversity_layer=div_layer, similarity=_gram_similarity(acts, div_layer) if n > 1 else 1.0,
                       **{k: v.tolist() for k, v in values.items()})
    return result
