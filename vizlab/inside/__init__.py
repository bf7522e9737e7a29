"""Inside the network: first-layer filters, feature maps and sparsity (part 1 of the lecture)."""
from .activations import activated_layers, channel_ranking, feature_maps, sparsity
from .filters import colour_fraction, extract_patches, first_layer_filters, learn_patch_filters, orientedness

__all__ = ["activated_layers", "channel_ranking", "feature_maps", "sparsity", "colour_fraction",
           "extract_patches", "first_layer_filters", "learn_patch_filters", "orientedness"]
