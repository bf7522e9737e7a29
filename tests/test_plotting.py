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


# --- colour maps, colour bars, layout and type size for a projector (review r19, findings 11, 12 and 19) ---

def _drawn(fig: Figure):
    """Lay out and draw ``fig`` with the Agg renderer; return the renderer (window extents are then final)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _rows_of_images(fig: Figure):
    """The figure's image axes (those holding an image) grouped into rows by their drawn top edge."""
    axes = [ax for ax in fig.axes if ax.images]
    rows: dict[int, list] = {}
    for ax in axes:
        rows.setdefault(round(ax.get_position().y1 * 1000), []).append(ax)
    return [sorted(rows[k], key=lambda a: a.get_position().x0) for k in sorted(rows, reverse=True)]


def _title_clashes(fig: Figure) -> list[str]:
    """Titles (and any text of an axes) that overlap an image of the row above, a title beside them, or leave the
    figure."""
    renderer = _drawn(fig)
    rows = _rows_of_images(fig)
    assert len(rows) >= 2, "need at least two rows of images"  # else the test would check nothing
    page = fig.bbox
    clashes = []
    for above, row in zip([[]] + rows, rows):
        for ax in row:
            for text in (ax.title, ax._left_title, *ax.texts):
                if not text.get_text():
                    continue
                box = text.get_window_extent(renderer)
                for other in above:
                    if box.overlaps(other.get_window_extent(renderer)):
                        clashes.append(f"{text.get_text()!r} overlaps an image above")
                for other in row:
                    if other is not ax and other.title.get_text() and box.overlaps(
                            other.title.get_window_extent(renderer)):
                        clashes.append(f"{text.get_text()!r} overlaps the title beside it")
                if box.y0 < page.y0 - 1 or box.y1 > page.y1 + 1:
                    clashes.append(f"{text.get_text()!r} is cut by the figure's edge")
    return clashes


def test_default_heat_colour_map_is_perceptually_uniform_and_explicit_cmaps_still_work():
    """Finding 11: overlays default to inferno (monotone lightness), not jet; an explicit cmap= is honoured."""
    import matplotlib
    import matplotlib.pyplot as plt

    assert plotting.HEAT_CMAP == "inferno"
    img = np.zeros((16, 16, 3), dtype=np.float32)
    ramp = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    default = plotting.overlay(img, ramp, alpha=1.0)
    assert np.allclose(default, matplotlib.colormaps["inferno"](ramp)[..., :3], atol=1e-6)  # exact
    lightness = default.mean(axis=(0, 2))  # along the ramp
    assert np.all(np.diff(lightness) > 0)  # exact; brighter always means more (jet's is not monotone)
    jet = plotting.overlay(img, ramp, alpha=1.0, cmap="jet")
    assert np.allclose(jet, matplotlib.colormaps["jet"](ramp)[..., :3], atol=1e-6)  # exact
    assert not np.all(np.diff(jet.mean(axis=(0, 2))) > 0)  # exact; the property the default fixes
    fig, ax = plt.subplots()
    drawn = plotting.show_heatmap(img, ramp, ax=ax, alpha=1.0).images[0].get_array()
    assert np.allclose(drawn, default, atol=1e-6)  # exact; show_heatmap uses the same default
    plt.close(fig)


def test_grey_overlay_keeps_no_colour_of_the_image():
    """A red square under heat on a gray copy: where the heat is zero the pixel is gray (R == G == B)."""
    img = np.zeros((8, 8, 3), dtype=np.float32)
    img[:4, :4] = (1.0, 0.0, 0.0)
    heat = np.zeros((8, 8), dtype=np.float32)
    heat[6:, 6:] = 1.0
    out = plotting.overlay(img, heat, alpha=0.5, cmap="gray", grey=True)
    assert np.allclose(out[0, 0, 0], out[0, 0, 1]) and np.allclose(out[0, 0, 1], out[0, 0, 2])  # exact
    assert out[0, 0, 0] > 0.1  # exact; the red square is still visible, as gray (luminance 0.299)
    coloured = plotting.overlay(img, heat, alpha=0.5, cmap="gray")
    assert coloured[0, 0, 0] > coloured[0, 0, 1]  # exact; without grey= the red stays red
    with pytest.raises(TypeError, match="grey"):
        plotting.overlay(img, heat, grey="yes")


def test_heat_colorbar_says_what_the_scale_is():
    import matplotlib.pyplot as plt

    img = sample_image("cat", 32)
    fig, axes = plt.subplots(1, 2)
    plotting.show_heatmap(img, np.random.rand(4, 4), ax=axes[0])
    bar = plotting.heat_colorbar(list(axes), label=None)
    assert [t.get_text() for t in bar.ax.get_yticklabels()] == ["0", "max"]
    assert "max" in bar.ax.get_ylabel() and bar.cmap.name == plotting.HEAT_CMAP
    fig2, ax2 = plt.subplots()
    shared = plotting.heat_colorbar(ax2, vmax=2.5, label="drop")
    assert shared.norm.vmax == 2.5 and shared.ax.get_ylabel() == "drop"  # exact
    assert len(fig2.axes) == 2  # exact; the bar is one more axes
    with pytest.raises(ValueError, match="vmax"):
        plotting.heat_colorbar(ax2, vmax=0)
    with pytest.raises(TypeError, match="axes"):
        plotting.heat_colorbar("ax")
    # r20 review: an empty list is a wrong value; ends are checked before matplotlib sees them
    with pytest.raises(ValueError, match="axes must be an Axes or a non-empty list of Axes, got an empty one"):
        plotting.heat_colorbar([])
    for ends in ("lo", ("0", 1), None):
        with pytest.raises(TypeError, match="ends must be a pair of strings"):
            plotting.heat_colorbar(ax2, ends=ends)
    for ends in (("0",), ("0", "1", "2")):
        with pytest.raises(ValueError, match=f"ends must be a pair of strings .* got {len(ends)}"):
            plotting.heat_colorbar(ax2, ends=ends)
    assert len(fig2.axes) == 2  # exact: no bar was added by a refused call
    assert [t.get_text() for t in plotting.heat_colorbar(ax2, ends=["min", "max"]).ax.get_yticklabels()] == [
        "min", "max"]  # a list is a pair too
    fig3, ax3 = plt.subplots()
    plotting.show_heatmap(img, np.random.rand(4, 4), ax=ax3, colorbar=True)
    assert len(fig3.axes) == 2  # exact
    plt.close("all")


def test_show_maps_has_one_colour_bar_for_its_overlays_and_a_shared_scale_on_request():
    import matplotlib.pyplot as plt

    from vizlab.attribution.plot import show_maps

    img = sample_image("cat", 32)
    weak, strong = torch.rand(1, 4, 4) * 0.1, torch.rand(1, 4, 4) * 2
    fig = show_maps(img, {"Grad-CAM a": weak, "Grad-CAM b": strong, "gradient": torch.rand(1, 32, 32)})
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and "max" in bars[0].get_xlabel()  # horizontal, under the overlays
    _drawn(fig)  # positions are final once the constrained layout has run
    overlays = [fig.axes[1].get_position(), fig.axes[2].get_position()]
    assert bars[0].get_position().y1 < min(p.y0 for p in overlays)  # below them
    assert bars[0].get_position().x1 < fig.axes[3].get_position().x0  # and not under the map drawn alone
    assert len(fig.axes) == 5  # exact; image + 3 maps + 1 bar
    fig2 = show_maps(img, {"Grad-CAM a": weak, "Grad-CAM b": strong}, scale="shared")
    bar2 = [ax for ax in fig2.axes if ax.get_label() == "<colorbar>"][0]
    assert np.isclose(bar2.get_xlim()[1], float(strong.max()), rtol=1e-5)  # exact; the larger max
    # On a shared scale the weak map stays dark: its brightest pixel is far below the strong map's.
    weak_panel = fig2.axes[1].images[0].get_array()
    strong_panel = fig2.axes[2].images[0].get_array()
    assert weak_panel.mean() < strong_panel.mean()
    fig3 = show_maps(img, {"gradient": torch.rand(1, 32, 32)})
    assert not [ax for ax in fig3.axes if ax.get_label() == "<colorbar>"]  # exact; no overlay, no heat bar
    assert len(show_maps(img, {"Grad-CAM": weak}, colorbar=False).axes) == 2  # exact
    with pytest.raises(ValueError, match="scale"):
        show_maps(img, {"Grad-CAM": weak}, scale="some")
    plt.close("all")


@pytest.mark.parametrize("scale", ["each", "shared"])
def test_show_maps_draws_no_heat_bar_under_a_map_drawn_alone_between_overlays(scale):
    """r20 review: with a map drawn alone between two overlays (the default overlays the titles with "CAM"), the
    one bar ran from the first overlay to the last, under the grey map too. Now one bar per run of neighbours."""
    import matplotlib.pyplot as plt

    from vizlab.attribution.plot import show_maps

    img = sample_image("cat", 32)
    maps = {"Grad-CAM": torch.rand(1, 4, 4), "saliency": torch.rand(1, 32, 32), "Score-CAM": torch.rand(1, 4, 4),
            "gradient": torch.rand(1, 32, 32), "Eigen-CAM": torch.rand(1, 4, 4), "CAM": torch.rand(1, 4, 4)}
    fig = show_maps(img, maps, scale=scale)
    _drawn(fig)
    bars = [ax.get_position() for ax in fig.axes if ax.get_label() == "<colorbar>"]
    panels = {ax.get_title(): ax.get_position() for ax in fig.axes if ax.get_title()}
    assert len(bars) == 3  # exact: under Grad-CAM, under Score-CAM, under Eigen-CAM and CAM
    for alone in ("image", "saliency", "gradient"):
        assert all(b.x1 <= panels[alone].x0 or b.x0 >= panels[alone].x1 for b in bars), alone
    for run in (["Grad-CAM"], ["Score-CAM"], ["Eigen-CAM", "CAM"]):
        first, last = panels[run[0]], panels[run[-1]]
        assert any(abs(b.x0 - first.x0) < 0.01 and abs(b.x1 - last.x1) < 0.01 for b in bars), run  # exact: layout
        assert all(b.y1 < panels[run[0]].y0 for b in bars)  # below the panels
    plt.close("all")
    from vizlab.attribution.plot import _runs

    assert _runs([False, True, True, False, True]) == [(1, 2), (4, 4)] and _runs([False]) == []  # exact


def test_image_grid_titles_clear_the_row_above_and_default_to_a_projector_size():
    """Findings 12 and 19: second-row titles touched the first row's images at 8 pt; now 10 pt and clear."""
    import inspect
    import matplotlib.pyplot as plt

    assert inspect.signature(plotting.image_grid).parameters["title_size"].default == plotting.TITLE_SIZE == 10
    maps = [np.random.rand(14, 14) for _ in range(16)]
    fig = plotting.image_grid(maps, [f"ch {i}" for i in range(16)], ncols=8, size=1.3, suptitle="a long suptitle")
    assert _title_clashes(fig) == []
    assert {ax.title.get_fontsize() for ax in fig.axes if ax.images} == {10.0}  # exact
    fig = plotting.feature_map_grid(torch.rand(1, 20, 14, 14), title="block6: 16 channels")
    assert _title_clashes(fig) == []
    fig = plotting.image_grid(maps[:6], [f"t{i}" for i in range(6)], ncols=3, size=1.1, title_size=14)
    assert {ax.title.get_fontsize() for ax in fig.axes if ax.images} == {14.0}  # exact
    assert _title_clashes(fig) == []
    with pytest.raises(ValueError, match="title_size"):
        plotting.image_grid(maps[:2], title_size=0)
    plt.close("all")


def test_patch_figure_labels_clear_the_patches_above():
    """Finding 12: the source labels of the bottom row overlapped the top row's patches and were cut."""
    import matplotlib.pyplot as plt

    from vizlab.inside.datasets import ImageSet
    from vizlab.inside.patches import Patch, patch_figure
    from vizlab.toy import random_images

    data = ImageSet(random_images(8, 64, 0), torch.arange(8) % 2, ["circle", "triangle"], "shapes")
    patches = [Patch(image_index=i, unit=(2, 2), value=10.0 - i, box=(4, 44, 8, 48), pixels=np.zeros((40, 40, 3)),
                     padded=np.zeros((40, 40, 3))) for i in range(8)]
    fig = patch_figure(data, patches, title="relu3 channel 24: patches and where they come from")
    assert _title_clashes(fig) == []
    assert min(ax.title.get_fontsize() for ax in fig.axes) >= 9  # exact
    plt.close("all")


def test_lab_heat_is_drawn_over_a_gray_image_so_a_coloured_cue_cannot_pass_for_heat():
    """Finding 11 in notebook 10: jet heat shared the cues' red/green/blue/yellow; the image under heat is gray."""
    import matplotlib.pyplot as plt

    from vizlab.lab.plot import method_grid, show_evidence

    img = torch.zeros(3, 16, 16)
    img[0, :4, :4] = 1.0  # a red cue at the top left
    heat = torch.zeros(16, 16)
    heat[10:, 10:] = 1.0
    ax = show_evidence(img, heat)
    background, layer = ax.images[0].get_array(), ax.images[1]
    assert np.allclose(background[..., 0], background[..., 1]) and np.allclose(background[..., 1], background[..., 2])
    assert layer.get_cmap().name == plotting.HEAT_CMAP
    plain = show_evidence(img, None).images  # no heat: the image in its own colours, the cue red
    assert len(plain) == 1 and plain[0].get_array()[0, 0, 0] > plain[0].get_array()[0, 0, 1]
    maps = {"a": torch.rand(2, 16, 16), "b": torch.rand(2, 16, 16)}
    masks = torch.zeros(2, 16, 16, dtype=torch.bool)
    fig = method_grid(torch.rand(2, 3, 16, 16), maps, masks, masks, row_titles=["one", "two"])
    bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert len(bars) == 1 and "max" in bars[0].get_ylabel()
    assert len(method_grid(torch.rand(2, 3, 16, 16), maps, masks, masks, colorbar=False).axes) == 4  # exact
    assert min(a.title.get_fontsize() for a in fig.axes if a.title.get_text()) >= 9  # exact
    names = ("occlusion", "gradient", "SmoothGrad", "guided backprop", "integrated gradients", "Grad-CAM", "random")
    wide = method_grid(torch.rand(4, 3, 32, 32), {m: torch.rand(4, 32, 32) for m in names},
                       torch.zeros(4, 32, 32), torch.zeros(4, 32, 32), row_titles=list("abcd"))
    assert _title_clashes(wide) == []  # notebook 10's grid: long method names at 10 pt do not run together
    jet = method_grid(torch.rand(2, 3, 16, 16), maps, masks, masks, cmap="jet")
    assert jet.axes[0].images[1].get_cmap().name == "jet"  # an explicit cmap still works
    plt.close("all")


def test_dissection_outline_stands_out_on_probes_of_any_colour():
    """Notebook 10's dissection figure: a one-colour outline vanished on shapes of its own colour (round 20)."""
    import matplotlib.pyplot as plt

    from vizlab.lab.plot import unit_patches

    colours = {"green": (0.0, 1.0, 0.4), "white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0)}
    images = torch.stack([torch.tensor(c).view(3, 1, 1).expand(3, 32, 32) for c in colours.values()])
    maps = torch.zeros(3, 1, 32, 32)
    maps[:, 0, 10:22, 10:22] = torch.tensor([3.0, 2.0, 1.0]).view(3, 1, 1)   # one region, peaks rank the images
    fig = unit_patches(images, maps, {0: ("square", 0.5)}, torch.tensor([0.5]), k=3)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255
    height = pixels.shape[0]
    for ax, (name, colour) in zip(fig.axes, colours.items()):
        box = ax.get_window_extent()
        panel = pixels[height - int(box.y1) + 2:height - int(box.y0) - 2, int(box.x0) + 2:int(box.x1) - 2]
        far = (np.abs(panel - np.array(colour)).max(axis=-1) > 0.5).mean()   # pixels far from the probe's colour
        message = f"the outline is hardly visible on a {name} probe ({far:.1%} of the panel)"
        assert far > 0.01, message  # exact: a synthetic figure drawn by matplotlib, no model (old code: 0.0 on green)
    plt.close(fig)
