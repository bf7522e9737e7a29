"""Image sets: the offline photo crops, folders, torchvision data sets offline, the shapes set and its CNN."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from vizlab.inside import datasets as D
from vizlab.inside.datasets import DatasetUnavailableError, ImageSet, image_folder, imagenette, photo_crops
from vizlab.inside.shapes import COLOURS, RECIPES, SHAPES, colour_jitter, make_shapes, train_classifier, train_shapes_cnn
from vizlab.inside.shapes import shapes_cnn


def test_photo_crops_are_deterministic_balanced_and_labelled_by_photo():
    a = photo_crops(per_class=3, size=24, photos=("cat", "espresso", "rocket"), seed=1)
    b = photo_crops(per_class=3, size=24, photos=("cat", "espresso", "rocket"), seed=1)
    c = photo_crops(per_class=3, size=24, photos=("cat", "espresso", "rocket"), seed=2)
    assert a.images.shape == (9, 3, 24, 24) and a.images.dtype == torch.uint8
    assert a.class_names == ["cat", "espresso", "rocket"]
    assert torch.bincount(a.labels).tolist() == [3, 3, 3]
    assert torch.equal(a.images, b.images) and a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()
    # Crops of different photos differ in colour statistics: the cat is brown, the rocket photo is blue sky.
    assert not torch.equal(a.images[0], a.images[1])


def test_imageset_is_a_dataset_and_validates():
    s = photo_crops(per_class=2, size=16, photos=("cat", "flower"))
    x, y = s[3]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and 0 <= float(x.min()) and float(x.max()) <= 1
    assert y == 1
    batch = next(iter(torch.utils.data.DataLoader(s, batch_size=4)))
    assert batch[0].shape == (4, 3, 16, 16)
    train, val = s.split(0.25, seed=0)
    assert len(train) + len(val) == len(s) and len(val) == 1
    assert s.subset([0, 2]).labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="labels must lie in"):
        ImageSet(torch.zeros(2, 3, 8, 8), torch.tensor([0, 5]), ["a", "b"])
    with pytest.raises(ValueError, match="images must be a tensor"):
        ImageSet(torch.zeros(2, 8, 8), torch.tensor([0, 1]), ["a", "b"])
    with pytest.raises(TypeError, match="per_class"):
        photo_crops(per_class=2.5)


def _write_folder(root, classes, per_class=3, size=(20, 30)):
    rng = np.random.default_rng(0)
    for c, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            arr = (rng.random((*size, 3)) * 60).astype(np.uint8)
            arr[..., c % 3] += 180  # each class its own dominant colour
            Image.fromarray(arr).save(root / cls / f"img{i}.JPEG" if cls.startswith("n0") else root / cls / f"{i}.png")


def test_image_folder_reads_imagefolder_layout(tmp_path):
    _write_folder(tmp_path, ["zebra", "apple"], per_class=3)
    s = image_folder(tmp_path, size=16)
    assert s.class_names == ["apple", "zebra"]          # sorted, like torchvision's ImageFolder
    assert s.images.shape == (6, 3, 16, 16)
    assert s.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert image_folder(tmp_path, size=16, per_class=1).labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="not a folder"):
        image_folder(tmp_path / "missing")


def test_imagenette_reads_a_tiny_generated_copy_through_torchvision(tmp_path):
    _write_folder(tmp_path / "imagenette2-160" / "val", ["n01440764", "n03028079"], per_class=2)
    s = imagenette(tmp_path, split="val", image_size="160px", n=None, size=16, download=False)
    assert s.class_names == ["tench", "church"]
    assert s.labels.tolist() == [0, 0, 1, 1]
    assert s.images.shape == (4, 3, 16, 16)


def test_missing_data_sets_fail_fast_with_a_clear_error(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10, Imagenette

    monkeypatch.setenv("VIZLAB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match="photo_crops"):
        D.cifar10(tmp_path)
    with pytest.raises(DatasetUnavailableError, match="cannot be reached"):
        imagenette(tmp_path)
    with pytest.raises(DatasetUnavailableError, match="download=False"):
        D.cifar10(tmp_path, download=False)
    # torchvision's real download code, pointed at a host that can never resolve (RFC 2606 ".invalid").
    monkeypatch.setattr(D, "reachable", lambda url, timeout: True)
    monkeypatch.setattr(CIFAR10, "url", "https://vizlab.invalid/cifar-10-python.tar.gz")
    with pytest.raises(DatasetUnavailableError, match="downloading CIFAR-10"):
        D.cifar10(tmp_path / "c")
    monkeypatch.setattr(Imagenette, "_ARCHIVES", {"160px": ("https://vizlab.invalid/imagenette2-160.tgz", "0")})
    with pytest.raises(DatasetUnavailableError, match="downloading Imagenette"):
        imagenette(tmp_path / "i")
    assert time.perf_counter() - t0 < 20  # behaviour bound (expected 1 s): fails fast, no retries or hang


def test_shapes_are_deterministic_balanced_and_colour_is_independent_of_shape():
    a = make_shapes(240, size=24, seed=3)
    assert a.class_names == list(SHAPES) and a.images.shape == (240, 3, 24, 24)
    assert torch.bincount(a.labels).tolist() == [40] * 6
    assert torch.equal(a.images, make_shapes(240, size=24, seed=3).images)
    assert not torch.equal(a.images, make_shapes(240, size=24, seed=4).images)
    colour = a.extra["colour"]
    assert a.extra_names["colour"] == list(COLOURS)
    # Every shape comes in several colours (the two labels are drawn independently).
    for s in range(6):
        assert len(torch.unique(colour[a.labels == s])) >= 4
    # The foreground really has the recorded colour: the brightest pixels of a "red" image are red.
    red = int(torch.nonzero(colour == list(COLOURS).index("red"))[0])
    img = a.batch([red])[0]
    top = img.sum(0).flatten().topk(20).indices
    rgb = img.flatten(1)[:, top].mean(1)
    assert rgb[0] > rgb[1] + 0.3 and rgb[0] > rgb[2] + 0.3


def test_train_shapes_cnn_learns_records_filters_and_stops_on_request():
    # n=480 fell to 25 % (chance 17 %) for other seeds (issue 11); n=960: >= 46 % over 5 seeds x 1, 2 threads
    model, hist = train_shapes_cnn(epochs=6, n=960, size=24, progress=False)
    assert len(hist.loss) == len(hist.val_accuracy) == 6
    assert hist.loss[-1] < hist.loss[0]
    assert hist.val_accuracy[-1] > 1 / 6 + 0.15          # well above chance after six short epochs
    assert hist.filter_epochs == list(range(7)) and hist.filters[0].shape == (16, 3, 7, 7)
    # The small initialisation: filters start faint and grow as they learn.
    assert hist.filters[-1].abs().mean() > 3 * hist.filters[0].abs().mean()
    assert not model.training and not hist.stopped

    seen = []
    _, hist2 = train_shapes_cnn(epochs=5, n=120, size=24, progress=False,
                                callback=lambda epoch, m, h: seen.append(epoch) or epoch == 2)
    assert seen == [1, 2] and hist2.stopped and len(hist2.loss) == 2

    stop = threading.Event()
    stop.set()
    _, hist3 = train_shapes_cnn(epochs=5, n=120, size=24, progress=False, stop=stop)
    assert hist3.stopped and hist3.loss == [] and len(hist3.filters) == 1


def test_upright_shapes_differ_only_in_angle_and_have_axis_aligned_edges():
    tilted = make_shapes(120, size=32, seed=5, noise=0.0)
    upright = make_shapes(120, size=32, seed=5, noise=0.0, upright=True)
    # Same random numbers: same labels and colours, and the same object sizes (circles are unchanged by angle).
    assert torch.equal(tilted.labels, upright.labels) and torch.equal(tilted.extra["colour"], upright.extra["colour"])
    circles = tilted.labels == SHAPES.index("circle")
    assert torch.equal(tilted.images[circles], upright.images[circles])
    # Squares: upright ones have their intensity changes along the axes, random angles do not.
    squares = (tilted.labels == SHAPES.index("square")).nonzero().flatten()

    def axis_share(images):
        x = images.float().mean(1)
        gy, gx = torch.gradient(x, dim=(1, 2))
        e = gx.abs() + gy.abs()
        return float((gx.abs() * gy.abs()).sum() / (e * e).sum())   # 0 for axis-aligned edges only
    assert axis_share(upright.images[squares]) < 0.5 * axis_share(tilted.images[squares])


def test_pattern_scale_makes_stripes_and_checkers_coarser():
    fine = make_shapes(60, size=32, seed=2, noise=0.0, shapes=("stripes",))
    coarse = make_shapes(60, size=32, seed=2, noise=0.0, shapes=("stripes",), pattern_scale=2.0)

    def transitions(images):   # light/dark changes along rows and columns: twice the period, half as many
        x = images.float().mean(1)
        dark = x < (x.amax((1, 2), keepdim=True) + x.amin((1, 2), keepdim=True)) / 2
        return int((dark[:, 1:] != dark[:, :-1]).sum() + (dark[:, :, 1:] != dark[:, :, :-1]).sum())
    assert transitions(coarse.images) < 0.75 * transitions(fine.images)
    with pytest.raises(ValueError, match="pattern_scale"):
        make_shapes(6, pattern_scale=0)


def test_colour_jitter_scrambles_colour_and_brightness_but_keeps_edges():
    x = make_shapes(64, size=24, seed=1).batch()
    y = colour_jitter(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert torch.equal(y, colour_jitter(x, torch.Generator().manual_seed(0)))      # seeded
    gray = (y[:, 0] == y[:, 1]) & (y[:, 1] == y[:, 2])
    n_gray = int(gray.flatten(1).all(1).sum())
    assert 16 <= n_gray <= 48                                                         # about half gray
    # Mean brightness changes (negatives), but edge strength stays: per image, the gradient magnitude of the
    # gray version of the output equals that of the input's channel-mean within the RGB-order and gray steps.
    bright_in, bright_out = x.mean((1, 2, 3)), y.mean((1, 2, 3))
    assert int((bright_out > 0.5).sum()) > int((bright_in > 0.5).sum()) + 10        # exact: seeded augmentation, no model; some became negatives

    def edge(v):
        gy, gx = torch.gradient(v.mean(1), dim=(1, 2))
        return (gx.abs() + gy.abs()).mean((1, 2))
    assert torch.allclose(edge(y), edge(x), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="RGB"):
        colour_jitter(x[:, :1])


def test_recipes_first_layer_decay_and_validation():
    assert set(RECIPES) == {"faint", "edges", "strided"}
    with pytest.raises(ValueError, match="recipe"):
        train_shapes_cnn(epochs=1, n=12, size=16, recipe="gabor", progress=False)
    # first_layer_decay acts on the first layer only: with lr > 0 but no data signal (zero images, labels
    # all 0) the other layers keep their weights while conv1 shrinks.
    data = make_shapes(64, size=16, seed=0)
    zeros = ImageSet(torch.zeros_like(data.images), data.labels, data.class_names, "zeros")
    model = shapes_cnn(0, 6, first_layer_scale=1.0)
    w1, w3 = model.conv1.weight.detach().clone(), model.conv3.weight.detach().clone()
    train_classifier(model, zeros, None, epochs=2, weight_decay=0.0, first_layer_decay=50.0, progress=False,
                     augment=False)
    assert model.conv1.weight.detach().norm() < 0.9 * w1.norm()
    assert abs(float(model.conv3.weight.detach().norm() - w3.norm())) < 0.1 * float(w3.norm())


def test_photo_backgrounds_add_clutter_but_keep_the_shapes():
    flat = make_shapes(24, size=32, seed=4, upright=True, noise=0.0)
    busy = make_shapes(24, size=32, seed=4, upright=True, noise=0.0, background="photos")
    assert torch.equal(flat.labels, busy.labels) and torch.equal(flat.extra["colour"], busy.extra["colour"])
    assert torch.equal(busy.images, make_shapes(24, size=32, seed=4, upright=True, noise=0.0,
                                                background="photos").images)

    def background_detail(images):   # gradient energy where the flat image is flat (outside the object)
        x = images.float().mean(1)
        gy, gx = torch.gradient(x, dim=(1, 2))
        fy, fx = torch.gradient(flat.images.float().mean(1), dim=(1, 2))
        outside = (fx.abs() + fy.abs()) == 0
        return float((gx.abs() + gy.abs())[outside].mean())
    assert background_detail(flat.images) == 0 and background_detail(busy.images) > 1.0   # exact; in 0-255 units
    with pytest.raises(ValueError, match="background"):
        make_shapes(6, background="noise")


def test_random_blur_removes_fine_detail_and_keeps_flat_regions():
    from vizlab.inside.shapes import random_blur

    x = torch.zeros(2, 3, 16, 16)
    x[:, :, ::2] = 1.0                                                   # one-pixel stripes
    y = random_blur(x, 3.0, torch.Generator().manual_seed(1))
    assert y.shape == x.shape
    assert float(y.std()) < 0.5 * float(x.std())                         # the stripes are smoothed away
    flat = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(random_blur(flat, 3.0, torch.Generator().manual_seed(1)), flat)
    assert torch.equal(random_blur(x, 0.0), x)
    assert random_blur(torch.rand(1, 3, 4, 4), 10.0, torch.Generator().manual_seed(1)).shape == (1, 3, 4, 4)
    with pytest.raises(TypeError, match="tensor"):
        random_blur(x.numpy(), 1.0)
    with pytest.raises(ValueError, match="max_sigma"):
        random_blur(x, -1.0)
    with pytest.raises(TypeError, match="max_sigma"):
        random_blur(x, "a")


def test_roughness_ranks_grain_above_edges_and_is_scale_free():
    from vizlab.inside.shapes import roughness

    ramp = torch.linspace(-1, 1, 7).view(1, 1, 1, 7).expand(1, 3, 7, 7)
    edge = torch.tanh(3 * ramp)
    checker = (torch.arange(7)[:, None] + torch.arange(7)[None]).remainder(2).float().mul(2).sub(1)
    checker = checker.expand(1, 3, 7, 7)
    r = roughness(torch.cat([ramp, edge, checker]))
    assert r[0] < 1e-6 and r[0] < r[1] < r[2] and r[2] > 20  # exact
    assert torch.allclose(roughness(5 * edge), roughness(edge))
    w = checker.clone().requires_grad_(True)
    roughness(w).sum().backward()
    assert w.grad.abs().sum() > 0                                          # differentiable: usable as a penalty


def test_train_classifier_validates_the_new_augmentations():
    data = make_shapes(12, size=16, seed=0)
    for name in ("input_noise", "blur", "first_layer_smoothness"):
        with pytest.raises(ValueError, match=name):
            train_classifier(shapes_cnn(0, 6), data, None, epochs=1, progress=False, **{name: -0.1})
        with pytest.raises(TypeError, match=name):
            train_classifier(shapes_cnn(0, 6), data, None, epochs=1, progress=False, **{name: "2"})


def test_strided_recipe_steps_the_first_layer_and_doubles_the_image_size(monkeypatch):
    from vizlab.inside import shapes as S

    assert shapes_cnn(0).conv1.stride == (1, 1) and shapes_cnn(0, stride=2).conv1.stride == (2, 2)
    # Step 2 on 64 px gives the later layers the same 32x32 map as step 1 on 32 px (same cost after conv1).
    x32, x64 = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 64, 64)
    assert shapes_cnn(0).conv1(x32).shape == shapes_cnn(0, stride=2).conv1(x64).shape == (2, 16, 32, 32)
    sizes = []
    real = S.make_shapes
    monkeypatch.setattr(S, "make_shapes", lambda n, size, **kw: sizes.append(size) or real(n, size, **kw))
    model, hist = train_shapes_cnn(epochs=1, n=24, recipe="strided", progress=False)
    assert model.conv1.stride == (2, 2) and hist.filters[0].shape == (16, 3, 7, 7)
    train_shapes_cnn(epochs=1, n=24, recipe="edges", progress=False)
    train_shapes_cnn(epochs=1, n=24, recipe="strided", size=40, progress=False)
    assert sizes == [64, 32, 40]                   # 32 px per step unless the size is given
    blurs = []
    real_train = S.train_classifier
    monkeypatch.setattr(S, "train_classifier", lambda *a, **kw: blurs.append(kw["blur"]) or real_train(*a, **kw))
    train_shapes_cnn(epochs=1, n=24, recipe="strided", progress=False)
    train_shapes_cnn(epochs=1, n=24, recipe="strided", blur=0.5, progress=False)
    train_shapes_cnn(epochs=1, n=24, recipe="edges", progress=False)
    assert blurs == [2.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="stride"):
        shapes_cnn(0, stride=0)
