"""Sanity checks (Adebayo et al. 2018): does the map change when what the model learned is destroyed?

- :func:`randomization_test` re-initialises the network's layers from the top (``mode="cascading"``: the
  classifier, then also the head, then also the last block, ...; ``"independent"``: one layer at a time) and
  compares each map with the trained model's map (:mod:`vizlab.evaluate.similarity`). A map that explains the
  model must change; one that stays alike shows the image, not the model.
- :func:`label_randomization` trains the shapes CNN twice, on the true labels and on shuffled ones (so the
  second network can only memorise), and compares the maps of the two.

Layers are re-initialised with each module's own ``reset_parameters`` (PyTorch's default initialisation, also
for batch norm: running statistics 0/1, identity affine), seeded. The original weights are restored afterwards,
also when the method raises.

Example:
    >>> res = randomization_test(model, "guided backprop", x)      # doctest: +SKIP
    >>> res.similarity["spearman"][-1]                              # doctest: +SKIP
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch
from torch import nn

from .._validate import check_seed, seeded_generator
from ..attribution._common import as_batch
from ..attribution.targets import TargetLike, as_class_target
from ..models import resolve_layer
from .methods import MapFn, as_method, attribute, method_name
from .similarity import MEASURES

Group = tuple[str, list[nn.Module]]
MODES = ("cascading", "independent")


def randomization_layers(model: nn.Module) -> list[Group]:
    """The groups of layers to randomise, from the output to the input, as ``(name, modules)``.

    EfficientNet (the embedded models): ``classifier``, ``head`` (conv_head + bn2), ``block7`` ... ``block1``,
    ``stem`` (conv_stem + bn1). Other models: every module with its own parameters in definition order,
    reversed, with a batch norm joined to the layer before it (``conv2+bn2``).
    """
    net = getattr(model, "net", model)
    if all(hasattr(net, a) for a in ("conv_stem", "bn1", "blocks", "conv_head", "bn2", "classifier")):
        groups: list[Group] = [("classifier", [net.classifier]), ("head", [net.conv_head, net.bn2])]
        groups += [(f"block{i + 1}", [net.blocks[i]]) for i in reversed(range(len(net.blocks)))]
        return groups + [("stem", [net.conv_stem, net.bn1])]
    ordered: list[Group] = []
    for name, module in model.named_modules():
        if not name or not any(True for _ in module.parameters(recurse=False)):
            continue
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and ordered:
            last_name, last = ordered[-1]
            ordered[-1] = (f"{last_name}+{name}", [*last, module])
        else:
            ordered.append((name, [module]))
    if not ordered:
        raise ValueError("this model has no parameters to randomise")
    return ordered[::-1]


def _groups(model: nn.Module, layers) -> list[Group]:
    if layers is None:
        return randomization_layers(model)
    if isinstance(layers, (str, nn.Module)):
        layers = [layers]
    out = []
    for item in layers:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], list):
            out.append(item)
        else:
            label, module = resolve_layer(model, item)
            out.append((str(item) if isinstance(item, str) else label, [module]))
    if not out:
        raise ValueError("layers is empty; give layer names from the output towards the input")
    return out


def randomize_(modules: Sequence[nn.Module], seed: int = 0) -> int:
    """Re-initialise every submodule of ``modules`` that has ``reset_parameters`` (in place, seeded).

    Returns the number of re-initialised modules (0 means nothing changed: an error for the callers).
    """
    seed = check_seed("seed", seed)
    count = 0
    devices = sorted({p.device.index for m in modules for p in m.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for module in modules:
            for sub in module.modules():
                if hasattr(sub, "reset_parameters") and (any(True for _ in sub.parameters(recurse=False))
                                                         or any(True for _ in sub.buffers(recurse=False))):
                    sub.reset_parameters()
                    count += 1
    return count


@contextmanager
def preserved_weights(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block the model's weights may change; on exit (also after an error) they are put back."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        yield model
    finally:
        model.load_state_dict(saved)


@dataclass
class RandomizationResult:
    """What :func:`randomization_test` found.

    Attributes:
        method: the method's name; mode: ``"cascading"`` or ``"independent"``.
        layers: the randomised groups, in order (for ``cascading``, step ``k`` has layers ``0..k`` randomised).
        classes: the class explained for each image (the trained model's, kept fixed).
        original: the trained model's maps ``(N, H, W)``.
        maps: ``(L, N, H, W)``, one stack per step.
        similarity: measure name -> ``(L, N)`` similarity of each step's maps with ``original``.
    """

    method: str
    mode: str
    layers: list[str]
    classes: torch.Tensor
    original: torch.Tensor
    maps: torch.Tensor
    similarity: dict[str, torch.Tensor] = field(default_factory=dict)

    def mean(self, measure: str = "spearman") -> torch.Tensor:
        """``(L,)`` similarity averaged over the images."""
        return self.similarity[measure].mean(1)


def randomization_test(model: nn.Module, method: str | MapFn, images, target: TargetLike = None, *,
                       mode: str = "cascading", layers=None, layer=None, steps: int | None = None,
                       measures: Sequence[str] = ("spearman", "ssim", "hog"), seed: int = 0) -> RandomizationResult:
    """Model-parameter randomisation test: per-layer similarity of the map to the trained model's map.

    Args:
        model: the trained classifier (its weights are restored on return, also after an error).
        method: a name in :data:`vizlab.evaluate.METHODS` (``"gradient"``, ``"guided backprop"``,
            ``"Grad-CAM"``, ...) or its snake_case form (``"guided_backprop"``), an attribution function
            (``vizlab.attribution.guided_backprop``), or ``fn(model, x, classes, layer) -> (N, H, W)``.
        images: ``(N, 3, H, W)`` in ``[0, 1]`` (or what ``model.to_input`` takes).
        target: the class to explain (default: the trained model's top-1), kept for every step.
        mode: ``"cascading"`` (from the top, cumulative) or ``"independent"`` (one group at a time).
        layers: groups to randomise, output first (names or modules); default :func:`randomization_layers`.
        layer: the layer CAM methods read (default ``model.cam_layer``).
        steps: only the first ``steps`` groups (a shorter cascade).
        measures: any of ``"spearman"`` (of ``|map|``), ``"ssim"``, ``"hog"``.
        seed: seeds the re-initialisation (group ``k`` gets ``seed + k``).
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is unknown; use one of {', '.join(MODES)}")
    for m in measures:
        if m not in MEASURES:
            raise ValueError(f"measure {m!r} is unknown; use any of {', '.join(MEASURES)}")
    as_method(method)  # an unknown name fails before any work
    groups = _groups(model, layers)
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= len(groups):
            raise ValueError(f"steps={steps!r} is not allowed; use 1..{len(groups)}")
        groups = groups[:steps]
    x = as_batch(model, images)
    with torch.no_grad():
        classes = as_class_target(model, target, model(x)).indices(x.shape[0]).cpu()
    with warnings.catch_warnings():
        # a randomised model often gives all-zero CAM maps; they come back as zeros (similarity 0), say nothing
        warnings.simplefilter("ignore", RuntimeWarning)
        original = attribute(model, x, classes, method, layer).cpu()
        maps = []
        with preserved_weights(model):
            trained = ({n: v.detach().clone() for n, v in model.state_dict().items()} if mode == "independent"
                       else None)
            for k in range(len(groups)):
                if trained is not None and k:
                    model.load_state_dict(trained)  # independent: only group k is random
                cascade_step(model, groups, k, seed)
                maps.append(attribute(model, x, classes, method, layer).cpu())
    stack = torch.stack(maps)
    sims = {m: torch.stack([MEASURES[m](original, s) for s in stack]) for m in measures}
    return RandomizationResult(method_name(method), mode, [g[0] for g in groups], classes, original, stack, sims)


def cascade_step(model: nn.Module, groups: Sequence[Group], k: int, seed: int = 0) -> None:
    """One step of the cascading randomisation: re-initialise group ``k`` (seed ``seed + k``), in place.

    After steps ``0..k`` the top ``k + 1`` groups are random; :func:`randomization_test` does exactly this.
    """
    name, modules = groups[k]
    if randomize_(modules, seed + k) == 0:
        raise ValueError(f"layer group {name!r} has nothing to re-initialise")


@dataclass
class LabelRandomization:
    """What :func:`label_randomization` found: the two networks, their accuracies and map similarities."""

    true_model: nn.Module
    random_model: nn.Module
    train_accuracy: dict[str, float]
    val_accuracy: dict[str, float]
    images: torch.Tensor
    maps: dict[str, tuple[torch.Tensor, torch.Tensor]]
    similarity: dict[str, dict[str, torch.Tensor]]


def label_randomization(methods: Sequence[str | MapFn] = ("gradient", "guided backprop", "Grad-CAM"), *,
                        n: int = 512, size: int = 32, epochs: int = 30, images: int = 8, seed: int = 0,
                        lr: float = 5e-3, progress: bool = False,
                        measures: Sequence[str] = ("spearman", "ssim", "hog")) -> LabelRandomization:
    """Data randomisation test on the shapes CNN: train on true labels and on shuffled labels, compare maps.

    Both networks start from the same seed and see the same images for the same ``epochs`` (AdamW, no weight
    decay, no flips, so the shuffled-label network can memorise its ``n`` images). Maps of each method are
    computed on ``images`` validation images for the class the *true* network predicts; a method whose maps
    stay alike across the two networks does not depend on what the labels taught.
    """
    from ..inside.shapes import accuracy, make_shapes, shapes_cnn, train_classifier
    from ..inside.datasets import ImageSet

    for method in methods:
        as_method(method)  # an unknown name fails before the two trainings

    seed = check_seed("seed", seed)
    data = make_shapes(n + images, size, seed=seed)
    train, val = data.split(images / (n + images), seed=seed)
    g = seeded_generator(seed, 1)
    shuffled = ImageSet(train.images, train.labels[torch.randperm(len(train), generator=g)], train.class_names,
                        name="shapes with shuffled labels")
    models = {}
    for kind, set_ in (("true labels", train), ("random labels", shuffled)):
        net = shapes_cnn(seed, data.num_classes, class_names=data.class_names, first_layer_scale=1.0)
        train_classifier(net, set_, None, epochs=epochs, lr=lr, weight_decay=0.0, seed=seed, augment=False,
                         progress=progress)
        models[kind] = net.eval()
    train_acc = {"true labels": accuracy(models["true labels"], train),
                 "random labels": accuracy(models["random labels"], shuffled)}
    val_acc = {k: accuracy(m, val) for k, m in models.items()}
    x = val.batch(slice(0, images), next(models["true labels"].parameters()).device)
    with torch.no_grad():
        classes = models["true labels"](x).argmax(1).cpu()
    maps, sims = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for method in methods:
            a = attribute(models["true labels"], x, classes, method, "relu3").cpu()
            b = attribute(models["random labels"], x, classes, method, "relu3").cpu()
            maps[method_name(method)] = (a, b)
            sims[method_name(method)] = {m: MEASURES[m](a, b) for m in measures}
    return LabelRandomization(models["true labels"], models["random labels"], train_acc, val_acc, x.cpu(), maps, sims)
