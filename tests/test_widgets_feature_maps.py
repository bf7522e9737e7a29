import pytest

from vizlab.widgets.feature_maps import FeatureMapExplorer


@pytest.fixture(scope="module")
def explorer():
    from vizlab import load_model

    return FeatureMapExplorer(load_model(device="cpu"), images=["cat", "espresso"])


def test_controls_redraw_and_cache_forward_passes(explorer):
    first = explorer.image.value
    assert first and explorer.history[-1].startswith("cat/stem/")
    explorer.layer_picker.value = "head"
    assert explorer.history[-1].startswith("cat/head/") and explorer.channel.max == 1279
    explorer.channel.value = 7
    assert explorer.history[-1] == "cat/head/7" and explorer.image.value != first
    explorer.view.value = "top 16"
    assert explorer.history[-1] == "cat/head/top16"
    assert explorer.forward_passes == 1  # layers and channels came from the cache
    explorer.image_picker.value = "espresso"
    assert explorer.history[-1] == "espresso/head/top16" and explorer.forward_passes == 2
    assert "head: 1280 channels of 7x7" in explorer.status.value


def test_explorer_rejects_bad_arguments(model):
    with pytest.raises(TypeError, match="VizModel"):
        FeatureMapExplorer(object())
    with pytest.raises(ValueError, match="unknown layer"):
        FeatureMapExplorer(model, layers=["stem", "nope"])
