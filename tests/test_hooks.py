import pytest
import torch

from conftest import hooks_left
from vizlab.hooks import activations, capture


def test_captures_pre_activation_despite_inplace_relu(tiny, images):
    """conv2 is followed by ReLU(inplace=True): the stored conv output must keep its negative values."""
    with capture(tiny, ["conv2", "relu2"]) as cap, torch.no_grad():
        tiny(images)
    expected = tiny.conv2(tiny.relu1(tiny.conv1(images)))
    assert torch.allclose(cap["conv2"], expected, atol=1e-6)
    assert cap["conv2"].min() < 0
    assert torch.allclose(cap["relu2"], expected.clamp_min(0), atol=1e-6)
    assert hooks_left(tiny) == 0


def test_gradients_match_autograd_with_inplace_relu(tiny, images):
    x = images.clone().requires_grad_(True)
    with capture(tiny, "conv2", gradients=True) as cap:
        score = tiny(x)[:, 3].sum()
        score.backward()
    # Reference: split the network by hand at conv2's output.
    z = tiny.conv2(tiny.relu1(tiny.conv1(images))).detach().requires_grad_(True)
    tiny.fc(tiny.pool(torch.relu(z)).flatten(1))[:, 3].sum().backward()
    assert torch.allclose(cap.gradients["conv2"], z.grad, atol=1e-6)
    assert hooks_left(tiny) == 0


def test_keep_graph_allows_autograd_grad_and_same_logits(tiny, images):
    with torch.no_grad():
        plain = tiny(images)
    with capture(tiny, "relu2", keep_graph=True) as cap:
        x = images.clone().requires_grad_(True)
        out = tiny(x)
        (g,) = torch.autograd.grad(out[:, 0].sum(), cap["relu2"])
    assert torch.allclose(out, plain, atol=1e-6)
    assert g.shape == cap["relu2"].shape


def test_hooks_removed_after_exception(tiny, images):
    with pytest.raises(RuntimeError, match="boom"):
        with capture(tiny, ["conv1", "relu2"], gradients=True):
            tiny(images)
            raise RuntimeError("boom")
    assert hooks_left(tiny) == 0


def test_hooks_removed_when_forward_fails(tiny):
    with pytest.raises(RuntimeError):
        with capture(tiny, "conv2"):
            tiny(torch.rand(1, 5, 8, 8))  # wrong channel count
    assert hooks_left(tiny) == 0


def test_bad_layer_names_raise_before_hooking(tiny):
    with pytest.raises(ValueError, match="unknown layer"):
        with capture(tiny, ["conv1", "nope"]):
            pass
    assert hooks_left(tiny) == 0
    with pytest.raises(ValueError, match="at least one"):
        with capture(tiny, []):
            pass


def test_missing_capture_has_clear_key_error(tiny):
    with capture(tiny, "conv1") as cap:
        pass
    with pytest.raises(KeyError, match="did not run"):
        cap["conv1"]
    with pytest.raises(KeyError, match="not captured"):
        cap["fc"]


def test_activations_helper_on_embedded_model(model):
    x = model.to_input("cat")
    logits, acts = activations(model, x, ["stem", "head"])
    assert logits.shape == (1, 1000)
    assert acts["stem"].shape == (1, 32, 112, 112) and acts["head"].shape == (1, 1280, 7, 7)
    assert hooks_left(model) == 0


def test_gradients_requested_without_autograd_warn(tiny, images):
    with pytest.warns(RuntimeWarning, match="no gradient will be recorded"):
        with capture(tiny, "conv2", gradients=True) as cap, torch.no_grad():
            tiny(images)
    assert "conv2" in cap and cap.gradients == {}
    assert hooks_left(tiny) == 0


def test_float64_images_are_cast_for_the_model(model):
    x = model.to_input("cat").double()
    assert model.to_input(x).dtype == torch.float32


def test_capture_ignores_forward_passes_of_other_threads(tiny, images):
    """Two widgets computing on one model at once must not overwrite each other's activations."""
    import threading

    entered, other_done = threading.Event(), threading.Event()
    seen = {}

    def other():
        entered.wait(10)
        with capture(tiny, "conv2") as cap, torch.no_grad():
            tiny(images[1:2])
        seen["other"] = cap["conv2"]
        other_done.set()

    worker = threading.Thread(target=other)
    worker.start()
    with capture(tiny, "conv2") as mine, torch.no_grad():
        tiny(images[:1])
        entered.set()
        assert other_done.wait(10)  # the other thread ran the model while our hooks were attached
        with capture(tiny, "conv2", any_thread=True) as every:
            t = threading.Thread(target=lambda: tiny(images[2:3]))
            t.start()
            t.join()
    worker.join()
    expected = tiny.conv2(tiny.relu1(tiny.conv1(images)))
    assert torch.allclose(mine["conv2"], expected[:1], atol=1e-6)
    assert torch.allclose(seen["other"], expected[1:2], atol=1e-6)
    assert torch.allclose(every["conv2"], expected[2:3], atol=1e-6)
    assert hooks_left(tiny) == 0
