"""Gatys et al.'s neural style transfer by optimisation, and texture synthesis (style loss only).

The image ``x`` itself is optimised (pixels in ``[0, 1]``) to minimise, on a frozen loss network::

    L(x) = content_weight * sum_c ||F_c(x) - F_c(content)||^2 / ||F_c(content)||^2
         + style_weight   * sum_l w_l ||G_l(x) - A_l||^2 / ||A_l||^2
         + tv_weight      * TV(x) / TV(content)

Every term is divided by its target's energy (vizlab's recipe, measured on EfficientNet-Lite0): one weight
then means the same for every layer and loss network, whatever its activation scale or Gram normalisation.
``A_l`` is the blend ``sum_k b_k G_l(style_k)`` when several style images are given.

Example:
    >>> result = style_transfer("cat", "swirls", size=128, steps=50)        # doctest: +SKIP
    >>> result.image.shape                                                   # doctest: +SKIP
    torch.Size([1, 3, 128, 128])
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from .._validate import check_int, check_number, seeded_generator
from ..device import model_device
from ..images import load_image, resize, to_image, to_tensor
from .artwork import style_batch
from .lossnet import LossNetwork, Recipe, loss_network
from .losses import gram_matrix, relative_content_loss, relative_gram_loss, relative_style_loss, tv_loss

OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "noise")


@dataclass
class StyleResult:
    """The output of :func:`style_transfer`: ``image`` ``(1, 3, H, W)`` in ``[0, 1]`` (CPU) and the run's record.

    ``snapshots`` is a list of ``(step, image)``; ``history`` a list of per-step loss dicts; ``stopped`` says
    the run was interrupted and ``image`` is the partial result; ``start`` labels a result that did not start from
    noise (``synthesize_texture_vgg(init="quilt")``: a start of copied source squares) and is ``""`` otherwise.
    """

    image: torch.Tensor
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    stopped: bool = False
    start: str = ""


# -- colour ----------------------------------------------------------------------------------------------------
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` RGB to YIQ (Y = luminance, I and Q = colour)."""
    return torch.einsum("ij,njhw->nihw", _RGB2YIQ.to(x), x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_yiq`."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB2YIQ).to(x), x)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """The luminance ``Y`` as a gray 3-channel image ``(N, 3, H, W)``."""
    return rgb_to_yiq(x)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Gray style luminance with the content luminance's mean and standard deviation (Gatys et al. 2017)."""
    ys, yc = luminance(style), luminance(content)
    out = (ys - ys.mean()) / (ys.std() + 1e-8) * yc.std() + yc.mean()
    return out.clamp(0, 1)


# -- measures ----------------------------------------------------------------------------------------------------
def color_moments(image: torch.Tensor) -> torch.Tensor:
    """Per-channel mean and standard deviation of an image, ``(6,)``: a cheap colour-statistics signature."""
    x = image.reshape(image.shape[-3], -1) if image.dim() == 3 else image[0].reshape(image.shape[1], -1)
    return torch.cat([x.mean(dim=1), x.std(dim=1)])


def color_shift(content: torch.Tensor, style: torch.Tensor, output: torch.Tensor) -> float:
    """How far the output's colour moments moved from the content's towards the style's, in ``(-inf, 1]``.

    ``1 - |m(output) - m(style)| / |m(content) - m(style)|``: 0 = still the content's colours, 1 = the style's.
    """
    mc, ms, mo = color_moments(content.cpu()), color_moments(style.cpu()), color_moments(output.cpu())
    return float(1 - (mo - ms).norm() / (mc - ms).norm().clamp_min(1e-8))


@torch.no_grad()
def style_grams(loss_net: LossNetwork, image: torch.Tensor,
                layers: Sequence[str] | None = None) -> list[torch.Tensor]:
    """The Gram matrices of ``image`` at the style layers (``loss_net.recipe``'s, or ``layers``): what
    :func:`style_distance` compares. Compute them once for an image that is measured against several others
    (a style against many outputs, a photo against several styles): one pass of the loss network each."""
    layers = list(layers or (loss_net.recipe.style_layers if loss_net.recipe else loss_net.layer_names))
    feats = loss_net(image.to(model_device(loss_net)))
    return [gram_matrix(feats[n]) for n in layers]


def gram_distance(grams: Sequence[torch.Tensor], target: Sequence[torch.Tensor]) -> float:
    """Relative Gram distance ``mean_l ||G_l - A_l||^2 / ||A_l||^2`` of two :func:`style_grams` lists."""
    if len(grams) != len(target) or not grams:
        raise ValueError(f"grams and target must be equally long non-empty lists, got {len(grams)} and {len(target)}")
    return float(relative_gram_loss(grams, target, [1.0 / len(grams)] * len(grams)))


def style_distance(loss_net: LossNetwork, image: torch.Tensor, style: torch.Tensor,
                   layers: Sequence[str] | None = None) -> float:
    """Relative Gram distance ``mean_l ||G_l(image) - G_l(style)||^2 / ||G_l(style)||^2`` on the style layers."""
    return gram_distance(style_grams(loss_net, image, layers), style_grams(loss_net, style, layers))


# -- the optimisation ----------------------------------------------------------------------------------------
def style_transfer(content, style, *, loss_net: LossNetwork | None = None, size: int | None = None,
                   steps: int | None = None, optimizer: str | None = None, lr: float | None = None,
                   init: str | torch.Tensor = "content",
                   style_blend: Sequence[float] | None = None, style_scale: float = 1.0,
                   content_weight: float | None = None, style_weight: float | None = None,
                   tv_weight: float | None = None, style_layers: Sequence[str] | None = None,
                   content_layers: Sequence[str] | None = None,
                   layer_weights: Sequence[float] | str | None = None,
                   preserve_color: bool = False, snapshot_every: int = 0,
                   callback: Callable[[int, dict, torch.Tensor], None] | None = None,
                   stop_event: threading.Event | None = None, progress: bool = True, seed: int = 0,
                   pin_bounds: bool = False) -> StyleResult:
    """Neural style transfer by optimising the pixels (Gatys, Ecker & Bethge, CVPR 2016).

    Args:
        content: the content image (sample name, path, URL, array or tensor); ``None`` for texture synthesis.
        style: a style image, or a list of them blended with ``style_blend`` (see
            :func:`~vizlab.style.artwork.style_image`: artwork names, textures, paths, URLs).
        loss_net: a :class:`~vizlab.style.lossnet.LossNetwork`; default: the embedded EfficientNet-Lite0
            with its recipe (the weights and layers below default to ``loss_net.recipe``).
        size: the output's side in pixels (square, centre crop).
        steps: optimisation steps.
        optimizer: ``"adam"`` (``lr`` in pixel units) or ``"lbfgs"`` (``lr`` ignored; one iteration per step,
            whose strong-Wolfe line search may evaluate the loss several times).
        size, steps, optimizer, lr: ``None`` takes the value ``loss_net.recipe`` was tuned with (without a
            recipe: 256 px, 200 steps, Adam, 0.03).
        init: ``"content"``, ``"noise"`` or a starting image tensor.
        style_blend: weights of several style images (normalised to sum 1); default equal.
        style_scale: the style image is sized ``size * style_scale`` (larger = bigger strokes).
        content_weight, style_weight, tv_weight: weights of the three relative losses.
        style_layers, content_layers, layer_weights: override the recipe's layers (they must be among
            ``loss_net.layer_names``). ``layer_weights="balanced"`` weighs each style layer by the inverse of the
            starting image's relative Gram distance there (normalised to sum 1), so that every layer's term starts
            equal: on VGG-19 a painting's ``relu5_1`` Gram is small and would otherwise carry 43-89 % of the
            photo's distance (issue 25, round 11: stronger style on every layer, not a better-kept class). Each
            starting distance is floored at 1 % of their mean (a layer that already matches does not take all
            the weight).
        preserve_color: transfer on luminance only and keep the content's colours.
        snapshot_every: keep a copy of the image every this many steps (0: none).
        callback: ``callback(step, losses, image)`` after each step.
        stop_event: when set, stop and return the partial result (``stopped=True``).
        progress: show a ``tqdm.auto`` bar.
        seed: seeds the noise initialisation.
        pin_bounds: Adam only, the behaviour before round 15 (issue 25): the loss reads ``x.clamp(0, 1)``, whose
            gradient is 0 at the bounds, so a pixel channel that reaches 0 or 1 never moves again (the photo's
            black and white areas start pinned; `swirls` x espresso on VGG-19: 30 % of the values after 30
            steps). Default ``False``: the loss reads the projected iterate itself and every pixel keeps its
            gradient. L-BFGS always measures the clamped image (its line search probes outside ``[0, 1]``), so
            ``pin_bounds=True`` with ``optimizer="lbfgs"`` is a ``ValueError``.

    Returns:
        A :class:`StyleResult`.
    """
    loss_net = loss_network() if loss_net is None else loss_net
    recipe: Recipe | None = loss_net.recipe
    size = (recipe.size if recipe else 256) if size is None else size
    steps = (recipe.steps if recipe else 200) if steps is None else steps
    optimizer = (recipe.optimizer if recipe else "adam") if optimizer is None else optimizer
    lr = (recipe.lr if recipe else 0.03) if lr is None else lr
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    steps, size = check_int("steps", steps, 0), check_int("size", size, 16)
    if not isinstance(init, torch.Tensor) and init not in INITS:
        raise ValueError(f"init must be one of {INITS} or an image tensor, got {init!r}")
    if content is None and isinstance(init, str) and init == "content":
        init = "noise"
    style_scale = check_number("style_scale", style_scale, low_open=True)
    if not isinstance(pin_bounds, bool):
        raise TypeError(f"pin_bounds must be True or False, got {pin_bounds!r}")
    if pin_bounds and optimizer != "adam":
        raise ValueError(f"pin_bounds applies to optimizer='adam' only (L-BFGS always measures the clamped image), "
                         f"got pin_bounds=True with optimizer={optimizer!r}")
    from tqdm.auto import tqdm

    s_layers = list(style_layers or (recipe.style_layers if recipe else loss_net.layer_names))
    c_layers = list(content_layers or (recipe.content_layers if recipe else ()))
    for name in [*s_layers, *c_layers]:
        if name not in loss_net.layer_names:
            raise ValueError(f"layer {name!r} is not computed by loss_net (it has {loss_net.layer_names})")
    balanced = isinstance(layer_weights, str)
    if balanced and layer_weights != "balanced":
        raise ValueError(f"layer_weights must be a list of weights or 'balanced', got {layer_weights!r}")
    lw = list(layer_weights) if layer_weights is not None and not balanced else [1.0 / len(s_layers)] * len(s_layers)
    if len(lw) != len(s_layers):
        raise ValueError(f"layer_weights has {len(lw)} entries for {len(s_layers)} style layers")
    cw = (recipe.content_weight if recipe else 1.0) if content_weight is None else content_weight
    sw = (recipe.style_weight if recipe else 30.0) if style_weight is None else style_weight
    tw = (recipe.tv_weight if recipe else 0.3) if tv_weight is None else tv_weight
    if content is None:
        cw = 0.0
    device = model_device(loss_net)

    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    blend = list(style_blend) if style_blend is not None else [1.0] * len(styles)
    if len(blend) != len(styles) or min(blend) < 0 or sum(blend) <= 0:
        raise ValueError(f"style_blend must give one non-negative weight per style image ({len(styles)}), "
                         f"not all zero; got {style_blend!r}")
    blend = [b / sum(blend) for b in blend]
    style_side = max(16, int(round(size * style_scale)))

    content_img = style_batch(loss_net, content, size) if content is not None else None
    color_source = content_img
    style_imgs = [style_batch(loss_net, s, style_side) for s in styles]
    if preserve_color and content_img is not None:
        style_imgs = [match_luminance(s, content_img) for s in style_imgs]
        content_img = luminance(content_img)

    with torch.no_grad():
        targets = [0.0] * len(s_layers)
        for b, s in zip(blend, style_imgs):
            fs = loss_net(s)
            targets = [t + b * gram_matrix(fs[n]) for t, n in zip(targets, s_layers)]
        content_feats = loss_net(content_img) if content_img is not None and c_layers else {}
        # TV is measured relative to the content photo's (texture synthesis: the style image's, per pixel).
        ref = content_img if content_img is not None else style_imgs[0]
        tv_ref = tv_loss(ref) * (size * size) / (ref.shape[-1] * ref.shape[-2])

    gen = seeded_generator(seed)
    if isinstance(init, torch.Tensor):
        x0 = style_batch(loss_net, init, size)
    elif init == "content" and content_img is not None:
        x0 = content_img.clone()
    else:
        x0 = (0.5 + 0.1 * torch.randn(1, 3, size, size, generator=gen)).clamp(0, 1).to(device)
    if balanced:
        with torch.no_grad():
            f0 = loss_net(x0)
            d0 = [float(relative_style_loss([f0[n]], [t], [1.0])) for n, t in zip(s_layers, targets)]
        # A layer that already matches (an init near the style image) would take all the weight: floor each
        # distance at 1 % of the mean, so such a layer is weighted at most 100 times the mean one.
        floor = max(0.01 * sum(d0) / len(d0), 1e-12)
        inv = [1.0 / max(d, floor) for d in d0]
        lw = [v / sum(inv) for v in inv]
    x = x0.detach().clamp(0, 1).clone().requires_grad_(True)

    def losses_of(x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        # Adam's iterate is projected back into [0, 1] after every step, so it is the image itself. It must not
        # pass through clamp: clamp's gradient is 0 at the bounds, so every pixel channel that reached 0 or 1 stayed
        # there for good (issue 25, rounds 14-15: notebook 07's `swirls` x espresso stopped at a Gram fall of 88 %
        # instead of 92 %, a darker saucer frozen; `pin_bounds=True` keeps that behaviour). L-BFGS's line search
        # may probe pixels outside [0, 1]: measure the image they would be shown as.
        img = x if optimizer == "adam" and not pin_bounds else x.clamp(0, 1)
        feats = loss_net(img)
        ls = sw * relative_style_loss([feats[n] for n in s_layers], targets, lw)
        lc = sum((relative_content_loss(feats[n], content_feats[n], cw) for n in c_layers), img.new_zeros(())) \
            if content_feats else img.new_zeros(())
        lt = tw * tv_loss(img) / tv_ref.clamp_min(1e-8)
        total = ls + lc + lt
        return total, {"style": ls.item(), "content": lc.item(), "tv": lt.item(), "total": total.item()}

    def make_optimizer() -> torch.optim.Optimizer:
        if optimizer == "adam":
            return torch.optim.Adam([x], lr=lr)
        return torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=20, line_search_fn="strong_wolfe")

    opt = make_optimizer()

    result = StyleResult(image=x.detach().cpu())
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=f"style transfer ({optimizer})", disable=not progress)
    try:
        for step in bar:
            if stop_event is not None and stop_event.is_set():
                result.stopped = True
                break
            record: dict = {}

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                total, parts = losses_of(x)
                total.backward()
                if not record:  # the loss at this step's starting point (L-BFGS also probes others)
                    record.update(parts)
                return total

            before = x.detach().clone() if optimizer == "lbfgs" else None
            opt.step(closure)
            if optimizer == "adam":
                with torch.no_grad():
                    x.clamp_(0, 1)  # keep real pixels: a projected gradient step
            elif torch.equal(before, x.detach()):
                # L-BFGS keeps its own iterate (clamping it each step would break its curvature history; the
                # loss and the result see the clamped image, and pixels outside [0, 1] get no gradient). That
                # kink can stall it: the line search returns a zero step, and with the same history every later
                # step would too (measured: VGG-19 at 192 px stalled after 8 of 20 steps). Then clamp and
                # start afresh from here.
                with torch.no_grad():
                    x.clamp_(0, 1)
                opt = make_optimizer()
            record["step"] = step + 1
            result.history.append(record)
            result.steps = step + 1
            bar.set_postfix(style=f"{record['style']:.3g}", content=f"{record['content']:.3g}")
            if snapshot_every and (step + 1) % snapshot_every == 0:
                result.snapshots.append((step + 1, _finish(x, color_source, preserve_color)))
            if callback is not None:
                callback(step + 1, record, x.detach().clamp(0, 1))
    except KeyboardInterrupt:
        result.stopped = True
    finally:
        bar.close()
    result.seconds = time.perf_counter() - start
    result.image = _finish(x, color_source, preserve_color)
    return result


def _finish(x: torch.Tensor, color_source: torch.Tensor | None, preserve_color: bool) -> torch.Tensor:
    out = x.detach().clamp(0, 1)
    if preserve_color and color_source is not None:
        yiq = rgb_to_yiq(color_source)
        y = rgb_to_yiq(out)[:, :1]
        out = yiq_to_rgb(torch.cat([y, yiq[:, 1:]], dim=1)).clamp(0, 1)
    return out.cpu().clone()


def print_progress(every: int = 20, total: int | None = None) -> Callable[[int, dict, torch.Tensor], None]:
    """A ``callback`` for :func:`style_transfer` that prints the losses every ``every`` steps (for logs and
    notebooks run headless, where a progress bar shows nothing)."""
    start = time.perf_counter()

    def callback(step: int, losses: dict, image: torch.Tensor) -> None:
        if step % every == 0 or step == total:
            print(f"step {step}{f'/{total}' if total else ''}: style {losses['style']:.3g}, "
                  f"content {losses['content']:.3g}, tv {losses['tv']:.3g} ({time.perf_counter() - start:.1f} s)",
                  flush=True)

    return callback


def rank_match(values: torch.Tensor, sorted_reference: torch.Tensor) -> torch.Tensor:
    """Exact histogram matching by rank, row by row: ``values`` ``(C, N)`` and ``sorted_reference`` ``(C, M)``
    (each row sorted ascending) give ``(C, N)`` where the k-th smallest value of a row is replaced by the
    reference row's quantile at the same rank (linear interpolation between reference values, so ``N`` and ``M``
    may differ; a row of one value takes the middle quantile, the reference's median). Equal values of a row get
    equal outputs: the mean of the quantiles at their ranks. Non-finite values (no rank) are a ValueError. The one
    helper behind :func:`match_histogram` (pixels) and the texture synthesis's histogram loss (feature maps,
    :func:`vizlab.style.texture._histogram_loss`)."""
    if values.dim() != 2 or sorted_reference.dim() != 2 or values.shape[0] != sorted_reference.shape[0]:
        raise ValueError(f"values and sorted_reference must be (C, N) and (C, M) with the same C, got "
                         f"{tuple(values.shape)} and {tuple(sorted_reference.shape)}")
    n, m = values.shape[1], sorted_reference.shape[1]
    if m < 1:
        raise ValueError("sorted_reference must hold at least one value per row, got an empty row")
    if values.is_floating_point() and not bool(torch.isfinite(values).all()):
        # NaN sorts last and would silently take the top quantiles
        raise ValueError(f"values must be finite, got {int((~torch.isfinite(values)).sum())} NaN or infinite "
                         f"value(s) of {values.numel()}")
    # the rank positions in float64 (a float16 reference cannot even hold positions past 65504); a lone value takes
    # the middle position (the median), not the first (the minimum)
    pos = torch.linspace(0, m - 1, n, device=values.device, dtype=torch.float64) if n != 1 else \
        torch.full((1,), (m - 1) / 2, device=values.device, dtype=torch.float64)
    lo = pos.floor().long().clamp(max=m - 1)
    hi = (lo + 1).clamp(max=m - 1)
    w = (pos - lo).to(sorted_reference.dtype if sorted_reference.is_floating_point() else torch.float32)
    quantiles = (sorted_reference[:, lo] * (1 - w) + sorted_reference[:, hi] * w).to(values.dtype)
    ordered, order = values.sort(dim=1)
    if n > 1:
        # Equal values (a flat region, a ReLU's zeros, an 8-bit image's levels) must map to equal outputs, not to
        # a ramp of quantiles in whatever order the sort left them: each run of equal values takes the mean of
        # its quantiles (a value without a twin keeps its own, so untied inputs are unchanged).
        starts = torch.ones_like(ordered, dtype=torch.bool)
        starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        if not bool(starts.all()):
            group = starts.long().cumsum(dim=1) - 1 + torch.arange(values.shape[0], device=values.device)[:, None] * n
            sums = torch.zeros(values.shape[0] * n, dtype=torch.float64, device=values.device)
            counts = torch.zeros_like(sums)
            flat = group.flatten()
            sums.index_add_(0, flat, quantiles.double().flatten())
            counts.index_add_(0, flat, torch.ones_like(flat, dtype=torch.float64))
            tied = (sums[flat] / counts[flat]).reshape(quantiles.shape).to(values.dtype)
            quantiles = torch.where(starts & torch.cat([starts[:, 1:], torch.ones_like(starts[:, :1])], dim=1),
                                    quantiles, tied)
    return torch.empty_like(values).scatter_(1, order, quantiles)


def match_histogram(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Give each channel of ``image`` the value distribution of ``reference``'s (rank matching, as in Heeger &
    Bergen's texture synthesis, 1995; :func:`rank_match`). Both ``(1, C, H, W)``; the result has ``image``'s
    shape. A reference with fewer channels is used cyclically (a gray reference for every channel)."""
    c, rc = image.shape[1], reference.shape[1]
    ref = reference[0].reshape(rc, -1)[torch.arange(c) % rc].sort(dim=1).values
    return rank_match(image[0].reshape(c, -1), ref).reshape(image.shape)


def _is_gray(img: torch.Tensor) -> bool:
    return bool((img - img.mean(dim=1, keepdim=True)).abs().max() < 1e-3)


def synthesize_texture(style, *, size: int = 128, steps: int = 200, octaves: int = 1, **kwargs) -> StyleResult:
    """Texture synthesis (Gatys et al. 2015): match only the style's Gram matrices, starting from noise.

    Args:
        style: the source texture (see :func:`~vizlab.style.artwork.style_image`).
        size, steps: the output's side and the optimisation steps (per octave).
        octaves: coarse to fine: synthesise at ``size / 2**(octaves-1)`` first, then upsample the result as
            the start of the next octave. Large structures (brick courses) form at the coarse octave, where
            the loss network's receptive fields span them; the fine octaves add detail.
        **kwargs: those of :func:`style_transfer` (``loss_net``, ``optimizer``, ``lr``, ``tv_weight`` ...).

    A gray source (scikit-image's ``brick``, ``gravel``, ``grass``) gives a gray result: the channels are
    averaged and the gray values take the source's histogram (Heeger & Bergen's rank matching), because the
    Gram loss alone leaves faint colour noise and a washed-out contrast.
    """
    import torch.nn.functional as F

    octaves = check_int("octaves", octaves)
    kwargs.setdefault("init", "noise")
    result = None
    total_seconds, history = 0.0, []
    for k in range(octaves):
        side = max(16, size // 2 ** (octaves - 1 - k))
        if result is not None:
            kwargs["init"] = F.interpolate(result.image, size=(side, side), mode="bilinear", align_corners=False)
        result = style_transfer(None, style, size=side, steps=steps, **kwargs)
        total_seconds += result.seconds
        history += result.history
        if result.stopped:
            break
    result.seconds, result.history, result.steps = total_seconds, history, len(history)
    src = style_batch(None, style, result.image.shape[-1]) if not isinstance(style, (list, tuple)) else None
    if src is not None and _is_gray(src):
        gray = result.image.mean(dim=1, keepdim=True)
        result.image = match_histogram(gray, src[:, :1]).expand(-1, 3, -1, -1).contiguous()
    return result
