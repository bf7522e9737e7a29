"""The autograder against a folder of hostile and broken submissions beside correct and partly correct ones.

Short limits keep the file short: every notebook is forked from one preloaded, sandboxed zygote. The attacks of
issue 15 (a sandbox escape each) are in tests/test_grading_attacks.py.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from vizlab.exercises.grading import Limits, feedback_name, find_submissions, grade
from vizlab.exercises.references import SOURCES

EXERCISES = ["gram", "content", "tv"]
DAEMON = "4711.0815"  # the argument of the `sleep` a notebook leaves behind: unique on this machine
LIMITS = Limits(timeout=8, call_timeout=2, memory_mb=1024, file_bytes=2 * 2**20)
IMPORTS = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\nimport vizlab"
GRAM, CONTENT, TV = (SOURCES[f] for f in ("gram_matrix", "content_loss", "tv_loss"))


def notebook(*cells: str) -> str:
    nb = new_notebook(cells=[new_code_cell(c) for c in cells],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    return nbformat.writes(nb)


SUBMISSIONS = {
    "correct": notebook(IMPORTS, GRAM, CONTENT, TV),
    "partial": notebook(IMPORTS, GRAM.replace(" / (c * h * w)", ""), CONTENT,
                        "def tv_loss(img, weight=1.0):\n    raise NotImplementedError"),
    "loop_cell": notebook(IMPORTS, GRAM, "while True:\n    pass", CONTENT, TV),
    "hang": notebook(IMPORTS, GRAM, CONTENT, TV,
                     "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"),
    "loop_in_function": notebook(IMPORTS, GRAM, CONTENT, "def tv_loss(img, weight=1.0):\n    while True:\n        pass"),
    "sys_exit": notebook(IMPORTS, GRAM, "import sys\nsys.exit(1)", CONTENT, TV),
    "os_exit": notebook(IMPORTS, GRAM, "import os\nos._exit(0)", CONTENT, TV),
    "kill_parent": notebook(IMPORTS, GRAM, CONTENT, TV, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
    "kill_group": notebook(IMPORTS, GRAM, CONTENT, TV, "import os, signal\nos.killpg(0, signal.SIGKILL)"),
    "memory_hog": notebook(IMPORTS, GRAM, "import numpy as np\nhoard = []\nwhile True:\n    hoard.append(np.empty(2**27))", CONTENT, TV),
    "memory_in_function": notebook(IMPORTS, GRAM, CONTENT,
                                   "def tv_loss(img, weight=1.0):\n    return torch.ones(10**10).sum() * 0"),
    "syntax_error": notebook(IMPORTS, GRAM, "def content_loss(current, target, weight=1.0)\n    return 0", TV),
    # Only inside its own working folder: the sandbox is no protection against deleting elsewhere.
    "files": notebook(IMPORTS, "import os, shutil\nopen('mine.txt', 'w').write('x')\nos.rename('mine.txt', 'x.txt')\n"
                      "for f in os.listdir('.'):\n    os.remove(f)\nhere = os.getcwd()\nos.chdir('..')\n"
                      "os.rename(here, here + '-moved')", GRAM, CONTENT, TV),
    "patch_checks": notebook(IMPORTS, "import vizlab.exercises.core as core, vizlab.exercises.catalog as cat\n"
                             "core.Exercise.judge = lambda *a, **k: None\ncore.compare = lambda *a, **k: None\n"
                             "for e in cat.EXERCISES.values():\n    e.check = lambda *a, **k: print('✓ Correct')\n"
                             "    e.reference = lambda *a, **k: torch.zeros(1)",
                             "def gram_matrix(features):\n    return torch.zeros(1)", CONTENT, TV),
    "printer": notebook(IMPORTS, "for _ in range(100):\n    print('x' * 100_000)", GRAM, CONTENT, TV),
    "magics": notebook(IMPORTS, "%matplotlib inline\n!echo hello", GRAM, "%%time\n" + CONTENT,
                       "%%capture\n" + TV + "\n%time x = tv_loss(torch.ones(1, 1, 2, 2))\nassert x == 0"),
    "not_json": "{ this is not a notebook",
    "deep_json": "[" * 100_000 + "]" * 100_000,
}


def daemon(marker: str) -> str:
    """A cell that leaves a detached background process (double fork, new session) running ``sleep MARKER``; where
    no program may be started (the sandbox refuses exec since round 20), the process sleeps as it is, in a folder
    named ``sleep MARKER`` (its working folder marks it, :func:`processes_with`)."""
    return (f"import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        try:\n"
            f"            os.execvp('sleep', ['sleep', {marker!r}])\n        except PermissionError:\n"
            f"            os.mkdir('sleep ' + {marker!r})\n            os.chdir('sleep ' + {marker!r})\n"
            f"            time.sleep({float(marker)!r})\n    os._exit(0)\ntime.sleep(0.5)")


def processes_with(text: str) -> list[int]:
    """Live processes (on the whole machine) whose command line or working folder contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            try:
                cmdline += " " + os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                pass
            if text in cmdline and state != "Z" and int(entry) != os.getpid():
                found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    # Outside /tmp when possible, so that the sandbox must hide the submissions and outputs explicitly (every
    # notebook gets an empty /tmp of its own anyway).
    import shutil
    import tempfile

    base = "/var/tmp" if os.access("/var/tmp", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="vizlab-grading-", dir=base)) if base else tmp_path_factory.mktemp("grading")
    try:
        yield _grade_all(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _grade_all(root: Path):
    subs = root / "submissions"
    subs.mkdir()
    for name, text in SUBMISSIONS.items():
        (subs / f"{name}.ipynb").write_text(text)
    (subs / "background.ipynb").write_text(notebook(IMPORTS, daemon(DAEMON), GRAM, CONTENT, TV))
    folder = subs / "in_a_folder" / "assignment1"  # nbgrader-like layout: <student>/<assignment>/*.ipynb
    folder.mkdir(parents=True)
    (folder / "E4_style.ipynb").write_text(notebook(IMPORTS, GRAM))
    (folder / "extra.ipynb").write_text(notebook(IMPORTS, CONTENT, TV))
    (subs / "empty_folder").mkdir()
    repo = Path(__file__).resolve().parents[1] / "notebooks"
    (subs / "instructor_copy.ipynb").write_bytes((repo / "exercises" / "E4_style.ipynb").read_bytes())
    (subs / "released_stub.ipynb").write_bytes((repo / "student" / "E4_style.ipynb").read_bytes())
    started = time.monotonic()
    results = grade(subs, root / "grades.csv", exercises=EXERCISES, limits=LIMITS, jobs=2, progress=False)
    seconds = time.monotonic() - started
    return {r["student"]: r for r in results}, root, seconds


def feedback_file(root: Path, student: str, ext: str = "txt") -> Path:
    return root / "grades_feedback" / f"{feedback_name(student)}.{ext}"


def points(result) -> dict[str, float]:
    return {name: s["points"] for name, s in result["exercises"].items()}


def notes(result) -> str:
    return "\n".join(result["notes"])


def test_every_submission_is_graded_and_the_csv_matches(graded):
    results, root, seconds = graded
    assert set(results) == set(SUBMISSIONS) | {"in_a_folder", "empty_folder", "instructor_copy", "released_stub",
                                               "background"}
    rows = {row["student"]: row for row in csv.DictReader((root / "grades.csv").open())}
    assert set(rows) == set(results)
    for student, result in results.items():
        assert float(rows[student]["total"]) == result["total"]
        assert feedback_file(root, student).exists()
    assert not list(root.rglob("*.tmp")), "temporary files left behind"
    print(f"graded {len(results)} submissions in {seconds:.1f} s")  # a timing, not a claim (issue 11)


def test_correct_and_partly_correct(graded):
    results, root, _ = graded
    assert points(results["correct"]) == {"gram": 2, "content": 1, "tv": 2}
    assert results["correct"]["total"] == results["correct"]["max_total"] == 5
    assert points(results["in_a_folder"]) == {"gram": 2, "content": 1, "tv": 2}  # best notebook per exercise
    partial = results["partial"]
    assert points(partial) == {"gram": 0, "content": 1, "tv": 0}
    feedback = feedback_file(root, "partial").read_text()
    assert "forgot the normalisation by C*H*W" in feedback
    assert "`tv_loss` is not implemented yet" in feedback
    assert "Total: 1 / 5" in feedback


def test_the_real_notebooks_solutions_pass_and_stubs_score_nothing(graded):
    results, _, _ = graded
    assert points(results["instructor_copy"]) == {"gram": 2, "content": 1, "tv": 2}
    assert results["instructor_copy"]["notes"] == []
    stub = results["released_stub"]
    assert stub["total"] == 0 and stub["notes"] == []
    assert stub["exercises"]["gram"]["problems"] == ["`gram_matrix` is not implemented yet (raises NotImplementedError)"]


def test_loops_cost_the_cell_or_the_notebook(graded):
    results, _, _ = graded
    assert results["loop_cell"]["total"] == 5
    assert "cell 2: the cell ran longer than 2 s" in notes(results["loop_cell"])
    hang = results["hang"]
    assert hang["total"] == 0 and "ran past the time limit of 8 s" in notes(hang)
    assert hang["seconds"] < 4 * LIMITS.timeout  # behaviour bound (expected 8 s): killed at its limit, not hung
    looping = results["loop_in_function"]
    assert points(looping) == {"gram": 2, "content": 1, "tv": 0}
    # tv is a no-loops exercise: the loop found in the bytecode costs it before the call's time limit does
    assert "must not use Python loops" in "".join(looping["exercises"]["tv"]["problems"])


def test_exits_and_killing_the_parent(graded):
    results, _, _ = graded
    assert results["sys_exit"]["total"] == 5 and "sys.exit(1)" in notes(results["sys_exit"])
    assert results["os_exit"]["total"] == 0 and "exited early with code 0" in notes(results["os_exit"])
    assert "while running cell 2" in notes(results["os_exit"])
    # the parent of a sandboxed notebook is the init of its own PID namespace, which signals from inside cannot
    # kill: the attempt changes nothing
    assert results["kill_parent"]["total"] == 5
    # killing its own process group kills only the notebook (after it defined everything, before it was called)
    assert results["kill_group"]["total"] == 0
    assert "killed by SIGKILL" in notes(results["kill_group"])


def test_memory_output_syntax_json_and_files(graded):
    results, root, _ = graded
    assert results["memory_hog"]["total"] == 5
    assert "cell 2: MemoryError: the cell ran out of memory (limit: 1024 MB)" in notes(results["memory_hog"])
    assert points(results["memory_in_function"])["tv"] == 0
    assert points(results["syntax_error"]) == {"gram": 2, "content": 0, "tv": 2}
    assert "SyntaxError" in notes(results["syntax_error"])
    assert results["printer"]["total"] == 5 and "File too large" in notes(results["printer"])
    assert feedback_file(root, "printer").stat().st_size < 5000
    assert results["not_json"]["total"] == 0 and "not valid JSON" in notes(results["not_json"])
    assert results["deep_json"]["total"] == 0 and "could not be read as a notebook" in notes(results["deep_json"])
    assert results["files"]["total"] == 5
    assert results["magics"]["total"] == 5
    assert results["empty_folder"]["total"] == 0 and "no notebook" in notes(results["empty_folder"])
    assert (root / "submissions" / "correct.ipynb").exists(), "a submission reached outside its work folder"


def test_background_processes_are_killed(graded):
    results, root, _ = graded
    assert results["background"]["total"] == 5
    assert "1 background process(es) it started were still running and were killed" in notes(results["background"])
    assert processes_with(f"sleep {DAEMON}") == []


def test_patching_vizlab_checks_gains_nothing(graded):
    results, root, _ = graded
    assert points(results["patch_checks"]) == {"gram": 0, "content": 1, "tv": 2}
    assert "expected shape (1, 3, 3), got shape (1,)" in feedback_file(root, "patch_checks").read_text()


def test_resume_skips_graded_students_and_regrade_redoes_them(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(SUBMISSIONS["correct"])
    (subs / "bob.ipynb").write_text(SUBMISSIONS["partial"])
    out = tmp_path / "grades.csv"
    fresh = []
    kw = {"exercises": EXERCISES, "limits": LIMITS, "progress": False}
    first = grade(subs, out, **kw, on_result=fresh.append)
    assert sorted(r["student"] for r in fresh) == ["ann", "bob"]
    fresh.clear()
    again = grade(subs, out, **kw, on_result=fresh.append)
    assert fresh == [] and [r["total"] for r in again] == [r["total"] for r in first]
    (subs / "bob.ipynb").write_text(SUBMISSIONS["correct"])  # bob resubmits
    grade(subs, out, **kw, on_result=fresh.append)
    assert [r["student"] for r in fresh] == ["bob"] and fresh[0]["total"] == 5
    fresh.clear()
    grade(subs, out, **kw, regrade=True, on_result=fresh.append)
    assert sorted(r["student"] for r in fresh) == ["ann", "bob"]
    saved = json.loads(feedback_file(tmp_path, "bob", "json").read_text())
    assert saved["total"] == 5 and saved["digest"]


def test_grade_cli(tmp_path, capsys):
    from vizlab.cli import main

    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(SUBMISSIONS["correct"])
    out = tmp_path / "g.csv"
    assert main(["grade", str(subs), "--out", str(out), "--exercises", "gram,content,tv", "--quiet",
                 "--timeout", "8", "--call-timeout", "2"]) == 0
    assert "graded 1 submission(s)" in capsys.readouterr().out
    assert out.read_text().splitlines()[1].startswith("ann,2.0,1.0,2.0,5.0,5")
    assert main(["grade", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert main(["grade", str(subs), "--exercises", "nope"]) == 2
    assert find_submissions(subs) == {"ann": [subs / "ann.ipynb"]}


def _grader_process(subs: Path, out: Path, marker: str, timeout: float = 60) -> "subprocess.Popen":
    import subprocess
    import sys

    script = (f"from vizlab.exercises.grading import grade, Limits\n"
              f"grade({str(subs)!r}, {str(out)!r}, exercises={EXERCISES!r}, limits=Limits(timeout={timeout}, "
              f"call_timeout=2, memory_mb=1024, file_bytes=2 * 2**20), jobs=1, progress=False)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1",
           "VIZLAB_TEST_MARK": marker}
    # as at a terminal: SIGINT not ignored (a shell's background job inherits SIGINT ignored, and Python then
    # keeps it ignored, so Ctrl-C would never reach the grader: found when CI was started with '&')
    return subprocess.Popen([sys.executable, "-c", script], env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def marked(marker: str) -> list[int]:
    """Live processes whose environment holds ``VIZLAB_TEST_MARK=marker`` (the grader, its zygote, notebooks)."""
    found = []
    needle = f"VIZLAB_TEST_MARK={marker}".encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = f.read()
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if needle in env.split(b"\0") and state != "Z":
                found.append(int(entry))
    return found


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_a_killed_grader_loses_nothing_leaves_nothing_and_the_next_run_resumes(tmp_path, how):
    """Kill the grader (SIGKILL, or Ctrl-C's SIGINT) while a notebook that left a daemon holds; the first result
    survives, intact, no process of the run survives, and the next run grades only the rest."""
    import secrets
    import signal
    import uuid

    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(SUBMISSIONS["correct"])
    marker = uuid.uuid4().hex
    sleeper = f"{500 + secrets.randbelow(10**6) / 1e6:.6f}"  # a unique duration marks this test's daemon
    # zed leaves a detached daemon and then holds (ignoring the per-cell alarm), so the grader is killed mid-run
    hold = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(50)"
    (subs / "zed.ipynb").write_text(notebook(IMPORTS, GRAM, daemon(sleeper), hold, CONTENT, TV))
    out = tmp_path / "grades.csv"
    grader = _grader_process(subs, out, marker)
    ann = feedback_file(tmp_path, "ann", "json")
    try:
        assert wait_until(lambda: ann.exists() or grader.poll() is not None, 90), "the first student was never graded"
        assert ann.exists(), "the grader ended before grading ann"
        assert wait_until(lambda: processes_with(f"sleep {sleeper}"), 30), "zed's daemon never started"
        os.kill(grader.pid, getattr(signal, how))
        grader.wait(30)
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait()
    assert wait_until(lambda: not marked(marker) and not processes_with(f"sleep {sleeper}"), 15), \
        f"processes of the run survived the grader: {marked(marker)}"
    assert json.loads(ann.read_text())["total"] == 5
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert float(rows["ann"]["total"]) == 5
    if "zed" in rows:  # a worker that saw its notebook die with the grader records it as not graded
        assert json.loads(feedback_file(tmp_path, "zed", "json").read_text())["ungraded"]
    (subs / "zed.ipynb").write_text(notebook(IMPORTS, GRAM, CONTENT, TV))  # zed's daemon-free resubmission
    fresh = []
    limits = Limits(timeout=60, call_timeout=2, memory_mb=1024, file_bytes=2 * 2**20)  # as in the killed run
    results = grade(subs, out, exercises=EXERCISES, limits=limits, jobs=1, progress=False, on_result=fresh.append)
    assert [r["student"] for r in fresh] == ["zed"], "ann was graded again"
    assert [r["total"] for r in results] == [5, 5]
