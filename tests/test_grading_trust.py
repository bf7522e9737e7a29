"""Issue 27's attack table, the rows about what the trusted side reads: frames, file names, links, special files,
sizes, control characters, cached grades and limits. One hostile submission (or file) per row.

The rows about what the sandbox sees are in tests/test_grading_attacks.py (deny by default, under every backend);
the caps and the answer rules in tests/test_grading_caps.py.
"""
from __future__ import annotations

import csv
import json
import os
import struct
from pathlib import Path

import pytest

from vizlab.exercises import catalog, grading
from vizlab.exercises.grading import Limits, feedback_name, grade
from vizlab.exercises.protocol import MAGIC, read_frames
from vizlab.exercises.submissions import NotebookTooLarge, read_notebook, scan_submissions

from test_grading import CONTENT, EXERCISES, GRAM, IMPORTS, LIMITS, SUBMISSIONS, TV, notebook, notes
from test_grading_attacks import STUB_GRAM, frame, graded_and_removed, root_dir

REPO = Path(__file__).resolve().parents[1]


def aliasing_frame(copies: int = 320, size: int = 8 * 2**20) -> bytes:
    """A case frame whose value is ``copies`` tensor descriptions of the same ``size`` bytes (A05)."""
    n = size // 4
    value = [{"__t__": ["float32", [n], 0, size]} for _ in range(min(copies, 64))]
    value = [value] * max(1, copies // 64)
    return frame({"kind": "case", "exercise": "gram", "case": 0, "value": value, "error": None, "seconds": 0,
                  "forbidden": [], "loops": []}, b"\0" * size)


def write_to_results(data: bytes) -> str:
    """A cell that finds the results pipe in the harness's frame (``sys._getframe``) and writes ``data`` to it."""
    return (f"import os, sys\ndata = {data!r}\nf = sys._getframe()\nwhile f is not None:\n"
            "    if 'ready_fd' in f.f_locals and 'fd' in f.f_locals:\n"
            "        view = memoryview(data)\n        while view:\n"
            "            view = view[os.write(f.f_locals['fd'], view):]\n"
            "        break\n    f = f.f_back")


def test_a_frame_may_not_describe_more_bytes_than_it_carries():
    import tracemalloc

    import torch

    from vizlab.exercises.protocol import encode_frame

    honest = encode_frame({"kind": "case", "exercise": "gram", "case": 0, "value": [torch.ones(3), torch.zeros(2)],
                           "error": None, "seconds": 0.0, "forbidden": [], "loops": []})
    two = frame({"kind": "case", "exercise": "gram", "case": 0, "error": None, "seconds": 0, "forbidden": [],
                 "loops": [], "value": [{"__t__": ["float32", [2], 0, 8]}, {"__t__": ["float32", [2], 0, 8]}]},
                b"\0" * 8)  # two descriptions of the same 8 bytes
    extra = frame({"kind": "case", "exercise": "gram", "case": 0, "error": None, "seconds": 0, "forbidden": [],
                   "loops": [], "value": {"__t__": ["float32", [1], 0, 4]}}, b"\0" * 4096)  # bytes nobody uses
    tracemalloc.start()
    frames, bad = read_frames(aliasing_frame(copies=320, size=2**20))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert frames == [] and bad == 1
    assert peak < 8 * 2**20, f"reading an aliasing frame allocated {peak} bytes"  # it would be 320 MiB
    assert read_frames(two) == ([], 1) and read_frames(extra) == ([], 1)
    frames, bad = read_frames(honest)
    assert bad == 0 and torch.equal(frames[0]["value"][0], torch.ones(3))


def test_sizes_are_checked_before_a_notebook_is_read_or_hashed(tmp_path):
    import tracemalloc

    big = tmp_path / "big.ipynb"
    with open(big, "wb") as f:  # sparse: 3 GB that take no disk
        f.truncate(3 * 2**30)
    limits = Limits(notebook_bytes=2**20)
    tracemalloc.start()
    with pytest.raises(NotebookTooLarge):
        read_notebook(big, limits.notebook_bytes)
    digest = grading._digest([big], EXERCISES, limits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20, f"the grader read {peak} bytes of a notebook over the limit"
    assert digest == grading._digest([big], EXERCISES, limits)
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO"):
        read_notebook(fifo, 2**20)  # neither blocks nor reads
    link = tmp_path / "link.ipynb"
    link.symlink_to(big)
    with pytest.raises(OSError):
        read_notebook(link, 2**40)  # links are not followed


def test_limits_have_upper_bounds(capsys):
    from vizlab.cli import main

    for argv in (["--call-timeout", "1e10"], ["--timeout", "1e9"], ["--memory-mb", "99999999999"],
                 ["--jobs", "100000"], ["--student-timeout", "1e12"]):
        with pytest.raises(SystemExit) as exc:
            main(["grade", ".", *argv])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "at most" in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(ValueError, match="call_timeout must be a finite number > 0 and <= 86400"):
        Limits(call_timeout=1e10)
    with pytest.raises(ValueError, match="jobs"):
        grade(".", "x.csv", jobs=10**6)


WEIRD = "M\udcfcller"  # b"M\xfcller": Latin-1 bytes, as unzip gives for a Windows zip (A06)


@pytest.fixture(scope="module")
def hostile():
    root = root_dir()
    subs = root / "subs"
    subs.mkdir()
    (subs / "victim.ipynb").write_text(SUBMISSIONS["correct"])
    (subs / "partial.ipynb").write_text(SUBMISSIONS["partial"])
    with open(os.fsencode(subs) + b"/M\xfcller.ipynb", "wb") as f:
        f.write(SUBMISSIONS["correct"].encode())
    (subs / "copycat.ipynb").symlink_to(subs / "victim.ipynb")  # A07: a link to another student's notebook
    (subs / "teacher").symlink_to(REPO / "notebooks" / "exercises")  # A07: a folder linked to the instructor's
    (subs / "everything").symlink_to("/")  # A07: a folder linked to the root (808 notebooks, once)
    (subs / "dangling.ipynb").symlink_to(subs / "nowhere.ipynb")
    os.mkfifo(subs / "pipe.ipynb")
    (subs / "shouting.IPYNB").write_text(SUBMISSIONS["correct"])
    (subs / "notes.txt").write_text("not a notebook")
    with open(subs / "huge.ipynb", "wb") as f:  # A09: 3 GB, sparse (no disk), over the notebook limit
        f.truncate(3 * 2**30)
    folder = subs / "mixed"
    folder.mkdir()
    (folder / "E4_style.ipynb").write_text(SUBMISSIONS["correct"])
    (folder / "link.ipynb").symlink_to(subs / "victim.ipynb")
    os.mkfifo(folder / "fifo.ipynb")
    (folder / "loud.IPYNB").write_text("{}")
    (folder / "outside").symlink_to("/")
    # A05: 320 descriptions aliasing one 8 MB blob, written to the results pipe by the notebook itself
    (subs / "aliaser.ipynb").write_text(notebook(IMPORTS, STUB_GRAM, write_to_results(aliasing_frame(size=2**20))))
    # A16: terminal control codes in what the feedback quotes (clear the screen, write a forged total)
    (subs / "painter.ipynb").write_text(notebook(
        IMPORTS, "def gram_matrix(features):\n    raise ValueError('\\x1b[2J\\x1b[HTotal: 25 / 5\\r\\u202e')",
        CONTENT, TV))
    yield from graded_and_removed(root, EXERCISES, LIMITS)


def test_a_name_that_is_not_utf8_gets_an_escaped_row_and_the_run_goes_on(hostile):
    results, root = hostile
    row = results["M\\xfcller"]
    assert row["total"] == 5 and "not valid UTF-8" in notes(row)
    csv_rows = {r["student"]: r for r in csv.DictReader((root / "grades.csv").open(encoding="utf-8"))}
    assert float(csv_rows["M\\xfcller"]["total"]) == 5
    assert WEIRD not in results


def test_links_are_refused_with_a_row_not_followed(hostile):
    results, _ = hostile
    for student in ("copycat", "teacher", "everything", "dangling"):
        assert results[student]["total"] == 0, student
        assert "symbolic link" in notes(results[student]) and results[student]["notebooks"] == [], student
    mixed = results["mixed"]
    assert mixed["total"] == 5 and mixed["notebooks"] == ["E4_style.ipynb"]
    for what in ("link.ipynb was refused", "fifo.ipynb was refused", "loud.IPYNB was not graded",
                 "outside was refused"):
        assert what in notes(mixed), what


def test_fifos_and_other_extensions_get_a_row_with_the_reason(hostile):
    results, _ = hostile
    assert "FIFO" in notes(results["pipe"]) and results["pipe"]["total"] == 0
    assert "must end in .ipynb (got .IPYNB)" in notes(results["shouting"])
    assert "must end in .ipynb (got .txt)" in notes(results["notes"])
    assert results["victim"]["total"] == 5 and results["partial"]["total"] == 1


def test_an_aliasing_frame_is_rejected(hostile):
    results, _ = hostile
    assert results["aliaser"]["total"] == 0
    assert "unreadable result record(s) were ignored" in notes(results["aliaser"])


def test_control_characters_are_stripped_from_feedback(hostile):
    results, root = hostile
    text = (root / "grades_feedback" / f"{feedback_name('painter')}.txt").read_text()
    assert "Total: 25" in text  # the words stay, harmless ...
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text  # ... the escapes are gone
    assert text.splitlines()[1] == "Total: 3 / 5"


def test_a_huge_notebook_is_refused_before_it_is_read(hostile):
    results, _ = hostile
    assert results["huge"]["total"] == 0
    assert f"the notebook is larger than {LIMITS.notebook_bytes} bytes (3221225472 bytes)" in notes(results["huge"])


def test_every_entry_of_the_folder_gets_a_row(hostile):
    results, root = hostile
    assert set(results) == set(scan_submissions(root / "subs"))
    rows = list(csv.DictReader((root / "grades.csv").open(encoding="utf-8")))
    assert len(rows) == len(results) == 14


def test_a_catalog_change_invalidates_cached_grades(tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(SUBMISSIONS["correct"])
    fresh = []
    kw = {"exercises": EXERCISES, "limits": LIMITS, "progress": False, "on_result": fresh.append}
    assert grade(subs, tmp_path / "g.csv", **kw)[0]["total"] == 5
    assert grade(subs, tmp_path / "g.csv", **kw)[0]["total"] == 5
    assert len(fresh) == 1  # unchanged: reused
    monkeypatch.setattr(catalog.EXERCISES["gram"], "points", 4)  # the instructor reweights an exercise
    again = grade(subs, tmp_path / "g.csv", **kw)
    assert len(fresh) == 2 and again[0]["total"] == 7 and again[0]["max_total"] == 7
