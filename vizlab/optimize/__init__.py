"""Optimizing the input: class visualization, DeepDream, feature inversion and fooling images.

Composable pieces (after lucid/lucent's design, written anew):

* objectives (:mod:`.objectives`): ``class_logit``, ``channel``, ``neuron``, ``layer_activation``,
  ``feature_match``, ``guided``; they add and scale like numbers;
* parameterizations (:mod:`.params`): ``pixels``, the decorrelated ``fourier``, ``maco`` and a generator prior
  (``generator``: a code drawn by AdaIN's frozen decoder); each is ``(parameters, image_function)``;
* transforms (:mod:`.transforms`): ``jitter``, ``pad``, ``scale``, ``rotate``, ``compose``;
* regularizers (:mod:`.regularizers`): ``L2``, ``TV``, ``Blur`` (every k steps), ``Clamp``; one weight each;
* the render loop :func:`render` (progress bar, snapshots, Stop, seeded).

And the lecture's techniques built from them: :func:`class_visualization`, :func:`deepdream`,
:func:`invert`, :func:`fooling_image`; inside the network, :func:`unit_visualization` (channels and neurons, several
diverse images per unit) shown beside the unit's natural patches by :func:`show_units`.
"""
from .classviz import (ASSIGNMENT, COPIES, CS231N, FOURIER, MACO, OBJECT, OBJECT_ENSEMBLE, OBJECT_ENSEMBLE3,
                       OBJECT_ENSEMBLE3_DETAIL, OBJECT_ENSEMBLE3_SHRINK, OBJECT_ENSEMBLE3_SHRINK_DETAIL, PANEL,
                       PIXELS_ROBUST, PRIOR, ClassVizSettings, Ensemble, class_probability, class_visualization, default_mode,
                       degraded_copy, ensemble_member, ghost_network, rescaled, judge_panel, model_units, preset,
                       regularizer_ladder, verdict, view_probability)
from .deepdream import ANIMAL_CLASSES, HEAD_DREAM, VGG_DREAM, DreamResult, class_mass, deepdream
from .fooling import FoolingResult, fooling_image
from .inversion import features, invert
from .objectives import (Context, Objective, channel, class_log_probability, class_logit, diversity, feature_match,
                         guided, layer_activation, neuron)
from .params import (Parameterization, centre_window, fourier, frequency_energy, generator, maco, natural_spectrum,
                     photo_code_statistics, pixels, spectrum_distance, upsampled, windowed)
from .plots import show_fooling, show_inversions, show_result, show_snapshots, show_units
from .regularizers import L2, TV, Blur, ChromaBlur, Clamp, ClipContribution, ClipWeak, LumaBlur, Regularizer, gaussian_blur, total_variation
from .render import RenderResult, cosine_decay, render
from .units import DIVERSITY, UNIT, gram_similarity, unit_values, unit_visualization
from .transforms import (Backdrop, Compose, Crop, Jitter, Pad, Rotate, Scale, Transform, compose, jitter, pad, rotate, roll,
                         scale, shrinking, Shrinking, strong, ZoomOut)

__all__ = [
    "ASSIGNMENT", "CS231N", "FOURIER", "MACO", "OBJECT", "OBJECT_ENSEMBLE", "OBJECT_ENSEMBLE3", "OBJECT_ENSEMBLE3_DETAIL", "OBJECT_ENSEMBLE3_SHRINK", "OBJECT_ENSEMBLE3_SHRINK_DETAIL", "PIXELS_ROBUST", "PRIOR", "ClassVizSettings", "class_probability", "class_visualization", "default_mode", "model_units",
    "preset", "regularizer_ladder", "verdict", "view_probability", "ghost_network",
    "ANIMAL_CLASSES", "HEAD_DREAM", "VGG_DREAM", "DreamResult", "class_mass", "deepdream", "FoolingResult", "fooling_image", "features", "invert",
    "Context", "Objective", "channel", "diversity", "class_log_probability", "class_logit", "feature_match", "guided",
    "layer_activation", "neuron", "Parameterization", "centre_window", "windowed", "fourier", "frequency_energy", "maco", "natural_spectrum", "pixels", "spectrum_distance", "upsampled",
    "generator", "photo_code_statistics",
    "show_fooling", "show_inversions", "show_result", "show_snapshots", "show_units",
    "DIVERSITY", "UNIT", "gram_similarity", "unit_values", "unit_visualization",
    "L2", "TV", "Blur", "ChromaBlur", "Clamp", "ClipContribution", "ClipWeak", "LumaBlur", "Regularizer", "gaussian_blur", "total_variation", "RenderResult", "cosine_decay", "render",
    "Backdrop", "Compose", "Crop", "Jitter", "Pad", "Rotate", "Scale", "Transform", "compose", "jitter", "pad", "rotate", "roll", "scale", "shrinking", "Shrinking", "strong", "ZoomOut",
    "Ensemble", "ensemble_member", "COPIES", "PANEL", "degraded_copy", "judge_panel", "rescaled",
]
