"""TrustExplorer, headless: set .value, check what was drawn, what was computed, and that weights come back."""
from __future__ import annotations

import pytest
import torch

from conftest import hooks_left
from vizlab.widgets import TrustExplorer


def test_trust_explorer_randomises_caches_and_restores(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ex = TrustExplorer(model, "cat", size=96, steps=4, method="guided backprop")
    assert ex.history == ["start"] and ex.image.value and "ρ = 1.00" in ex.status.value
    ex.randomise.value = 3                          # classifier, head, block7 random
    assert ex.history[-1] == "randomise" and "randomised down to block7" in ex.status.value
    gbp_rho = float(ex.status.value.split("ρ = ")[1][:4])
    ex.method.value = "Grad-CAM"
    cam_rho = float(ex.status.value.split("ρ = ")[1][:4])
    assert gbp_rho > cam_rho + 0.3                  # the sanity check, live
    computed = ex.computed
    ex.randomise.value = 0
    ex.randomise.value = 3
    assert ex.computed == computed                  # cached: nothing recomputed
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert hooks_left(model) == 0


def test_trust_explorer_rejects_unknown_method_and_layer(model):
    with pytest.raises(ValueError, match="method"):
        TrustExplorer(model, "cat", size=64, method="gradcam_v2")
    with pytest.raises(ValueError, match="layer"):
        TrustExplorer(model, "cat", size=64, layer="pool")
