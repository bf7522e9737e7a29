"""Attribution against ground truth: where does the heat go, and which faithfulness metric agrees?

On the lab's images every pixel's role is known (:mod:`vizlab.lab.data`): the shape's mask, the cue's mask,
and, from the paired test sets, whether a model needs the cue. So a map can be scored against the truth:

- :func:`mask_share`: the share of a map's (positive) heat inside a mask, ``sum(h * m) / sum(h)``;
- :func:`pointing_game` (Zhang et al. 2016): whether the hottest pixel lies in the mask (dilated by
  ``tolerance`` pixels);
- :func:`ground_truth_table`: for every method of :data:`LAB_METHODS` and every model, those numbers on the cue and
  the shape, with deletion, insertion and ROAD (:mod:`vizlab.evaluate`) beside them;
- :func:`metric_agreement`: across methods, how well each faithfulness metric ranks the methods the way the
  ground truth does (Spearman correlation with the heat share on the true evidence).

Example:
    >>> heat = torch.zeros(1, 8, 8); heat[0, 1, 1] = 1.0
    >>> mask = torch.zeros(1, 8, 8, dtype=torch.bool); mask[0, :2, :2] = True
    >>> float(mask_share(heat, mask)[0]), bool(pointing_game(heat, mask)[0])
    (1.0, True)
"""
from __future__ import annotations

import time
import warnings
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

from .. import attribution as A
from .._validate import check_int
from ..evaluate.faithfulness import deletion, insertion, road
from ..evaluate.methods import METHODS
from ..inside.datasets import ImageSet

#: The layer the CAM family reads in :class:`~vizlab.inside.ShapesCNN` (8 x 8 on 32-pixel images).
CAM_LAYER = "relu3"


def _occlusion(model, x, classes, layer=None):
    # A 4-pixel window (the cue's size) at step 2, filled with the mean gray of the images.
    return A.occlusion(model, x, classes, patch=4, stride=2, baseline="gray", batch_size=256).map


#: Every attribution method of vizlab by name: ``fn(model, x, classes, layer) -> (N, H, W)`` (the CAM family at
#: :data:`CAM_LAYER` unless a layer is given).
LAB_METHODS: dict[str, Callable] = {"occlusion": _occlusion,
                                    **{k: v for k, v in METHODS.items() if k not in ("edge (Sobel)", "random")},
                                    "CAM": lambda m, x, c, layer: A.cam(m, x, c, layer, classifier="fc")}
#: The two baselines a method has to beat.
BASELINE_METHODS = {k: METHODS[k] for k in ("edge (Sobel)", "random")}
_CAMS = {"Grad-CAM", "Grad-CAM++", "LayerCAM", "HiResCAM", "XGrad-CAM", "EigenCAM", "Score-CAM", "CAM"}


def lab_attribute(model: nn.Module, x: torch.Tensor, classes, method: str, layer: str | None = None) -> torch.Tensor:
    """``(N, H, W)`` map of ``method`` (a name of :data:`LAB_METHODS` or :data:`BASELINE_METHODS`) at input size."""
    table = {**LAB_METHODS, **BASELINE_METHODS}
    if not isinstance(method, str):
        raise TypeError(f"method must be a name, got {type(method).__name__}")
    if method not in table:
        raise ValueError(f"method={method!r} is unknown; use one of {', '.join(table)}")
    if isinstance(classes, torch.Tensor):
        classes = classes.tolist()
    if method in _CAMS and layer is None:
        layer = CAM_LAYER
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        heat = table[method](model, x, classes, layer).detach().float()
    if heat.shape[-2:] != x.shape[-2:]:
        heat = F.interpolate(heat[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return heat


def _check_pair(heat: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(heat, torch.Tensor) or not isinstance(mask, torch.Tensor):
        raise TypeError(f"heat and mask must be tensors, got {type(heat).__name__} and {type(mask).__name__}")
    if heat.dim() == 2:
        heat = heat[None]
    if mask.dim() == 2:
        mask = mask[None]
    if heat.dim() != 3 or mask.dim() != 3 or mask.shape[0] != heat.shape[0]:
        raise ValueError(f"heat (N, H, W) and mask (N, H, W) must match, got {tuple(heat.shape)} and "
                         f"{tuple(mask.shape)}")
    heat = heat.detach().float()
    if heat.shape[-2:] != mask.shape[-2:]:
        heat = F.interpolate(heat[:, None], size=mask.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return heat, mask.to(heat.device).bool()


def mask_share(heat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(N,)`` share of the positive heat inside ``mask``: ``sum(relu(h) * m) / sum(relu(h))`` (0 for an empty map).

    ``heat`` ``(N, H, W)`` is resized to the mask's size (bilinear) when it is coarser.
    """
    heat, mask = _check_pair(heat, mask)
    h = heat.clamp_min(0).flatten(1)
    total = h.sum(1)
    inside = (h * mask.flatten(1)).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-12), torch.zeros_like(total))


def pointing_game(heat: torch.Tensor, mask: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """``(N,)`` ``bool``: is the hottest pixel of each map inside ``mask`` grown by ``tolerance`` pixels?

    Ties go to the first pixel in raster order. ``tolerance`` grows the mask by a square of that radius
    (a CAM upsampled from 8 x 8 peaks between cells).
    """
    heat, mask = _check_pair(heat, mask)
    tolerance = check_int("tolerance", tolerance, 0)
    if tolerance:
        k = 2 * tolerance + 1
        mask = F.max_pool2d(mask[:, None].float(), k, stride=1, padding=tolerance)[:, 0] > 0
    peak = heat.flatten(1).argmax(1)
    return mask.flatten(1).gather(1, peak[:, None])[:, 0]


@torch.no_grad()
def predictions(model: nn.Module, data: ImageSet, batch_size: int = 256) -> torch.Tensor:
    """``(N,)`` top-1 classes of ``model`` on ``data`` (eval mode)."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(data.batch(slice(s, s + batch_size), device)).argmax(1).cpu()
                      for s in range(0, len(data), batch_size)])


def ground_truth_table(models: dict[str, nn.Module], data: ImageSet, methods: Sequence[str] | None = None, *,
                       steps: int = 16, road_fractions=(0.05, 0.1, 0.2, 0.3, 0.5), tolerance: int = 1,
                       progress: bool = True) -> list[dict]:
    """Score every method on every model against the masks of ``data`` (a :func:`~vizlab.lab.make_shortcut` set).

    Each map explains the model's top-1 class. One row per ``(model, method)`` with means over the images:
    ``cue share``, ``shape share`` (:func:`mask_share`), ``cue area`` and ``shape area`` (the masks' share of
    the pixels: what a uniform map would get), ``cue lift`` and ``shape lift`` (share / area, per image, then
    averaged: how many times denser the heat is there than a uniform map's; the cue covers 1.6 % of the image,
    the shape about 20 %, so shares alone favour the shape), ``points at cue`` / ``points at shape``
    (:func:`pointing_game` with ``tolerance``), ``deletion`` (area, lower is better), ``insertion`` (higher is
    better) and ``ROAD``
    (most relevant first, area over ``road_fractions``; lower is better).

    Args:
        models: ``{name: model}``.
        data: images with ``extra["mask"]`` and ``extra["cue_mask"]``.
        methods: names of :data:`LAB_METHODS` / :data:`BASELINE_METHODS` (default: all of both).
        steps: deletion/insertion steps.
        progress: print one line per row.
    """
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict {name: model}")
    for key in ("mask", "cue_mask"):
        if key not in data.extra:
            raise ValueError(f"data has no extra[{key!r}]; make it with vizlab.lab.make_shortcut")
    methods = list(methods) if methods is not None else [*LAB_METHODS, *BASELINE_METHODS]
    rows = []
    cue_mask, shape_mask = data.extra["cue_mask"], data.extra["mask"]
    for model_name, model in models.items():
        model.eval()
        x = data.batch(device=next(model.parameters()).device)
        classes = predictions(model, data)
        for method in methods:
            start = time.perf_counter()
            heat = lab_attribute(model, x, classes, method)
            cls = classes.tolist()
            frac = torch.tensor([0.0, *road_fractions])
            road_curve = road(model, x, heat, cls, fractions=tuple(road_fractions), batch_size=64)
            cue_share, shape_share = mask_share(heat, cue_mask), mask_share(heat, shape_mask)
            cue_area = cue_mask.flatten(1).float().mean(1).clamp_min(1e-6)
            shape_area = shape_mask.flatten(1).float().mean(1).clamp_min(1e-6)
            rows.append({
                "model": model_name, "method": method,
                "cue share": float(cue_share.mean()), "shape share": float(shape_share.mean()),
                "cue lift": float((cue_share / cue_area).mean()),
                "shape lift": float((shape_share / shape_area).mean()),
                "cue area": float(cue_mask.float().mean()), "shape area": float(shape_mask.float().mean()),
                "points at cue": float(pointing_game(heat, cue_mask, tolerance).float().mean()),
                "points at shape": float(pointing_game(heat, shape_mask, tolerance).float().mean()),
                "deletion": float(deletion(model, x, heat, cls, steps=steps, batch_size=64).auc.mean()),
                "insertion": float(insertion(model, x, heat, cls, steps=steps, batch_size=64).auc.mean()),
                "ROAD": float(torch.trapezoid(road_curve.scores, frac.to(road_curve.scores), dim=-1).mean()
                              / frac[-1]),
            })
            if progress:
                print(f"  {model_name:10s} {method:22s} {time.perf_counter() - start:5.1f} s", flush=True)
    return rows


#: The columns of :func:`format_rows`, with which direction is better (``None``: no direction).
COLUMNS = {"cue share": None, "shape share": None, "cue lift": None, "shape lift": None, "points at cue": None,
           "points at shape": None,
           "deletion": "lower", "insertion": "higher", "ROAD": "lower"}


def format_rows(rows: Sequence[dict], columns: Sequence[str] = tuple(COLUMNS)) -> str:
    """The table as text (one line per model and method)."""
    width = max(9, *(len(c) for c in columns))
    head = f"{'model':9s} {'method':21s} " + " ".join(f"{c:>{width}s}" for c in columns)
    lines = [head]
    for row in rows:
        lines.append(f"{row['model']:9s} {row['method']:21s} " + " ".join(f"{row[c]:{width}.2f}" for c in columns))
    return "\n".join(lines)


def told_truth(row: dict, evidence: str) -> bool:
    """Whether a row's map points at the ``evidence`` (``"cue"`` or ``"shape"``) in most images and its heat is
    denser there than on the other region (``lift``: share / area)."""
    if evidence not in ("cue", "shape"):
        raise ValueError(f"evidence must be 'cue' or 'shape', got {evidence!r}")
    other = "shape" if evidence == "cue" else "cue"
    return row[f"points at {evidence}"] > 0.5 and row[f"{evidence} lift"] > row[f"{other} lift"]


def metric_agreement(rows: Sequence[dict], evidence: dict[str, str],
                     metrics: Sequence[str] = ("deletion", "insertion", "ROAD")) -> dict[str, dict[str, float]]:
    """Per model and metric, the Spearman correlation across methods between the metric (signed so that higher
    is better) and the heat's lift on the model's true evidence (``evidence[model]``: ``"cue"`` or ``"shape"``).

    Near 1: the metric ranks the methods as the ground truth does; near 0 or below: it does not.
    """
    out: dict[str, dict[str, float]] = {}
    for model, where in evidence.items():
        mine = [r for r in rows if r["model"] == model]
        if len(mine) < 3:
            raise ValueError(f"model {model!r} has {len(mine)} rows; need at least 3 methods to rank")
        truth = [r[f"{where} lift"] for r in mine]
        out[model] = {}
        for metric in metrics:
            sign = -1.0 if COLUMNS.get(metric) == "lower" else 1.0
            values = [sign * r[metric] for r in mine]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")    # a constant column: NaN, reported as 0 below
                rho = spearmanr(values, truth).statistic
            out[model][metric] = 0.0 if rho != rho else float(rho)   # NaN (a constant column): no agreement
    return out


def flips(rows: Sequence[dict], before: str, after: str) -> dict[str, tuple[str, str]]:
    """For each method, where most of its hottest pixels land (``"cue"``, ``"shape"`` or ``"background"``) on
    model ``before`` and on model ``after``; only the methods whose answer changes."""
    def where(row):
        cue, shape = row["points at cue"], row["points at shape"]
        rest = 1.0 - cue - shape
        return max((("cue", cue), ("shape", shape), ("background", rest)), key=lambda t: t[1])[0]

    first = {r["method"]: where(r) for r in rows if r["model"] == before}
    second = {r["method"]: where(r) for r in rows if r["model"] == after}
    return {m: (first[m], second[m]) for m in first if m in second and first[m] != second[m]}
