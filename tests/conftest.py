"""Shared fixtures: tiny seeded models for unit tests, the embedded model (loaded once) for end-to-end checks."""
from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

# Notebooks and helpers that tests/test_browser.py opens in JupyterLab; not tests themselves (nbval skips them).
collect_ignore_glob = ["fixtures/*"]

# The longest files first (go.py test: two pytest-xdist workers take whole files from one queue, in this order,
# with --no-loadscope-reorder), so that the run does not end with one worker on a long file and the other idle.
# Rough CPU (and waiting) seconds, measured on a shared 2-core machine (issue 29); order only, never asserted.
SLOW_FIRST = [
    "tests/test_browser.py",                       # JupyterLab, Chromium, six pages at once; Voila's gallery
    "notebooks/05_class_visualization.ipynb",      # ladder, CS231n, Fourier and default class images, fooling
    "notebooks/02_inside_at_scale.ipynb",          # trains the shapes CNN (~100 s)
    "notebooks/10_ground_truth_lab.ipynb",         # the lab models (shortcut, clean, right-for-the-right-reasons)
    "tests/test_grading_caps.py",                  # sandboxes with time and memory caps
    "tests/test_grading.py",
    "tests/test_grading_attacks.py",
    "tests/test_wheel.py",                         # builds the wheel, a fresh environment
    "notebooks/06_deepdream.ipynb",
    "notebooks/07_style_transfer.ipynb",
    "notebooks/09_can_we_trust_these_pictures.ipynb",
    "tests/test_attribution.py",
    "notebooks/01_weights_and_activations.ipynb",  # ICA on photo patches
    "notebooks/exercises/E6_detective.ipynb",
    "notebooks/08_fast_style_transfer.ipynb",
]


def pytest_collection_modifyitems(session, config, items):
    """Put the files of :data:`SLOW_FIRST` first, in its order; the rest keep theirs (a stable sort)."""
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    root = config.rootpath

    def key(item):
        try:
            path = item.path.relative_to(root).as_posix()
        except ValueError:
            return len(rank)
        return rank.get(path, len(rank))

    items.sort(key=key)


# Where the time goes (issue 29): the seconds of each file (setup + call + teardown of its tests), the worker
# that ran it and when it started and ended, so that SLOW_FIRST can be refreshed from a real run. The slowest
# files are printed at the end of the run; VIZLAB_TEST_TIMES=path also writes every file's row as JSON.
_FILE_TIMES: dict[str, dict] = {}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    node = getattr(report, "node", None)  # the xdist worker that ran it (absent without xdist)
    worker = getattr(getattr(node, "gateway", None), "id", "main")
    row = _FILE_TIMES.setdefault(path, {"file": path, "worker": worker, "seconds": 0.0, "tests": 0,
                                        "start": report.start, "stop": report.stop})
    row["seconds"] += report.duration
    row["tests"] += report.when == "call"
    row["start"], row["stop"] = min(row["start"], report.start), max(row["stop"], report.stop)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput") or not _FILE_TIMES:
        return
    rows = sorted(_FILE_TIMES.values(), key=lambda r: -r["seconds"])
    t0 = min(r["start"] for r in rows)
    terminalreporter.write_sep("-", "slowest files (seconds of their tests; worker; start-end since the first test)")
    for r in rows[:20]:
        terminalreporter.write_line(f"{r['seconds']:8.1f} s  {r['worker']:>4}  {r['start'] - t0:7.0f}-"
                                    f"{r['stop'] - t0:<7.0f} {r['file']} ({r['tests']} tests)")
    for worker in sorted({r["worker"] for r in rows}):
        mine = [r for r in rows if r["worker"] == worker]
        terminalreporter.write_line(f"worker {worker}: {sum(r['seconds'] for r in mine):.0f} s in {len(mine)} "
                                    f"files, last file ended at {max(r['stop'] for r in mine) - t0:.0f} s")
    out = os.environ.get("VIZLAB_TEST_TIMES")
    if out:
        Path(out).write_text(json.dumps(rows, indent=1))


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
