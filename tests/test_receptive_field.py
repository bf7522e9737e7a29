"""Receptive-field arithmetic on hand-built networks with known answers, checked against input gradients."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from vizlab.inside.receptive_field import receptive_field, receptive_fields
from vizlab.toy import tiny_cnn


def _grad_boxes(model: nn.Module, layer: str, size: int, units, seed: int = 0):
    """Bounding boxes (y0, y1, x0, x1) of the input pixels with a nonzero gradient, one per unit ``(i, j)``
    (all channels of the unit summed), from one forward pass."""
    from vizlab.hooks import capture

    torch.manual_seed(seed)
    x = torch.rand(1, 3, size, size, requires_grad=True)
    with capture(model, layer, keep_graph=True) as cap:
        model(x)
    act = cap[layer]
    boxes = []
    for i, j in units:
        (g,) = torch.autograd.grad(act[0, :, i, j].sum(), x, retain_graph=True)
        nz = g.abs().sum(1)[0].nonzero()
        boxes.append((int(nz[:, 0].min()), int(nz[:, 0].max()) + 1, int(nz[:, 1].min()), int(nz[:, 1].max()) + 1))
    return boxes


def _grad_box(model: nn.Module, layer: str, size: int, i: int, j: int, seed: int = 0):
    """:func:`_grad_boxes` for one unit."""
    return _grad_boxes(model, layer, size, [(i, j)], seed)[0]


def test_two_3x3_convs_see_5x5():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1))
    rf = receptive_fields(net, 16)
    assert rf["0"].size == (3, 3) and rf["1"].size == (5, 5)
    assert rf["1"].stride == (1, 1) and rf["1"].start == (-2, -2) and rf["1"].offset == (0.0, 0.0)


def test_resnet_stem_7x7_stride2_then_maxpool_is_11_wide_with_stride_4():
    net = nn.Sequential(nn.Conv2d(3, 8, 7, stride=2, padding=3), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1))
    rf = receptive_fields(net, 32)
    assert rf["0"].size == (7, 7) and rf["0"].stride == (2, 2) and rf["0"].start == (-3, -3)
    assert rf["2"].size == (11, 11) and rf["2"].stride == (4, 4) and rf["2"].start == (-5, -5)
    assert rf["1"] == rf["0"]                      # a ReLU changes nothing
    assert rf["2"].output_size == (8, 8)


def test_alexnet_conv1_and_dilation_and_rectangular_kernels():
    # AlexNet's conv1: 11x11, stride 4, padding 2; a 3x3 max pool with stride 2 after it.
    alex = nn.Sequential(nn.Conv2d(3, 8, 11, stride=4, padding=2), nn.MaxPool2d(3, 2))
    rf = receptive_fields(alex, 224)
    assert rf["1"].size == (19, 19) and rf["1"].stride == (8, 8)
    dilated = nn.Sequential(nn.Conv2d(3, 2, 3, dilation=2), nn.Conv2d(2, 2, (1, 5), stride=(1, 2)))
    rf = receptive_fields(dilated, 20)
    assert rf["0"].size == (5, 5)
    assert rf["1"].size == (5, 9) and rf["1"].stride == (1, 2)


def test_tiny_cnn_and_global_pooling():
    rf = receptive_fields(tiny_cnn(), 16)
    assert rf["conv2"].size == (5, 5) and rf["conv2"].stride == (2, 2) and rf["conv2"].start == (-2, -2)
    assert rf["relu2"] == rf["conv2"]
    # After global average pooling the single unit sees the whole image.
    y0, y1, x0, x1 = rf["pool"].box(0, 0)
    assert (y0, y1, x0, x1) == (0, 16, 0, 16) and rf["fc"] == rf["pool"]


@pytest.mark.parametrize("padding", [0, 1, "same"])
def test_plain_convs_match_the_gradient_support_exactly(padding):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=padding), nn.Conv2d(4, 4, 5, stride=2, padding=2 if padding else 0),
                        nn.AvgPool2d(2), nn.Conv2d(4, 2, 3, padding=padding))
    size = 33
    rf = receptive_field(net, "3", size)
    h, w = rf.output_size
    for i, j in [(h // 2, w // 2), (0, 0), (h - 1, w - 1), (0, w - 1)]:   # interior and clipped corners
        assert _grad_box(net, "3", size, i, j) == rf.box(i, j), (i, j)


def test_residual_block_with_strided_shortcut_and_timm_same_padding():
    from timm.layers import Conv2dSame

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = Conv2dSame(3, 4, 3, stride=2)          # TensorFlow "SAME": pads 0 before, 1 after at even sizes
            self.b = nn.Conv2d(4, 4, 3, padding=1)
            self.shortcut = nn.Conv2d(3, 4, 1, stride=2)     # runs last, on the block input: a side branch

        def forward(self, x):
            return self.b(self.a(x)) + self.shortcut(x)

    torch.manual_seed(0)
    net = nn.Sequential(Block(), nn.Conv2d(4, 4, 3, padding=1))
    for size in (16, 17):   # "SAME" padding depends on the input size
        rf = receptive_field(net, "1", size)
        h, w = rf.output_size
        for i, j in [(h // 2, w // 2), (0, 0), (h - 1, w - 1)]:
            assert _grad_box(net, "1", size, i, j) == rf.box(i, j), (size, i, j)
    rf16 = receptive_field(net, "0", 16)
    assert receptive_field(net, "0.a", 16).start == (0, 0)   # "SAME" pads nothing before at even sizes
    assert rf16.start == (-2, -2) and rf16.size == (7, 7) and rf16.stride == (2, 2)
    with pytest.raises(ValueError, match="side branch"):
        receptive_field(net, "0.shortcut", 16)


def test_embedded_efficientnet_fields_contain_the_gradient_support(model):
    size = 96
    fields = receptive_fields(model, size)
    for layer in ("stem", "block2", "block3"):
        rf = fields[layer]
        h, w = rf.output_size
        for i, j in [(h // 2, w // 2), (0, 0)]:
            gy0, gy1, gx0, gx1 = _grad_box(model, layer, size, i, j)
            y0, y1, x0, x1 = rf.box(i, j)
            assert y0 <= gy0 and gy1 <= y1 and x0 <= gx0 and gx1 <= x1, (layer, i, j)
            # ... and the field is not loose: the gradient reaches its far edges too.
            assert (gy0, gy1, gx0, gx1) == (y0, y1, x0, x1), (layer, i, j)
    assert fields["stem"].size == (3, 3) and fields["stem"].stride == (2, 2)
    assert fields["block3"].stride == (8, 8)
    assert receptive_field(model, "block3", size) == fields["block3"]
    # Deeper, at a size where block4's 147-pixel field fits inside the image around the centre unit.
    rf = receptive_field(model, "block4", 160)
    h, w = rf.output_size
    assert rf.size == (147, 147) and rf.stride == (16, 16)  # exact
    boxes = _grad_boxes(model, "block4", 160, [(h // 2, w // 2), (0, 0)])
    assert boxes == [rf.box(h // 2, w // 2), rf.box(0, 0)]  # exact


def test_explicit_pad_layers_move_the_start_like_conv_padding():
    torch.manual_seed(0)
    for pad in (nn.ReflectionPad2d(1), nn.ZeroPad2d((2, 1, 1, 0)), nn.ReplicationPad2d(1)):
        net = nn.Sequential(pad, nn.Conv2d(3, 4, 3), nn.MaxPool2d(2, ceil_mode=True), nn.ReflectionPad2d(1),
                            nn.Conv2d(4, 4, 3))
        rf = receptive_field(net, "4", 21)
        left, _, top, _ = pad.padding
        assert rf.size == (8, 8) and rf.stride == (2, 2) and rf.start == (-top - 2, -left - 2)  # exact
        h, w = rf.output_size
        for i, j in [(h // 2, w // 2), (0, 0), (h - 1, w - 1)]:
            assert _grad_box(net, "4", 21, i, j) == rf.box(i, j), (pad, i, j)  # exact


class _FunctionalPad(nn.Module):
    def forward(self, x):
        return torch.nn.functional.pad(x, (1, 1, 1, 1), mode="circular")


def test_a_resizing_layer_of_unknown_geometry_is_an_error_not_a_wrong_field():
    """Before round 11's fix VGG-19's pad layers were skipped and every later field came out too small; a pad that
    vizlab still does not know (circular, functional) must stop the computation, and hooks must not be left."""
    for pad in (_FunctionalPad(), nn.CircularPad2d(1)):
        net = nn.Sequential(pad, nn.Conv2d(3, 4, 3), nn.ReLU())
        with pytest.raises(ValueError, match=type(pad).__name__):
            receptive_fields(net, 16)
        assert all(not m._forward_hooks for m in net.modules())  # exact


@pytest.fixture(scope="module")
def vgg():
    from vizlab.models import load_model

    return load_model("vgg19_normalised", device="cpu")


def test_style_vgg19_fields_from_its_reflection_pads_match_the_gradient_support(vgg):
    # Every 3x3 conv of this VGG-19 follows a ReflectionPad2d and has padding 0; a walk that missed the pads
    # took each conv for a side branch and gave relu5_1 a 16-pixel field. From the geometry: 3x3 convs add
    # 2 * jump, 2x2 pools add 1 * jump and double it: relu3_1 24 px, relu4_1 68, relu5_1 156, relu5_4 252.
    fields = receptive_fields(vgg, 224)
    expected = {"relu1_1": (3, 1), "relu2_1": (10, 2), "relu3_1": (24, 4), "relu4_1": (68, 8), "relu5_1": (156, 16),
                "relu5_4": (252, 16)}
    for layer, (size, stride) in expected.items():
        assert fields[layer].size == (size, size) and fields[layer].stride == (stride, stride), layer  # exact
    # Empirically: the input pixels that move a unit (nonzero gradient) fill exactly its clipped field.
    # The gradient runs on the trunk up to relu5_1 only (the same modules; the full model would add time).
    size = 176
    last = int(vgg.layers["relu5_1"].split(".")[1])
    trunk = vgg.net[: last + 1]
    for layer in ("relu3_1", "relu4_1", "relu5_1"):
        rf = receptive_field(vgg, layer, size)
        h, w = rf.output_size
        units = [(h // 2, w // 2), (0, 0), (h - 1, w // 3)]
        module = str(int(vgg.layers[layer].split(".")[1]))
        assert _grad_boxes(trunk, module, size, units) == [rf.box(i, j) for i, j in units], layer  # exact


def test_bad_arguments():
    with pytest.raises(ValueError, match="input_size"):
        receptive_fields(tiny_cnn(), 0)
    with pytest.raises(ValueError, match="unknown layer"):
        receptive_field(tiny_cnn(), "conv9", 16)


def test_vgg19_top_patches_are_cut_at_the_true_field_size(vgg):
    from vizlab.inside import make_shapes, max_activating_patches

    images = make_shapes(4, 64, seed=0)
    found = max_activating_patches(vgg, images, "relu3_1", channels=[0, 5], k=3, full_fields=True, cache=False,
                                   progress=False)
    for patches in found.values():
        for p in patches:
            y0, y1, x0, x1 = p.box
            assert (y1 - y0, x1 - x0) == (24, 24) and p.padded.shape == (24, 24, 3)  # exact
            assert (y0, x0) == (-10 + 4 * p.unit[0], -10 + 4 * p.unit[1])  # exact
