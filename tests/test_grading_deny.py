"""Round 18's review of the grader (findings 1-5 and 9), each exploit the reviewer ran as a submission, end to end
through the real sandbox (one graded folder, one zygote start), and the judge-level rows beside them.

1. vizlab's own code behind a reference, reached through a class or helper the reference uses, a re-import
   (``os.sys.modules``, ``imp.reload``) or a duplicate implementation: refused at any depth (deny by default);
2. a graded function defined twice or below top level (the judge read one ``def``, the sandbox ran another);
3. a cell the judge cannot parse ran in the sandbox anyway; a decorator deep enough to crash the judge;
4. a notebook that never reaches the cases (invalid JSON, ``os._exit``) counted as defining every exercise;
5. cached grades survived a change of the library the references call;
9. ``vizlab grade`` with a bad path left a feedback folder and a key behind.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from vizlab.exercises import grading, rules
from vizlab.exercises.grading import Limits, grade
from vizlab.exercises.references import SOURCES

from test_grading import CONTENT, GRAM, IMPORTS, TV, notebook, notes
from test_grading_attacks import graded_and_removed, root_dir

EXERCISES = ["saliency", "grad_cam", "gram", "content", "tv"]
LIMITS = Limits(timeout=40, call_timeout=10, memory_mb=1024, file_bytes=2 * 2**20)
SALIENCY, GRAD_CAM = SOURCES["saliency_map"], SOURCES["grad_cam"]
LOOPS_TV = ("def tv_loss(img, weight=1.0):\n    total = 0\n    for i in range(img.shape[2] - 1):\n"
            "        total = total + ((img[:, :, i + 1] - img[:, :, i]) ** 2).sum()\n"
            "    for j in range(img.shape[3] - 1):\n"
            "        total = total + ((img[..., j + 1] - img[..., j]) ** 2).sum()\n"
            "    return weight * total")


def indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line if line else line for line in text.splitlines())


SUBMISSIONS = {
    # control: every answer written by hand (Grad-CAM with vizlab.capture, a generic helper the exercise permits)
    "honest": notebook(IMPORTS, SALIENCY, GRAD_CAM, GRAM, CONTENT, TV),
    # finding 1: classes and helpers the references reach, below the function the reference calls directly
    "gradient_method": notebook(IMPORTS, (
        "def saliency_map(model, x, target):\n    from vizlab.attribution.saliency import GradientMethod\n"
        "    return GradientMethod(model)(x, target.tolist(), reduce='max')")),
    "gradcam_class": notebook(IMPORTS, (
        "def grad_cam(model, x, target, layer='relu2'):\n    from vizlab.attribution.cam import GradCAM\n"
        "    return GradCAM()(model, x, target.tolist(), layer, upsample=False, normalize=False)")),
    "regularizer_tv": notebook(IMPORTS, (
        "def tv_loss(img, weight=1.0):\n    from vizlab.optimize.regularizers import total_variation\n"
        "    return weight * total_variation(img)")),
    # ... and a fresh copy of the module, with the original code (re-imported, reloaded)
    "sys_modules": notebook(IMPORTS, (
        "import os\nos.sys.modules.pop('vizlab.style.losses')\n"
        "from vizlab.style.losses import gram_matrix as g, content_loss as c\n"
        "def gram_matrix(features):\n    return g(features)\n"
        "def content_loss(current, target, weight=1.0):\n    return c(current, target, weight=weight)")),
    "imp_reload": notebook(IMPORTS, (
        "import imp, vizlab.style.losses\nfresh = imp.reload(vizlab.style.losses)\n"
        "def gram_matrix(features):\n    return fresh.gram_matrix(features)")),
    # ... and a copy of vizlab's source, written to a file and imported (it runs as another module)
    "copied_module": notebook(IMPORTS, (
        "import sys, vizlab.style.losses as L\ntext = open(L.__file__).read().replace('from ..', 'from vizlab.')\n"
        "open('mylosses.py', 'w').write(text)\n"
        "sys.path.insert(0, '.')\nfrom mylosses import gram_matrix as g\n"
        "def gram_matrix(features):\n    return g(features)")),
    # loops the judge cannot see: a helper module the notebook writes and imports
    "written_helper": notebook(IMPORTS, GRAM, (
        f"import sys\nopen('helpers.py', 'w').write({LOOPS_TV!r})\nsys.path.insert(0, '.')\n"
        "from helpers import tv_loss as _tv\ndef tv_loss(img, weight=1.0):\n    return _tv(img, weight)")),
    # finding 2: the judge read the `else` def (no loops), the sandbox ran the `if` def (loops)
    "if_else_def": notebook(IMPORTS, GRAM, (
        "if True:\n" + indent(LOOPS_TV) + "\nelse:\n    def tv_loss(img, weight=1.0):\n        return weight * 0")),
    # ... and two different defs: the judge read the last one, a cell that fails before it left the first one
    "two_defs": notebook(IMPORTS, GRAM, LOOPS_TV, "1 / 0\n" + TV),
    # finding 3: a cell the judge cannot parse (but the sandbox can, with a raised recursion limit) hides a loop
    "unparsable": notebook(IMPORTS, "import sys\nsys.setrecursionlimit(100000)",
                           "_pad = " + "+".join(["1"] * 5000) + "\n" + LOOPS_TV.replace("def tv_loss", "def _impl"),
                           "def tv_loss(img, weight=1.0):\n    return _impl(img, weight)"),
    # ... and a decorator deep enough that reading it back (ast.unparse) crashed the judge for the whole student
    "deep_decorator": notebook(IMPORTS, GRAM, (
        "def deco(f):\n    return f\n@(deco if True else " + "+".join(["1"] * 900) + ")\n" + TV)),
    # finding 4: a correct notebook beside one that is not JSON, and one that exits before the cases
    "alice": None,
    "bob": None,
    # --- after review (review_grader.md) ---
    # R4: an honest draft: the untouched skeleton in an earlier cell, then the answer
    "draft_then_answer": notebook(IMPORTS, SALIENCY, GRAD_CAM, GRAM, CONTENT,
                                  'def tv_loss(img, weight=1.0):\n    """Total variation."""\n'
                                  "    raise NotImplementedError()", TV),
    # R5: torch's nn.modules and a string 'modules' are ordinary code
    "nn_modules": notebook(IMPORTS, SALIENCY, GRAD_CAM, GRAM, CONTENT, TV, (
        "layers = [m for m in nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU()) "
        "if isinstance(m, nn.modules.conv.Conv2d)]\nlabels = {'modules': len(layers)}")),
    # R3: an honest thread pool inside a graded function (it hung until the time limit), and a raw thread that ran
    # vizlab's class unwatched
    "honest_thread": notebook(IMPORTS, GRAM, (
        "from concurrent.futures import ThreadPoolExecutor\ndef tv_loss(img, weight=1.0):\n"
        "    with ThreadPoolExecutor(2) as pool:\n"
        "        a = pool.submit(lambda: ((img[:, :, 1:] - img[:, :, :-1]) ** 2).sum())\n"
        "        b = pool.submit(lambda: ((img[..., 1:] - img[..., :-1]) ** 2).sum())\n"
        "        return weight * (a.result() + b.result())")),
    "raw_thread": notebook(IMPORTS, (
        "import threading\ndef saliency_map(model, x, target):\n"
        "    from vizlab.attribution.saliency import GradientMethod\n    out, done = {}, threading.Event()\n"
        "    def work():\n        try:\n"
        "            out['v'] = GradientMethod(model)(x, target.tolist(), reduce='max')\n"
        "        finally:\n            done.set()\n"
        "    threading._start_new_thread(work, ())\n    done.wait(5)\n    return out['v']")),
    # R2: vizlab's source run by a library that calls exec (cProfile.runctx)
    "cprofile_copy": notebook(IMPORTS, (
        "import cProfile, vizlab.style.losses as L\n"
        "src = open(L.__file__).read().replace('from ..', 'from vizlab.')\n"
        "g = {'__name__': 'mine'}; cProfile.runctx(src, g, g)\n"
        "def gram_matrix(features):\n    return g['gram_matrix'](features)\n"
        "def content_loss(current, target, weight=1.0):\n    return g['content_loss'](current, target, weight)")),
    # R1: get_ipython() handed code the judge never read (vizlab's source), and a body 4 magics deep (loops)
    "magic_copy": notebook(IMPORTS, "import vizlab.style.losses as L", (
        "get_ipython().run_cell_magic('capture', '', open(L.__file__).read().replace('from ..', 'from vizlab.')"
        ".replace('def gram_matrix', 'def _g').replace('def content_loss', 'def _c'))"),
        "def gram_matrix(features):\n    return _g(features)\n"
        "def content_loss(current, target, weight=1.0):\n    return _c(current, target, weight)"),
    "nested_time": notebook(IMPORTS, GRAM, "%%time\n" * 4 + LOOPS_TV.replace("def tv_loss", "def _impl"),
                            "def tv_loss(img, weight=1.0):\n    return _impl(img, weight)"),
}


@pytest.fixture(scope="module")
def denied():
    root = root_dir()
    subs = root / "subs"
    subs.mkdir()
    for name, text in SUBMISSIONS.items():
        if text is not None:
            (subs / f"{name}.ipynb").write_text(text)
    for student, extra in (("alice", "{ not json"), ("bob", notebook("import os\nos._exit(0)"))):
        (subs / student).mkdir()
        (subs / student / "E4_style.ipynb").write_text(notebook(IMPORTS, GRAM))
        (subs / student / "scratch.ipynb").write_text(extra)
    yield from graded_and_removed(root, EXERCISES, LIMITS)


def points(result, exercise: str) -> float:
    return result["exercises"][exercise]["points"]


def problems(result, exercise: str) -> str:
    return "\n".join(result["exercises"][exercise]["problems"])


def test_honest_answers_score_full_marks_without_notes(denied):
    results, _ = denied
    honest = results["honest"]
    assert honest["total"] == honest["max_total"] == 10, {n: problems(honest, n) for n in EXERCISES}
    assert honest["notes"] == [] and not any(s["review"] for s in honest["exercises"].values())


@pytest.mark.parametrize("student, exercise, what", [
    ("gradient_method", "saliency", "vizlab.attribution.saliency"),
    ("gradcam_class", "grad_cam", "vizlab.attribution.cam"),
    ("regularizer_tv", "tv", "vizlab."),
])
def test_vizlab_code_behind_the_reference_is_refused_at_any_depth(denied, student, exercise, what):
    results, _ = denied
    result = results[student]
    assert points(result, exercise) == 0, problems(result, exercise)
    assert "calls vizlab's own implementation" in problems(result, exercise), problems(result, exercise)
    assert what in problems(result, exercise)


@pytest.mark.parametrize("student, exercises, says", [
    ("sys_modules", ("gram", "content"), ".modules"),
    ("imp_reload", ("gram",), "imports imp"),
])
def test_a_fresh_copy_of_vizlab_gains_nothing(denied, student, exercises, says):
    results, _ = denied
    for exercise in exercises:
        result = results[student]
        assert points(result, exercise) == 0, problems(result, exercise)
        assert result["exercises"][exercise]["review"] and says in problems(result, exercise)


@pytest.mark.parametrize("student, exercise, file", [("copied_module", "gram", "mylosses.py"),
                                                     ("written_helper", "tv", "helpers.py")])
def test_code_from_a_file_the_notebook_wrote_needs_review(denied, student, exercise, file):
    results, _ = denied
    result = results[student]
    assert points(result, exercise) == 0 and result["exercises"][exercise]["review"], problems(result, exercise)
    assert "runs code from a file it wrote" in problems(result, exercise) and file in problems(result, exercise)
    if student == "written_helper":
        assert points(result, "gram") == 2  # only the exercise that ran it


@pytest.mark.parametrize("student", ["if_else_def", "two_defs"])
def test_a_function_defined_twice_or_below_top_level_needs_review(denied, student):
    results, _ = denied
    tv = results[student]["exercises"]["tv"]
    assert tv["points"] == 0 and tv["review"], tv["problems"]
    assert "tv_loss" in "".join(tv["problems"])
    assert points(results[student], "gram") == 2  # only the exercise concerned pays


def test_a_cell_the_judge_cannot_parse_does_not_run(denied):
    results, _ = denied
    result = results["unparsable"]
    assert points(result, "tv") == 0, problems(result, "tv")
    assert "cell 2 was not run" in notes(result), notes(result)


def test_a_decorator_that_crashed_the_judge_needs_review_not_an_internal_error(denied):
    results, _ = denied
    result = results["deep_decorator"]
    assert not result["ungraded"] and "internal error" not in notes(result), notes(result)
    assert result["exercises"]["tv"]["review"] and points(result, "tv") == 0
    assert "decorates `tv_loss` with decoifTrueelse1+1+1" in problems(result, "tv")
    assert result["exercises"]["gram"]["review"]  # like every decorator the judge cannot vouch for


@pytest.mark.parametrize("student", ["alice", "bob"])
def test_a_notebook_that_never_reaches_the_cases_defines_nothing(denied, student):
    results, _ = denied
    result = results[student]
    assert points(result, "gram") == 2, problems(result, "gram")
    assert "defined in 2 notebooks" not in problems(result, "gram")
    assert "scratch.ipynb" in notes(result)  # what happened to it is still said


# --- judge level ---------------------------------------------------------------------------------------------

HONEST = "import torch\n\ndef tv_loss(img, weight=1.0):\n    return weight * (img[..., 1:] - img[..., :-1]).pow(2).sum()"


@pytest.mark.parametrize("trick, says", [
    ("import os\nm = os.sys.modules", ".modules"),
    ("import sys\nm = getattr(sys, 'modules')", "'modules'"),
    ("import imp", "imports imp"),
    ("import pkgutil", "imports pkgutil"),
    ("from zipimport import zipimporter", "imports zipimport"),
    ("import _thread", "imports _thread"),
    ("import sys\nsys.monitoring.set_events(1, 0)", ".monitoring"),
    ("import threading\nthreading.settrace(None)", ".settrace"),
])
def test_module_tricks_need_review(trick, says):
    found = rules.judge_source([(0, HONEST), (1, trick)], ["tv_loss"]).review
    assert any(says in reason for reason in found), found


def test_model_modules_is_not_a_trick():
    cell = "def f(model):\n    return [m for m in model.modules()]"
    assert rules.judge_source([(0, HONEST), (1, cell)], ["tv_loss"]).review == []


def test_the_judge_says_which_cells_it_parsed():
    judged = rules.judge_source([(0, HONEST), (3, "def broken(:\n"), (5, "x = 1")], ["tv_loss"])
    assert judged.parsed == [0, 5]
    assert judged.unparsed and judged.unparsed[0][0] == 3 and "SyntaxError" in judged.unparsed[0][1]


def test_a_plain_decorator_in_a_cell_with_a_magic_is_read_from_its_own_code():
    cell = "%time x = 1\n@torch.no_grad()\n" + HONEST.split("\n\n", 1)[1]
    judged = rules.judge_source([(0, "import torch"), (1, cell)], ["tv_loss"])
    assert judged.review == [] and judged.plain == {"tv_loss"}
    deep = "@(print if True else " + "+".join(["1"] * 900) + ")\n" + HONEST.split("\n\n", 1)[1]
    judged = rules.judge_source([(0, deep)], ["tv_loss"])  # ast.unparse overflowed on this one
    assert any("decorates `tv_loss` with printifTrueelse1+1" in r and r.endswith("(cell 0)") for r in judged.review)


def test_two_defs_of_a_helper_are_not_plain():
    helper = "def rows(img):\n    return img.sum()\n"
    cells = [(0, helper), (1, "def rows(img):\n    return img.mean()\n"),
             (2, "def tv_loss(img, weight=1.0):\n    return weight * rows(img)")]
    judged = rules.judge_source(cells, ["tv_loss"])
    assert "tv_loss" not in judged.plain and judged.review == []
    assert any("defines `rows` 2 times, differently" in r for r in judged.unsure["tv_loss"]), judged.unsure
    redefined_later = rules.judge_source([(0, HONEST), (1, HONEST)], ["tv_loss"])
    assert "tv_loss" in redefined_later.plain  # the same def run again (a re-run cell) is still one definition


def test_a_helper_bound_again_other_than_by_def_is_not_plain():
    cells = [(0, "def rows(img):\n    return img.sum()\n"), (1, LOOPS_TV.replace("def tv_loss", "def other")),
             (2, "rows = other"), (3, "def tv_loss(img, weight=1.0):\n    return rows(img, weight)")]
    judged = rules.judge_source(cells, ["tv_loss"])
    assert "tv_loss" not in judged.plain
    assert any("binds `rows`, which `tv_loss` uses, again" in r for r in judged.unsure["tv_loss"]), judged.unsure


def test_any_exception_in_the_judge_means_needs_review(monkeypatch):
    def boom(cells, functions):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(grading, "judge_source", boom)
    judged = grading._judge_source([(0, HONEST)], ["tv_loss"])
    assert judged.parsed == [0]  # every cell runs: the whole notebook needs review
    assert any("could not judge" in r and "RecursionError" in r for r in judged.review), judged.review


def test_the_watch_tells_generic_helpers_from_the_library_in_process(tmp_path, monkeypatch):
    """The sandbox's watch (deny by default), run here: generic helpers pass, anything else of vizlab is named,
    at any depth, and code from a file outside the installed packages is named by its path."""
    import sys

    import torch

    import vizlab
    from vizlab.exercises.student import _LibraryWatch
    from vizlab.style.losses import tv_loss
    from vizlab.toy import tiny_cnn

    # the sandbox always starts the notebook in a fresh working folder (sandbox.py); here too, since the watch never
    # trusts the working folder nor anything below it (a CI clone keeps its .venv, torch included, below the root)
    monkeypatch.chdir(tmp_path)
    watch = _LibraryWatch(rules.GENERIC_MODULES)
    with watch:
        model = tiny_cnn(0)
        with vizlab.capture(model, "relu1") as cap:
            model(torch.rand(1, 3, 8, 8))
    assert watch.hit is None and cap["relu1"].shape[0] == 1
    with watch:
        tv_loss(torch.rand(1, 1, 3, 3))
    assert watch.hit == ("vizlab", "vizlab.style.losses.tv_loss")
    (tmp_path / "written_by_notebook.py").write_text("def f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import written_by_notebook

    watch = _LibraryWatch(rules.GENERIC_MODULES)
    before = sys.gettrace()
    with watch:
        written_by_notebook.f(1)
    assert watch.hit == ("file", str((tmp_path / "written_by_notebook.py").resolve()))
    (tmp_path / "<cell 9>").mkdir()  # a folder named like a cell: its files are still files
    (tmp_path / "<cell 9>" / "mod.py").write_text("def g(x):\n    return x * 2\n")
    monkeypatch.syspath_prepend("<cell 9>")
    import mod

    with watch:
        mod.g(1)
    assert watch.hit[0] == "file" and watch.hit[1].endswith("mod.py"), watch.hit
    assert sys.gettrace() is before  # whatever tracer ran before (a coverage tool's) is back


def test_the_fingerprint_covers_the_library_and_torch(tmp_path, monkeypatch):
    root = Path(grading.__file__).resolve().parents[1]
    files = {p.relative_to(root).as_posix() for p in grading._library_files()}
    assert {"style/losses.py", "attribution/saliency.py", "exercises/references.py", "toy.py"} <= files
    before = grading.catalog_fingerprint()
    import torch

    monkeypatch.setattr(torch, "__version__", torch.__version__ + "-other")
    assert grading.catalog_fingerprint() != before
    monkeypatch.undo()
    # a change of one library file, at any depth, changes the fingerprint
    tree = tmp_path / "vizlab"
    (tree / "style").mkdir(parents=True)
    (tree / "__init__.py").write_text("")
    (tree / "style" / "losses.py").write_text("def gram_matrix(f):\n    return f\n")
    first = grading.library_fingerprint(tree)
    (tree / "style" / "losses.py").write_text("def gram_matrix(f):\n    return f * 2\n")
    assert grading.library_fingerprint(tree) != first


def test_a_bad_submissions_path_creates_nothing(tmp_path, capsys):
    from vizlab.cli import main

    out = tmp_path / "out" / "g.csv"
    assert main(["grade", str(tmp_path / "nonexistent"), "--out", str(out)]) == 2
    assert "SUBMISSIONS_DIR" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="SUBMISSIONS_DIR"):
        grade(tmp_path / "nonexistent", tmp_path / "g.csv", exercises=["gram"], progress=False)
    assert list(tmp_path.iterdir()) == []


# --- after review (review_grader.md, findings R1-R6) ---------------------------------------------------------------

@pytest.mark.parametrize("student", ["draft_then_answer", "nn_modules"])
def test_honest_drafts_and_torch_modules_score_full_marks(denied, student):
    results, _ = denied
    result = results[student]
    assert result["total"] == result["max_total"] == 10, {n: problems(result, n) for n in EXERCISES}
    assert not any(s["review"] for s in result["exercises"].values()), {n: problems(result, n) for n in EXERCISES}


def test_a_thread_in_a_graded_function_fails_fast_with_a_clear_message(denied):
    results, _ = denied
    result = results["honest_thread"]
    assert points(result, "tv") == 0 and points(result, "gram") == 2
    assert "threads are not allowed in a graded function" in problems(result, "tv"), problems(result, "tv")
    assert "longer than" not in problems(result, "tv")


def test_a_raw_thread_does_not_escape_the_watch(denied):
    results, _ = denied
    result = results["raw_thread"]
    assert points(result, "saliency") == 0, problems(result, "saliency")
    assert result["exercises"]["saliency"]["review"] and "_start_new_thread" in problems(result, "saliency")


def test_no_thread_starts_while_a_function_is_graded(monkeypatch):
    import _thread
    import threading

    from vizlab.exercises.student import THREADS_REFUSED, _refuse_threads

    for owner, name in ((_thread, "start_new_thread"), (_thread, "start_new"), (threading, "_start_new_thread")):
        monkeypatch.setattr(owner, name, getattr(owner, name))  # put back after the test
    busy = []
    _refuse_threads(lambda: bool(busy))
    ran = threading.Event()
    threading.Thread(target=ran.set).start()  # outside a graded call: threads work
    assert ran.wait(5)
    busy.append(True)
    for start in (lambda: threading.Thread(target=print).start(), lambda: _thread.start_new_thread(print, ()),
                  lambda: threading._start_new_thread(print, ())):
        with pytest.raises(RuntimeError, match=re.escape(THREADS_REFUSED)):
            start()


def test_text_run_as_code_by_a_library_needs_review(denied):
    results, _ = denied
    result = results["cprofile_copy"]
    for exercise in ("gram", "content"):
        assert points(result, exercise) == 0 and result["exercises"][exercise]["review"], problems(result, exercise)
        assert "imports cProfile" in problems(result, exercise)
        assert "text run as code" in problems(result, exercise), problems(result, exercise)  # the watch too


@pytest.mark.parametrize("student, exercises", [("magic_copy", ("gram", "content")), ("nested_time", ("tv",))])
def test_the_shell_runs_only_the_magic_bodies_the_judge_read(denied, student, exercises):
    results, _ = denied
    result = results[student]
    for exercise in exercises:
        assert points(result, exercise) == 0, problems(result, exercise)
    assert "MagicRefused" in notes(result), notes(result)
    if student == "nested_time":
        assert points(result, "gram") == 2


@pytest.mark.parametrize("cells", [
    [HONEST, "import torch.nn as nn\nc = nn.modules.conv.Conv2d", "import torch\nx = torch.nn.modules.Module",
     "d = {'modules': 1}", "import sys\nprint(sys.version)\nv = sys.version\nprint(v)"],
    ["if __name__ == '__main__':\n    def _d(img):\n        return img[..., 1:] - img[..., :-1]\n"
     "    def tv_loss(img, weight=1.0):\n        return weight * _d(img).pow(2).sum()"],
    ["try:\n    from einops import reduce as _r\nexcept ImportError:\n    def _r(t, pattern, op):\n"
     "        return t.sum()\ndef tv_loss(img, weight=1.0):\n    return weight * _r(img, 'b c h w -> b', 'sum')"],
    ["def tv_loss(img, weight=1.0):\n    raise NotImplementedError", HONEST.split("\n\n", 1)[1],
     "def tv_loss(img, weight=1.0):\n    \"skeleton\"\n    raise NotImplementedError('write it')"],
])
def test_honest_code_is_judged_plain(cells):
    judged = rules.judge_source([(0, "import torch")] + list(enumerate(cells, 1)), ["tv_loss"])
    assert judged.review == [] and judged.unsure == {} and judged.plain == {"tv_loss"}, (judged.review,
                                                                                           judged.unsure)


@pytest.mark.parametrize("trick, says", [
    ("import sys as s\nm = s.modules", ".modules"),
    ("import os\nx = os.sys\nm = x.modules", ".modules"),
    ("import os\nm = getattr(os, 'sys').modules", "'sys'"),
    ("import sys\ndef f(s):\n    return s.modules\nf(sys)", "passes the sys module around"),
    ("import cProfile", "imports cProfile"), ("from torch.utils import benchmark", "imports torch.utils.benchmark"), ("import doctest", "doctest"),
    ("import pdb", "imports pdb"), ("import trace", "imports trace"),
    ("from torch.utils.benchmark import Timer", "imports torch.utils.benchmark"),
    ("import threading\nthreading._start_new_thread(print, ())", "._start_new_thread"),
    ("ip = get_ipython()\nip.run_cell_magic('time', '', 'x = 1')", "get_ipython other than"),
    ("get_ipython()._Shell__run('x = 1')", "get_ipython other than"),
])
def test_more_tricks_need_review(trick, says):
    found = rules.judge_source([(0, HONEST), (1, trick)], ["tv_loss"]).review
    assert any(says in reason for reason in found), found


def test_a_skeleton_beside_a_def_in_an_if_block_is_still_unsure():
    cells = [(0, "def tv_loss(img, weight=1.0):\n    raise NotImplementedError"), (1, "if True:\n" + indent(LOOPS_TV))]
    judged = rules.judge_source(cells, ["tv_loss"])
    assert "tv_loss" not in judged.plain and judged.unsure["tv_loss"] and judged.loops["tv_loss"]


def test_the_shell_runs_only_the_magic_bodies_the_judge_read_in_process():
    from vizlab.exercises.student import MagicRefused, _Shell

    judged = rules.judge_source([(0, "%%time\n%%time\nx = 1"), (1, "%time y = 2")], ["tv_loss"])
    assert "y = 2" in judged.magics and any(m.strip() == "x = 1" for m in judged.magics), judged.magics
    space: dict = {}
    shell = _Shell(space, allowed=judged.magics)
    shell.run_line_magic("time", "y = 2")
    assert space["y"] == 2
    with pytest.raises(MagicRefused):
        shell.run_cell_magic("time", "", "z = 3")
    assert "z" not in space


def test_the_watch_allows_only_the_harness_the_sandbox_ships():
    import torch

    from vizlab.exercises import backends, references, student

    assert {f"{m}.py" for m in student.HARNESS_MODULES} == set(backends.SANDBOX_FILES)
    watch = student._LibraryWatch(rules.GENERIC_MODULES)
    with watch:
        references.normalize01(torch.rand(2, 3))
    assert watch.hit and watch.hit[0] == "vizlab" and "vizlab.exercises.references" in watch.hit[1], watch.hit


def test_the_watch_names_text_run_as_code_but_not_cells_or_dataclasses():
    import cProfile

    import torch

    from vizlab.exercises.student import _LibraryWatch

    watch = _LibraryWatch(rules.GENERIC_MODULES, cells=[3])
    space: dict = {"__name__": "__main__"}
    exec(compile("def f(x):\n    return x + 1", "<cell 3>", "exec"), space)
    with watch:
        space["f"](1)
    assert watch.hit is None

    # a dataclass a cell defines: its __init__ is <string> code in __main__'s globals
    exec(compile("import dataclasses\n@dataclasses.dataclass\nclass Point:\n    x: int", "<cell 3>", "exec"), space)
    with watch:
        space["Point"](1)
    assert watch.hit is None, watch.hit
    exec(compile("import collections\nPair = collections.namedtuple('Pair', 'a b')", "<cell 3>", "exec"), space)
    with watch:
        space["Pair"](1, 2)
    assert watch.hit is None, watch.hit
    g = {"__name__": "mine"}
    cProfile.runctx("def h(x):\n    return x * 2", g, g)
    with watch:
        g["h"](2)
    assert watch.hit and watch.hit[0] == "file" and "<string>" in watch.hit[1], watch.hit

    # a forged namedtuple namespace (review r18, second round: vizlab's source run by a benchmark Timer in it scored)
    forged = {"__name__": "namedtuple_x", "_tuple_new": tuple.__new__, "torch": torch}
    exec(compile("def gram(f):\n    return torch.einsum('nchw,ndhw->ncd', f, f)", "<string>", "exec"), forged)
    with watch:
        forged["gram"](torch.rand(1, 2, 3, 3))
    assert watch.hit and "code run from text" in watch.hit[1], watch.hit
    exact = {"__name__": "namedtuple_x", "_tuple_new": tuple.__new__, "__builtins__": {}}
    exec(compile("def gram(f, t=None):\n    return f * f", "<string>", "exec"), exact)  # the very keys, not a lambda
    with watch:
        exact["gram"](torch.rand(1, 2, 3, 3))
    assert watch.hit and "code run from text" in watch.hit[1], watch.hit


def test_a_sys_alias_made_in_one_cell_counts_in_the_next():
    cells = [(0, HONEST), (1, "import sys as s"), (2, "t = s"), (3, "m = t.modules")]
    found = rules.judge_source(cells, ["tv_loss"]).review
    assert any(".modules (cell 3" in reason for reason in found), found


def test_loops_in_a_helper_reached_through_a_container_are_seen():
    loop = LOOPS_TV.replace("def tv_loss", "def _impl")
    cells = [(0, loop), (1, 'H = {"f": _impl}'), (2, 'def tv_loss(img, weight=1.0):\n    return H["f"](img, weight)')]
    judged = rules.judge_source(cells, ["tv_loss"])
    assert any("in _impl" in loop for loop in judged.loops["tv_loss"]), judged.loops
    # a constant made by a looping helper before the call is not the helper running in it
    cells = [(0, loop), (1, "K = _impl(torch.ones(1, 1, 2, 2))"),
             (2, "def tv_loss(img, weight=1.0):\n    return K * img.sum()")]
    judged = rules.judge_source(cells, ["tv_loss"])
    assert judged.loops["tv_loss"] == [] and judged.plain == {"tv_loss"}


def test_an_import_fallback_is_read_but_a_graded_function_imported_is_not_plain():
    loop = LOOPS_TV.replace("def tv_loss", "def _r")
    cells = [(0, "try:\n    from einops import reduce as _r\nexcept ImportError:\n" + indent(loop)),
             (1, "def tv_loss(img, weight=1.0):\n    return _r(img, weight)")]
    judged = rules.judge_source(cells, ["tv_loss"])
    assert judged.loops["tv_loss"] and "tv_loss" in judged.plain  # the fallback's loops are read
    cells = [(0, "try:\n    from kornia.losses import total_variation as tv_loss\nexcept ImportError:\n"
                 + indent(HONEST.split("\n\n", 1)[1]))]
    judged = rules.judge_source(cells, ["tv_loss"])
    assert "tv_loss" not in judged.plain and any("binds `tv_loss` again" in r for r in judged.review)
    cells = [(0, "try:\n    import einops\n    x = 1\nexcept ImportError:\n" + indent(loop)),
             (1, "def tv_loss(img, weight=1.0):\n    return _r(img, weight)")]
    assert rules.judge_source(cells, ["tv_loss"]).unsure["tv_loss"]  # not only imports: still unsure
    # a top-level variable named like a parameter is not followed: `out = list(map(_r, xs))` beside `def f(out)`
    cells = [(0, loop), (1, "out = list(map(_r, []))\nimg = out"),
             (2, "def tv_loss(img, weight=1.0):\n    out = img.sum()\n    return weight * out")]
    judged = rules.judge_source(cells, ["tv_loss"])
    assert judged.loops["tv_loss"] == [] and judged.plain == {"tv_loss"}, judged.loops


def test_timeit_imports_are_ordinary_but_a_benchmark_imported_from_its_package_is_a_trick():
    """Review r18, second round: `from timeit import default_timer` zeroed an honest notebook; `from torch.utils
    import benchmark` slipped past the module list."""
    honest = rules.judge_source([(0, "from timeit import default_timer\n" + HONEST)], ["tv_loss"])
    assert honest.review == [] and "tv_loss" in honest.plain
    found = rules.judge_source([(0, "from torch.utils import benchmark\n" + HONEST)], ["tv_loss"]).review
    assert any("torch.utils.benchmark" in reason for reason in found), found


def test_timeit_options_are_stripped_the_same_way_by_the_judge_and_the_shell():
    """Review r18, second round: `%timeit -n 3 -r 2 expr` kept `3 -r 2 expr` (a SyntaxError: the cell was skipped)."""
    from vizlab.exercises.student import _Shell, magic_line_code

    assert magic_line_code("-n 3 -r 2 y = 2 * 3") == "y = 2 * 3"
    assert magic_line_code("-n3 -q y = 1") == "y = 1" and magic_line_code("y = 1") == "y = 1"
    cell = "get_ipython().run_line_magic('timeit', '-n 3 -r 2 y = 2 * 3')"
    judged = rules.judge_source([(0, cell)], ["tv_loss"])
    assert 0 in judged.parsed and judged.review == [] and "y = 2 * 3" in judged.magics, judged
    space: dict = {}
    _Shell(space, allowed={"y = 2 * 3"}).run_line_magic("timeit", "-n 3 -r 2 y = 2 * 3")
    assert space["y"] == 6


def test_a_colab_check_is_not_a_trick_but_holding_the_shell_is():
    """Review r18, second round: `'google.colab' in str(get_ipython())` sent an honest notebook to review."""
    for check in ("IN_COLAB = 'google.colab' in str(get_ipython())", "if get_ipython() is not None:\n    pass",
                  "print(repr(get_ipython()))"):
        judged = rules.judge_source([(0, check), (1, HONEST)], ["tv_loss"])
        assert judged.review == [] and "tv_loss" in judged.plain, (check, judged)
    for held in ("ip = get_ipython()", "f(get_ipython())", "get_ipython().transform = str", "x = get_ipython",
                 "type(get_ipython()).run_line_magic = print"):  # the class could be patched
        found = rules.judge_source([(0, held), (1, HONEST)], ["tv_loss"]).review
        assert any("get_ipython" in reason for reason in found), (held, found)

