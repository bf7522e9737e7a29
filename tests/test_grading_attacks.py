"""Issue 15's attack table, one hostile submission per row, each proving its fix.

The submissions and outputs live outside /tmp where possible (in /var/tmp), so the sandbox must hide them
explicitly. One graded folder serves most rows (one zygote start); the isolation probe runs under every backend
this machine has (``bwrap`` and ``unshare``).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import struct
import tempfile
import time
from pathlib import Path

import pytest

from vizlab.exercises import backends, grading
from vizlab.exercises.grading import Limits, csv_cell, feedback_name, find_submissions, grade
from vizlab.exercises.protocol import MAGIC, encode_frame, read_frames

from test_grading import CONTENT, EXERCISES, GRAM, IMPORTS, LIMITS, SUBMISSIONS, TV, notebook

REPO = Path(__file__).resolve().parents[1]
STUB_GRAM = "def gram_matrix(features):\n    raise NotImplementedError"


def frame(header: dict, blob: bytes = b"") -> bytes:
    data = json.dumps(header).encode()
    return MAGIC + struct.pack(">II", len(data), len(blob)) + data + blob


def forge(*frames: bytes) -> str:
    """A cell that writes ``frames`` to every pipe it holds (the results pipe among them)."""
    payload = b"".join(frames)
    return (f"import os, stat\ndata = {payload!r}\nfor fd in range(3, 64):\n    try:\n"
            f"        if stat.S_ISFIFO(os.fstat(fd).st_mode):\n            os.write(fd, data)\n"
            f"    except OSError:\n        pass")


def root_dir() -> Path:
    base = "/var/tmp" if os.access("/var/tmp", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="vizlab-attacks-", dir=base))


def graded_and_removed(root: Path, exercises, limits: Limits):
    """For a module fixture: grade ``root/subs`` (two jobs), yield ``({student: result}, root)``, then remove
    ``root``, also after a failure."""
    started = time.monotonic()
    results = grade(root / "subs", root / "grades.csv", exercises=exercises, limits=limits, jobs=2, progress=False)
    print(f"graded {len(results)} submissions in {time.monotonic() - started:.1f} s")
    try:
        yield {r["student"]: r for r in results}, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def attacks(root: Path) -> dict[str, str]:
    subs, out = root / "subs", root / "grades.csv"
    feedback = root / "grades_feedback"
    victim = subs / "victim.ipynb"
    instructor = REPO / "notebooks" / "exercises" / "E4_style.ipynb"
    return {
        # row 1: a detached process that waits for its own feedback and rewrites it with full marks
        "forger": notebook(IMPORTS, STUB_GRAM, (
            "import os, time, json\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        for _ in range(100):\n            for f in os.listdir({str(feedback)!r}) if "
            f"os.path.isdir({str(feedback)!r}) else []:\n"
            "                try:\n"
            f"                    open(os.path.join({str(feedback)!r}, f), 'w').write('{{\"total\": 25}}')\n"
            "                except OSError:\n                    pass\n            time.sleep(0.1)\n"
            "        os._exit(0)\n    os._exit(0)")),
        # row 2: hunt the grader through /proc, overwrite the CSV and others' feedback, swap another's notebook
        "vandal": notebook(IMPORTS, GRAM, CONTENT, TV, (
            "import os, signal\nhits = []\nfor pid in os.listdir('/proc'):\n    if pid.isdigit() and int(pid) > 2:\n"
            "        try:\n            os.kill(int(pid), signal.SIGKILL)\n            hits.append(pid)\n"
            "        except OSError:\n            pass\n"
            f"for path, text in [({str(out)!r}, 'student,total\\nvandal,99\\n'), ({str(victim)!r}, '{{}}')]:\n"
            "    try:\n        open(path, 'w').write(text)\n    except OSError:\n        pass")),
        "victim": SUBMISSIONS["correct"],
        # row 3: the reference, the catalog's hidden cases, the instructor notebooks and compiled references
        "reference": notebook(IMPORTS, (
            "try:\n    from vizlab.exercises import catalog\n    gram_matrix = catalog.gram.reference\nexcept Exception:\n"
            "    pass"), (
            "import glob, os, vizlab\nhere = os.path.dirname(vizlab.__file__)\n"
            f"for path in [{str(instructor)!r}, os.path.join(here, 'exercises', 'references.py')] + "
            "glob.glob(os.path.join(here, 'exercises', '__pycache__', 'references*.pyc')):\n"
            "    try:\n        text = open(path, 'rb').read()\n"
            "        def content_loss(current, target, weight=1.0):\n"
            "            return weight * ((current - target) ** 2).sum()\n    except OSError:\n        pass"),
            "try:\n    import vizlab.exercises.references as r\n    tv_loss = r.tv_loss\nexcept Exception:\n    pass"),
        # the library's own implementation, called directly (issue 27: refused inside the sandbox) ...
        "library": notebook(IMPORTS, (
            "def gram_matrix(features):\n    from vizlab.style.losses import gram_matrix as g\n    return g(features)"),
            "import vizlab.style.losses as L\ndef content_loss(current, target, weight=1.0):\n"
            "    return L.content_loss(current, target, weight=weight)",
            "from vizlab.style import losses\nkeep = losses.tv_loss\ndef tv_loss(img, weight=1.0):\n"
            "    return keep(img, weight=weight)"),
        # ... and through exec and through eval at call time (issue 27: "needs review", never full marks)
        "library_exec": notebook(IMPORTS, GRAM,
            "exec('def content_loss(current, target, weight=1.0):\\n'\n"
            "     '    import vizlab.style.losses as L\\n    return L.content_loss(current, target, weight=weight)')",
            "def tv_loss(img, weight=1.0):\n    return eval('__import__(\"vizlab.style.losses\").style.losses.tv_loss')"
            "(img, weight=weight)"),
        # row 4: the no-loops exercise written with loops hidden in exec and eval
        "loops_exec": notebook(IMPORTS, GRAM, CONTENT, (
            "exec('def tv_loss(img, weight=1.0):\\n    total = 0\\n    for i in range(img.shape[2] - 1):\\n'\n"
            "     '        total = total + ((img[:, :, i + 1] - img[:, :, i]) ** 2).sum()\\n'\n"
            "     '    for j in range(img.shape[3] - 1):\\n'\n"
            "     '        total = total + ((img[..., j + 1] - img[..., j]) ** 2).sum()\\n'\n"
            "     '    return weight * total')")),
        "loops_eval": notebook(IMPORTS, GRAM, CONTENT, (
            "def tv_loss(img, weight=1.0):\n    dv = eval('sum(((img[:, :, i + 1] - img[:, :, i]) ** 2).sum() "
            "for i in range(img.shape[2] - 1))', {'img': img})\n"
            "    dh = ((img[..., 1:] - img[..., :-1]) ** 2).sum()\n    return weight * (dv + dh)")),
        # row 8 and 9: forged records (a list as case number; a huge stride-0 tensor claimed in 200 bytes)
        "forged": notebook(IMPORTS, STUB_GRAM, forge(
            frame({"kind": "case", "exercise": "gram", "case": [0], "value": None, "error": None, "seconds": 0,
                   "forbidden": [], "loops": []}),
            frame({"kind": "case", "exercise": "gram", "case": 0, "value": {"__t__": ["float32", [250_000_000], 0, 4]},
                   "error": None, "seconds": 0, "forbidden": [], "loops": []}, b"\0" * 4))),
        # rows 6, 7, 10: names that sanitise alike, a dot-file, a formula
        "Jürgen Müller": SUBMISSIONS["correct"],
        "J_rgen M_ller": SUBMISSIONS["partial"],
        "x" * 100 + "a": SUBMISSIONS["correct"],
        "x" * 100 + "b": SUBMISSIONS["partial"],
        ".hidden": SUBMISSIONS["correct"],
        "=HYPERLINK(\"example.com\",\"click\")": SUBMISSIONS["partial"],
    }


@pytest.fixture(scope="module")
def attacked():
    root = root_dir()
    subs = root / "subs"
    subs.mkdir()
    sources = attacks(root)
    for name, text in sources.items():
        (subs / f"{name}.ipynb").write_text(text)
    victim_before = (subs / "victim.ipynb").read_bytes()
    started = time.monotonic()
    results = grade(subs, root / "grades.csv", exercises=EXERCISES, limits=LIMITS, jobs=2, progress=False)
    print(f"graded {len(results)} hostile submissions in {time.monotonic() - started:.1f} s")
    time.sleep(1.5)  # give a surviving forger time to strike (it cannot: it died with its namespace)
    try:
        yield {r["student"]: r for r in results}, root, victim_before
    finally:
        shutil.rmtree(root, ignore_errors=True)


def total(results, student) -> float:
    return results[student]["total"]


def test_a_detached_process_cannot_rewrite_feedback(attacked):
    results, root, _ = attacked
    assert total(results, "forger") == 0
    saved = json.loads((root / "grades_feedback" / f"{feedback_name('forger')}.json").read_text())
    assert saved["total"] == 0 and saved["student"] == "forger"
    rows = {r["student"]: r for r in csv.DictReader((root / "grades.csv").open())}
    assert float(rows["forger"]["total"]) == 0
    again = grade(root / "subs", root / "grades.csv", exercises=EXERCISES, limits=LIMITS, progress=False)
    assert {r["student"]: r["total"] for r in again}["forger"] == 0  # a re-run reuses the true result


def test_a_vandal_reaches_neither_the_grader_nor_the_others(attacked):
    results, root, victim_before = attacked
    assert total(results, "victim") == 5 and total(results, "vandal") == 5
    assert (root / "subs" / "victim.ipynb").read_bytes() == victim_before
    rows = {r["student"]: r for r in csv.DictReader((root / "grades.csv").open())}
    assert float(rows["vandal"]["total"]) == 5 and float(rows["victim"]["total"]) == 5
    assert len(rows) == len(results)


def test_references_hidden_cases_and_instructor_notebooks_are_out_of_reach(attacked):
    results, root, _ = attacked
    assert total(results, "reference") == 0
    text = (root / "grades_feedback" / f"{feedback_name('reference')}.txt").read_text()
    assert "`gram_matrix` is not defined" in text and "`content_loss` is not defined" in text


def test_calling_the_library_implementation_scores_zero_even_through_exec_and_eval(attacked):
    results, root, _ = attacked
    assert total(results, "library") == 0
    text = (root / "grades_feedback" / f"{feedback_name('library')}.txt").read_text()
    assert text.count("calls vizlab's own implementation of this technique") == 3
    assert "gram_matrix" in text and "content_loss" in text and "tv_loss" in text
    # a correct gram_matrix beside exec and eval: the whole notebook needs review, never full marks
    assert total(results, "library_exec") == 0
    review = results["library_exec"]["exercises"]
    assert all(review[e]["review"] for e in EXERCISES)
    text = (root / "grades_feedback" / f"{feedback_name('library_exec')}.txt").read_text()
    assert "needs review by a person" in text and "calls exec()" in text and "calls eval()" in text
    rows = {r["student"]: r for r in csv.DictReader((root / "grades.csv").open())}
    assert rows["library_exec"]["needs_review"] == " ".join(EXERCISES) and rows["library"]["needs_review"] == ""


def test_loops_hidden_in_exec_or_eval_need_review(attacked):
    results, root, _ = attacked
    for student in ("loops_exec", "loops_eval"):
        assert results[student]["total"] == 0, student
        assert results[student]["exercises"]["tv"]["review"], student
        assert "needs review by a person" in "".join(results[student]["exercises"]["tv"]["problems"])


def test_forged_records_are_rejected_and_the_student_keeps_a_row(attacked):
    results, root, _ = attacked
    forged = results["forged"]
    assert forged["total"] == 0
    assert "unreadable result record(s) were ignored" in "\n".join(forged["notes"])


def test_names_that_sanitise_alike_keep_their_own_files_and_rows(attacked):
    results, root, _ = attacked
    assert total(results, "Jürgen Müller") == 5 and total(results, "J_rgen M_ller") == 1
    assert total(results, "x" * 100 + "a") == 5 and total(results, "x" * 100 + "b") == 1
    names = [feedback_name(s) for s in results]
    assert len(set(names)) == len(names)
    for student, result in results.items():
        saved = json.loads((root / "grades_feedback" / f"{feedback_name(student)}.json").read_text())
        assert saved["student"] == student and saved["total"] == result["total"]


def test_dot_files_are_graded_and_reported(attacked):
    results, _, _ = attacked
    assert total(results, ".hidden") == 5
    assert "starts with a dot" in "\n".join(results[".hidden"]["notes"])


def test_formulas_are_escaped_in_the_csv(attacked):
    results, root, _ = attacked
    raw = (root / "grades.csv").read_text()
    rows = list(csv.DictReader(raw.splitlines()))
    assert len(rows) == len(results)
    assert not any(r["student"].startswith(("=", "+", "-", "@")) for r in rows)
    assert any(r["student"] == "'=HYPERLINK(\"example.com\",\"click\")" for r in rows)
    assert csv_cell("-1") == "'-1" and csv_cell("@x") == "'@x" and csv_cell("ann") == "ann" and csv_cell(3) == 3


def test_every_submission_file_gets_a_row(attacked):
    results, root, _ = attacked
    files = sorted(p.name[:-len(".ipynb")] for p in (root / "subs").iterdir())
    assert sorted(results) == files
    assert set(find_submissions(root / "subs")) == set(files)


# --- the frame reader, on its own ----------------------------------------------------------------------------

def test_the_frame_reader_checks_sizes_before_allocating():
    import tracemalloc

    import torch

    good = encode_frame({"kind": "case", "exercise": "gram", "case": 1, "value": [torch.ones(2, 3), 1.5, None],
                         "error": None, "seconds": 0.1, "forbidden": [], "loops": []})
    claims = [
        {"__t__": ["float32", [250_000_000], 0, 4]},             # 1 GB claimed, 4 bytes sent
        {"__t__": ["float32", [50_000, 50_000], 0, 0]},          # 10 GB claimed, nothing sent
        {"__t__": ["object", [1], 0, 8]},                         # a dtype that is not allowed
        {"__t__": ["float32", [-1], 0, 4]},                       # a negative size
    ]
    bad = [frame({"kind": "case", "exercise": "gram", "case": 0, "value": v, "error": None, "seconds": 0,
                  "forbidden": [], "loops": []}, b"\0" * 4) for v in claims]
    bad += [frame({"kind": "case", "exercise": "gram", "case": [0], "value": None, "error": None, "seconds": 0,
                   "forbidden": [], "loops": []}),                 # a list as case number
            frame({"kind": "exit", "signal": None, "code": 0, "leftovers": 0}),  # only init may report an exit
            frame({"kind": "done", "extra": 1}),                   # an unexpected field
            frame({"kind": "cell", "index": True})]                # a bool is not an index
    tracemalloc.start()
    frames, unreadable = read_frames(b"".join([good, *bad, good]))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert unreadable == len(bad) and len(frames) == 2
    assert torch.equal(frames[0]["value"][0], torch.ones(2, 3)) and frames[0]["value"][1] == 1.5
    assert peak < 2**20, f"reading forged frames allocated {peak} bytes"
    # a truncated or foreign stream ends the reading, counted as one bad record
    assert read_frames(good[:-3]) == ([], 1)
    assert read_frames(b"\x80\x04garbage")[1] == 1


# --- arguments -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--timeout", "-1"], ["--memory-mb", "0"], ["--jobs", "0"],
                                  ["--call-timeout", "nan"], ["--timeout", "inf"]])
def test_non_positive_limits_are_refused(tmp_path, capsys, argv):
    from vizlab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["grade", str(tmp_path), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "greater than 0" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("kwargs", [{"timeout": -1}, {"memory_mb": 0}, {"call_timeout": float("nan")}])
def test_limits_validate_themselves(kwargs):
    with pytest.raises(ValueError, match="must be a finite number > 0"):
        Limits(**kwargs)
    with pytest.raises(ValueError, match="jobs"):
        grade(".", "x.csv", jobs=0)


def test_an_ungraded_submission_still_gets_a_row_and_a_nonzero_exit(tmp_path, monkeypatch, capsys):
    from vizlab.cli import main

    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("ann", "bob"):
        (subs / f"{name}.ipynb").write_text(SUBMISSIONS["correct"])
    real = grading.grade_student

    def broken(student, *args, **kwargs):
        if student == "bob":
            raise RuntimeError("simulated grader failure")
        return real(student, *args, **kwargs)

    monkeypatch.setattr(grading, "grade_student", broken)
    out = tmp_path / "g.csv"
    assert main(["grade", str(subs), "--out", str(out), "--exercises", "gram,content,tv", "--quiet",
                 "--timeout", "8", "--call-timeout", "2"]) == 1
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert float(rows["ann"]["total"]) == 5 and float(rows["bob"]["total"]) == 0
    assert "could not be graded" in capsys.readouterr().err
    monkeypatch.setattr(grading, "grade_student", real)  # the next run grades bob again
    assert main(["grade", str(subs), "--out", str(out), "--exercises", "gram,content,tv", "--quiet",
                 "--timeout", "8", "--call-timeout", "2"]) == 0
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert float(rows["bob"]["total"]) == 5


# --- the sandbox itself, under every backend this machine has ---------------------------------------------------

PROBE = """
import os, socket
escapes = []
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
    escapes.append("network")
except OSError:
    pass
for path in [{subs!r}, {out!r}, {instructor!r}]:
    if os.path.exists(path) and os.listdir(path):  # hidden folders are empty mount points, at most
        escapes.append("sees " + path)
for path in ["/etc/vizlab-escape", {outside!r}]:
    try:
        open(path, "w").write("x")
        escapes.append("writes " + path)
    except OSError:
        pass
try:
    import vizlab.exercises.catalog
    escapes.append("imports the catalog")
except Exception:
    pass
pids = [p for p in os.listdir("/proc") if p.isdigit()]
if os.getpid() > 2 or len(pids) > 3:
    escapes.append(f"sees processes {{pids}}")
open("scratch.txt", "w").write("the working folder is writable")
"""

# Issue 27, deny by default (A11, A12, A12b, A31, A32): nothing of the host that a notebook does not need.
DENY = """
import os, socket
escapes = []
for path in [{secret!r}, {readme!r}, {git!r}, {home_file!r}, "/etc/shadow", "/etc/hostname"]:
    try:
        open(path, "rb").read(10)
        escapes.append("reads " + path)
    except OSError:
        pass
# in the checkout only vizlab, data and the folder that holds the installed packages (a .venv inside the
# checkout, as in CI's clean clone) may show, and the last only as the path to site-packages
import sys
allowed = {{"vizlab", "data"}} | {{p[len({checkout!r}) + 1:].split("/")[0] for p in sys.path
                                 if p.startswith({checkout!r} + "/") and "-packages" in p}}
for path in ["/run", "/var", "/home", "/srv", "/mnt", "/opt", {checkout!r}]:
    if os.path.isdir(path) and any(e not in allowed for e in os.listdir(path)):
        escapes.append("sees " + path)
for path in [{unix!r}, {unix_tmp!r}]:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        escapes.append("connects to " + path)
    except OSError:
        pass
for path in [{pty!r}, "/dev/tty", "/dev/console"] + ["/dev/pts/" + p for p in
                                                     (os.listdir("/dev/pts") if os.path.isdir("/dev/pts") else [])
                                                     if p.isdigit()]:
    try:
        with open(path, "w") as f:
            f.write("vizlab escape")
        escapes.append("writes to the terminal " + path)
    except OSError:
        pass
leaked = sorted(k for k in os.environ if "SECRET" in k or k.startswith(("VIZLAB_TEST", "SSH", "AWS")))
if leaked or os.environ.get("HOME", "/tmp").startswith(("/root", "/home")):
    escapes.append(f"inherits the environment: {{leaked}} HOME={{os.environ.get('HOME')}}")
if escapes:
    def content_loss(current, target, weight=1.0):
        return weight * ((current - target) ** 2).sum()
    raise RuntimeError(f"escapes: {{escapes}}")
"""


@pytest.mark.parametrize("backend", ["bwrap", "unshare"])
def test_the_sandbox_isolates_each_notebook(backend):
    if not shutil.which(backend):
        pytest.skip(f"{backend} is not installed")
    root = root_dir()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    try:
        subs, out = root / "subs", root / "out"
        subs.mkdir()
        out.mkdir()
        probe = PROBE.format(port=server.getsockname()[1], subs=str(subs), out=str(out),
                             instructor=str(REPO / "notebooks" / "exercises"), outside=str(root / "escape.txt"))
        (subs / "probe.ipynb").write_text(notebook(IMPORTS, GRAM, probe))
        (subs / "second.ipynb").write_text(notebook(IMPORTS, "import os\nassert not os.path.exists('scratch.txt')",
                                                    GRAM))
        results = {r["student"]: r for r in grade(subs, out / "grades.csv", exercises=["gram", "content"],
                                                  limits=LIMITS, jobs=1, progress=False, sandbox=backend)}
        probe_result = results["probe"]
        assert probe_result["exercises"]["gram"]["points"] == 2, probe_result["notes"]  # the probe ran
        assert probe_result["exercises"]["content"]["points"] == 0, "the probe found a way out"
        assert results["second"]["exercises"]["gram"]["points"] == 2, results["second"]["notes"]
        assert not (root / "escape.txt").exists() and not os.path.exists("/etc/vizlab-escape")
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("backend", ["bwrap", "unshare"])
def test_deny_by_default_no_home_checkout_sockets_terminals_or_environment(backend, monkeypatch):
    if not shutil.which(backend):
        pytest.skip(f"{backend} is not installed")
    import pty

    root = root_dir()
    tmp = Path(tempfile.mkdtemp(prefix="vizlab-deny-"))
    servers = []
    master, slave = pty.openpty()  # a terminal of the grader's user (A32)
    try:
        subs, out = root / "subs", root / "out"
        subs.mkdir()
        out.mkdir()
        (root / "secret.txt").write_text("the grader's own file")
        (out / "grades.csv").write_text("student,total\n")  # the run's own output (A12b)
        for path in (root / "service.sock", tmp / "service.sock"):  # host services on Unix sockets (A11)
            server = socket.socket(socket.AF_UNIX)
            server.bind(str(path))
            server.listen(5)
            servers.append(server)
        monkeypatch.setenv("VIZLAB_TEST_SECRET", "token")  # the grader's environment (A31)
        home_file = next((str(p) for p in Path.home().iterdir() if p.is_file()), str(Path.home() / ".bashrc"))
        deny = DENY.format(secret=str(root / "secret.txt"), readme=str(REPO / "README.md"),
                           git=str(REPO / ".git"), home_file=home_file, checkout=str(REPO),
                           unix=str(root / "service.sock"), unix_tmp=str(tmp / "service.sock"),
                           pty=os.ttyname(slave))
        (subs / "deny.ipynb").write_text(notebook(IMPORTS, GRAM, deny))
        results = grade(subs, out / "grades.csv", exercises=["gram", "content"], limits=LIMITS, jobs=1,
                        progress=False, sandbox=backend)
        result = results[0]
        assert result["exercises"]["gram"]["points"] == 2, result["notes"]  # the probe ran
        assert result["exercises"]["content"]["points"] == 0, result["notes"]
        assert not any("escapes" in n for n in result["notes"]), result["notes"]
        os.set_blocking(master, False)
        try:
            assert b"vizlab escape" not in os.read(master, 4096)
        except BlockingIOError:
            pass
    finally:
        for server in servers:
            server.close()
        os.close(master)
        os.close(slave)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def test_no_backend_means_a_clear_error_or_a_loud_warning(tmp_path, monkeypatch, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(SUBMISSIONS["correct"])
    monkeypatch.setattr(backends.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="bubblewrap"):
        grade(subs, tmp_path / "g.csv", exercises=EXERCISES, limits=LIMITS, progress=False)
    results = grade(subs, tmp_path / "g.csv", exercises=EXERCISES, limits=LIMITS, progress=False, sandbox="none")
    assert results[0]["total"] == 5
    assert "WARNING: --sandbox none" in capsys.readouterr().err


def test_the_forbidden_functions_are_derived_from_the_references():
    names = {name: {q for _, q in grading.forbidden_calls(name)} for name in ("saliency", "gram", "cam", "tv")}
    assert names["saliency"] == {"saliency"}
    assert names["gram"] == {"gram_matrix"} and names["tv"] == {"tv_loss"}
    assert names["cam"] == set()  # CAM's reference is plain tensor code: nothing to forbid


def test_the_instructor_notebooks_are_never_in_the_sandbox_view():
    """In a checkout they lie outside every bound folder; in a wheel they ship inside the package
    (vizlab/_shipped/notebooks/exercises) and are masked."""
    from vizlab.exercises.backends import _inside, sandbox_view
    from vizlab.exercises.release import SOURCE_DIR

    view = sandbox_view()
    source = os.path.realpath(SOURCE_DIR)
    masked = [folder for folder, _ in view["mask"]]
    assert not _inside(source, [t for _, t in view["ro"]]) or _inside(source, masked)
    assert not any(_inside(t, [source]) for _, t in view["ro"])
