"""The new CAM variants and Integrated Gradients agree with their peers (pytorch-grad-cam, captum) on the
embedded model: map correlation >= 0.99 on the composite and a second photo. Skipped without the peers
(``pip install vizlab[bench]``)."""
from __future__ import annotations

import pytest
import torch

from vizlab.attribution import (eigen_cam, hires_cam, integrated_gradients, layer_cam, score_cam, xgrad_cam)

PHOTOS = ["cat_and_espresso", "astronaut"]


def corr(a, b) -> float:
    a = torch.as_tensor(a).flatten().double()
    b = torch.as_tensor(b).flatten().double()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


@pytest.mark.parametrize("photo", PHOTOS)
@pytest.mark.parametrize("ours,theirs,layer", [(layer_cam, "LayerCAM", "head"), (hires_cam, "HiResCAM", "head"),
                                               (xgrad_cam, "XGradCAM", "head"), (eigen_cam, "EigenCAM", "head"),
                                               (layer_cam, "LayerCAM", "block4")])
def test_cam_variants_match_pytorch_grad_cam(model, photo, ours, theirs, layer):
    pgc = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x = model.to_input(photo)
    c = int(model(x).argmax())
    a = ours(model, x, c, layer)
    b = getattr(pgc, theirs)(model=model, target_layers=[model.layer(layer)])(
        input_tensor=x, targets=[ClassifierOutputTarget(c)])
    assert corr(a[0], b[0]) >= 0.99  # exact: same formula as the peer


@pytest.mark.parametrize("photo", PHOTOS)
def test_score_cam_matches_pytorch_grad_cam(model, photo):
    pgc = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x = model.to_input(photo, 96)  # 192 channels at block6: 192 forward passes each (x 2 libraries), so small
    c = int(model(x).argmax())
    a = score_cam(model, x, c, "block6", batch_size=64)
    peer = pgc.ScoreCAM(model=model, target_layers=[model.layer("block6")])
    peer.batch_size = 64
    b = peer(input_tensor=x, targets=[ClassifierOutputTarget(c)])
    assert corr(a[0], b[0]) >= 0.99  # exact: same formula as the peer


@pytest.mark.parametrize("photo", PHOTOS)
@pytest.mark.parametrize("ours_rule,their_method", [("midpoint", "riemann_middle"), ("gauss-legendre", "gausslegendre")])
def test_integrated_gradients_match_captum_and_report_completeness(model, photo, ours_rule, their_method):
    captum_attr = pytest.importorskip("captum.attr")
    x = model.to_input(photo, 128)
    c = int(model(x).argmax())
    ours, delta = integrated_gradients(model, x, c, steps=24, reduce="none", return_delta=True, rule=ours_rule)
    theirs, their_delta = captum_attr.IntegratedGradients(model).attribute(
        x, target=c, n_steps=24, method=their_method, return_convergence_delta=True)
    assert corr(ours, theirs) >= 0.99  # exact: same formula as the peer
    assert corr(ours.abs().amax(1), theirs.abs().amax(1)) >= 0.99  # exact: same formula as the peer
    # the same quadrature gives the same completeness gap (captum: sum - (S(x) - S(x0)))
    assert abs(float(delta) - float(their_delta)) <= 1e-3 * (1 + abs(float(their_delta)))
