"""Boxes and channels that prefer them, typical channels, suppression of overlapping patches, coherence,
the patch pool and the distilled 7x7-filter network."""
import numpy as np
import pytest
import torch

from vizlab.inside import (ImageSet, box_channels, box_contrast, box_mask, box_pixels, channel_coherence,
                           receptive_field, sparsity_of, text_composite, top_units, typical_channels)
from vizlab.inside.bigfilters import CHECKPOINT, augmented_crops, bigfilter_net, load_bigfilters, procedural_texture


def test_box_mask_weights_cells_by_covered_area():
    m = box_mask((0.25, 0.75, 0.0, 0.5), (4, 4))
    assert torch.allclose(m, torch.tensor([[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.float))
    half = box_mask((0.0, 0.5, 0.0, 0.5), (3, 3))          # the box ends in the middle of the second cell
    assert torch.allclose(half[1, 1], torch.tensor(0.25)) and torch.isclose(half.sum(), torch.tensor(9 / 4))
    assert box_pixels((0.5, 1.0, 0.0, 1.0), 224) == (112, 224, 0, 224)


def test_box_contrast_measures_inside_over_outside():
    maps = torch.zeros(3, 8, 8)
    maps[0, :4] = 3.0             # channel 0: only in the top half
    maps[1] = 1.0                 # channel 1: everywhere alike
    maps[2, :4], maps[2, 4:] = 1.0, 2.0   # channel 2: prefers the bottom
    r = box_contrast(maps, (0.0, 0.5, 0.0, 1.0))
    assert r[0] > 1e5 and torch.isclose(r[1], torch.tensor(1.0), atol=1e-4) and torch.isclose(r[2], torch.tensor(0.5))  # exact
    with pytest.raises(ValueError):
        box_contrast(maps, (0.0, 1.0, 0.0, 1.0))           # nothing outside
    with pytest.raises(TypeError):
        box_contrast(maps, "top")
    with pytest.raises(ValueError):
        box_contrast(torch.zeros(8, 8), (0.0, 0.5, 0.0, 1.0))


class _BoxNet(torch.nn.Module):
    """Channel 0 copies the red channel, channel 1 the green one (both downsampled 2x)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 2, stride=2, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0] = 0.25
            self.conv.weight[1, 1] = 0.25

    def forward(self, x):
        return self.conv(x)


def test_box_channels_finds_the_channel_that_fires_in_the_box_on_every_image():
    images = torch.zeros(2, 3, 16, 16)
    images[0, 0, :8, :8] = 1.0        # red in the top-left box of image 0
    images[1, 0, 8:, 8:] = 1.0        # red in the bottom-right box of image 1
    images[:, 1] = 0.5                # green everywhere
    boxes = [(0.0, 0.5, 0.0, 0.5), (0.5, 1.0, 0.5, 1.0)]
    best = box_channels(_BoxNet(), images, boxes, "conv", n=2)
    assert best[0][0] == 0 and best[0][1] > 100 and best[1] == (1, pytest.approx(1.0, abs=1e-4))
    # With the boxes swapped, red is *outside* them: no channel prefers them.
    assert box_channels(_BoxNet(), images, boxes[::-1], "conv", n=1)[0][1] <= 1.0 + 1e-4
    with pytest.raises(ValueError):
        box_channels(_BoxNet(), images, boxes[:1], "conv")


def test_text_composite_puts_text_in_the_bottom_box():
    image, box = text_composite(64)
    assert image.shape == (64, 64, 3) and image.dtype == np.float32 and box == (0.5, 1.0, 0.0, 1.0)
    top, bottom = image[:32], image[32:]
    assert np.allclose(bottom[..., 0], bottom[..., 1])       # scikit-image's page is grayscale
    assert not np.allclose(top[..., 0], top[..., 1])          # the photo is not
    with pytest.raises(ValueError):
        text_composite(64, text="poem")


def test_typical_channels_are_as_sparse_as_the_layer():
    maps = torch.zeros(5, 4, 4)
    for c, zeros in enumerate([0, 4, 8, 12, 16]):
        maps[c].view(-1)[zeros:] = 1.0 + c                  # channel c has `zeros` zeros of 16
    assert typical_channels(maps, 1) == [2]                 # the median
    assert typical_channels(maps, 5) == [4, 3, 2, 1, 0]     # sparsest to densest
    assert sparsity_of(maps) == pytest.approx(40 / 80) and sparsity_of(maps, [4]) == 1.0
    # A layer of many dense channels and a few silent ones: the sample keeps the layer's share of zeros,
    # where the most active channels would show none.
    layer = torch.rand(100, 6, 6, generator=torch.Generator().manual_seed(0)) + 0.1
    layer[:30] = 0.0
    chosen = typical_channels(layer, 10)
    assert abs(sparsity_of(layer, chosen) - sparsity_of(layer)) < 0.05  # exact: seeded synthetic layer
    most_active = layer.flatten(1).mean(1).argsort(descending=True)[:10].tolist()
    assert sparsity_of(layer, most_active) == 0.0
    with pytest.raises(ValueError):
        typical_channels(layer, 0)


def _acts_with_one_hot_spot():
    acts = torch.zeros(2, 3, 6, 6)
    acts[0, 0] = torch.arange(36, dtype=torch.float).view(6, 6) / 36   # rises towards the bottom right
    acts[1, 0, 0, 0] = 0.5
    return acts


def test_top_units_suppress_overlapping_windows():
    acts = _acts_with_one_hot_spot()
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1))
    field = receptive_field(net, "0", 6)                     # 3x3 windows, stride 1
    plain = top_units(acts, 0, 3, one_per_image=False)
    assert [u[:3] for u in plain] == [(0, 5, 5), (0, 5, 4), (0, 5, 3)]          # neighbours: the same region
    kept = top_units(acts, 0, 3, field=field, max_overlap=0.0)
    boxes = [field.box(i, j, clip=True) for _, i, j, _ in kept]
    assert kept[0][:3] == (0, 5, 5) and len(kept) == 3
    for a in range(3):
        for b in range(a + 1, 3):
            if kept[a][0] == kept[b][0]:
                ya, yb = boxes[a], boxes[b]
                assert min(ya[1], yb[1]) <= max(ya[0], yb[0]) or min(ya[3], yb[3]) <= max(ya[2], yb[2])
    with pytest.raises(ValueError):
        top_units(acts, 0, 3, max_overlap=0.0)               # needs the field
    with pytest.raises(ValueError):
        top_units(acts, 0, 3, field=field, max_overlap=1.0)


def test_channel_coherence_is_high_for_alike_top_patches_and_near_zero_for_random_ones():
    g = torch.Generator().manual_seed(0)
    acts = torch.rand(40, 6, 4, 4, generator=g)
    # Channel 0's strongest units (one per image 0..7) share one extra pattern in channels 1-3.
    for n in range(8):
        acts[n, 0, 1, 1] = 5.0
        acts[n, 1:4, 1, 1] = torch.tensor([4.0, 0.0, 4.0])
    coh = channel_coherence(acts, k=8)
    assert coh[0] > 0.1 and coh[0] == coh.max()  # exact: planted pattern
    assert coh[4:].abs().max() < 0.1  # exact: planted pattern


def test_patch_pool_holds_photos_crops_and_shapes():
    from vizlab.inside import patch_pool

    pool = patch_pool(32, crops_per_photo=1, shapes=3)
    assert isinstance(pool, ImageSet) and pool.size == (32, 32)
    assert pool.class_names[-1] == "shapes" and int((pool.labels == len(pool.class_names) - 1).sum()) == 3
    assert len(pool) == 2 * (len(pool.class_names) - 1) + 3


def test_distillation_pieces_and_the_shipped_network():
    rng = np.random.default_rng(0)
    tex = procedural_texture(32, rng)
    assert tex.shape == (32, 32, 3) and 0 <= tex.min() and tex.max() <= 1
    crops = augmented_crops(3, 32, seed=0)
    assert crops.shape == (3, 3, 32, 32) and torch.equal(crops, augmented_crops(3, 32, seed=0))
    net = bigfilter_net(0, width=8, first_layer_scale=0.1)
    assert net(crops).shape == (3, 40, 4, 4)
    assert net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)
    if CHECKPOINT.is_file():
        shipped = load_bigfilters()
        assert shipped.conv1.weight.shape[1:] == (3, 7, 7) and not shipped.training
        assert CHECKPOINT.stat().st_size <= 10 * 2 ** 20
    with pytest.raises(FileNotFoundError):
        load_bigfilters("/nonexistent/bigfilters.pt")


def test_tsne_thumbnails_are_at_least_40_pixels_on_screen():
    from matplotlib.offsetbox import AnnotationBbox

    from vizlab.inside import embedding_figure
    from vizlab.toy import random_images

    data = ImageSet(random_images(20, 32), torch.arange(20) % 2, ["a", "b"])
    coords = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    fig = embedding_figure({"pixels": coords}, data, thumbnails=4)
    fig.set_dpi(72)                      # the smallest common screen resolution
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [a for a in fig.axes[0].artists if isinstance(a, AnnotationBbox)]
    assert len(boxes) == 4
    for box in boxes:
        extent = box.offsetbox.get_window_extent(renderer)
        assert extent.width >= 40 and extent.height >= 40, (extent.width, extent.height)


def test_one_patch_per_source_photo():
    acts = torch.zeros(3, 1, 4, 4)
    acts[0, 0, 0, 0], acts[1, 0, 3, 3], acts[2, 0, 1, 1] = 3.0, 2.0, 1.0
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 3, padding=1))
    field = receptive_field(net, "0", 4)
    free = top_units(acts, 0, 3, field=field, max_overlap=0.0)
    assert [u[0] for u in free[:3]] == [0, 1, 2]
    # Images 0 and 1 are crops of one photo: image 1 may not add a patch once image 0 gave one.
    grouped = top_units(acts, 0, 3, field=field, max_overlap=0.0, sources=torch.tensor([7, 7, 8]))
    assert grouped[0][:3] == (0, 0, 0) and grouped[1][:3] == (2, 1, 1)
    assert 1 not in [u[0] for u in grouped]
