"""Can we trust these pictures? Faithfulness metrics, sanity checks and baselines for attribution maps.

- Faithfulness (:mod:`.faithfulness`): :func:`deletion` / :func:`insertion` curves and their area,
  :func:`average_drop`, :func:`increase_in_confidence`, :func:`road` with :func:`noisy_linear_imputation`.
- Sanity checks (:mod:`.randomization`): :func:`randomization_test` (cascading or independent
  re-initialisation of the layers, with Spearman / SSIM / HOG similarity) and :func:`label_randomization`.
- Baselines (:mod:`.baselines`): :func:`edge_map` (Sobel) and :func:`random_map`, the floors to beat.
- Methods by name (:data:`METHODS`, :func:`attribute`) and figures (:mod:`.plot`).

Example:
    >>> from vizlab.evaluate import deletion, randomization_test           # doctest: +SKIP
    >>> deletion(model, x, grad_cam(model, x), steps=20).auc                 # doctest: +SKIP
"""
from .baselines import edge_map, random_map
from .faithfulness import (Curve, auc, average_drop, blur, deletion, increase_in_confidence, insertion,
                           noisy_linear_imputation, pixel_ranks, road)
from .methods import METHODS, as_method, attribute, canonical_name, method_name
from .plot import show_cascade, show_curves, show_label_randomization, show_similarity
from .randomization import (LabelRandomization, RandomizationResult, cascade_step, label_randomization,
                            preserved_weights, randomization_layers, randomization_test, randomize_)
from .similarity import MEASURES, hog_similarity, spearman, ssim
from .table import faithfulness_table, format_table

__all__ = ["edge_map", "random_map", "Curve", "auc", "average_drop", "blur", "deletion", "increase_in_confidence",
           "insertion", "noisy_linear_imputation", "pixel_ranks", "road", "METHODS", "as_method", "attribute", "canonical_name", "method_name",
           "show_cascade", "show_curves", "show_label_randomization", "show_similarity", "LabelRandomization", "RandomizationResult",
           "cascade_step", "label_randomization", "preserved_weights", "randomization_layers",
           "randomization_test", "randomize_", "MEASURES", "hog_similarity", "spearman", "ssim", "faithfulness_table",
           "format_table"]
