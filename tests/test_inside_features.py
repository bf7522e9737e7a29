"""Feature extraction and its disk cache; maximally activating patches; neighbours and grouping scores."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from conftest import hooks_left
from vizlab.inside.datasets import ImageSet
from vizlab.inside.embedding import (embedding_figure, grouping_scores, knn_accuracy, knn_votes, pca,
                                     scatter_thumbnails, silhouette, telling_queries, tsne)
from vizlab.inside.features import (cache_file, cache_key, clear_cache, extract_features, penultimate_layer,
                                    pixel_features)
from vizlab.inside.neighbours import nearest_neighbours, neighbours_figure
from vizlab.inside.patches import (Patch, full_field_mask, label_count, max_activating_patches, patch_at, patch_figure,
                                   patch_grid, selective_channels, top_units)
from vizlab.inside.receptive_field import receptive_field
from vizlab.toy import random_images, tiny_cnn


def _set(n=10, size=16, seed=0) -> ImageSet:
    return ImageSet(random_images(n, size, seed), torch.arange(n) % 2, ["even", "odd"], "random")


class _Counter:
    def __init__(self, model):
        self.calls = 0
        self.handle = model.register_forward_pre_hook(lambda m, i: setattr(self, "calls", self.calls + 1))


def test_features_match_a_direct_forward_pass_pooled_and_spatial(tmp_path):
    model, data = tiny_cnn(), _set()
    with torch.no_grad():
        direct = model.relu2(model.conv2(model.relu1(model.conv1(data.batch()))))
    spatial = extract_features(model, data, "relu2", pool=None, batch_size=3, cache_folder=tmp_path, progress=False)
    assert spatial.shape == (10, 16, 8, 8) and torch.allclose(spatial, direct, atol=1e-6)
    pooled = extract_features(model, data, "relu2", pool="avg", batch_size=4, cache_folder=tmp_path, progress=False)
    assert torch.allclose(pooled, direct.mean((2, 3)), atol=1e-6)
    mx = extract_features(model, data, "relu2", pool="max", cache_folder=tmp_path, progress=False)
    assert torch.allclose(mx, direct.amax((2, 3)), atol=1e-6)
    assert penultimate_layer(model) == "pool"
    flat = extract_features(model, data, cache_folder=tmp_path, progress=False)       # "penultimate"
    assert flat.shape == (10, 16) and torch.allclose(flat, pooled.reshape(10, 16), atol=1e-6)
    assert hooks_left(model) == 0


def test_cache_hit_miss_and_invalidation(tmp_path):
    model, data = tiny_cnn(), _set()
    count = _Counter(model)
    kw = dict(cache_folder=tmp_path, progress=False, batch_size=5)
    first = extract_features(model, data, "relu2", **kw)
    assert count.calls == 2 and len(list(tmp_path.glob("features-*.pt"))) == 1
    again = extract_features(model, data, "relu2", **kw)                        # hit: no forward pass
    assert count.calls == 2 and torch.equal(first, again)
    extract_features(model, data, "relu1", **kw)                                 # miss: another layer
    assert count.calls == 4
    extract_features(model, data, "relu2", pool="max", **kw)                     # miss: another pooling
    assert count.calls == 6
    extract_features(model, data, "relu2", size=24, **kw)                        # miss: other preprocessing
    assert count.calls == 8
    changed = data.subset(list(range(10)))
    changed.images[3, 0, 0, 0] ^= 1                                              # one pixel value differs
    extract_features(model, changed, "relu2", **kw)
    assert count.calls == 10
    with torch.no_grad():
        model.conv1.weight[0, 0, 0, 0] += 1e-3                                   # one weight differs
    retrained = extract_features(model, data, "relu2", **kw)
    assert count.calls == 12 and not torch.equal(retrained, first)
    extract_features(model, data, "relu2", **kw)
    assert count.calls == 12                                                     # ... and that is cached now
    # The key names what it depends on; a corrupt file is recomputed, not trusted.
    key = cache_key(model, data, "relu2", "avg", None)
    assert set(key) >= {"model", "weights", "layer", "pool", "images", "preprocessing"}
    cache_file(key, tmp_path).write_bytes(b"garbage")
    extract_features(model, data, "relu2", **kw)
    assert count.calls == 14
    assert clear_cache(tmp_path) == 6 and not list(tmp_path.glob("features-*.pt"))
    count.handle.remove()


def test_cache_folder_from_environment_and_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZLAB_CACHE", str(tmp_path / "env"))
    model, data = tiny_cnn(), _set(4)
    extract_features(model, data, "relu1", progress=False)
    assert len(list((tmp_path / "env").glob("features-*.pt"))) == 1
    extract_features(model, data, "relu2", progress=False, cache=False)
    assert len(list((tmp_path / "env").glob("features-*.pt"))) == 1


def test_stop_returns_the_partial_result_and_caches_nothing(tmp_path):
    model, data = tiny_cnn(), _set(10)
    part = extract_features(model, data, "relu2", batch_size=4, cache_folder=tmp_path, progress=False,
                            callback=lambda done, total: done >= 4)
    assert part.shape[0] == 4 and not list(tmp_path.glob("*.pt"))
    stop = threading.Event()
    stop.set()
    assert extract_features(model, data, "relu2", cache_folder=tmp_path, progress=False, stop=stop).numel() == 0


def test_bad_arguments(tmp_path):
    model, data = tiny_cnn(), _set(4)
    with pytest.raises(ValueError, match="pool must be"):
        extract_features(model, data, "relu2", pool="mean", cache_folder=tmp_path)
    with pytest.raises(ValueError, match="unknown layer"):
        extract_features(model, data, "relu9", cache_folder=tmp_path)
    with pytest.raises(TypeError, match="ImageSet"):
        extract_features(model, data.batch(), "relu2", cache_folder=tmp_path)
    with pytest.raises(ValueError, match="size"):
        extract_features(model, data, "relu2", size=3, cache_folder=tmp_path)


# -- maximally activating patches -----------------------------------------------------------------------
class _RedDetector(nn.Module):
    """Channel 0 answers to red (R - G - B summed over 3x3), channel 1 to green; then a 2x2 max pool."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0], self.conv.weight[0, 1], self.conv.weight[0, 2] = 1.0, -1.0, -1.0
            self.conv.weight[1, 1], self.conv.weight[1, 0], self.conv.weight[1, 2] = 1.0, -1.0, -1.0
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(self.relu(self.conv(x)))


def test_top_patch_of_a_red_detector_is_the_planted_red_square(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = 0.4 + 0.2 * torch.rand(12, 3, 32, 32, generator=g)          # gray noise: no channel fires much
    x[7, :, 20:26, 9:15] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]   # the planted red square
    x[2, :, 3:9, 3:9] = torch.tensor([0.0, 1.0, 0.0])[:, None, None]      # a green one elsewhere
    data = ImageSet(x, torch.zeros(12, dtype=torch.long), ["noise"])
    model = _RedDetector()
    patches = max_activating_patches(model, data, "pool", channels=[0, 1], k=3, cache=False,
                                     progress=False)
    red, green = patches[0][0], patches[1][0]
    assert red.image_index == 7 and green.image_index == 2
    y0, y1, x0, x1 = red.box
    # Units whose whole 3x3 conv window is red tie; the patch is centred on the square and mostly red.
    assert 20 <= (y0 + y1) / 2 <= 26 and 9 <= (x0 + x1) / 2 <= 15
    is_red = (red.pixels[..., 0] > 0.9) & (red.pixels[..., 1] < 0.1)
    assert is_red.mean() >= 0.5  # exact: hand-made features
    gy0, gy1, gx0, gx1 = green.box
    assert 3 <= (gy0 + gy1) / 2 <= 9 and 3 <= (gx0 + gx1) / 2 <= 9
    assert red.padded.shape == (4, 4, 3)                            # 3x3 conv then 2x2 pool: a 4x4 field
    assert [p.image_index for p in patches[0]].count(7) == 1         # one patch per image by default
    many = top_units(model.pool(model.relu(model.conv(data.batch()))).detach(), 0, 4, one_per_image=False)
    assert [u[0] for u in many] == [7, 7, 7, 7]
    assert patch_grid(patches).axes and len(patch_figure(data, patches[0]).axes) == 6


def test_border_patches_are_clipped_and_padded_with_gray():
    net = nn.Sequential(nn.Conv2d(3, 1, 5, padding=2))
    field = receptive_field(net, "0", 10)
    image = np.ones((10, 10, 3), dtype=np.float32)
    box, pixels, padded = patch_at(image, field, 0, 0)
    assert box == (0, 3, 0, 3) and pixels.shape == (3, 3, 3)
    assert padded.shape == (5, 5, 3)
    assert np.all(padded[2:, 2:] == 1.0) and np.all(padded[:2] == 0.5) and np.all(padded[:, :2] == 0.5)
    mask = full_field_mask(field)
    assert mask.shape == (10, 10) and mask[2:8, 2:8].all() and mask.sum() == 36
    # Zero padding can make a border unit the strongest; full fields only picks the best interior unit.
    acts = torch.zeros(1, 1, 10, 10)
    acts[0, 0, 0, 0], acts[0, 0, 5, 4] = 9.0, 1.0
    assert top_units(acts, 0, 1)[0][1:3] == (0, 0)
    assert top_units(acts, 0, 1, allowed=mask)[0][1:3] == (5, 4)
    with pytest.raises(ValueError, match="channel"):
        top_units(torch.zeros(2, 3, 4, 4), 3)
    with pytest.raises(ValueError, match="spatial"):
        top_units(torch.zeros(2, 3), 0)


def test_label_count_counts_the_patches_cut_from_images_of_one_label():
    labels = torch.tensor([0, 2, 2, 1, 2])
    blank = np.zeros((1, 1, 3))

    def cut(i):
        return Patch(image_index=i, unit=(0, 0), value=1.0, box=(0, 1, 0, 1), pixels=blank, padded=blank)

    ps = [cut(1), cut(3), cut(4), cut(0), cut(4)]
    assert [label_count(ps, labels, c) for c in range(3)] == [1, 1, 3]
    assert label_count(ps, labels.numpy(), np.int64(2)) == 3
    assert label_count([], labels, 0) == 0
    with pytest.raises(TypeError, match="label"):
        label_count(ps, labels, 1.0)
    with pytest.raises(ValueError, match="image_index 3"):
        label_count([cut(3)], labels[:2], 0)


def test_selective_channels_pick_the_channel_each_class_prefers():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat(20)
    feats = torch.rand(60, 5, generator=g)
    feats[labels == 0, 3] += 2.0          # channel 3 fires for class 0
    feats[labels == 1, 0] += 2.0          # channel 0 for class 1
    feats[labels == 2, 3] += 1.0          # class 2 also likes channel 3 (taken), and channel 4 a bit less
    feats[labels == 2, 4] += 0.8
    assert selective_channels(feats, labels) == {3: 0, 0: 1, 4: 2}
    assert sorted(selective_channels(feats, labels, per_class=2)) == [0, 1, 2, 3, 4]   # runs out of channels
    with pytest.raises(ValueError, match="pooled"):
        selective_channels(torch.zeros(4, 2, 3, 3), torch.zeros(4))


# -- neighbours and embeddings ------------------------------------------------------------------------
def _clusters(n_per=20, d=8, spread=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(3, d) * 5
    feats = torch.cat([c + spread * torch.randn(n_per, d, generator=g) for c in centres])
    return feats, torch.arange(3).repeat_interleave(n_per)


def test_nearest_neighbours_and_grouping_scores():
    feats = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [0.0, 0.5]])
    idx, dist = nearest_neighbours(feats, 0, 2)
    assert idx.tolist() == [3, 1] and torch.allclose(dist, torch.tensor([0.5, 1.0]))
    assert nearest_neighbours(feats, 0, 1, exclude_self=False)[0].tolist() == [0]
    directions = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 2.0]])     # cosine ignores length
    assert nearest_neighbours(directions, 0, 1, metric="cosine")[0].tolist() == [1]
    tight, labels = _clusters()
    noisy = torch.randn(60, 8, generator=torch.Generator().manual_seed(1))
    assert knn_accuracy(tight, labels, 5) == 1.0
    assert knn_accuracy(noisy, labels, 5) < 0.6  # exact: seeded random features
    assert silhouette(tight, labels) > 0.8 > 0.1 > silhouette(noisy, labels)  # exact: seeded random features
    scores = grouping_scores({"tight": tight, "noise": noisy}, labels)
    assert scores["tight"]["knn"] > scores["noise"]["knn"]
    with pytest.raises(ValueError, match="query"):
        nearest_neighbours(feats, 9, 1)
    with pytest.raises(ValueError, match="labels has"):
        knn_accuracy(tight, labels[:5])


def test_telling_queries_pick_rows_right_in_one_space_and_wrong_in_the_other():
    # Three classes of four points on a line; in "worse", row 1 (class 0) sits among class 1 and row 5
    # (class 1) among class 2, so only their 3-NN votes are wrong there. In "better" every vote is right.
    labels = torch.arange(3).repeat_interleave(4)
    offsets = torch.tensor([0.0, 0.1, 0.2, 0.3]).repeat(3)
    better = (10.0 * labels + offsets)[:, None]
    worse = better.clone()
    worse[1, 0], worse[5, 0] = 10.05, 20.05
    assert knn_votes(better, labels, 3).tolist() == labels.tolist()
    voted = knn_votes(worse, labels, 3)
    assert [i for i in range(12) if voted[i] != labels[i]] == [1, 5] and voted[1] == 1 and voted[5] == 2
    assert knn_accuracy(worse, labels, 3) == 10 / 12
    assert telling_queries(better, worse, labels, n=3, k=3) == [1, 5]    # one per label, first by index
    assert telling_queries(better, worse, labels, n=1, k=3) == [1]
    assert telling_queries(worse, better, labels, n=3, k=3) == []        # the other way round none qualifies
    with pytest.raises(ValueError, match="n must be"):
        telling_queries(better, worse, labels, n=0)
    with pytest.raises(ValueError, match="one row per image"):
        telling_queries(better, worse[:6], labels)


def test_pca_tsne_and_figures():
    tight, labels = _clusters(12)
    p = pca(tight, 2)
    assert p.shape == (36, 2)
    t1, t2 = tsne(tight, perplexity=10, seed=0), tsne(tight, perplexity=10, seed=0)
    assert t1.shape == (36, 2) and torch.allclose(t1, t2)              # seeded
    assert knn_accuracy(t1, labels, 3) == 1.0                          # clusters survive the embedding
    data = ImageSet(random_images(36, 12), labels, ["a", "b", "c"])
    assert scatter_thumbnails(p, data, thumbnails=5) is not None
    fig = embedding_figure({"pca": p, "t-SNE": t1}, data, scores={"pca": {"knn": 1.0, "silhouette": 0.9}}, thumbnails=3)
    assert len(fig.axes) == 2 and "k-NN 1.00" in fig.axes[0].get_title()
    fig = neighbours_figure(data, [0, 13], {"pixels": pixel_features(data), "features": tight}, k=3)
    assert len(fig.axes) == 2 * (1 + 2 * 4)
