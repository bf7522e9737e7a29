"""The render loop: optimize a parameterized image to maximise an objective.

One step::

    x      = image()                              # parameterization
    logits = model(transforms(x))                 # hooks record obj.layers
    loss   = -objective + sum(penalties(x))
    params <- update(params, d loss / d params)   # adam | sgd | normalized (g / ||g||_2) | normalized_mean
    x      <- projections(image())                # blur every k steps, clamp (ClipContribution also
                                                  # sees d(-objective) / d x)

Progress goes to ``tqdm.auto``; ``callback(step, image, value)`` receives snapshots; a ``threading.Event``
(``stop_event``) or Ctrl-C (``KeyboardInterrupt``) ends the run early and the partial result is returned.
Everything lives on the model's device; a ``seed`` makes the run reproducible.
"""
from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from .._validate import check_int, check_number
from ..device import model_device
from ..hooks import capture
from .objectives import Context, Objective, as_objective
from .params import Parameterization, pixels
from .regularizers import Regularizer
from .transforms import Compose, Transform

OPTIMIZERS = ("adam", "sgd", "normalized", "normalized_mean")


@dataclass
class RenderResult:
    """What a render returns.

    Attributes:
        image: the final ``(N, 3, H, W)`` image in ``[0, 1]``, detached, on the model's device.
        values: the objective's value at every step that ran.
        snapshots: ``{step: image}`` at the steps asked for (CPU tensors).
        steps: how many steps ran.
        requested: how many were asked for.
        reason: ``"finished"``, ``"stopped"`` (stop event), ``"interrupted"`` (Ctrl-C) or ``"reached"`` (``until``).
        seconds: wall time.
        info: extras filled in by the caller (e.g. ``target_probability``).
    """

    image: torch.Tensor
    values: list[float]
    snapshots: dict[int, torch.Tensor]
    steps: int
    requested: int
    reason: str
    seconds: float
    info: dict = field(default_factory=dict)

    @property
    def stopped(self) -> bool:
        """``True`` when the run ended before its last step (stop event or Ctrl-C)."""
        return self.reason in ("stopped", "interrupted")


def _snapshot_steps(snapshots, steps: int) -> set[int]:
    if snapshots is None:
        return {steps}
    if isinstance(snapshots, int) and not isinstance(snapshots, bool):
        if snapshots < 1:
            raise ValueError(f"snapshots (every k steps) must be >= 1, got {snapshots}")
        return set(range(snapshots, steps + 1, snapshots)) | {steps}
    return {int(s) for s in snapshots}


def render(model: nn.Module, objective: Objective | int, param: Parameterization | None = None, *,
           steps: int = 100, lr: float = 0.05, optimizer: str = "adam",
           transforms: Transform | Sequence[Transform] = (), regularizers: Iterable[Regularizer] = (),
           size: int = 224, seed: int | None = 0, snapshots: int | Sequence[int] | None = None,
           callback: Callable[[int, torch.Tensor, float], None] | None = None,
           until: Callable[[Context], bool] | None = None, stop_event: threading.Event | None = None,
           progress: bool = True, desc: str | None = None,
           lr_schedule: Callable[[int, int], float] | None = None, copies: int = 1,
           first_step: int = 0, total: int | None = None, state: dict | None = None) -> RenderResult:
    """Optimize an image so that ``objective`` grows; return the (possibly partial) result.

    Args:
        model: takes ``[0, 1]`` images (a :class:`~vizlab.models.VizModel`, or any module), in eval mode.
        objective: an :class:`Objective` (or a class index for :func:`class_logit`).
        param: the parameterization (default: :func:`~vizlab.optimize.params.pixels` at ``size``).
        steps: number of updates.
        lr: learning rate; for ``"normalized"`` the L2 length of each step in parameter units.
        optimizer: ``"adam"``, ``"sgd"``, ``"normalized"`` (``p += lr * g / ||g||_2``, CS231n) or
            ``"normalized_mean"`` (``p += lr * g / mean|g|``, DeepDream).
        transforms: applied to the image before the model, fresh random draws every step.
        regularizers: penalties added to the loss and projections applied after each update.
        size: image side for the default parameterization.
        seed: seeds the parameterization's start and the transforms' random draws (``None``: not seeded).
        snapshots: every ``k`` steps (int) or at the listed steps; the final step is always included.
        callback: ``callback(step, image, value)`` at each snapshot (image on the CPU).
        until: stop early (reason ``"reached"``) once ``until(context)`` is true for the current image.
        stop_event: set it (from another thread) to stop after the current step.
        progress: show a ``tqdm`` bar.
        desc: progress bar label.
        lr_schedule: ``lr_schedule(step, steps)`` multiplies ``lr`` at each step (e.g. :func:`cosine_decay`);
            big steps early find the shapes, small steps late settle the details.
        copies: the model sees this many independently transformed copies of the image per step and the
            objective is their mean (a less noisy gradient for the same update count, at ``copies`` times the
            cost of a step).
        first_step, total: this call runs steps ``first_step + 1 .. first_step + steps`` of a ``total``-step run
            (default: ``first_step + steps``; a run split into parts, e.g. a start and its continuation): the
            projections (blur timing and schedule), ``lr_schedule(step, total)``, the snapshot steps (chosen over
            the whole run) and the callback's step numbers are the run's. The final snapshot is added only when
            this call ends the run (or stops early); ``RenderResult.steps``/``requested`` count this call's steps.
        state: a dict carried between the calls that continue one run: read at the start (the optimizer's
            moments, the transforms' random state) and written back at the end, so that the parts render
            exactly what one call would.

    Example:
        >>> result = render(model, class_logit(130), steps=100)     # doctest: +SKIP
        >>> result.image.shape                                        # doctest: +SKIP
        torch.Size([1, 3, 224, 224])
    """
    objective = as_objective(objective)
    steps = check_int("steps", steps, 0)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    lr = check_number("lr", lr, 0, low_open=True)
    if lr_schedule is not None and not callable(lr_schedule):
        raise TypeError(f"lr_schedule must be callable (step, steps) -> factor, got {type(lr_schedule).__name__}")
    check_int("copies", copies, 1)
    check_int("first_step", first_step, 0)
    total = first_step + steps if total is None else check_int("total", total, first_step + steps)
    if state is not None and not isinstance(state, dict):
        raise TypeError(f"state must be a dict (carried between the parts of one run) or None, "
                        f"got {type(state).__name__}")
    device = model_device(model)
    if param is None:
        param = pixels((1, 3, size, size), seed=seed, device=device)
    elif not isinstance(param, Parameterization):
        raise TypeError(f"param must be a Parameterization (pixels(...) or fourier(...)), got {type(param).__name__}")
    elif param.device != device:
        raise ValueError(f"param lives on {param.device} but the model on {device}; create it with "
                         f"device=model_device(model)")
    transform = transforms if isinstance(transforms, Transform) else Compose(list(transforms))
    regs = list(regularizers)
    for r in regs:
        if not isinstance(r, Regularizer):
            raise TypeError(f"regularizers must be Regularizer objects (L2, TV, Blur, Clamp), got {type(r).__name__}")
    watchers = [r for r in regs if getattr(r, "wants_gradient", False)]
    # only regularizers with a projection see the image after a step (building it costs a generator's forward pass)
    projectors = [r for r in regs if type(r).project is not Regularizer.project]
    rng = random.Random(seed)
    params = param.params
    opt = None
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr)
    if state and "rng" in state:
        rng.setstate(state["rng"])
    if opt is not None and state and "optimizer" in state:
        opt.load_state_dict(state["optimizer"])
    want = {s for s in _snapshot_steps(snapshots, total) if first_step < s <= first_step + steps}
    values: list[float] = []
    shots: dict[int, torch.Tensor] = {}
    reason = "finished"
    done = 0
    start = time.perf_counter()

    from tqdm.auto import tqdm

    bar = tqdm(total=steps, desc=desc or objective.name, disable=not progress, leave=False)
    layers = sorted(objective.layers)

    def snap(step: int, value: float) -> None:
        step += first_step   # the run's step number
        if step not in want:
            return  # building the image (an inverse FFT for Fourier) costs a little: only at snapshot steps
        with torch.no_grad():
            img = param.image().detach().cpu()
        shots[step] = img
        if callback is not None:
            callback(step, img, value)

    try:
        with capture(model, layers, keep_graph=True) if layers else _null() as cap:
            for step in range(steps):
                if stop_event is not None and stop_event.is_set():
                    reason = "stopped"
                    break
                x = param.image()
                value = None
                if hasattr(transform, "at_step"):   # scheduled transforms (transforms.Shrinking)
                    transform.at_step(first_step + step, total)
                for _ in range(copies):
                    logits = model(transform(x, rng))
                    ctx = Context(logits, dict(cap.activations) if cap is not None else {})
                    if value is None and until is not None and until(ctx):
                        break
                    term = objective(ctx) / copies
                    value = term if value is None else value + term
                if value is None:
                    reason = "reached"
                    break
                loss = -value
                if watchers:
                    # regularizers that judge pixels by the objective's gradient (ClipContribution) see it at the
                    # image, before the penalties join the loss
                    grad_x, = torch.autograd.grad(loss, x, retain_graph=True)
                    for r in watchers:
                        r.observe(x, grad_x)
                for r in regs:
                    term = r.penalty(x)
                    if term is not None:
                        loss = loss + term
                grads = torch.autograd.grad(loss, params)
                rate = lr if lr_schedule is None else lr * float(lr_schedule(first_step + step, total))
                with torch.no_grad():
                    if opt is not None:
                        for group in opt.param_groups:
                            group["lr"] = rate
                        for p, g in zip(params, grads):
                            p.grad = g
                        opt.step()
                        for p in params:
                            p.grad = None
                    elif optimizer == "normalized":
                        for p, g in zip(params, grads):
                            p.sub_(rate * g / g.norm().clamp_min(1e-12))
                    else:
                        for p, g in zip(params, grads):
                            p.sub_(rate * g / g.abs().mean().clamp_min(1e-12))
                    img = None
                    # the image is built only for projections that act at this step (a blur of width 0, or off
                    # its every-k steps, returns None for any image: the same result without building one)
                    for r in [r for r in projectors if r.acts_at(first_step + step)]:
                        new = r.project(param.image() if img is None else img, first_step + step)
                        if new is not None:
                            img = new
                    if img is not None:
                        param.set_image(img)
                if cap is not None:
                    cap.clear()
                done = step + 1
                values.append(float(value.detach()))
                bar.update(1)
                bar.set_postfix(value=f"{values[-1]:.3g}", refresh=False)
                snap(done, values[-1])
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        bar.close()
    if state is not None:
        state["rng"] = rng.getstate()
        if opt is not None:
            state["optimizer"] = opt.state_dict()
    if (reason != "finished" or first_step + done == total) and first_step + done not in shots:
        want.add(first_step + done)   # the run's last step (or the one it stopped at) is always a snapshot
        snap(done, values[-1] if values else float("nan"))
    with torch.no_grad():
        final = param.image().detach()
    return RenderResult(final, values, shots, done, steps, reason, time.perf_counter() - start)


def cosine_decay(end: float = 0.1) -> Callable[[int, int], float]:
    """An ``lr_schedule``: the factor falls from 1 at the first step to ``end`` at the last along half a cosine."""
    end = check_number("end", end, 0, 1)

    def factor(step: int, steps: int) -> float:
        frac = step / max(1, steps - 1)
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * frac))

    return factor


class _null:
    """A context manager yielding ``None`` (no layers to hook)."""

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
