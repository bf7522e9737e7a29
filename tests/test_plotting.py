import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vizlab import plotting
from vizlab.images import sample_image


def test_overlay_is_rgb_at_image_resolution_and_blends_correctly():
    img = np.zeros((32, 32, 3), dtype=np.float32)
    heat = np.zeros((4, 4))
    heat[0, 0] = 1.0
    out = plotting.overlay(img, heat, alpha=1.0, cmap="gray")
    assert out.shape == (32, 32, 3)
    assert out[0, 0].mean() > 0.9 and out[-1, -1].mean() < 0.05  # exact; hot corner is bright, upsampled in place
    red = plotting.overlay(img, np.ones((4, 4)), alpha=1.0, cmap="Reds", normalize=False)
    assert red[..., 0].mean() > red[..., 2].mean()  # RGB order: a red colormap stays red
    assert np.allclose(plotting.overlay(img, heat, alpha=0.0), img)
    with pytest.raises(ValueError, match="alpha"):
        plotting.overlay(img, heat, alpha=2)
    with pytest.raises(ValueError, match="2-D"):
        plotting.overlay(img, np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="colormap"):
        plotting.overlay(img, heat, cmap="nope")


def test_normalize_map_is_safe_on_constant_maps():
    assert np.all(plotting.normalize_map(np.ones((3, 3))) == 0)
    assert np.isfinite(plotting.normalize_map(np.zeros((3, 3)), symmetric=True)).all()


def test_functions_return_figures_and_axes_without_showing(monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plotting must never call plt.show()"))
    img = sample_image("cat", 32)
    assert isinstance(plotting.show_image(img), Axes)
    fig, ax = plt.subplots()
    assert plotting.show_heatmap(img, np.random.rand(4, 4), ax=ax) is ax
    assert isinstance(plotting.image_grid([img, img, np.random.rand(8, 8)], ["a", "b", "c"], ncols=2), Figure)
    assert isinstance(plotting.filter_grid(torch.randn(10, 3, 5, 5)), Figure)
    assert isinstance(plotting.feature_map_grid(torch.rand(1, 20, 6, 6)), Figure)
    assert isinstance(plotting.topk_bar([("a", 0.6), ("b", 0.3)]), Axes)
    with pytest.raises(ValueError, match="titles"):
        plotting.image_grid([img], ["a", "b"])


def test_filter_images_map_zero_to_gray_and_keep_sign():
    w = torch.zeros(2, 3, 3, 3)
    w[0, :, 0, 0] = 1.0
    w[1, :, 0, 0] = -1.0
    imgs = plotting.filter_images(w)
    assert np.allclose(imgs[0][1, 1], 0.5) and np.allclose(imgs[0][0, 0], 1.0) and np.allclose(imgs[1][0, 0], 0.0)
    gray = plotting.filter_images(torch.randn(4, 16, 3, 3))  # non-RGB inputs: first channel in gray
    assert np.allclose(gray[0][..., 0], gray[0][..., 2])


def test_figures_made_off_the_main_thread_stay_out_of_pyplot():
    """Explorers draw in worker threads: their figures must not reach pyplot's registry (nor a notebook cell)."""
    import threading

    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    made = []
    worker = threading.Thread(target=lambda: made.append(plotting.image_grid([sample_image("cat", 16)])))
    worker.start()
    worker.join()
    assert isinstance(made[0], Figure) and set(plt.get_fignums()) == before
    fig, _ = plotting.subplots(1, 2)  # on the main thread it is plain plt.subplots
    assert fig.number in plt.get_fignums()
