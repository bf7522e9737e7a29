"""Every technique on every available device: outputs stay on the model's device and are finite.

On this CPU-only CI only "cpu" runs; on a machine with CUDA or Apple MPS the same checks run there too
(the GPU path's smoke test). Small sizes and few steps: this checks devices, not quality.
"""
import pytest
import torch

import vizlab
from vizlab.attribution import grad_cam, occlusion, saliency
from vizlab.optimize import class_logit, deepdream, render
from vizlab.style import loss_network, style_transfer

DEVICES = ["cpu"]
if torch.cuda.is_available():
    DEVICES.append("cuda")
if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
    DEVICES.append("mps")


@pytest.fixture(scope="module", params=DEVICES)
def on_device(request):
    return vizlab.load_model(device=request.param)


def _same_device(t: torch.Tensor, model) -> bool:
    return t.device.type == model.device.type


def test_attribution_follows_the_model(on_device):
    x = on_device.to_input("cat_and_espresso", size=96)
    for heat in (saliency(on_device, x, "espresso"), grad_cam(on_device, x, "espresso")):
        assert _same_device(heat, on_device) and torch.isfinite(heat).all()
    for method in ("full", "incremental"):
        res = occlusion(on_device, x, "espresso", patch=48, stride=48, method=method)
        assert torch.isfinite(torch.as_tensor(res.grid)).all()


def test_optimization_and_style_follow_the_model(on_device):
    r = render(on_device, class_logit(130), steps=2, size=64, progress=False)
    assert _same_device(r.image, on_device) and torch.isfinite(r.image).all()
    dream = deepdream(on_device, "temple", "block3", octaves=1, steps=1, progress=False)
    assert torch.isfinite(torch.as_tensor(dream.image)).all()
    net = loss_network(model=on_device)
    out = style_transfer("cat", "waves", loss_net=net, size=64, steps=2, progress=False)
    assert _same_device(out.image, on_device) and torch.isfinite(out.image).all()


@pytest.mark.parametrize("device", DEVICES)
def test_the_lab_explorer_follows_the_model(device):
    """Review round 18: LabExplorer sent CPU images to a model on any device. Every lab method runs on the
    model's device, and the map comes back to the CPU for the figure."""
    from vizlab.inside.shapes import shapes_cnn
    from vizlab.lab import paired_sets
    from vizlab.widgets import LabExplorer

    net = shapes_cnn(0, 4, 8, 1.0).eval().to(device)
    ex = LabExplorer({"net": net}, paired_sets(2, seed=3))
    for method in ex.method.options:
        ex.method.value = method
        assert "of the heat on the cue" in ex.status.value, (method, ex.status.value)
        heat, _ = ex.compute("net", method, "match", 0)
        assert heat.device.type == "cpu" and torch.isfinite(heat).all()  # exact
