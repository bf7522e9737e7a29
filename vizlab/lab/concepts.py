"""Concepts without downloads: TCAV on procedural concept sets, and a small network dissection.

**TCAV** (Kim et al. 2018). A concept is a set of images (:func:`concept_images`: stripes, dots, small marks of
one colour, ...). A linear classifier separates the concept's activations at a layer from those of a random
set; its normal is the concept activation vector (CAV). The TCAV score of a class is the fraction of the
class's images whose logit rises along the CAV (a positive directional derivative). One random set gives a
noisy CAV, so :func:`tcav` repeats it against ``random_sets`` random sets and compares the scores with those of
random-vs-random CAVs (each between two fresh random sets, counted in both orientations) by a two-sided Welch
t-test: a concept counts only when its scores differ from chance.

**Network dissection** (Bau et al. 2017). Each unit's activation map, upsampled to the image, is thresholded
at its top ``1 - quantile`` over a probe set; the intersection over union of that region with each concept's
mask (a shape, a colour, a texture, the cue, the background; all known exactly here) labels the unit.

Example:
    >>> res = tcav(model, images, target=0, concepts=["red", "stripes"])      # doctest: +SKIP
    >>> res["red"].p_value < 0.05                                            # doctest: +SKIP
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..hooks import capture
from ..inside.datasets import ImageSet, _check_int
from ..inside.shapes import COLOURS, SHAPES, make_shapes
from .data import Cue, make_shortcut

#: The procedural concepts besides the colour names of :data:`~vizlab.inside.shapes.COLOURS`.
PATTERNS = ("stripes", "checkers", "dots")


def concept_images(concept: str, n: int = 40, size: int = 32, *, seed: int = 0, noise: float = 0.04) -> torch.Tensor:
    """``(n, 3, size, size)`` images in ``[0, 1]`` showing one concept in the lab's world.

    Every image is a shape of any kind in a random colour (:func:`~vizlab.inside.make_shapes`) with 1-3 small
    square marks (3-5 pixels) anywhere. The concept decides the marks' colour: a colour name of
    :data:`~vizlab.inside.shapes.COLOURS` (all marks in it: the look of a cue) or ``"random"`` (each mark a random
    colour: the random sets). Pattern concepts keep the random marks and change the scene: ``"stripes"`` /
    ``"checkers"`` (a textured patch as the shape) or ``"dots"`` (5-10 small discs in random colours added).
    A concept and a random set then differ only in the concept, so its CAV points at the concept and not at
    "a picture without a shape".
    """
    n = _check_int("n", n)
    size = _check_int("size", size, 16)
    if not isinstance(concept, str):
        raise TypeError(f"concept must be a name, got {type(concept).__name__}")
    if concept not in COLOURS and concept not in PATTERNS and concept != "random":
        raise ValueError(f"concept must be a colour of {list(COLOURS)}, one of {PATTERNS}, or 'random'; got "
                         f"{concept!r}")
    rng = np.random.default_rng([seed, 1017])
    shapes = [concept] if concept in ("stripes", "checkers") else SHAPES
    out = make_shapes(n, size, seed=int(rng.integers(2**31)), shapes=shapes, noise=noise).batch().numpy()
    yy, xx = np.mgrid[0:size, 0:size]
    palette = np.array(list(COLOURS.values()), dtype=np.float32)
    for i in range(n):
        for _ in range(int(rng.integers(1, 4))):
            s = int(rng.integers(3, 6))
            r, c = rng.integers(0, size - s + 1, size=2)
            colour = np.asarray(COLOURS[concept], dtype=np.float32) if concept in COLOURS else \
                palette[rng.integers(len(palette))]
            out[i][:, r:r + s, c:c + s] = colour[:, None, None]
        if concept == "dots":
            for _ in range(int(rng.integers(5, 11))):
                cy, cx = rng.uniform(2, size - 2, size=2)
                disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(1.0, 2.0) ** 2
                out[i][:, disc] = palette[rng.integers(len(palette))][:, None]
    return torch.from_numpy(np.clip(out, 0, 1))


def _flat_activations(model: nn.Module, x: torch.Tensor, layer: str, batch_size: int = 128) -> torch.Tensor:
    device = next(model.parameters()).device
    out = []
    with capture(model, [layer]) as cap, torch.no_grad():
        for s in range(0, len(x), batch_size):
            model(x[s:s + batch_size].to(device))
            out.append(cap[layer].flatten(1).cpu())
    return torch.cat(out)


def _layer_gradients(model: nn.Module, x: torch.Tensor, layer: str, target: int) -> torch.Tensor:
    """``(N, D)`` gradient of the ``target`` logit with respect to the flattened activations of ``layer``."""
    device = next(model.parameters()).device
    with capture(model, [layer], keep_graph=True) as cap:
        logits = model(x.to(device))
        act = cap[layer]
        (grad,) = torch.autograd.grad(logits[:, target].sum(), act)
    return grad.flatten(1).detach().cpu()


def cav(concept_acts: torch.Tensor, random_acts: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """The unit-length concept activation vector: the normal of a logistic regression (L2, ``C=1``) that tells
    ``concept_acts`` ``(n, D)`` from ``random_acts`` ``(m, D)``, pointing towards the concept."""
    from sklearn.linear_model import LogisticRegression

    a, b = concept_acts.double().numpy(), random_acts.double().numpy()
    xs = np.concatenate([a, b])
    scale = xs.std() + 1e-12     # a common scale, so the solver converges alike on every layer
    ys = np.r_[np.ones(len(a)), np.zeros(len(b))]
    clf = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(xs / scale, ys)
    w = torch.from_numpy(clf.coef_[0]).float()
    return w / w.norm().clamp_min(1e-12)


@dataclass
class ConceptResult:
    """TCAV for one concept: ``scores`` against each random set, ``null`` random-vs-random scores, the t-test."""

    concept: str
    scores: np.ndarray
    null: np.ndarray
    p_value: float
    significant: bool

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))


@dataclass
class TCAVResult:
    """What :func:`tcav` found for one class: ``{concept: ConceptResult}`` and the settings."""

    target: int
    layer: str
    alpha: float
    concepts: dict[str, ConceptResult] = field(default_factory=dict)

    def __getitem__(self, concept: str) -> ConceptResult:
        return self.concepts[concept]

    def significant(self) -> list[str]:
        """The concepts whose scores differ from chance (after the Bonferroni correction)."""
        return [c for c, r in self.concepts.items() if r.significant]

    def summary(self) -> str:
        lines = [f"TCAV for class {self.target} at {self.layer} (alpha {self.alpha}, Bonferroni over "
                 f"{len(self.concepts)} concepts)",
                 f"{'concept':10s} {'mean score':>10s} {'null mean':>10s} {'p':>10s}  significant"]
        for c, r in self.concepts.items():
            lines.append(f"{c:10s} {r.mean:10.2f} {float(np.mean(r.null)):10.2f} {r.p_value:10.2g}  "
                         f"{'yes' if r.significant else 'no'}")
        return "\n".join(lines)


def tcav(model: nn.Module, images: torch.Tensor | ImageSet, target: int, concepts: Sequence[str], *,
         layer: str = "relu2", random_sets: int = 20, n: int = 40, alpha: float = 0.05, seed: int = 0) -> TCAVResult:
    """TCAV scores of ``concepts`` for class ``target`` with a significance test (see the module docstring).

    Args:
        model: the classifier.
        images: the images of the class to explain (``(N, 3, H, W)`` in ``[0, 1]`` or an ImageSet).
        target: the class index whose logit is differentiated.
        concepts: names for :func:`concept_images`.
        layer: where the CAVs live. Not the last convolution of a :class:`~vizlab.inside.ShapesCNN`: after it
            come only average pooling and a linear layer, so the logit's gradient there is the same for every
            image and every score is 0 or 1.
        random_sets: how many random sets each concept is scored against; the null has as many CAVs between two
            further random sets each (``3 * random_sets`` sets are drawn), counted in both orientations.
        n: images per concept and per random set.
        alpha: significance level, divided by the number of concepts (Bonferroni).
        seed: seeds the concept and random sets.
    """
    from scipy.stats import ttest_ind

    random_sets = _check_int("random_sets", random_sets, 2)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    x = images.batch() if isinstance(images, ImageSet) else images
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError("images must be an ImageSet or a tensor (N, 3, H, W)")
    concepts = list(concepts)
    if not concepts:
        raise ValueError("concepts is empty")
    model.eval()
    size = x.shape[-1]
    grads = _layer_gradients(model, x, layer, int(target))
    # Sets 1..R score the concepts; the null pairs fresh sets (R+1, R+2), (R+3, R+4), ...: a null built on one
    # shared random set inherits that set's accidental content (a few more red marks than usual, say) and its mean
    # wandered from 0.45 to 0.94 between training seeds, which decided the test. A random-vs-random CAV has no
    # preferred sign either, so each null pair counts in both orientations (s and 1 - s): the null is centred on
    # 0.5 by construction and its spread is that of random directions.
    randoms = [_flat_activations(model, concept_images("random", n, size, seed=seed * 1000 + 1 + i), layer)
               for i in range(3 * random_sets + 1)]

    def score(direction: torch.Tensor) -> float:
        return float(((grads @ direction) > 0).float().mean())

    one_way = np.array([score(cav(randoms[random_sets + 1 + 2 * j], randoms[random_sets + 2 + 2 * j], seed=j))
                        for j in range(random_sets)])
    null = np.concatenate([one_way, 1.0 - one_way])
    result = TCAVResult(int(target), layer, alpha)
    for c in concepts:
        acts = _flat_activations(model, concept_images(c, n, size, seed=seed), layer)
        scores = np.array([score(cav(acts, randoms[i], seed=i)) for i in range(1, random_sets + 1)])
        if np.ptp(scores) == 0 and np.ptp(null) == 0:
            p = 1.0 if scores[0] == null[0] else 0.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # scores of 0 and 1 only: precision notes
                p = float(ttest_ind(scores, null, equal_var=False).pvalue)
        result.concepts[c] = ConceptResult(c, scores, null, p, p < alpha / len(concepts))
    return result


def mark_effect(model: nn.Module, images: torch.Tensor | ImageSet, target: int, colours: Sequence[str] | None = None,
                *, cue: Cue | None = None) -> dict[str, float]:
    """The ground truth TCAV estimates, by intervention: ``{colour: mean change of the target logit}`` when a mark of
    that colour (the cue's size, at its place) is painted on every image. A concept matters for the class when
    its colour moves the logit unlike the other colours do.

    Args:
        model: the classifier.
        images: ``(N, 3, H, W)`` in ``[0, 1]`` or an ImageSet (best without a cue: ``paired_sets(...)["none"]``).
        target: the class whose logit is read.
        colours: names of :data:`~vizlab.inside.shapes.COLOURS` (default all).
        cue: where and how large the mark is (default ``Cue()``; ``"anywhere"`` is not a place).
    """
    cue = Cue() if cue is None else cue
    if not isinstance(cue, Cue):
        raise TypeError(f"cue must be a vizlab.lab.Cue, got {type(cue).__name__}")
    x = images.batch() if isinstance(images, ImageSet) else images
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError("images must be an ImageSet or a tensor (N, 3, H, W)")
    corner = cue.corner(x.shape[-1])
    if corner is None:
        raise ValueError(f"cue.place must be a fixed place for an intervention, got {cue.place!r}")
    colours = list(COLOURS) if colours is None else list(colours)
    unknown = [c for c in colours if c not in COLOURS]
    if unknown:
        raise ValueError(f"colours must be names of {list(COLOURS)}, got {unknown}")
    (r, c), s = corner, cue.size
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        base = model(x.to(device))[:, int(target)]
        out = {}
        for name in colours:
            painted = x.clone()
            painted[:, :, r:r + s, c:c + s] = torch.tensor(COLOURS[name], dtype=x.dtype)[:, None, None]
            out[name] = float((model(painted.to(device))[:, int(target)] - base).mean())
    return out


# -- network dissection ---------------------------------------------------------------------------------------

def probe_set(n: int = 300, size: int = 32, *, seed: int = 5) -> ImageSet:
    """The dissection's probe images: all six shapes (textures included) in random colours, each with a mark of a
    random colour anywhere, with their masks."""
    cue = Cue(tuple(COLOURS), "anywhere")
    return make_shortcut(n, size, seed=seed, cue=cue, mode="random", shapes=SHAPES)


def concept_masks(data: ImageSet) -> dict[str, torch.Tensor]:
    """``{concept: bool (N, H, W)}`` from a :func:`probe_set`: each shape, each colour (shape or mark pixels of it),
    ``"cue"`` (the marks), ``"background"``."""
    shape, cue_mask = data.extra["mask"], data.extra["cue_mask"]
    out = {}
    for k, name in enumerate(data.class_names):
        out[name] = shape & (data.labels == k)[:, None, None]
    colour_names = data.extra_names["colour"]
    cue_names = data.extra_names.get("cue", [])
    for name in COLOURS:
        m = shape & (data.extra["colour"] == colour_names.index(name))[:, None, None]
        if name in cue_names:
            m = m | (cue_mask & (data.extra["cue"] == cue_names.index(name))[:, None, None])
        out[name] = m
    out["cue"] = cue_mask
    out["background"] = ~(shape | cue_mask)
    return out


@dataclass
class Dissection:
    """Per unit of one layer: the best concept, its IoU, and every IoU (``iou[unit, concept]``)."""

    layer: str
    concepts: list[str]
    iou: torch.Tensor
    thresholds: torch.Tensor

    def label(self, unit: int) -> tuple[str, float]:
        k = int(self.iou[unit].argmax())
        return self.concepts[k], float(self.iou[unit, k])

    def labels(self, min_iou: float = 0.04) -> dict[int, tuple[str, float]]:
        """``{unit: (concept, IoU)}`` for the units whose best IoU reaches ``min_iou`` (Bau et al.: 0.04)."""
        return {u: self.label(u) for u in range(len(self.iou)) if self.label(u)[1] >= min_iou}

    def count(self, concept: str, min_iou: float = 0.04) -> int:
        """How many units are labelled ``concept``."""
        return sum(1 for c, _ in self.labels(min_iou).values() if c == concept)


def unit_maps(model: nn.Module, data: ImageSet, layer: str, batch_size: int = 128) -> torch.Tensor:
    """``(N, C, H, W)`` activations of ``layer`` upsampled (bilinear) to the images' size."""
    device = next(model.parameters()).device
    model.eval()
    out = []
    with capture(model, [layer]) as cap, torch.no_grad():
        for s in range(0, len(data), batch_size):
            x = data.batch(slice(s, s + batch_size), device)
            model(x)
            out.append(F.interpolate(cap[layer], size=x.shape[-2:], mode="bilinear", align_corners=False).cpu())
    return torch.cat(out)


def dissect(model: nn.Module, data: ImageSet | None = None, layer: str = "relu3", *, quantile: float = 0.99,
            masks: dict[str, torch.Tensor] | None = None) -> Dissection:
    """Label every unit of ``layer`` by the concept whose mask best overlaps its top activations (IoU).

    Args:
        model: the network.
        data: probe images (default :func:`probe_set`).
        layer: a convolutional layer.
        quantile: each unit's threshold is this quantile of its activations over all probe pixels.
        masks: ``{concept: bool (N, H, W)}`` (default :func:`concept_masks` of ``data``).
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    data = probe_set() if data is None else data
    masks = concept_masks(data) if masks is None else masks
    maps = unit_maps(model, data, layer)
    flat = maps.transpose(0, 1).flatten(1)                              # (C, N*H*W)
    thresholds = torch.quantile(flat[:, ::max(1, flat.shape[1] // 200000)], quantile, dim=1)
    on = flat > thresholds[:, None]
    names = list(masks)
    concept = torch.stack([masks[c].flatten() for c in names]).float()    # (K, N*H*W)
    inter = on.float() @ concept.T
    union = on.float().sum(1, keepdim=True) + concept.sum(1)[None] - inter
    iou = inter / union.clamp_min(1)
    return Dissection(layer, names, iou, thresholds)


def top_images(model: nn.Module, data: ImageSet, layer: str, unit: int, k: int = 6) -> list[int]:
    """Indices of the ``k`` probe images where ``unit`` of ``layer`` peaks highest."""
    maps = unit_maps(model, data, layer)[:, unit]
    return maps.flatten(1).amax(1).topk(min(k, len(data))).indices.tolist()
