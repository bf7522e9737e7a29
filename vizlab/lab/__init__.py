"""A lab where the right explanation is known: a planted shortcut on procedural shapes.

- :mod:`.data`: :func:`make_shortcut` (shapes with a coloured mark that names the class, evidence masks for the
  shape and the mark; test sets with the mark removed or swapped), :class:`Cue`.
- :mod:`.models`: :func:`lab_model` (a shortcut model, a clean control, and one trained right for the right
  reasons), :func:`cue_reliance`.
- :mod:`.metrics`: attribution against the masks (:func:`mask_share`, :func:`pointing_game`,
  :func:`ground_truth_table`) beside deletion/insertion/ROAD.
- :mod:`.concepts`: TCAV with procedural concept sets and a significance test; a small network dissection.
"""
from .data import LAB_SHAPES, MODES, PLACES, Cue, class_shapes, make_shortcut, paired_sets
from .metrics import (BASELINE_METHODS, CAM_LAYER, LAB_METHODS, flips, format_rows, ground_truth_table, lab_attribute,
                      mask_share, metric_agreement, pointing_game, predictions, told_truth)
from .models import KINDS, LabRecipe, as_sequential, cue_reliance, lab_model, train_lab_model

__all__ = ["LAB_SHAPES", "MODES", "PLACES", "Cue", "class_shapes", "make_shortcut", "paired_sets",
           "BASELINE_METHODS", "CAM_LAYER", "LAB_METHODS", "flips", "format_rows", "ground_truth_table",
           "lab_attribute", "mask_share", "metric_agreement", "pointing_game", "predictions", "told_truth",
           "KINDS", "LabRecipe", "as_sequential", "cue_reliance", "lab_model", "train_lab_model"]
