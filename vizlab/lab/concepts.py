"""Concepts without downloads: TCAV on procedural concept sets, and a small network dissection.

**TCAV** (Kim et al. 2018). A concept is a set of images (:func:`concept_images`: scenes whose mark, drawn as the
lab's datasets draw the cue, has one colour; or whose shape is striped or checkered; or with dots scattered over
them). A concept activation vector (CAV) at a layer points from a random set's activations to the concept set's;
the class's logit is differentiated along it at the class's images. :func:`tcav` repeats this against
``random_sets`` random sets and decides with a test of the same design on both sides:

- *Paired sets.* Random set ``i`` is a set of scenes with marks of random colours; the concept set compared with it
  is painted on the **same** scenes (same shapes, positions, mark jitter), so the two differ only in the concept.
  The null is a *pseudo-concept* of the same design: the same scenes with a second random draw of mark colours.
- *Effect in logit units.* The statistic is ``g . (mean concept activation - mean random activation)``, with ``g``
  the class logit's gradient averaged over the class's images: the directional derivative along the CAV (the
  normalised difference of means) times the concept's distance from the random set along it, a first-order
  estimate of how much the logit changes when the concept is painted in. Sign-counting TCAV scores saturate in a
  small network (the class's images have similar gradients, so almost any direction scores near 0 or 1); they are
  reported but not tested.
- *A minimum-effect test.* With paired sets the noise is small, so a plain t-test would call every concept
  that moves the logit by 0.1 significant. The test asks instead whether the concept's effect minus the
  pseudo-concept's, over the random sets, exceeds ``min_effect`` in size (one-sample t-test against
  ``|effect| <= min_effect``, Bonferroni over the concepts). ``min_effect`` = 1 logit is calibrated on the
  intervention, :func:`concept_effect` (paint the concept on the class's images): over the lab's training seeds
  0-7 no concept whose painting moves the logit by less than 1 came out significant at 1, while at 0.75 and 0.5
  some did; the shortcut model's cue (painted: +3.4 to +4.4) scored +1.9 to +3.2 (``benchmarks/lab_tcav/``).
  The effect is first order: it under-reports concepts that break the class's evidence (stripes or dots painted
  over a circle), so "not significant" does not mean "does not matter".

**Network dissection** (Bau et al. 2017). Each unit's activation map, upsampled to the image, is thresholded
at its top ``1 - quantile`` over a probe set; the intersection over union of that region with each concept's
mask (a shape, a colour, a texture, the cue, the background; all known exactly here) labels the unit.

Example:
    >>> res = tcav(model, images, target=0, concepts=["red", "stripes"])      # doctest: +SKIP
    >>> res["red"].significant, res["red"].effect                            # doctest: +SKIP
    (True, 2.7)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..hooks import capture
from .._validate import check_int, check_number, seeded_rng
from ..inside.datasets import ImageSet
from ..inside.shapes import COLOURS, SHAPES, make_shapes
from .data import Cue, make_shortcut, paint_marks

#: The procedural concepts besides the colour names of :data:`~vizlab.inside.shapes.COLOURS`.
PATTERNS = ("stripes", "checkers", "dots")


def concept_images(concept: str, n: int = 40, size: int = 32, *, seed: int = 0, noise: float = 0.04,
                   cue: Cue | None = None, draw: int = 0) -> torch.Tensor:
    """``(n, 3, size, size)`` images in ``[0, 1]`` showing one concept in the lab's world.

    Every image is a scene of :func:`~vizlab.inside.make_shapes` (a shape of any kind in a random colour, fixed by
    ``seed``) painted by :func:`paint_concept`: one mark drawn as the lab's datasets draw the cue, and the concept.
    The same ``seed`` gives the same scenes for every concept, and the same ``draw`` the same random choices
    (mark colours, jitter): ``concept_images(c, seed=s)`` and ``concept_images("random", seed=s)`` differ only in
    the concept. Another ``draw`` repaints the same scenes with other random choices.

    Args:
        concept: see :func:`paint_concept`. n: images. size: side in pixels (at least 16).
        seed: the scenes. noise: pixel noise. cue: where and how large the mark is (default ``Cue()``).
        draw: which draw of the painting's random choices.
    """
    n = check_int("n", n)
    size = check_int("size", size, 16)
    _check_concept(concept)
    return paint_concept(_scenes(n, size, seed, noise), concept, seed=seed, draw=draw, cue=cue, noise=noise)


def _scenes(n: int, size: int, seed: int, noise: float) -> ImageSet:
    """The scenes of :func:`concept_images` (shapes of every kind, random colours, with masks)."""
    return make_shapes(n, size, seed=int(seeded_rng(seed, 1017).integers(2**31)), shapes=SHAPES,
                       noise=noise, masks=True)


def _check_concept(concept) -> None:
    if not isinstance(concept, str):
        raise TypeError(f"concept must be a name, got {type(concept).__name__}")
    if concept not in COLOURS and concept not in PATTERNS and concept != "random":
        raise ValueError(f"concept must be a colour of {list(COLOURS)}, one of {PATTERNS}, or 'random'; got "
                         f"{concept!r}")


def paint_concept(scenes: ImageSet, concept: str, *, seed: int = 0, draw: int = 0, cue: Cue | None = None,
                  noise: float = 0.04) -> torch.Tensor:
    """``scenes`` (an ImageSet with ``extra["mask"]`` and ``extra["colour"]``, as :func:`~vizlab.inside.make_shapes`
    and :func:`~vizlab.lab.make_shortcut` return) with a concept painted on, as floats ``(N, 3, H, W)`` in ``[0, 1]``.

    Each image gets one mark, painted by the lab's cue painter (:func:`~vizlab.lab.data.paint_marks`: the cue's
    size and place, jittered colour). The concept decides what else: a colour name of
    :data:`~vizlab.inside.shapes.COLOURS` (the mark in that colour: the look of a cue); ``"random"`` (the mark in a
    random colour: the random sets); ``"stripes"`` / ``"checkers"`` (random mark, and the shape striped or
    checkered in a colour other than its own); ``"dots"`` (random mark, and 5-10 small discs of random colours
    anywhere). Every concept draws the same random numbers in the same order from ``(seed, draw)``, so two
    concepts painted with the same ``seed`` and ``draw`` differ only in the concept.
    """
    _check_concept(concept)
    draw = check_int("draw", draw, 0)
    cue = Cue() if cue is None else cue
    if not isinstance(cue, Cue):
        raise TypeError(f"cue must be a vizlab.lab.Cue, got {type(cue).__name__}")
    if not isinstance(scenes, ImageSet) or "mask" not in scenes.extra or "colour" not in scenes.extra:
        raise TypeError("scenes must be an ImageSet with extra['mask'] and extra['colour'] (make_shapes(..., "
                        "masks=True) or make_shortcut)")
    out = scenes.images.numpy().copy()
    n, size = len(out), out.shape[-1]
    if cue.size > size:
        raise ValueError(f"cue.size={cue.size} does not fit a {size}-pixel image")
    rng = seeded_rng(seed, 1017, draw)
    palette = np.array(list(COLOURS.values()), dtype=np.float32)
    pick = rng.integers(len(palette), size=n)
    where = rng.integers(0, size - cue.size + 1, size=(n, 2))
    jitter = rng.normal(0, noise, size=(n, 3, cue.size, cue.size))
    # the pattern's colour: any but the shape's own
    other = palette[(scenes.extra["colour"].numpy() + rng.integers(1, len(palette), size=n)) % len(palette)]
    corner = cue.corner(size)
    if corner is not None:
        where[:] = corner
    rgb = np.tile(np.asarray(COLOURS[concept], dtype=np.float32), (n, 1)) if concept in COLOURS else palette[pick]
    paint_marks(out, rgb, where, jitter)
    if concept in PATTERNS:
        prng = seeded_rng(seed, 1018, draw)
        yy, xx = np.mgrid[0:size, 0:size] + 0.5
        masks = scenes.extra["mask"].numpy()
        for i in range(n):
            if concept == "dots":
                for _ in range(int(prng.integers(5, 11))):
                    cy, cx = prng.uniform(2, size - 2, size=2)
                    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= prng.uniform(1.0, 2.0) ** 2
                    out[i][:, disc] = (palette[prng.integers(len(palette))] * 255 + 0.5).astype(np.uint8)[:, None]
                continue
            angle, period = prng.uniform(0, np.pi), prng.uniform(3, 5)
            u = xx * np.cos(angle) + yy * np.sin(angle)
            on = np.floor(u / (period / 2)) % 2 == 0
            if concept == "checkers":
                on = on ^ (np.floor((yy * np.cos(angle) - xx * np.sin(angle)) / (period / 2)) % 2 == 0)
            out[i][:, on & masks[i]] = (other[i] * 255 + 0.5).astype(np.uint8)[:, None]
    return torch.from_numpy(out).float() / 255


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
    """The unit-length concept activation vector of Kim et al.: the normal of a logistic regression (L2, ``C=1``)
    that tells ``concept_acts`` ``(n, D)`` from ``random_acts`` ``(m, D)``, pointing towards the concept.
    (:func:`tcav` uses the normalised difference of the means, :func:`mean_cav`, which needs no fit.)"""
    from sklearn.linear_model import LogisticRegression

    a, b = concept_acts.double().numpy(), random_acts.double().numpy()
    xs = np.concatenate([a, b])
    scale = xs.std() + 1e-12     # a common scale, so the solver converges alike on every layer
    ys = np.r_[np.ones(len(a)), np.zeros(len(b))]
    clf = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(xs / scale, ys)
    w = torch.from_numpy(clf.coef_[0]).float()
    return w / w.norm().clamp_min(1e-12)


def mean_cav(concept_acts: torch.Tensor, random_acts: torch.Tensor) -> torch.Tensor:
    """The unit-length difference of the means, ``concept_acts`` ``(n, D)`` minus ``random_acts`` ``(m, D)``."""
    w = concept_acts.mean(0) - random_acts.mean(0)
    return w / w.norm().clamp_min(1e-12)


def cav_accuracy(concept_acts: torch.Tensor, random_acts: torch.Tensor) -> float:
    """Held-out accuracy of :func:`mean_cav` as a classifier: fit on one half of each set, threshold the projection
    at the midpoint of the projected means, classify the other half; both ways round, averaged. 0.5: the layer
    does not tell the concept from random images along any mean direction."""
    hits, total = 0.0, 0
    halves = [(slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(0, None, 2))]
    for fit, held in halves:
        a, b = concept_acts[fit], random_acts[fit]
        v = mean_cav(a, b)
        mid = 0.5 * float((a.mean(0) + b.mean(0)) @ v)
        hits += float(((concept_acts[held] @ v) > mid).sum() + ((random_acts[held] @ v) <= mid).sum())
        total += len(concept_acts[held]) + len(random_acts[held])
    return hits / total


@dataclass
class ConceptResult:
    """TCAV for one concept, per random set: ``effects`` (first-order logit change, see :func:`tcav`), ``null``
    (the pseudo-concept's), ``scores`` (TCAV score: share of the class's images whose logit rises along the
    CAV), ``accuracy`` (held-out accuracy of the CAV); and the minimum-effect test."""

    concept: str
    scores: np.ndarray
    effects: np.ndarray
    null: np.ndarray
    accuracy: np.ndarray
    p_value: float
    significant: bool

    @property
    def mean(self) -> float:
        """The mean TCAV score."""
        return float(np.mean(self.scores))

    @property
    def effect(self) -> float:
        """The concept's effect on the logit beyond the pseudo-concept's, averaged over the random sets."""
        return float(np.mean(self.effects - self.null))

    @property
    def stderr(self) -> float:
        """The standard error of :attr:`effect`."""
        return float(np.std(self.effects - self.null, ddof=1) / np.sqrt(len(self.effects)))


@dataclass
class TCAVResult:
    """What :func:`tcav` found for one class: ``{concept: ConceptResult}`` and the settings."""

    target: int
    layer: str
    alpha: float
    concepts: dict[str, ConceptResult] = field(default_factory=dict)
    min_effect: float = 0.0

    def __getitem__(self, concept: str) -> ConceptResult:
        return self.concepts[concept]

    def significant(self) -> list[str]:
        """The concepts whose effect exceeds ``min_effect`` significantly (after the Bonferroni correction)."""
        return [c for c, r in self.concepts.items() if r.significant]

    def summary(self) -> str:
        lines = [f"TCAV for class {self.target} at {self.layer}: effect on the logit (first order, minus a "
                 f"pseudo-concept's), tested against |effect| <= {self.min_effect:g} at alpha {self.alpha} "
                 f"(Bonferroni over {len(self.concepts)} concepts)",
                 f"{'concept':10s} {'TCAV score':>10s} {'CAV acc.':>9s} {'effect':>8s} {'+-':>6s} {'p':>9s}  "
                 f"significant"]
        for c, r in self.concepts.items():
            lines.append(f"{c:10s} {r.mean:10.2f} {float(np.mean(r.accuracy)):9.2f} {r.effect:+8.2f} "
                         f"{r.stderr:6.2f} {r.p_value:9.2g}  {'yes' if r.significant else 'no'}")
        return "\n".join(lines)


def tcav(model: nn.Module, images: torch.Tensor | ImageSet, target: int, concepts: Sequence[str], *,
         layer: str = "relu2", random_sets: int = 20, n: int = 40, alpha: float = 0.05, seed: int = 0,
         min_effect: float = 1.0, cue: Cue | None = None) -> TCAVResult:
    """TCAV of ``concepts`` for class ``target`` with a minimum-effect test (see the module docstring).

    For random set ``i`` (scenes ``seed * 1000 + 1 + i`` of :func:`concept_images`, random marks), each concept
    set is painted on the same scenes, and so is a pseudo-concept (a second random draw; the concept ``"random"``
    is a third draw, one more pseudo-concept). With ``g`` the mean
    gradient of the ``target`` logit over ``images`` at ``layer`` and ``mu`` the mean activations, the effect of a
    concept is ``g . (mu_concept - mu_random)``. The test: ``d_i`` = concept effect minus pseudo-concept effect;
    ``t = (|mean d| - min_effect) / se``, ``p = P(T > t) + P(T > t')`` with ``t' = (|mean d| + min_effect) / se``
    (Student, ``random_sets - 1`` degrees of freedom: the chance of so large an effect if the true one were
    ``+-min_effect``); significant when ``p < alpha / len(concepts)``.

    Args:
        model: the classifier.
        images: the images of the class to explain (``(N, 3, H, W)`` in ``[0, 1]`` or an ImageSet).
        target: the class index whose logit is differentiated.
        concepts: names for :func:`concept_images`.
        layer: where the CAVs live.
        random_sets: how many random sets (each with its paired concept sets and pseudo-concept).
        n: images per set.
        alpha: significance level, divided by the number of concepts (Bonferroni).
        seed: seeds the scenes.
        min_effect: the smallest effect on the logit that counts (0: a plain two-sided t-test).
        cue: where the concept sets' marks go (default ``Cue()``, the lab's cue).
    """
    from scipy.stats import t as student_t

    random_sets = check_int("random_sets", random_sets, 2)
    alpha = check_number("alpha", alpha, 0, 1, low_open=True, high_open=True)
    min_effect = check_number("min_effect", min_effect)
    x = images.batch() if isinstance(images, ImageSet) else images
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError("images must be an ImageSet or a tensor (N, 3, H, W)")
    concepts = list(concepts)
    if not concepts:
        raise ValueError("concepts is empty")
    for c in concepts:
        _check_concept(c)                   # a bad name fails here, before any work
    if cue is not None and not isinstance(cue, Cue):
        raise TypeError(f"cue must be a vizlab.lab.Cue, got {type(cue).__name__}")
    model.eval()
    size = x.shape[-1]
    grads = _layer_gradients(model, x, layer, int(target))
    g = grads.mean(0)
    rows: dict[str, list] = {c: [] for c in concepts}
    null = []
    for i in range(random_sets):
        scene = seed * 1000 + 1 + i           # random set i: the scenes of concept_images(..., seed=scene)
        scenes = _scenes(n, size, scene, 0.04)
        painted = [paint_concept(scenes, c, seed=scene, draw=d, cue=cue)
                   for c, d in [("random", 0), ("random", 1)] + [(c, 2 if c == "random" else 0) for c in concepts]]
        ref, pseudo, *sets = _flat_activations(model, torch.cat(painted), layer).split(n)
        null.append(float(g @ (pseudo.mean(0) - ref.mean(0))))
        for c, a in zip(concepts, sets):
            v = mean_cav(a, ref)
            rows[c].append((float(((grads @ v) > 0).float().mean()), float(g @ (a.mean(0) - ref.mean(0))),
                            cav_accuracy(a, ref)))
    null_arr = np.array(null)
    result = TCAVResult(int(target), layer, alpha, min_effect=float(min_effect))
    for c in concepts:
        scores, effects, accuracy = (np.array(col) for col in zip(*rows[c]))
        d = effects - null_arr
        se = float(np.std(d, ddof=1) / np.sqrt(len(d)))
        size_ = abs(float(d.mean()))
        if se == 0:
            p = 0.0 if size_ > min_effect else 1.0
        else:
            p = float(student_t.sf((size_ - min_effect) / se, len(d) - 1)
                      + student_t.sf((size_ + min_effect) / se, len(d) - 1))
        p = min(p, 1.0)
        result.concepts[c] = ConceptResult(c, scores, effects, null_arr, accuracy, p, p < alpha / len(concepts))
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


def concept_effect(model: nn.Module, scenes: ImageSet, target: int, concepts: Sequence[str], *,
                   cue: Cue | None = None, draws: int = 5) -> dict[str, float]:
    """The ground truth :func:`tcav` estimates, by intervention: ``{concept: mean change of the target logit}`` when
    the concept is painted on ``scenes`` (:func:`paint_concept`) instead of a random mark, averaged over ``draws``
    paintings (each concept and its random mark from the same draw). For a colour this is :func:`mark_effect`'s
    question asked against a random colour rather than against no mark.

    Args:
        model: the classifier.
        scenes: the class's images with ``extra["mask"]`` and ``extra["colour"]`` (best without a cue:
            ``paired_sets(...)["none"]``).
        target: the class whose logit is read.
        concepts: names for :func:`paint_concept`.
        cue: where the marks go (default ``Cue()``).
        draws: how many paintings to average.
    """
    draws = check_int("draws", draws)
    concepts = list(dict.fromkeys(concepts))  # a name given twice is one concept (not counted twice)
    device = next(model.parameters()).device
    model.eval()
    out = {c: 0.0 for c in concepts}
    if not concepts:
        return out
    with torch.no_grad():
        for k in range(draws):
            # one random-mark reference per draw, shared by every concept (it does not depend on the concept)
            reference = model(paint_concept(scenes, "random", seed=k, cue=cue).to(device))[:, int(target)]
            for c in concepts:
                painted = model(paint_concept(scenes, c, seed=k, cue=cue).to(device))[:, int(target)]
                out[c] += float((painted - reference).mean()) / draws
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
    quantile = check_number("quantile", quantile, 0, 1, low_open=True, high_open=True)
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
