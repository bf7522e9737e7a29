"""Shared fixtures: tiny seeded models for unit tests, the embedded model (loaded once) for end-to-end checks."""
from __future__ import annotations

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

# Notebooks and helpers that tests/test_browser.py opens in JupyterLab; not tests themselves (nbval skips them).
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(scope="session")
def model():
    """The embedded EfficientNet-Lite0 on the best device, loaded once per test session."""
    from vizlab import load_model

    return load_model()


@pytest.fixture(scope="session")
def judge():
    """The independent judge, EfficientNet-Lite2 (offline), loaded once per test session."""
    from vizlab import load_judge

    return load_judge()


@pytest.fixture
def tiny():
    """A seeded conv-ReLU(inplace)-conv-ReLU(inplace)-GAP-linear network (see vizlab.toy)."""
    from vizlab.toy import tiny_cnn

    return tiny_cnn(seed=0)


@pytest.fixture
def images():
    from vizlab.toy import random_images

    return random_images(2, 16, seed=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def hooks_left(module: torch.nn.Module) -> int:
    """How many forward/backward hooks remain anywhere in a module tree."""
    total = 0
    for m in module.modules():
        total += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        total += len(getattr(m, "_backward_pre_hooks", {}))
    return total
