"""The inference fast path: exact to float rounding, cached per model, rebuilt when weights change, frozen."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import hooks_left
from vizlab.fastpath import AfterNorm, clear_cache, exact_at, fast_forward, fold_batchnorm, inference_model


def _bn_net(seed: int = 0) -> nn.Module:
    """conv-BN-ReLU, conv-BN with a skip from the *conv* output (must not be folded), GAP, linear; random stats."""
    torch.manual_seed(seed)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1, self.relu = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True)
            self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            z = self.conv2(y)
            return self.fc((self.bn2(z) + z).mean((2, 3)))  # conv2's output is used twice: keep it

    net = Net()
    for bn in (net.bn1, net.bn2):  # non-trivial statistics, as after training
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


def test_logits_equal_plain_model_on_the_package_photos(model):
    from vizlab import sample_names

    names = [n for n in sample_names() if n != "cat_and_espresso"] + ["cat_and_espresso"]
    x = model.to_input(names)
    with torch.no_grad():
        plain = model(x)
    fast = fast_forward(model, x)
    assert fast.shape == plain.shape
    diff = float((fast - plain).abs().max())
    assert diff < 1e-4, f"max |logit difference| = {diff:.2e}"  # exact: fused and unfused forward agree to float tolerance
    assert torch.equal(fast.argmax(1), plain.argmax(1))


def test_fast_copy_is_folded_frozen_channels_last_and_leaves_the_model_alone(model):
    fast = inference_model(model)
    assert fast is not model and type(fast) is type(model)
    assert not fast.training and not any(p.requires_grad for p in fast.parameters())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())          # every batch norm folded
    assert len(fast.folded) == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 49
    assert fast.net.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert isinstance(fast.get_submodule(model.layer_path("head")), AfterNorm)
    # the plain model keeps its batch norms and its gradients (gradient methods use it)
    assert isinstance(model.get_submodule(model.layer_path("head")), nn.BatchNorm2d)
    assert all(p.requires_grad for p in model.parameters())
    assert fast.categories == model.categories and fast.layers == model.layers
    assert inference_model(fast) is fast


def test_cached_once_and_rebuilt_when_weights_change():
    clear_cache()
    net = _bn_net()
    x = torch.rand(2, 3, 12, 12)
    first = inference_model(net)
    assert inference_model(net) is first                                     # built once
    with torch.no_grad():
        net.conv1.weight[0, 0, 0, 0] += 0.5                                      # in place: version counter
    second = inference_model(net)
    assert second is not first
    with torch.no_grad():
        torch.testing.assert_close(second(x), net(x), atol=1e-5, rtol=0)
    net.load_state_dict(_bn_net(seed=1).state_dict())                             # copied in: version counter
    third = inference_model(net)
    assert third is not second
    net.bn2.running_mean.data = torch.zeros(8)                                   # replaced: new storage
    fourth = inference_model(net)
    assert fourth is not third
    net.fc.weight.data.normal_()                                                  # through .data: no version bump
    fifth = inference_model(net)
    assert fifth is not fourth
    with torch.no_grad():
        torch.testing.assert_close(fifth(x), net(x), atol=1e-5, rtol=0)
    assert inference_model(net) is fifth


def test_folding_is_exact_and_keeps_a_conv_whose_output_is_reused():
    net = _bn_net()
    x = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        plain = net(x)
    fast = inference_model(net)
    assert fast.folded == {"conv1": "bn1"}                 # conv2 feeds bn2 *and* the sum: not folded
    assert isinstance(fast.bn2, nn.BatchNorm2d) and isinstance(fast.bn1, AfterNorm)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), plain, atol=1e-5, rtol=0)
    assert not exact_at(fast, "conv1") and exact_at(fast, "bn1") and exact_at(fast, "conv2")


def test_fold_batchnorm_refuses_training_mode():
    net = _bn_net().train()
    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(net)
    fast = inference_model(net)                             # the fast copy is an eval-mode copy ...
    assert net.training and not fast.training               # ... and the model keeps its mode


def test_hooks_of_the_model_do_not_run_on_the_copy_and_none_are_left():
    clear_cache()
    net = _bn_net()
    seen = []
    handle = net.conv1.register_forward_hook(lambda m, i, o: seen.append(1))
    try:
        fast = inference_model(net)                         # built while a hook is registered
        with torch.inference_mode():
            fast(torch.rand(1, 3, 8, 8))
    finally:
        handle.remove()
    assert seen == [] and hooks_left(fast) == 0 and hooks_left(net) == 0


def test_bad_model_type():
    with pytest.raises(TypeError, match="model"):
        inference_model("efficientnet_lite0")


def test_torchvision_model_with_batch_norm_folds_exactly():
    from vizlab import load_model

    torch.manual_seed(0)
    model = load_model("resnet18", device="cpu", weights=None)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        plain = model(x)
    fast = inference_model(model)
    assert len(fast.folded) == 20
    diff = float((fast_forward(model, x) - plain).abs().max())
    assert diff < 1e-4 * max(1.0, float(plain.abs().max()))


@pytest.mark.parametrize("layer", ["stem", "block3", "block5_expand", "head_conv", "head", "pool"])
def test_features_on_the_fast_path_equal_the_plain_model(model, tmp_path, layer):
    from vizlab.inside.datasets import ImageSet
    from vizlab.inside.features import extract_features

    x = model.to_input(["cat", "espresso", "rocket"], size=96)
    data = ImageSet(x.cpu(), torch.arange(3), ["a", "b", "c"], "photos")
    kw = dict(pool=None if layer != "pool" else "avg", cache=False, progress=False, batch_size=2)
    fast = extract_features(model, data, layer, fast=True, **kw)
    plain = extract_features(model, data, layer, fast=False, **kw)
    assert fast.shape == plain.shape and fast.is_contiguous()
    torch.testing.assert_close(fast, plain, atol=1e-4, rtol=1e-4)
    assert hooks_left(model) == 0 and hooks_left(inference_model(model)) == 0


def test_tracing_for_the_fast_copy_leaves_other_threads_forward_passes_alone(model):
    # fx patches nn.Module.__call__ process-wide while it traces; another thread's forward pass (an explorer's
    # sweep) used to be traced into the graph and fail with "module is not installed as a submodule".
    import copy
    import threading

    from vizlab.fastpath import _conv_bn_pairs

    other = copy.deepcopy(model)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = other(x)
    errors, outs, stop = [], [], threading.Event()

    def forward_loop():
        while not stop.is_set():
            try:
                with torch.no_grad():
                    outs.append(other(x))
            except Exception as exc:  # the failure this test guards against
                errors.append(exc)
                return

    worker = threading.Thread(target=forward_loop)
    worker.start()
    try:
        pairs = [_conv_bn_pairs(model) for _ in range(10)]
    finally:
        stop.set()
        worker.join()
    assert not errors, errors[0]
    assert outs and all(torch.equal(o, expected) for o in outs)
    assert all(p == pairs[0] for p in pairs) and pairs[0]
