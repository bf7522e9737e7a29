"""The autograder against a folder of hostile and broken submissions beside correct and partly correct ones.

Short limits keep the whole file well under a minute: every runner is forked from one preloaded forkserver.
"""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from vizlab.exercises.grading import Limits, find_submissions, grade
from vizlab.exercises.references import SOURCES

EXERCISES = ["gram", "content", "tv"]
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


def daemon(pid_file: Path) -> str:
    """A cell that leaves a detached background process (double fork, new session) sleeping forever."""
    return (f"import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n        while True:\n"
            f"            time.sleep(1)\n    os._exit(0)\ntime.sleep(0.5)")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    subs.mkdir()
    for name, text in SUBMISSIONS.items():
        (subs / f"{name}.ipynb").write_text(text)
    (subs / "background.ipynb").write_text(notebook(IMPORTS, daemon(root / "daemon.pid"), GRAM, CONTENT, TV))
    folder = subs / "in_a_folder" / "assignment1"  # nbgrader-like layout: <student>/<assignment>/*.ipynb
    folder.mkdir(parents=True)
    (folder / "E4_style.ipynb").write_text(notebook(IMPORTS, GRAM))
    (folder / "extra.ipynb").write_text(notebook(IMPORTS, CONTENT, TV))
    (subs / "empty_folder").mkdir()
    repo = Path(__file__).resolve().parents[1] / "notebooks"
    (subs / "instructor_copy.ipynb").write_bytes((repo / "exercises" / "E4_style.ipynb").read_bytes())
    (subs / "released_stub.ipynb").write_bytes((repo / "student" / "E4_style.ipynb").read_bytes())
    started = time.monotonic()
    scratch = root / "scratch"
    scratch.mkdir()
    results = grade(subs, root / "grades.csv", exercises=EXERCISES, limits=LIMITS, jobs=2, progress=False,
                    scratch=scratch)
    seconds = time.monotonic() - started
    return {r["student"]: r for r in results}, root, seconds


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
        assert (root / "grades_feedback" / f"{student}.txt").exists()
    assert not list(root.rglob("*.tmp")), "temporary files left behind"
    print(f"graded {len(results)} submissions in {seconds:.1f} s")  # a timing, not a claim (issue 11)


def test_correct_and_partly_correct(graded):
    results, root, _ = graded
    assert points(results["correct"]) == {"gram": 2, "content": 1, "tv": 2}
    assert results["correct"]["total"] == results["correct"]["max_total"] == 5
    assert points(results["in_a_folder"]) == {"gram": 2, "content": 1, "tv": 2}  # best notebook per exercise
    partial = results["partial"]
    assert points(partial) == {"gram": 0, "content": 1, "tv": 0}
    feedback = (root / "grades_feedback" / "partial.txt").read_text()
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
    assert "ran longer than 2 s" in "".join(looping["exercises"]["tv"]["problems"])


def test_exits_and_killing_the_parent(graded):
    results, _, _ = graded
    assert results["sys_exit"]["total"] == 5 and "sys.exit(1)" in notes(results["sys_exit"])
    assert results["os_exit"]["total"] == 0 and "exited early with code 0" in notes(results["os_exit"])
    assert "while running cell 2" in notes(results["os_exit"])
    for student in ("kill_parent", "kill_group"):
        assert results[student]["total"] == 0
        assert "did the notebook kill its parent process" in notes(results[student])


def test_memory_output_syntax_json_and_files(graded):
    results, root, _ = graded
    assert results["memory_hog"]["total"] == 5
    assert "cell 2: MemoryError: the cell ran out of memory (limit: 1024 MB)" in notes(results["memory_hog"])
    assert points(results["memory_in_function"])["tv"] == 0
    assert points(results["syntax_error"]) == {"gram": 2, "content": 0, "tv": 2}
    assert "SyntaxError" in notes(results["syntax_error"])
    assert results["printer"]["total"] == 5 and "File too large" in notes(results["printer"])
    assert (root / "grades_feedback" / "printer.txt").stat().st_size < 5000
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
    pid = int((root / "daemon.pid").read_text())
    assert not alive(pid)


def test_patching_vizlab_checks_gains_nothing(graded):
    results, root, _ = graded
    assert points(results["patch_checks"]) == {"gram": 0, "content": 1, "tv": 2}
    assert "expected shape (1, 3, 3), got shape (1,)" in (root / "grades_feedback" / "patch_checks.txt").read_text()


def test_resume_skips_graded_students_and_regrade_redoes_them(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(SUBMISSIONS["correct"])
    (subs / "bob.ipynb").write_text(SUBMISSIONS["partial"])
    out = tmp_path / "grades.csv"
    fresh = []
    kw = {"exercises": EXERCISES, "limits": LIMITS, "progress": False, "scratch": tmp_path}
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
    saved = json.loads((tmp_path / "grades_feedback" / "bob.json").read_text())
    assert saved["total"] == 5 and saved["digest"]


def test_grade_cli(tmp_path, capsys):
    from vizlab.cli import main

    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(SUBMISSIONS["correct"])
    out = tmp_path / "g.csv"
    assert main(["grade", str(subs), "--out", str(out), "--exercises", "gram,content,tv", "--quiet",
                 "--timeout", "8", "--call-timeout", "2", "--scratch", str(tmp_path)]) == 0
    assert "graded 1 submission(s)" in capsys.readouterr().out
    assert out.read_text().splitlines()[1].startswith("ann,2.0,1.0,2.0,5.0,5")
    assert main(["grade", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert main(["grade", str(subs), "--exercises", "nope"]) == 2
    assert find_submissions(subs) == {"ann": [subs / "ann.ipynb"]}


def test_a_killed_grader_loses_nothing_and_the_next_run_resumes(tmp_path):
    """SIGKILL the grading process while it grades the second student; the first result survives, intact."""
    import os
    import signal
    import subprocess
    import sys

    subs, scratch, flag = tmp_path / "subs", tmp_path / "scratch", tmp_path / "hold"
    subs.mkdir()
    scratch.mkdir()
    flag.write_text("hold")
    (subs / "ann.ipynb").write_text(SUBMISSIONS["correct"])
    # zed's notebook waits (ignoring the per-cell alarm) while the flag file exists, so the grader can be killed
    # in the middle of grading it; removing the flag lets the orphaned notebook finish on its own.
    hold = (f"import os, signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            f"while os.path.exists({str(flag)!r}):\n    time.sleep(0.05)")
    (subs / "zed.ipynb").write_text(notebook(IMPORTS, GRAM, hold, CONTENT, TV))
    out = tmp_path / "grades.csv"
    limits = Limits(timeout=60, call_timeout=2, memory_mb=1024, file_bytes=2 * 2**20)
    script = (f"from vizlab.exercises.grading import grade, Limits\n"
              f"grade({str(subs)!r}, {str(out)!r}, exercises={EXERCISES!r}, limits=Limits(timeout=60, "
              f"call_timeout=2, memory_mb=1024, file_bytes=2 * 2**20), jobs=1, progress=False, "
              f"scratch={str(scratch)!r})\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    grader = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    ann = tmp_path / "grades_feedback" / "ann.json"
    try:
        deadline = time.monotonic() + 60
        while not ann.exists() and time.monotonic() < deadline and grader.poll() is None:
            time.sleep(0.1)
        assert ann.exists(), "the first student was never graded"
        time.sleep(0.5)  # now grading zed, who holds
        os.killpg(grader.pid, signal.SIGKILL)  # the grader and its forkserver (zed's runner has its own session)
        grader.wait()
    finally:
        flag.unlink()  # the orphaned notebook ends by itself
        if grader.poll() is None:
            os.killpg(grader.pid, signal.SIGKILL)
            grader.wait()
    assert json.loads(ann.read_text())["total"] == 5
    rows = list(csv.DictReader(out.open()))
    assert [r["student"] for r in rows] == ["ann"] and float(rows[0]["total"]) == 5
    fresh = []
    results = grade(subs, out, exercises=EXERCISES, limits=limits, jobs=1, progress=False, scratch=scratch,
                    on_result=fresh.append)
    assert [r["student"] for r in fresh] == ["zed"], "ann was graded again"
    assert [r["total"] for r in results] == [5, 5]
