"""The CAM family: weight the channels of a convolutional layer's output ``A`` (``K x h x w``) and sum.

One base, :class:`CamMethod`, runs the model once with a forward hook on the layer, takes the gradient of
the class score with respect to ``A`` only (``torch.autograd.grad`` on the captured tensor: the backward pass
stops at the layer), and forms ``ReLU(sum_k w_k A_k)``; the variants only say how to get ``w``:

- :func:`cam` (Zhou et al. 2016), for networks ending in global average pooling + linear:
  ``w_k = W[c, k]``, the classifier's weights. No gradient needed.
- :func:`grad_cam` (Selvaraju et al. 2017): ``w_k = mean_ij dS_c/dA_kij``. With GAP + linear this is
  ``W[c, k] / (h w)``, so Grad-CAM equals CAM up to scale at the pooled layer.
- :func:`grad_cam_pp` (Chattopadhay et al. 2018): ``w_k = sum_ij a_kij ReLU(g_kij)`` with
  ``a = g^2 / (2 g^2 + sum_ab A_kab g^3)``.
- :func:`guided_grad_cam`: Grad-CAM (upsampled) times guided backpropagation.
- :func:`score_cam` (Wang et al. 2020): ``w = softmax_k S_c(x * norm(up(A_k)))``, the score of the image
  masked by each channel (one forward pass per channel, batched; no gradient).
- :func:`layer_cam` (Jiang et al. 2021): per position, ``w_kij = ReLU(g_kij)``.
- :func:`hires_cam` (Draelos & Carin 2020): per position, ``w_kij = g_kij`` (the gradient itself, not its mean).
- :func:`xgrad_cam` (Fu et al. 2020): ``w_k = sum_ij g_kij A_kij / sum_ij A_kij``.
- :func:`eigen_cam` (Muhammad & Yeasin 2020): the projection of the (position-centred) activations on their
  first principal component. Class-agnostic: the target is ignored.

Maps are ``(N, H, W)`` at the input's resolution (``upsample=False``: the layer's ``(N, h, w)``), scaled to
``[0, 1]`` per image (``normalize=False`` keeps raw values). A map that is zero everywhere (every weighted
sum negative) comes back as zeros with a ``RuntimeWarning``, never NaN.

Example:
    >>> heat = grad_cam(model, "cat_and_espresso", "Egyptian cat")     # doctest: +SKIP
    >>> heat.shape                                                      # doctest: +SKIP
    torch.Size([1, 224, 224])
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..hooks import _first_tensor
from ..models import resolve_layer
from ._common import as_batch, check_int, safe_normalize
from .saliency import GuidedBackprop, reduce_gradient
from .targets import TargetLike, as_class_target, as_target


def default_layer(model: nn.Module, layer) -> str | nn.Module:
    """``layer``, or the model's ``cam_layer`` (the activated output that is pooled into the classifier)."""
    if layer is not None:
        return layer
    found = getattr(model, "cam_layer", None)
    if found is None:
        raise ValueError("layer=None, and this model has no cam_layer; name a convolutional layer, "
                         "e.g. layer='relu2' for vizlab.toy.tiny_cnn")
    return found


def layer_forward(model: nn.Module, x: torch.Tensor, layer, *, grad: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model(x)`` once; return ``(logits, A)`` where ``A`` is the layer's output.

    With ``grad``, ``A`` is a fresh leaf and only the part of the network after the layer records a graph,
    so ``torch.autograd.grad(score, A)`` costs a partial backward; without, nothing is recorded.
    The hook is removed before returning, also after an exception.
    """
    _, module = resolve_layer(model, layer)
    store: dict[str, torch.Tensor] = {}

    def hook(mod, inputs, output):
        out = _first_tensor(output)
        if grad:
            torch.set_grad_enabled(True)  # from here on; the outer no_grad() restores the old mode on exit
            leaf = out.detach().requires_grad_(True)
            store["A"] = leaf
            # Downstream in-place ops (ReLU(inplace=True)) must not touch the leaf we differentiate by.
            new = leaf.clone()
        else:
            store["A"] = out.detach().clone()
            return None
        if isinstance(output, torch.Tensor):
            return new
        return (new, *output[1:]) if isinstance(output, tuple) else [new, *output[1:]]

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        handle.remove()
    if "A" not in store:
        raise ValueError(f"layer {layer!r} did not run in the forward pass")
    if store["A"].dim() != 4:
        raise ValueError(f"layer {layer!r} gives shape {tuple(store['A'].shape)}; CAM needs a convolutional "
                         f"output (N, K, h, w)")
    return logits, store["A"]


class CamMethod:
    """Base of the CAM family. Subclasses set ``needs_gradient`` and define :meth:`weights`."""

    needs_gradient = True
    name = "CAM"

    def weights(self, model: nn.Module, acts: torch.Tensor, grads: torch.Tensor | None,
                classes: torch.Tensor | None) -> torch.Tensor:
        """Channel weights ``(N, K)`` (or per position, ``(N, K, h, w)``)."""
        raise NotImplementedError

    def channel_weights(self, model: nn.Module, x: torch.Tensor, acts: torch.Tensor, grads: torch.Tensor | None,
                        classes: torch.Tensor | None) -> torch.Tensor:
        """Like :meth:`weights`, also given the input batch ``x`` (Score-CAM re-runs the model on it)."""
        return self.weights(model, acts, grads, classes)

    def combine(self, w: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        """The map before ReLU: ``sum_k w_k A_k`` ``(N, h, w)``."""
        return (w * acts).sum(1)

    def __call__(self, model: nn.Module, image, target: TargetLike = None, layer=None, *, upsample: bool = True,
                 normalize: bool = True) -> torch.Tensor:
        x = as_batch(model, image)
        layer = default_layer(model, layer)
        logits, acts = layer_forward(model, x, layer, grad=self.needs_gradient)
        grads, classes = None, None
        if self.needs_gradient:
            tgt = as_target(model, target, logits.detach())
            if hasattr(tgt, "indices"):
                classes = tgt.indices(x.shape[0])
            (grads,) = torch.autograd.grad(tgt(logits).sum(), acts)
        else:
            classes = as_class_target(model, target, logits).indices(x.shape[0])
        with torch.no_grad():
            w = self.channel_weights(model, x, acts.detach(), grads, classes)
            if w.dim() == 2:
                w = w[:, :, None, None]
            heat = F.relu(self.combine(w, acts.detach()))
            if upsample and heat.shape[-2:] != x.shape[-2:]:
                heat = F.interpolate(heat[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
            if normalize:
                heat = safe_normalize(heat, f"{self.name} map")
        return heat


class CAM(CamMethod):
    """``w_k = W[c, k]`` from the final linear layer (the layer must be the one that is average-pooled)."""

    needs_gradient = False
    name = "CAM"

    def __init__(self, classifier=None):
        self.classifier = classifier

    def weights(self, model, acts, grads, classes):
        clf = self.classifier if self.classifier is not None else getattr(model, "classifier", None)
        if clf is None:
            raise ValueError("CAM needs the final linear layer: pass classifier=..., e.g. 'fc' for tiny_cnn")
        _, linear = resolve_layer(model, clf)
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"classifier={clf!r} is a {type(linear).__name__}, CAM needs an nn.Linear")
        if linear.in_features != acts.shape[1]:
            raise ValueError(f"the layer has {acts.shape[1]} channels but the classifier takes "
                             f"{linear.in_features} features; CAM needs the layer that is pooled into it")
        return linear.weight.detach()[classes.to(linear.weight.device)].to(acts.dtype)


class GradCAM(CamMethod):
    """``w_k = mean_ij dS_c/dA_kij``."""

    name = "Grad-CAM"

    def weights(self, model, acts, grads, classes):
        return grads.mean((2, 3))


class GradCAMPlusPlus(CamMethod):
    """Grad-CAM++ weights with the usual closed form for an exponential score (first-order gradients only)."""

    name = "Grad-CAM++"

    def weights(self, model, acts, grads, classes):
        g2, g3 = grads.pow(2), grads.pow(3)
        denom = 2 * g2 + acts.sum((2, 3), keepdim=True) * g3
        alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
        return (alpha * F.relu(grads)).sum((2, 3))


class ScoreCAM(CamMethod):
    """Weights from scores, not gradients: ``w = softmax_k S_c(x * M_k)`` over channels ``k``.

    ``M_k`` is channel ``k`` upsampled (bilinear) to the input and min-max scaled to ``[0, 1]``; the masked
    images darken what the channel does not see (images are in ``[0, 1]``, so masked-out pixels are black).
    ``S_c`` is the target logit; the softmax over channels follows pytorch-grad-cam (the paper uses the increase
    of the probability over a blank image). Costs one forward pass per channel, run ``batch_size`` at a time.
    """

    needs_gradient = False
    name = "Score-CAM"

    def __init__(self, batch_size: int | None = None):
        # default: 32 masked images per pass on an accelerator, 1 on the CPU (where bigger batches were slower)
        self.batch_size = None if batch_size is None else check_int("batch_size", batch_size, 1)

    def channel_weights(self, model, x, acts, grads, classes):
        # align_corners=True as pytorch-grad-cam (its UpsamplingBilinear2d), so the two agree on coarse layers
        masks = F.interpolate(acts, size=x.shape[-2:], mode="bilinear", align_corners=True)
        lo = masks.flatten(2).amin(2)[:, :, None, None]
        hi = masks.flatten(2).amax(2)[:, :, None, None]
        masks = (masks - lo) / (hi - lo).clamp_min(1e-8)  # a constant channel masks everything (score of black)
        scores = torch.empty(acts.shape[:2], device=acts.device)
        size = self.batch_size or (1 if x.device.type == "cpu" else 32)
        for n in range(x.shape[0]):
            c = int(classes[n])
            for start in range(0, acts.shape[1], size):
                chunk = masks[n, start:start + size, None] * x[n:n + 1]
                scores[n, start:start + chunk.shape[0]] = model(chunk)[:, c]
        return scores.softmax(1)


class LayerCAM(CamMethod):
    """``w_kij = ReLU(dS_c/dA_kij)``: positive gradients weight each position (works in early layers too)."""

    name = "LayerCAM"

    def weights(self, model, acts, grads, classes):
        return F.relu(grads)


class HiResCAM(CamMethod):
    """``w_kij = dS_c/dA_kij``: the elementwise product, so the map sums to the score's first-order change."""

    name = "HiResCAM"

    def weights(self, model, acts, grads, classes):
        return grads


class XGradCAM(CamMethod):
    """``w_k = sum_ij g_kij A_kij / sum_ij A_kij`` (gradients weighted by the normalised activation)."""

    name = "XGrad-CAM"

    def weights(self, model, acts, grads, classes):
        return (grads * acts).sum((2, 3)) / (acts.sum((2, 3)) + 1e-7)


class EigenCAM(CamMethod):
    """First principal component of the activations (positions as samples, channels as features).

    The map is ``(A - mean over positions) . v_1``. An SVD's sign is arbitrary; it is chosen so that the map
    correlates positively with the channel sum of ``A`` (the component points to where the layer is active).
    Class-agnostic: every target gives the same map.
    """

    needs_gradient = False
    name = "EigenCAM"

    def weights(self, model, acts, grads, classes):
        n, k, h, w = acts.shape
        flat = acts.reshape(n, k, h * w).transpose(1, 2).double()       # (N, hw, K)
        centred = flat - flat.mean(1, keepdim=True)
        v1 = torch.linalg.svd(centred, full_matrices=False).Vh[:, 0]     # (N, K)
        proj = (centred @ v1[..., None])[..., 0]                          # (N, hw)
        total = flat.sum(2)
        agree = ((proj - proj.mean(1, keepdim=True)) * (total - total.mean(1, keepdim=True))).sum(1)
        sign = torch.where(agree < 0, -1.0, 1.0).to(v1.dtype)
        return (v1 * sign[:, None]).to(acts.dtype)

    def combine(self, w, acts):
        return (w * (acts - acts.mean((2, 3), keepdim=True))).sum(1)


def cam(model: nn.Module, image, target: TargetLike = None, layer=None, *, classifier=None, upsample: bool = True,
        normalize: bool = True) -> torch.Tensor:
    """Class activation map ``ReLU(sum_k W[c, k] A_k)``, ``(N, H, W)`` in ``[0, 1]``.

    Args:
        model: a network ending in global average pooling + linear.
        image: ``(N, 3, H, W)`` tensor in ``[0, 1]`` (or anything ``model.to_input`` takes).
        target: class index/name, one per image, or ``None`` for each top-1 class.
        layer: the layer that is pooled into the classifier (default ``model.cam_layer``).
        classifier: the final ``nn.Linear`` (default ``model.classifier``).
        upsample: bilinear to the input size (else the layer's ``(h, w)``).
        normalize: divide by the maximum per image.
    """
    return CAM(classifier)(model, image, target, layer, upsample=upsample, normalize=normalize)


def grad_cam(model: nn.Module, image, target: TargetLike = None, layer=None, *, upsample: bool = True,
             normalize: bool = True) -> torch.Tensor:
    """Grad-CAM ``ReLU(sum_k mean_ij(dS_c/dA_kij) A_k)`` at any convolutional layer, ``(N, H, W)`` in ``[0, 1]``.

    One forward pass and a backward pass from the logit to ``layer`` only (default ``model.cam_layer``).
    ``target`` may also be a callable ``logits -> (N,)`` scores. Other arguments as :func:`cam`.
    """
    return GradCAM()(model, image, target, layer, upsample=upsample, normalize=normalize)


def grad_cam_pp(model: nn.Module, image, target: TargetLike = None, layer=None, *, upsample: bool = True,
                normalize: bool = True) -> torch.Tensor:
    """Grad-CAM++ (see the module docstring); arguments and shapes as :func:`grad_cam`."""
    return GradCAMPlusPlus()(model, image, target, layer, upsample=upsample, normalize=normalize)


def guided_grad_cam(model: nn.Module, image, target: TargetLike = None, layer=None, *,
                    reduce: str = "max") -> torch.Tensor:
    """Guided Grad-CAM: guided backprop ``(N, 3, H, W)`` times the upsampled Grad-CAM map, reduced like saliency.

    Returns ``(N, H, W)`` (``reduce="max"``/``"mean"`` of ``|.|`` over channels), or ``(N, 3, H, W)`` with
    ``reduce="none"``. The class is fixed once (``None``: top-1) so both parts explain the same class.
    """
    reduce_gradient(torch.zeros(1, 3, 1, 1), reduce)
    x = as_batch(model, image)
    with torch.no_grad():
        classes = as_class_target(model, target, model(x)).indices(x.shape[0])
    heat = grad_cam(model, x, classes.tolist(), layer)
    guided = GuidedBackprop(model)(x, classes.tolist(), reduce="none")
    return reduce_gradient(guided * heat[:, None], reduce)



def score_cam(model: nn.Module, image, target: TargetLike = None, layer=None, *, upsample: bool = True,
              normalize: bool = True, batch_size: int | None = None) -> torch.Tensor:
    """Score-CAM ``(N, H, W)`` in ``[0, 1]``: one forward pass per channel of ``layer``, ``batch_size`` at a time
    (default: 32 on an accelerator, 1 on the CPU).

    Arguments as :func:`grad_cam`; see :class:`ScoreCAM` for the weights.
    """
    return ScoreCAM(batch_size)(model, image, target, layer, upsample=upsample, normalize=normalize)


def layer_cam(model: nn.Module, image, target: TargetLike = None, layer=None, *, upsample: bool = True,
              normalize: bool = True) -> torch.Tensor:
    """LayerCAM ``ReLU(sum_k ReLU(g_k) * A_k)``, ``(N, H, W)`` in ``[0, 1]``; arguments as :func:`grad_cam`."""
    return LayerCAM()(model, image, target, layer, upsample=upsample, normalize=normalize)


def hires_cam(model: nn.Module, image, target: TargetLike = None, layer=None, *, upsample: bool = True,
              normalize: bool = True) -> torch.Tensor:
    """HiResCAM ``ReLU(sum_k g_k * A_k)``, ``(N, H, W)`` in ``[0, 1]``; arguments as :func:`grad_cam`."""
    return HiResCAM()(model, image, target, layer, upsample=upsample, normalize=normalize)


def xgrad_cam(model: nn.Module, image, target: TargetLike = None, layer=None, *, upsample: bool = True,
              normalize: bool = True) -> torch.Tensor:
    """XGrad-CAM, ``(N, H, W)`` in ``[0, 1]``; arguments as :func:`grad_cam`."""
    return XGradCAM()(model, image, target, layer, upsample=upsample, normalize=normalize)


def eigen_cam(model: nn.Module, image, target: TargetLike = None, layer=None, *, upsample: bool = True,
              normalize: bool = True) -> torch.Tensor:
    """EigenCAM, ``(N, H, W)`` in ``[0, 1]``: class-agnostic (``target`` is only resolved, never used)."""
    return EigenCAM()(model, image, target, layer, upsample=upsample, normalize=normalize)
