"""The references the exercises are judged against (vizlab's own functions), and the solutions shown to students.

Every reference calls the library: :mod:`vizlab.attribution` (saliency, occlusion, Grad-CAM),
:mod:`vizlab.inside` (receptive fields), :mod:`vizlab.optimize` (one ``render`` step, fooling images) and
:mod:`vizlab.style` (Gram matrix, losses, instance norm), with the options that give the exercise's conventions
(raw maps at the layer's resolution, logits as scores). The one exception is CAM, a single ``einsum`` here:
the exercise takes features and classifier weights, while ``vizlab.attribution.cam`` takes a model and applies a
ReLU and scaling.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


FOOLING_MAX_CHANGE = 0.2  # mean |x_fool - x| per image; a random image is ~0.33 away


def normalize01(maps: torch.Tensor) -> torch.Tensor:
    """Each map scaled to ``[0, 1]`` (a constant map becomes 0): only used to recognise a usual mistake."""
    flat = maps.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).view_as(maps)


def saliency_map(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``max_c |d s_target / d x|``, ``(N, H, W)``: :func:`vizlab.attribution.saliency`."""
    from ..attribution import saliency

    return saliency(model, x, target.tolist(), reduce="max")


def occlusion_map(model: nn.Module, x: torch.Tensor, target: torch.Tensor, patch: int = 4, stride: int = 2,
                  fill: float = 0.5, score: str = "prob") -> torch.Tensor:
    """Drop of the target probability per patch position: :func:`vizlab.attribution.occlusion`'s ``grid``."""
    from ..attribution import occlusion

    return occlusion(model, x, target.tolist(), patch=patch, stride=stride, baseline=float(fill), score=score).grid


def class_activation_map(features: torch.Tensor, weight: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``sum_c weight[target, c] * features[:, c]``: ``(N, h, w)``."""
    return torch.einsum("nc,nchw->nhw", weight[target], features)


def grad_cam(model: nn.Module, x: torch.Tensor, target: torch.Tensor, layer: str = "relu2") -> torch.Tensor:
    """``relu(sum_c mean_ij(dS/dA_c) A_c)`` at ``layer``, unscaled, at the layer's resolution:
    :func:`vizlab.attribution.grad_cam` with ``upsample=False, normalize=False``."""
    from ..attribution import grad_cam as lib_grad_cam

    return lib_grad_cam(model, x, target.tolist(), layer, upsample=False, normalize=False)


def kernel_stride_dilation(module: nn.Module) -> tuple[int, int, int]:
    """``(k, s, d)`` of a conv or pooling layer (square), ``(0, 1, 1)`` for anything else."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        def first(v):
            return int(v[0] if isinstance(v, (tuple, list)) else v)
        stride = module.stride if module.stride is not None else module.kernel_size
        return first(module.kernel_size), first(stride), first(getattr(module, "dilation", 1))
    return 0, 1, 1


def receptive_field(layers) -> tuple[int, int]:
    """``(size, stride)`` of one unit after ``layers``, from :func:`vizlab.inside.receptive_fields`.

    The library traces a forward pass of ``nn.Sequential(*layers)`` (on a 256x256 input, big enough for the
    exercise's stacks) and composes ``size += (k_eff - 1) * stride; stride *= s`` layer by layer.
    """
    from ..inside.receptive_field import receptive_fields

    field = receptive_fields(nn.Sequential(*layers), 256)[str(len(layers) - 1)]
    return field.size[0], field.stride[0]


def class_visualization_step(model: nn.Module, img: torch.Tensor, target: torch.Tensor, lr: float = 1.0,
                             l2_reg: float = 0.01) -> torch.Tensor:
    """One step of :func:`vizlab.optimize.render` per image: objective ``class_logit(target)``, penalty
    ``L2(l2_reg)``, optimizer ``"normalized"`` (``img + lr * g / ||g||``), on the image's own pixels."""
    from ..optimize import render
    from ..optimize.objectives import class_logit
    from ..optimize.params import pixels
    from ..optimize.regularizers import L2

    out = []
    for i in range(len(img)):
        result = render(model, class_logit(int(target[i])), pixels(init=img[i:i + 1].detach()), steps=1, lr=lr,
                        optimizer="normalized", regularizers=[L2(l2_reg)] if l2_reg else [], seed=None,
                        progress=False)
        out.append(result.image.detach())
    return torch.cat(out)


def fooling_images(model: nn.Module, x: torch.Tensor, target: torch.Tensor, max_steps: int = 100) -> torch.Tensor:
    """:func:`vizlab.optimize.fooling_image` for each image of a batch (cross-entropy objective, which also
    pushes the other classes down, as small untrained networks need). The exercise is judged by its properties
    (fooled, small change, in ``[0, 1]``), not by equality with this."""
    from ..optimize import fooling_image

    return torch.cat([fooling_image(model, x[i:i + 1], int(target[i]), max_steps=max_steps,
                                    score="log_probability", progress=False).fooled for i in range(len(x))])


def fooling_images_by_hint(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
                           max_steps: int = 100) -> torch.Tensor:
    """The algorithm the fooling exercise's hint describes: the instructor solution ``SOURCES["fooling_image"]`` (the
    whole batch takes signed-gradient steps of cross-entropy until every image is fooled, so an image fooled early
    keeps moving). Hidden cases are drawn only where this passes too, with a margin (see ``catalog._reachable``)."""
    namespace = {"torch": torch, "F": F}
    exec(SOURCES["fooling_image"], namespace)  # the solution text, defined as a student's cell would
    return namespace["fooling_image"](model, x, target, max_steps=max_steps)


def gram_matrix(features: torch.Tensor, normalize: str = "chw") -> torch.Tensor:
    """``F F^T / norm`` per sample: :func:`vizlab.style.losses.gram_matrix`."""
    from ..style.losses import gram_matrix as lib_gram_matrix

    return lib_gram_matrix(features, normalize=normalize)


def content_loss(current: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """``weight * sum((current - target)**2)``: :func:`vizlab.style.losses.content_loss`."""
    from ..style.losses import content_loss as lib_content_loss

    return lib_content_loss(current, target, weight=weight)


def style_loss(feats, target_grams, weights) -> torch.Tensor:
    """``sum_l w_l sum((G_l - A_l)**2)`` with C*H*W-normalised Grams: :func:`vizlab.style.losses.style_loss`."""
    from ..style.losses import style_loss as lib_style_loss

    return lib_style_loss(feats, target_grams, weights, normalize="chw")


def tv_loss(img: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Squared-difference total variation: :func:`vizlab.style.losses.tv_loss`."""
    from ..style.losses import tv_loss as lib_tv_loss

    return lib_tv_loss(img, weight=weight)


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``H, W``: :func:`vizlab.style.transformer.instance_norm`."""
    from ..style.transformer import instance_norm as lib_instance_norm

    return lib_instance_norm(x, eps=eps)


def deletion_auc(model: nn.Module, x: torch.Tensor, heat: torch.Tensor, target: torch.Tensor,
                 steps: int = 4) -> torch.Tensor:
    """Area under the deletion curve (black pixels, softmax probability): :func:`vizlab.evaluate.deletion`."""
    from ..evaluate import deletion

    return deletion(model, x, heat, target.tolist(), steps=steps, baseline=0.0, score="prob").auc


def cascade_step(model: nn.Module, layers: list[str], k: int, seed: int = 0) -> list[torch.Tensor]:
    """Re-initialise ``layers[k]`` with seed ``seed + k`` (:func:`vizlab.evaluate.randomize_`); the parameters."""
    from ..evaluate import randomize_

    randomize_([model.get_submodule(layers[k])], seed + k)
    return [p.detach().clone() for p in model.parameters()]


def find_cue(model: nn.Module, images: torch.Tensor, palette: torch.Tensor, size: int = 4):
    """The shortcut detective (the same code as the solution in :data:`SOURCES`): paint a mark of each palette
    colour at every place (step 2) on 4 of the images; the cue sits where some colour swings the mean prediction
    most; there, on all images, each class's colour is the one that raises that class most.
    Returns ``(row, col, colours)``."""
    ns: dict = {"torch": torch}
    exec(SOURCES["find_cue"], ns)
    return ns["find_cue"](model, images, palette, size)


def find_cue_by_hint(model: nn.Module, images: torch.Tensor, palette: torch.Tensor, size: int = 4):
    """The algorithm E6's hint describes, read literally (all the images for the scan, not 4 of them): at every
    place (step 2) paint a mark of each palette colour and take the largest change of the mean softmax (L1); the
    cue is where it is largest; there each class's colour is the one that raises its mean probability most.
    Hidden detective cases are drawn only where this finds the cue too (``catalog._detective_reachable``)."""
    model.eval()
    h, w = images.shape[-2:]
    best, place = -1.0, (0, 0)
    with torch.no_grad():
        base = model(images).softmax(1).mean(0)
        for r in range(0, h - size + 1, 2):
            for c in range(0, w - size + 1, 2):
                painted = images[None].repeat(len(palette), 1, 1, 1, 1)
                painted[:, :, :, r:r + size, c:c + size] = palette[:, None, :, None, None]
                probs = model(painted.flatten(0, 1)).softmax(1).view(len(palette), len(images), -1).mean(1)
                swing = (probs - base).abs().sum(1).max().item()
                if swing > best:
                    best, place, at_best = swing, (r, c), probs
    r, c = place
    return r + (size - 1) / 2, c + (size - 1) / 2, at_best.argmax(0)


# The solutions students see with ``solution()``; the instructor notebooks' solution cells are the same code,
# and tests check that each one passes its exercise (hidden cases included).
SOURCES: dict[str, str] = {
    "saliency_map": '''
def saliency_map(model, x, target):
    x = x.detach().clone().requires_grad_(True)
    scores = model(x).gather(1, target.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(scores, x)
    return grad.abs().amax(dim=1)
''',
    "occlusion_map": '''
def occlusion_map(model, x, target, patch=4, stride=2, fill=0.5):
    n, _, h, w = x.shape
    rows, cols = (h - patch) // stride + 1, (w - patch) // stride + 1
    with torch.no_grad():
        base = model(x).softmax(1).gather(1, target.view(-1, 1)).squeeze(1)
        result = torch.zeros(n, rows, cols)
        for i in range(rows):
            for j in range(cols):
                occluded = x.clone()
                occluded[:, :, i * stride:i * stride + patch, j * stride:j * stride + patch] = fill
                p = model(occluded).softmax(1).gather(1, target.view(-1, 1)).squeeze(1)
                result[:, i, j] = base - p
    return result
''',
    "class_activation_map": '''
def class_activation_map(features, weight, target):
    w = weight[target]                      # (N, C): the classifier row of each image's target
    return (w[:, :, None, None] * features).sum(dim=1)
''',
    "grad_cam": '''
def grad_cam(model, x, target, layer='relu2'):
    with vizlab.capture(model, layer, gradients=True) as cap:
        model(x).gather(1, target.view(-1, 1)).sum().backward()
    acts, grads = cap[layer], cap.gradients[layer]
    alpha = grads.mean(dim=(2, 3), keepdim=True)       # one weight per channel
    return (alpha * acts).sum(dim=1).relu().detach()
''',
    "receptive_field": '''
def receptive_field(layers):
    size, jump = 1, 1
    for m in layers:
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = m.kernel_size[0] if isinstance(m.kernel_size, tuple) else m.kernel_size
            s = m.stride[0] if isinstance(m.stride, tuple) else m.stride
            d = getattr(m, "dilation", 1)
            d = d[0] if isinstance(d, tuple) else d
            size += d * (k - 1) * jump
            jump *= s
    return size, jump
''',
    "class_visualization_step": '''
def class_visualization_step(model, img, target, lr=1.0, l2_reg=0.01):
    x = img.detach().clone().requires_grad_(True)
    objective = model(x).gather(1, target.view(-1, 1)).sum() - l2_reg * (x ** 2).sum()
    (g,) = torch.autograd.grad(objective, x)
    g = g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return (x + lr * g).detach()
''',
    "fooling_image": '''
def fooling_image(model, x, target, max_steps=100):
    x_fool = x.detach().clone()
    for _ in range(max_steps):
        x_fool.requires_grad_(True)
        logits = model(x_fool)
        if torch.equal(logits.argmax(1), target):
            break
        loss = F.cross_entropy(logits, target)   # raises the target logit, lowers the others
        (g,) = torch.autograd.grad(loss, x_fool)
        x_fool = (x_fool.detach() - 0.005 * g.sign()).clamp(0, 1)
    return x_fool.detach()
''',
    "gram_matrix": '''
def gram_matrix(features):
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)
''',
    "content_loss": '''
def content_loss(current, target, weight=1.0):
    return weight * ((current - target) ** 2).sum()
''',
    "style_loss": '''
def style_loss(feats, target_grams, weights):
    total = 0.0
    for f, a, w in zip(feats, target_grams, weights):
        total = total + w * ((gram_matrix(f) - a) ** 2).sum()
    return total
''',
    "tv_loss": '''
def tv_loss(img, weight=1.0):
    dv = img[:, :, 1:, :] - img[:, :, :-1, :]
    dh = img[:, :, :, 1:] - img[:, :, :, :-1]
    return weight * ((dv ** 2).sum() + (dh ** 2).sum())
''',
    "instance_norm": '''
def instance_norm(x, eps=1e-5):
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)
''',
    "deletion_auc": '''
def deletion_auc(model, x, heat, target, steps=4):
    n, _, h, w = x.shape
    pixels = h * w
    order = torch.argsort(-heat.flatten(1), dim=1, stable=True)       # hottest first, ties in raster order
    curves = torch.zeros(n, steps + 1)
    with torch.no_grad():
        for k in range(steps + 1):
            removed = order[:, : k * pixels // steps]
            mask = torch.zeros(n, pixels)
            mask.scatter_(1, removed, 1.0)
            xk = x * (1 - mask.view(n, 1, h, w))                      # removed pixels become black (0)
            probs = model(xk).softmax(1)
            curves[:, k] = probs.gather(1, target.view(-1, 1))[:, 0]
    return torch.trapezoid(curves, torch.linspace(0, 1, steps + 1), dim=1)
''',
    "cascade_step": '''
def cascade_step(model, layers, k, seed=0):
    torch.manual_seed(seed + k)
    for module in model.get_submodule(layers[k]).modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return [p.detach().clone() for p in model.parameters()]
''',
    "find_cue": '''
def find_cue(model, images, palette, size=4):
    model.eval()
    h, w = images.shape[-2:]
    probe = images[:4]                                      # a few images are enough to see the swing
    best = -1.0
    with torch.no_grad():
        base = model(probe).softmax(1).mean(0)              # what the model says without any mark
        for r in range(0, h - size + 1, 2):                 # every place, step 2
            for c in range(0, w - size + 1, 2):
                painted = probe[None].repeat(len(palette), 1, 1, 1, 1)
                painted[:, :, :, r:r + size, c:c + size] = palette[:, None, :, None, None]
                probs = model(painted.flatten(0, 1)).softmax(1).view(len(palette), len(probe), -1).mean(1)
                swing = (probs - base).abs().sum(1).max().item()   # the strongest colour's effect here
                if swing > best:
                    best, place = swing, (r, c)
        r, c = place
        painted = images[None].repeat(len(palette), 1, 1, 1, 1)     # at the cue's place, on all images:
        painted[:, :, :, r:r + size, c:c + size] = palette[:, None, :, None, None]
        probs = model(painted.flatten(0, 1)).softmax(1).view(len(palette), len(images), -1).mean(1)
    colours = probs.argmax(0)                               # per class, the colour that raises it most
    return r + (size - 1) / 2, c + (size - 1) / 2, colours
''',
}
SOURCES = {k: v.strip() + "\n" for k, v in SOURCES.items()}
