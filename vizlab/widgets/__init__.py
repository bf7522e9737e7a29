"""Explorers: one ipywidgets front end per technique, thin over the functions in vizlab."""
from .base import Explorer, figure_to_png

__all__ = ["Explorer", "figure_to_png"]
