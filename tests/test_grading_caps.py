"""Issue 27's attack table, the rows about caps and answers: memory, memfd files and processes of the whole
notebook (A13, A25, A21), one notebook per exercise and a time budget per student (A15), hidden cases derived
from a key (A28), the library's implementations unavailable in the sandbox and tricks that need review (A01-A03,
A24). One hostile submission per row.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from vizlab.exercises import catalog
from vizlab.exercises.grading import Limits, feedback_name, grade

from test_grading import CONTENT, EXERCISES, GRAM, IMPORTS, SUBMISSIONS, TV, notebook, notes
from test_grading_attacks import graded_and_removed, root_dir

CAPS = Limits(timeout=30, call_timeout=5, memory_mb=512, file_bytes=32 * 2**20, processes=32)
HOLD = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(60)"

HOSTILE = {
    # A13: forked children that fill memory (each under the per-process limit, together over the notebook's)
    "forked_memory": notebook(IMPORTS, GRAM, CONTENT, TV, (
        "import os, time\nfor _ in range(6):\n    if os.fork() == 0:\n        block = b'\\1' * (200 * 2**20)\n"
        "        time.sleep(60)\n        os._exit(0)\n" + HOLD)),
    # A25: 100 memfd files of 32 MB (no process's resident memory grows)
    "memfd": notebook(IMPORTS, GRAM, CONTENT, TV, (
        "import os\nfds = []\nfor i in range(100):\n    fd = os.memfd_create(f'm{i}')\n"
        "    os.write(fd, b'x' * (32 * 2**20 - 1))\n    fds.append(fd)\n" + HOLD)),
    # A21: 200 children
    "many_children": notebook(IMPORTS, GRAM, CONTENT, TV, (
        "import os, time\nfor _ in range(200):\n    if os.fork() == 0:\n        time.sleep(60)\n"
        "        os._exit(0)\n" + HOLD)),
    # open files: two children with 200 files each (each under the per-process limit, together over 256)
    "many_files": notebook(IMPORTS, GRAM, CONTENT, TV, (
        "import os, time\nfor k in range(2):\n    if os.fork() == 0:\n"
        "        held = [open(f'/tmp/f{k}_{i}', 'w') for i in range(200)]\n        time.sleep(60)\n"
        "        os._exit(0)\n" + HOLD)),
    # A15: two guesses for the same exercise in one submission
    "guesses": None,
    # A01: switch off the tracer (there is none any more), then call vizlab's own implementation
    "settrace": notebook(IMPORTS, "import sys\nsys.settrace = lambda *a, **k: None\n"
                         "from vizlab.style.losses import gram_matrix as g\ndef gram_matrix(features):\n"
                         "    return g(features)", CONTENT, TV),
    # A02: reach into the harness's frames, then call vizlab's own implementation
    "frames": notebook(IMPORTS, "import sys\ndef gram_matrix(features):\n    f = sys._getframe(1)\n"
                       "    import vizlab.style.losses as L\n    return L.gram_matrix(features)", CONTENT, TV),
    # A03: vizlab's implementation bound before the notebook's code runs, under another name
    "prebound": notebook(IMPORTS, "from vizlab.style import losses\nclass Helper:\n    gram = staticmethod("
                         "losses.gram_matrix)\ndef gram_matrix(features):\n    return Helper.gram(features)",
                         CONTENT, TV),
    # A24: TorchScript with a loop inside, in a no-loops exercise
    "torchscript": notebook(IMPORTS, GRAM, CONTENT, (
        "@torch.jit.script\ndef tv_loss(img, weight: float = 1.0):\n    total = torch.zeros(())\n"
        "    for i in range(img.shape[2] - 1):\n        total = total + ((img[:, :, i + 1] - img[:, :, i]) ** 2).sum()\n"
        "    dh = ((img[..., 1:] - img[..., :-1]) ** 2).sum()\n    return weight * (total + dh)")),
    # a loop in a helper the graded function calls (judged on the source, outside the student's process)
    "helper_loop": notebook(IMPORTS, GRAM, CONTENT, (
        "def rows(img):\n    return sum(((img[:, :, i + 1] - img[:, :, i]) ** 2).sum() for i in range(img.shape[2] - 1))\n"
        "def tv_loss(img, weight=1.0):\n    return weight * (rows(img) + ((img[..., 1:] - img[..., :-1]) ** 2).sum())")),
    "honest": SUBMISSIONS["correct"],
}


@pytest.fixture(scope="module")
def capped():
    root = root_dir()
    subs = root / "subs"
    subs.mkdir()
    for name, text in HOSTILE.items():
        if text is not None:
            (subs / f"{name}.ipynb").write_text(text)
    guesses = subs / "guesses"
    guesses.mkdir()
    (guesses / "try1.ipynb").write_text(notebook(IMPORTS, GRAM, CONTENT, TV))
    (guesses / "try2.ipynb").write_text(notebook(IMPORTS, GRAM.replace(" / (c * h * w)", "")))
    yield from graded_and_removed(root, EXERCISES, CAPS)


def problems(result, exercise) -> str:
    return "\n".join(result["exercises"][exercise]["problems"])


def test_memory_of_all_processes_together_is_capped(capped):
    results, root = capped
    for student in ("forked_memory", "memfd"):
        result = results[student]
        assert result["total"] == 0, (student, notes(result))
        assert "more than 512 MB of memory" in notes(result), (student, notes(result))
    assert results["honest"]["total"] == 5 and results["honest"]["notes"] == []


def test_processes_are_capped(capped):
    results, _ = capped
    result = results["many_children"]
    assert result["total"] == 0 and "more than 32 processes" in notes(result), notes(result)


def test_open_files_of_all_processes_together_are_capped(capped):
    results, _ = capped
    result = results["many_files"]
    assert result["total"] == 0 and "more than 256 files open" in notes(result), notes(result)


def test_the_feedback_header_says_which_mechanism_capped(capped):
    results, root = capped
    header = (root / "grades_feedback" / f"{feedback_name('honest')}.txt").read_text().splitlines()[2]
    assert header.startswith("Caps") and "watchdog" in header and "512 MB" in header, header


def test_one_notebook_per_exercise(capped):
    results, _ = capped
    result = results["guesses"]
    assert result["exercises"]["gram"]["points"] == 0
    assert "is defined in 2 notebooks (try1.ipynb, try2.ipynb)" in problems(result, "gram")
    assert result["exercises"]["content"]["points"] == 1 and result["exercises"]["tv"]["points"] == 2


def test_the_library_implementation_is_unavailable_however_it_is_reached(capped):
    results, _ = capped
    for student in ("settrace", "frames", "prebound"):
        assert results[student]["exercises"]["gram"]["points"] == 0, student
    assert "calls vizlab's own implementation" in problems(results["prebound"], "gram")
    assert results["prebound"]["exercises"]["tv"]["points"] == 2  # only that exercise pays
    for student, trick in (("settrace", ".settrace"), ("frames", "._getframe")):
        assert "needs review by a person" in problems(results[student], "gram"), student
        assert trick in problems(results[student], "gram"), student


def test_torchscript_and_loops_in_helpers(capped):
    results, _ = capped
    script = results["torchscript"]["exercises"]["tv"]
    assert script["points"] == 0 and script["review"] and ".jit" in "".join(script["problems"])
    helper = results["helper_loop"]
    assert helper["exercises"]["tv"]["points"] == 0 and helper["exercises"]["gram"]["points"] == 2
    assert "generator in rows" in problems(helper, "tv")


def test_a_time_budget_per_student(tmp_path):
    subs = tmp_path / "subs" / "sleeper"
    subs.mkdir(parents=True)
    for name in ("a", "b", "c"):
        (subs / f"{name}.ipynb").write_text(notebook(IMPORTS, HOLD))
    limits = Limits(timeout=6, student_timeout=9, call_timeout=2, memory_mb=1024)
    started = time.monotonic()
    result = grade(tmp_path / "subs", tmp_path / "g.csv", exercises=EXERCISES, limits=limits, progress=False)[0]
    seconds = time.monotonic() - started
    assert "c.ipynb: not run: the student's time budget of 9 s" in notes(result), notes(result)
    assert "a.ipynb: the notebook ran past the time limit of 6 s" in notes(result)
    assert result["seconds"] < 4 * limits.student_timeout, seconds  # behaviour bound (expected 9 s): no hang


def lookup_notebook(key: bytes) -> str:
    """A notebook that answers gram_matrix by looking up every case it can build from the package (A28)."""
    catalog.use_key(key)
    try:
        table = {}
        for case in catalog.gram.cases(hidden=True):
            (features,), _ = case.make()
            digest = hashlib.sha256(features.numpy().tobytes()).hexdigest()
            table[digest] = catalog.gram.reference(features).tolist()
    finally:
        catalog.use_key(None)
    return notebook(IMPORTS, f"import hashlib\nTABLE = {json.dumps(table)}\ndef gram_matrix(features):\n"
                    "    d = hashlib.sha256(features.numpy().tobytes()).hexdigest()\n"
                    "    return torch.tensor(TABLE[d]) if d in TABLE else torch.zeros(1)", CONTENT, TV)


def test_hidden_cases_come_from_a_key_the_package_does_not_hold(tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "lookup.ipynb").write_text(lookup_notebook(b"whatever the package gives"))
    (subs / "insider.ipynb").write_text(lookup_notebook(b"the instructor's key"))  # control: knows the key
    monkeypatch.setenv("VIZLAB_GRADER_KEY", "the instructor's key")
    limits = Limits(timeout=30, call_timeout=5, memory_mb=1024)
    results = {r["student"]: r for r in grade(subs, tmp_path / "g.csv", exercises=["gram"], limits=limits,
                                             progress=False)}
    gram = results["lookup"]["exercises"]["gram"]
    assert gram["passed"] == 2 and gram["total"] == 4  # the visible cases only
    assert "(hidden test)" in "".join(gram["problems"])
    assert results["insider"]["exercises"]["gram"]["passed"] == 4
    monkeypatch.delenv("VIZLAB_GRADER_KEY")
    catalog.use_key(None)
    key_file = tmp_path / "g_feedback" / ".hidden-cases.key"
    results = grade(subs, tmp_path / "g.csv", exercises=["gram"], limits=limits, progress=False)
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert all(r["exercises"]["gram"]["passed"] == 2 for r in results)  # a key of the run's own
    catalog.use_key(None)


def test_the_exercise_notebooks_score_full_marks_without_notes_or_review(tmp_path):
    """The instructor notebooks, handed in as one submission: every exercise once, no rule misfires (no "needs
    review", no refused library call, no loop found where loops are allowed), no cap reached."""
    repo = Path(__file__).resolve().parents[1] / "notebooks" / "exercises"
    folder = tmp_path / "subs" / "teacher"
    folder.mkdir(parents=True)
    for path in sorted(repo.glob("E*.ipynb")):
        shutil.copy(path, folder / path.name)
    limits = Limits(timeout=240, student_timeout=900, call_timeout=60, memory_mb=2048)
    result = grade(tmp_path / "subs", tmp_path / "g.csv", limits=limits, progress=False)[0]
    short = {name: s for name, s in result["exercises"].items() if s["points"] != s["max"]}
    assert result["total"] == result["max_total"], json.dumps({"short": short, "notes": result["notes"]}, indent=1)
    assert result["notes"] == [] and not any(s["review"] for s in result["exercises"].values())


@pytest.mark.parametrize("backend", ["bwrap", "unshare"])
def test_the_caps_hold_under_every_backend(backend, tmp_path):
    if not shutil.which(backend):
        pytest.skip(f"{backend} is not installed")
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("memfd", "many_children", "forked_memory"):
        (subs / f"{name}.ipynb").write_text(HOSTILE[name])
    results = {r["student"]: r for r in grade(subs, tmp_path / "g.csv", exercises=EXERCISES, limits=CAPS, jobs=2,
                                             progress=False, sandbox=backend)}
    assert "more than 32 processes" in notes(results["many_children"]), notes(results["many_children"])
    for student in ("memfd", "forked_memory"):
        assert "more than 512 MB of memory" in notes(results[student]), (student, notes(results[student]))
    assert all(r["total"] == 0 for r in results.values())
