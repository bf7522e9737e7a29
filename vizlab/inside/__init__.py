"""Inside the network (part 1 of the lecture).

One image at a time: first-layer filters, feature maps and sparsity. At scale: image sets, cached features,
receptive fields, maximally activating patches, nearest neighbours and embeddings.
"""
from .activations import activated_layers, channel_ranking, feature_maps, sparsity
from .datasets import (DatasetUnavailableError, ImageSet, cifar10, from_arrays, image_folder, imagenette, patch_pool,
                       photo_crops)
from .embedding import (embedding_figure, format_scores, grouping_scores, knn_accuracy, knn_votes, pca,
                        scatter_thumbnails, silhouette, telling_queries, tsne)
from .features import cache_dir, clear_cache, extract_features, penultimate_layer, pixel_features
from .filters import (colour_blobs, colour_fraction, extract_patches, first_layer_filters, learn_patch_filters,
                      orientedness, smoothness)
from .neighbours import nearest_neighbours, neighbours_figure
from .patches import (Patch, channel_coherence, full_field_mask, label_count, max_activating_patches, patch_figure,
                      patch_grid, patches_for, selective_channels, strongest_channels, top_units)
from .regions import (FACE_BOXES, box_channels, box_contrast, box_mask, box_pixels, sparsity_of, text_composite,
                      typical_channels)
from .receptive_field import ReceptiveField, receptive_field, receptive_fields
from .bigfilters import BigFilterNet, load_bigfilters
from .shapes import (RECIPES, SHAPES, ShapesCNN, TrainHistory, colour_jitter, make_shapes, shapes_cnn, train_classifier,
                     train_shapes_cnn)
