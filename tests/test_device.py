import pytest
import torch

from vizlab.device import get_device, model_device, scaled


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device(None).type == "cpu"


def test_explicit_devices_are_checked(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_device("cuda")
    with pytest.raises(ValueError, match="not a device"):
        get_device("tpu")
    with pytest.raises(TypeError):
        get_device(3)


def test_model_device_follows_parameters(tiny):
    assert model_device(tiny) == torch.device("cpu")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu")


def test_scaled_picks_by_device(monkeypatch):
    assert scaled(64, 224, "cpu") == 64
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert scaled(64, 224) == 224
