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
# Worker-seconds per file from the round-9 clean-clone runs (2 cores, load 2-3), the grading files and the
# detective's as estimated after round 10's cut (the grader no longer trains E6's hidden models for every fresh
# key: benchmarks/README.md, "Round 10 (r10-speed)"); order only, never asserted. Files not listed take < 15 s.
SLOW_FIRST = [
    "tests/test_browser.py",                       # 384: JupyterLab, Chromium, six pages at once; Voila's gallery
    "notebooks/05_class_visualization.ipynb",      # 150: ladder, CS231n, Fourier and default class images, fooling
    "tests/test_grading_caps.py",                  # ~110: E1-E6 graded in the sandbox; time and memory caps
    "tests/test_lab_detective.py",                 # ~105: E6's hidden models drawn for three keys
    "notebooks/02_inside_at_scale.ipynb",          # 61: trains the shapes CNN
    "tests/test_grading.py",                       # ~60: nine sandbox starts, the killed grader
    "notebooks/exercises/E6_detective.ipynb",      # 44-62: the detective models, hidden ones of a random key
    "notebooks/10_ground_truth_lab.ipynb",         # 45: the lab models (shortcut, clean, right-for-the-right-reasons)
    "notebooks/07_style_transfer.ipynb",           # 42-46
    "notebooks/08_fast_style_transfer.ipynb",      # 35
    "tests/test_train_fast_style_vgg.py",          # 33 (58 in round 13's loaded clean clone: the relu4_3 export)
    "tests/test_fast_style_vgg19_network.py",      # 66 in round 13's loaded clean clone (two VGG networks)
    "tests/test_grading_attacks.py",               # ~30: seven sandbox starts
    "tests/test_gallery.py",                       # 27
    "notebooks/09_can_we_trust_these_pictures.ipynb",  # 18-25
    "notebooks/06_deepdream.ipynb",                # 18-23
    "tests/test_widget_modes.py",                  # 21-23
    "tests/test_wheel.py",                         # 16-23: builds the wheel, a fresh environment
    "tests/test_grading_trust.py",                 # ~15
    "tests/test_trust_peers.py",                   # 16-18
    "tests/test_attribution.py",                   # 16
    "notebooks/01_weights_and_activations.ipynb",  # ICA on photo patches
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


def one_thread_and_concurrent(run, workers: int = 2):
    """``run(1)`` at one torch thread, the reference, and ``run(workers)`` at 2 torch threads where the machine has
    2 cores: a concurrent class image must equal the reference to the bit (a sequential run on more threads need
    not). Torch's thread count is restored. Returns both results."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = run(1)
        torch.set_num_threads(max(threads, min(2, os.cpu_count() or 1)))
        return one, run(workers)
    finally:
        torch.set_num_threads(threads)
