"""inside."""

# -- inside the network at scale (issue 4): image sets, features, receptive fields, patches, embeddings --
from .datasets import (DatasetUnavailableError, ImageSet, cifar10, from_arrays, image_folder, imagenette,  # noqa: E402
                       photo_crops)
from .embedding import (embedding_figure, format_scores, grouping_scores, knn_accuracy, pca,  # noqa: E402
                        scatter_thumbnails, silhouette, tsne)
from .features import cache_dir, clear_cache, extract_features, penultimate_layer, pixel_features  # noqa: E402
from .neighbours import nearest_neighbours, neighbours_figure  # noqa: E402
from .patches import (Patch, full_field_mask, max_activating_patches, patch_figure, patch_grid,  # noqa: E402
                      patches_for, selective_channels, strongest_channels, top_units)
from .receptive_field import ReceptiveField, receptive_field, receptive_fields  # noqa: E402
from .shapes import (SHAPES, ShapesCNN, TrainHistory, make_shapes, shapes_cnn, train_classifier,  # noqa: E402
                     train_shapes_cnn)
