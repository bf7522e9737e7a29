"""Why this decision: occlusion, the saliency family and the CAM family.

Every method takes ``(model, image, target, ...)``: ``image`` is a ``(N, 3, H, W)`` tensor in ``[0, 1]`` (or,
for a :class:`~vizlab.models.VizModel`, a sample name, path, URL or array), ``target`` a class index or name
(``model.class_index``), one per image, or ``None`` for the top-1 class. Maps come back as tensors shaped
like the input's spatial dims, ``(N, H, W)``.

Example:
    >>> from vizlab.attribution import grad_cam, occlusion
    >>> heat = grad_cam(model, "cat_and_espresso", "Egyptian cat")          # doctest: +SKIP
    >>> res = occlusion(model, "cat_and_espresso", "espresso", patch=32)     # doctest: +SKIP
    >>> res.for_class("Egyptian cat").map                                   # doctest: +SKIP
"""
from .cam import (CAM, CamMethod, EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM, XGradCAM, cam,
                  eigen_cam, grad_cam, grad_cam_pp, guided_grad_cam, hires_cam, layer_cam, layer_forward, score_cam,
                  xgrad_cam)
from .occlusion import BASELINES, OcclusionResult, make_baseline, occlusion, print_progress
from .saliency import (GradientMethod, GuidedBackprop, GuidedReLU, IntegratedGradients, SmoothGrad, guided_backprop,
                       guided_relus, integrated_gradients, reduce_gradient, saliency, smoothgrad)
from .metrics import grid_strength, heat_fraction, phase_means, roughness
from .plot import box_filter, clip_map, show_baselines, show_box, show_maps, show_occlusion
from .targets import ClassTarget, as_class_target, as_target

__all__ = ["occlusion", "print_progress", "OcclusionResult", "make_baseline", "BASELINES",
           "saliency", "smoothgrad", "guided_backprop", "guided_relus", "reduce_gradient",
           "GradientMethod", "SmoothGrad", "GuidedBackprop", "GuidedReLU",
           "cam", "grad_cam", "grad_cam_pp", "guided_grad_cam", "layer_forward",
           "CamMethod", "CAM", "GradCAM", "GradCAMPlusPlus",
           "score_cam", "layer_cam", "hires_cam", "xgrad_cam", "eigen_cam", "integrated_gradients",
           "ScoreCAM", "LayerCAM", "HiResCAM", "XGradCAM", "EigenCAM", "IntegratedGradients",
           "ClassTarget", "as_class_target", "as_target", "show_occlusion", "show_maps", "show_box",
           "box_filter", "clip_map", "show_baselines",
           "heat_fraction", "phase_means", "grid_strength", "roughness"]
