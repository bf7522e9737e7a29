"""Style: neural style transfer (Gatys et al.), texture synthesis and fast feed-forward style transfer.

* :mod:`~vizlab.style.losses` - content, Gram, style and total-variation losses (explicit Gram normalisation);
* :mod:`~vizlab.style.lossnet` - loss networks and their recipes (EfficientNet-Lite0 offline, VGG);
* :mod:`~vizlab.style.artwork` - procedurally generated style images, textures, any image;
* :mod:`~vizlab.style.gatys` - optimisation-based transfer and texture synthesis;
* :mod:`~vizlab.style.texture` - texture synthesis on VGG-19 that aims to pass for a photo crop;
* :mod:`~vizlab.style.transformer` - Johnson et al.'s TransformerNet, its training and files;
* :mod:`~vizlab.style.cli` - ``vizlab style-train`` and ``vizlab stylize``.
"""
from .artwork import ARTWORKS, artwork, save_artwork, style_batch, style_image, style_names
from .gatys import (StyleResult, color_shift, gram_distance, print_progress, style_distance, style_grams,
                    style_transfer, synthesize_texture)
from .lossnet import GATYS_VGG, RECIPES, LossNetwork, Recipe, loss_network
from .losses import (content_loss, darkening_loss, gram_matrix, palette_loss, saturation_loss, style_loss,
                     style_palette, tv_loss)
from .texture import TextureNet, synthesize_texture_vgg
from .transformer import (TransformerNet, instance_norm, load_transformer, network_file, network_names,
                          save_transformer, stylize, train_transformer)

__all__ = ["ARTWORKS", "GATYS_VGG", "RECIPES", "artwork", "color_shift", "content_loss", "darkening_loss",
           "gram_distance", "gram_matrix", "instance_norm", "load_transformer", "loss_network", "LossNetwork", "network_file",
           "network_names",
           "palette_loss", "print_progress", "Recipe", "saturation_loss", "save_artwork", "save_transformer",
           "style_batch", "style_distance", "style_grams", "style_image", "style_loss", "style_names", "style_palette",
           "style_transfer", "StyleResult", "stylize", "synthesize_texture", "synthesize_texture_vgg", "TextureNet",
           "train_transformer", "TransformerNet", "tv_loss"]
