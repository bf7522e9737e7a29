"""vizlab.device.set_threads: explicit counts, 'auto' from the CPUs and the load, argument errors."""
from __future__ import annotations

import os

import pytest
import torch

from vizlab.device import available_cpus, set_threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_explicit_count_is_set(restore_threads):
    assert set_threads(1) == 1 and torch.get_num_threads() == 1
    assert set_threads(2) == 2 and torch.get_num_threads() == 2


@pytest.mark.parametrize("load, cpus, expected", [(0.0, 4, 4), (1.2, 4, 3), (3.6, 4, 1), (40.0, 2, 1), (0.4, 2, 2)])
def test_auto_leaves_the_cores_that_others_use(restore_threads, monkeypatch, load, cpus, expected):
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr("vizlab.device.available_cpus", lambda: cpus)
    assert set_threads("auto") == expected == torch.get_num_threads()


def test_available_cpus_is_positive():
    assert 1 <= available_cpus() <= (os.cpu_count() or 1)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError),
                                        ("many", TypeError)])
def test_bad_arguments(restore_threads, bad, error):
    with pytest.raises(error, match="threads"):
        set_threads(bad)
