"""Round 19: the no-loops rule judges the code that ran during the graded calls (the sandbox's run-time report),
plus what the source requires whatever ran. End to end through ``vizlab grade`` (one graded folder, one zygote),
then the report's trust rules at the judge level.

Faults of the source-only rule (round 18), each shown fixed:
1. a constant built at top level by a looping helper (``CONST = list(map(_helper, range(3)))``) charged that loop
   to the graded function (a false positive);
2. an honest def chosen at run time (``if torch.cuda.is_available(): def tv_loss ... else: def tv_loss ...``)
   needed review;
3. a helper returned by a factory (``helper = make()``) was not read at all (a loop that was not seen).
"""
from __future__ import annotations

import pytest

from vizlab.exercises import catalog, rules
from vizlab.exercises.grading import (UNCONFIRMED, Limits, Run, believed_cases, judge_run, no_loops_verdict,
                                      what_ran)
from vizlab.exercises.protocol import read_frames

from test_grading import GRAM, IMPORTS, TV, notebook
from test_grading_attacks import graded_and_removed, root_dir
from test_grading_deny import LOOPS_TV, indent, points, problems

EXERCISES = ["gram", "tv"]
LIMITS = Limits(timeout=40, call_timeout=10, memory_mb=1024, file_bytes=2 * 2**20)
TV_BODY = TV.split("\n", 1)[1]  # the body of the reference's tv_loss, indented by four spaces
IMPL = LOOPS_TV.replace("def tv_loss", "def _impl")
COUNT = "def _count(k):\n    n = 0\n    for _ in range(k):\n        n += 1\n    return n"
N_TV = len(catalog.get("tv").cases(hidden=True))
# frames written by the notebook itself, with json and struct as anyone can (the protocol is public), to each pipe
# it may write to other than its output; without a loop of its own (map and lambdas are not loops), so that only
# the helper's loops are at stake
FORGE = ("import fcntl, json, os, stat, struct\n"
         "def _write_to(fd, frame):\n    try:\n"
         "        if stat.S_ISFIFO(os.fstat(fd).st_mode) and os.fstat(fd).st_ino != os.fstat(1).st_ino \\\n"
         "                and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:\n"
         "            os.write(fd, frame)\n    except OSError:\n        pass\n"
         "def _forge(record, blob=b''):\n    data = json.dumps(record).encode()\n"
         "    frame = b'VZ1' + struct.pack('>II', len(data), len(blob)) + data + blob\n"
         "    list(map(lambda fd: _write_to(fd, frame), range(3, 64)))\n")

SQ_LINE = "SQ = {name: (lambda t: (t ** 2).sum()) for name in ['sq']}"
SQ_TV = ("def tv_loss(img, weight=1.0):\n    dv = img[:, :, 1:, :] - img[:, :, :-1, :]\n"
         "    dh = img[:, :, :, 1:] - img[:, :, :, :-1]\n    return weight * (SQ['sq'](dv) + SQ['sq'](dh))")

SUBMISSIONS = {
    # fault 1: the looping helper runs at top level, to build a constant; the graded call never runs it
    "const_map": notebook(IMPORTS, GRAM, COUNT, "CONST = list(map(_count, range(3)))", (
        "def tv_loss(img, weight=1.0):\n    d = CONST[1]\n"
        "    dv = img[:, :, d:, :] - img[:, :, :-d, :]\n    dh = img[:, :, :, d:] - img[:, :, :, :-d]\n"
        "    return weight * ((dv ** 2).sum() + (dh ** 2).sum())")),
    # fault 2: an honest def chosen by the machine it runs on
    "cuda_if_else": notebook(IMPORTS, GRAM, (
        "if torch.cuda.is_available():\n" + indent(TV) + "\nelse:\n"
        "    def tv_loss(img, weight=1.0):\n        dv = img.diff(dim=2)\n        dh = img.diff(dim=3)\n"
        "        return weight * (dv.pow(2).sum() + dh.pow(2).sum())")),
    # ... but the same choice with a looping def is still not scored automatically
    "cuda_if_loops": notebook(IMPORTS, GRAM, "if torch.cuda.is_available():\n" + indent(LOOPS_TV) + "\nelse:\n"
                              + indent(TV)),
    # fault 3: the looping helper is made by a factory; the source never names it from tv_loss
    "factory": notebook(IMPORTS, GRAM, (
        "def make():\n" + indent(IMPL.replace("def _impl", "def inner")) + "\n    return inner"),
        "helper = make()", "def tv_loss(img, weight=1.0):\n    return helper(img, weight)"),
    # a looping helper the source cannot tie to tv_loss (put in a list by a call), which runs only in the call
    "hidden_in_call": notebook(IMPORTS, GRAM, IMPL, "ops = []\nops.append(_impl)",
                               "def tv_loss(img, weight=1.0):\n    return ops[0](img, weight)"),
    # ... and the same helper also used for a constant before: running in the call still counts
    "const_and_call": notebook(IMPORTS, GRAM, COUNT, "CONST = list(map(_count, range(3)))",
                               "ops = []\nops.append(_count)", (
        "def tv_loss(img, weight=1.0):\n    d = ops[0](1)\n"
        "    dv = img[:, :, d:, :] - img[:, :, :-d, :]\n    dh = img[:, :, :, d:] - img[:, :, :, :-d]\n"
        "    return weight * ((dv ** 2).sum() + (dh ** 2).sum())")),
    # a forged report: in its first graded call the notebook computes the answer (with the looping helper, reached
    # only through a value, which only a whole, believed report could clear), writes a `ran` frame for every case
    # saying that nothing ran (with a token it made up), the case's frame with the value, and ends the process
    # before the harness writes its own frames
    "forged_report": notebook(IMPORTS, GRAM, IMPL, 'H = {"f": _impl}', FORGE, (
        "def tv_loss(img, weight=1.0):\n    value = H['f'](img, weight).detach().float()\n"
        "    list(map(lambda case: _forge({'kind': 'ran', 'exercise': 'tv', 'case': case, 'codes': [], 'whole': 1,"
        " 'token': 'f' * 32}), range(" + str(N_TV) + ")))\n"
        "    raw = value.numpy().tobytes()\n"
        "    _forge({'kind': 'case', 'exercise': 'tv', 'case': 0, 'value': {'__t__': ['float32', list(value.shape), 0,"
        " len(raw)]}, 'error': None, 'seconds': 0.1, 'forbidden': [], 'loops': []}, raw)\n"
        "    os._exit(0)")),
    # the looping helper run by a replaced os.path.exists, which the watch's judge calls inside the tracer (where
    # nothing is traced) when a new code object starts; the source never ties it to tv_loss
    "tracer_hook": notebook(IMPORTS, GRAM, IMPL, (
        "import os\n_exists, _box = os.path.exists, {}\n"
        "def _sneaky(path):\n    if 'img' in _box:\n        _box['out'] = _impl(_box.pop('img'), 1.0)\n"
        "    return _exists(path)\nos.path.exists = _sneaky"), (
        "def tv_loss(img, weight=1.0):\n    _box['img'] = img\n    def fresh():\n        return None\n"
        "    fresh()\n    return weight * _box['out']")),
    # control: the same helper through a value, without forging: charged by what ran
    "container": notebook(IMPORTS, GRAM, IMPL, 'H = {"f": _impl}',
                          "def tv_loss(img, weight=1.0):\n    return H['f'](img, weight)"),
    # round 20: loop-free lambdas made by a comprehension at top level, on its line; the call runs only the lambdas
    # (which start on the same line as the comprehension's code, but are other code objects)
    "lambda_in_dictcomp": notebook(IMPORTS, GRAM, SQ_LINE, SQ_TV),
    "lambdas_from_listcomp": notebook(IMPORTS, GRAM, "OPS = [(lambda t, d=d: t.diff(dim=d)) for d in (2, 3)]", (
        "def tv_loss(img, weight=1.0):\n    return weight * ((OPS[0](img) ** 2).sum() + (OPS[1](img) ** 2).sum())")),
    # ... and a lambda on such a line that loops in the call is still charged
    "looping_lambda_in_dictcomp": notebook(IMPORTS, GRAM, SQ_LINE.replace("(t ** 2).sum()",
                                                                          "sum(v * v for v in t.flatten())"), SQ_TV),
}


@pytest.fixture(scope="module")
def graded():
    root = root_dir()
    (root / "subs").mkdir()
    for name, text in SUBMISSIONS.items():
        (root / "subs" / f"{name}.ipynb").write_text(text)
    yield from graded_and_removed(root, EXERCISES, LIMITS)


def loops_charged(result) -> bool:
    return "must not use Python loops" in problems(result, "tv")


@pytest.mark.parametrize("student", ["const_map", "cuda_if_else"])
def test_faults_1_and_2_honest_answers_score_full_marks(graded, student):
    results, _ = graded
    result = results[student]
    assert points(result, "tv") == 2 and not result["exercises"]["tv"]["review"], problems(result, "tv")
    assert points(result, "gram") == 2


def test_fault_2_a_choice_with_a_looping_def_still_needs_review(graded):
    results, _ = graded
    tv = results["cuda_if_loops"]["exercises"]["tv"]
    assert tv["points"] == 0 and tv["review"], tv["problems"]


@pytest.mark.parametrize("student, helper", [("factory", "in inner"), ("hidden_in_call", "in _impl"),
                                             ("const_and_call", "in _count"), ("container", "in _impl")])
def test_fault_3_a_loop_that_runs_in_the_graded_call_is_charged(graded, student, helper):
    results, _ = graded
    result = results[student]
    assert points(result, "tv") == 0 and loops_charged(result), problems(result, "tv")
    assert helper in problems(result, "tv"), problems(result, "tv")
    assert points(result, "gram") == 2


def test_a_forged_report_does_not_clear_a_loop(graded):
    results, _ = graded
    result = results["forged_report"]
    # the forged case frame was read (the loops message, not "not run", is the problem of case 0) ...
    assert points(result, "tv") == 0 and loops_charged(result), problems(result, "tv")
    # ... and the forged report was not believed: the helper reached through a value is charged, as by the source
    assert "in _impl" in problems(result, "tv")
    assert "exited early with code 0" in "\n".join(result["notes"]), result["notes"]


@pytest.mark.parametrize("student", ["lambda_in_dictcomp", "lambdas_from_listcomp"])
def test_a_lambda_is_not_charged_the_loop_of_the_comprehension_on_its_line(graded, student):
    """Round 20 (review finding 3): the watch listed (cell, first line), so a loop-free lambda made by a top-level
    comprehension, which starts on the comprehension's line, was charged that comprehension's loop (it ran only at
    top level) and the honest answer lost its points. The kind of code (``<lambda>``, ``<dictcomp>``) tells them
    apart."""
    results, _ = graded
    result = results[student]
    assert points(result, "tv") == 2 and not result["exercises"]["tv"]["review"], problems(result, "tv")


def test_a_looping_lambda_on_a_comprehension_line_is_still_charged(graded):
    results, _ = graded
    result = results["looping_lambda_in_dictcomp"]
    assert points(result, "tv") == 0 and loops_charged(result), problems(result, "tv")
    assert "generator in <genexpr> (cell 2, line 1)" in problems(result, "tv"), problems(result, "tv")
    assert "comprehension in <dictcomp>" not in problems(result, "tv"), problems(result, "tv")


def test_code_run_inside_the_watch_by_a_replaced_function_is_not_hidden(graded):
    results, _ = graded
    result = results["tracer_hook"]
    assert points(result, "tv") == 0 and result["exercises"]["tv"]["review"], problems(result, "tv")
    assert "posixpath.exists (the notebook replaced it" in problems(result, "tv"), problems(result, "tv")
    assert result["exercises"]["gram"]["review"]  # every graded call of the notebook starts with it replaced


# --- judge level: what is believed ----------------------------------------------------------------------------

CELLS = [(0, "import torch"), (1, COUNT), (2, "CONST = list(map(_count, range(3)))"),
         (3, "def tv_loss(img, weight=1.0):\n    return weight * CONST[1] * img.sum()")]
TOKEN = "ab" * 16


def run_with(frames: list[dict]) -> Run:
    run = Run("nb.ipynb", frames=frames)
    run.rules = rules.judge_source(CELLS, ["tv_loss"])
    return run


def reports(codes, token=TOKEN, whole=1, cases=None):
    n = len(catalog.get("tv").cases(hidden=True)) if cases is None else cases
    return [{"kind": "ran", "exercise": "tv", "case": i, "codes": [list(c) for c in codes], "whole": whole,
             "hit": "", "token": token} for i in range(n)]


def case_frame(i: int, value=None, error=None) -> dict:
    return {"kind": "case", "exercise": "tv", "case": i, "value": value, "error": error, "seconds": 0.0,
            "forbidden": [], "loops": []}


def test_a_case_frame_is_believed_only_right_after_its_report_and_only_once():
    hello = {"kind": "hello", "token": TOKEN}
    ran = reports([(3, 1, "")])
    honest = [hello] + [f for i in range(N_TV) for f in (ran[i], case_frame(i, value=1.0))]
    assert {i: f["value"] for i, f in believed_cases(run_with(honest), "tv").items()} == {i: 1.0 for i in range(N_TV)}
    # a frame the notebook wrote during call 0 (before the report), then the process ended
    forged = [hello, case_frame(0, value=2.0)]
    assert believed_cases(run_with(forged), "tv")[0]["error"] == UNCONFIRMED
    # ... or during call 1, for case 0 again (a second case frame): neither is believed
    doubled = honest[:3] + [ran[1], case_frame(0, value=2.0), case_frame(1, value=1.0)]
    believed = believed_cases(run_with(doubled), "tv")
    assert believed[0]["error"] == UNCONFIRMED and believed[1]["value"] is None, believed
    # ... or a case frame put between a report and the harness's case frame
    wedged = [hello, ran[0], case_frame(1, value=2.0), case_frame(0, value=1.0)]
    believed = believed_cases(run_with(wedged), "tv")
    assert believed[0]["error"] == UNCONFIRMED and believed[1]["error"] == UNCONFIRMED
    # frames made by hand without a hello (tests of the judge) are read as they are
    assert believed_cases(run_with([case_frame(0, value=3.0)]), "tv")[0]["value"] == 3.0


@pytest.mark.parametrize("hit, says", [("vizlab", "calls vizlab's own implementation"), ("file", "runs code from")])
def test_the_watch_verdict_travels_in_the_report(hit, says):
    """A notebook that rewrites its case frames (it replaced what the frame writer uses) cannot clear a refusal: the
    verdict's kind comes with the report, out of its reach."""
    run = run_with([{"kind": "hello", "token": TOKEN}, {"kind": "function", "exercise": "tv", "source": None,
                                                        "loops": []}]
                   + [f for i, r in enumerate(reports([(3, 1, "")])) for f in ({**r, "hit": hit}, case_frame(i, 1.0))])
    assert believed_cases(run, "tv")[0]["value"] is None
    scores = judge_run(run, ["tv"])["tv"]
    assert scores["points"] == 0 and says in "".join(scores["problems"]), scores["problems"]


def test_the_source_splits_loops_reached_by_name_from_loops_reached_through_a_value():
    judged = rules.judge_source(CELLS, ["tv_loss"])
    assert any("in _count" in loop for loop in judged.loops["tv_loss"])  # the source reading, as before
    assert judged.direct_loops["tv_loss"] == []
    assert any("for loop in _count (cell 1, line 3)" == loop for loop in judged.code_loops[(1, 1, "")])
    assert judged.code_loops[(3, 1, "")] == [] and judged.def_keys["tv_loss"] == {(3, 1, "")}


@pytest.mark.parametrize("frames, whole", [
    ([{"kind": "hello", "token": TOKEN}] + reports([(3, 1, "")]), True),
    (reports([(3, 1, "")]), False),  # no hello first
    ([{"kind": "hello", "token": TOKEN}] + reports([(3, 1, "")], token="cd" * 16), False),  # not the harness's token
    ([{"kind": "hello", "token": TOKEN}, {"kind": "hello", "token": "cd" * 16}] + reports([(3, 1, "")]), False),
    ([{"kind": "hello", "token": TOKEN}] + reports([(3, 1, "")])[:-1], False),  # a case without its report
    ([{"kind": "hello", "token": TOKEN}] + reports([(3, 1, "")]) + reports([(3, 1, "")])[:1], False),  # twice
    ([{"kind": "hello", "token": TOKEN}] + reports([(3, 1, "")], whole=0), False),  # stopped by a limit
    ([{"kind": "hello", "token": TOKEN}] + reports([(3, 1, ""), (3, 7, "")]), False),  # a code the judge cannot place
])
def test_only_a_whole_believed_report_narrows_the_rule(frames, whole):
    run = run_with(frames)
    assert what_ran(run, "tv")[1] is whole
    loops, settled = no_loops_verdict(run, "tv")
    assert (loops == []) is whole, loops  # _count ran at top level only: charged unless the report is whole
    assert not settled  # one plain def: nothing to settle


def test_a_code_listed_in_any_report_adds_its_loops():
    forged = [{"kind": "hello", "token": TOKEN}] + reports([(3, 1, "")]) + reports([(1, 1, "")], token="x", cases=1)
    loops, _ = no_loops_verdict(run_with(forged), "tv")
    assert loops == ["for loop in _count (cell 1, line 3)"], loops


def test_the_harness_report_is_the_first_frame_and_parses(tmp_path):
    import os

    from vizlab.exercises.student import _run_report

    r, w = os.pipe()
    report = _run_report(w)
    report("tv", 0, {(3, 1, ""), (-1, 2, ""), (2, 0, "")}, True)
    report("tv", 1, set(), False)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        frames, bad = read_frames(f.read())
    assert bad == 0 and [f["kind"] for f in frames] == ["hello", "ran", "ran"]
    token = frames[0]["token"]
    assert len(token) == 32 and all(f["token"] == token for f in frames[1:])
    assert frames[1]["codes"] == [[-1, 2, ""], [2, 0, ""], [3, 1, ""]]
    assert frames[1]["whole"] == 1 and frames[2]["whole"] == 0
    r, w = os.pipe()
    _run_report(w)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        assert read_frames(f.read())[0][0]["token"] != token  # a new token for every run


def test_the_watch_lists_the_judged_code_that_starts():
    from vizlab.exercises.student import _LibraryWatch

    watch = _LibraryWatch(rules.GENERIC_MODULES, cells=[3])
    space: dict = {"__name__": "__main__"}
    source = "def make():\n    def inner(x):\n        return [i for i in x]\n    return inner\nf = make()"
    exec(compile(source, "<cell 3>", "exec"), space)
    exec(compile("def other(x):\n    return x", "<cell 4>", "exec"), space)  # not a judged cell
    with watch:
        space["f"]([1, 2])
        space["other"](1)
    # inner and its comprehension (two code objects, two kinds), not make (it ran before)
    assert watch.ran == {(3, 2, ""), (3, 3, "<listcomp>")}, watch.ran
    judged = rules.judge_source([(3, source)], ["f"])
    assert judged.code_loops[(3, 2, "")] == ["list comprehension in inner (cell 3, line 3)"]


def test_code_objects_on_one_line_are_told_apart_by_their_kind():
    from vizlab.exercises.protocol import CODE_KINDS
    from vizlab.exercises.rules import _COMPREHENSION_CODE
    from vizlab.exercises.student import _LibraryWatch

    source = "SQ = {name: (lambda t: t * 2) for name in ['sq']}\nLOOPS = lambda xs: [x for x in xs]"
    judged = rules.judge_source([(2, source)], ["f"])
    assert judged.code_loops[(2, 1, "<dictcomp>")] == ["dict comprehension in <dictcomp> (cell 2, line 1)"]
    assert judged.code_loops[(2, 1, "<lambda>")] == []
    assert judged.code_loops[(2, 2, "<lambda>")] and judged.code_loops[(2, 2, "<listcomp>")]
    watch = _LibraryWatch(rules.GENERIC_MODULES, cells=[2])
    space: dict = {"__name__": "__main__"}
    exec(compile(source, "<cell 2>", "exec"), space)
    with watch:
        space["SQ"]["sq"](1)
    assert watch.ran == {(2, 1, "<lambda>")}, watch.ran
    # every kind the judge makes is one the protocol carries
    assert {"", "<lambda>", *_COMPREHENSION_CODE.values()} == set(CODE_KINDS)


@pytest.mark.parametrize("codes", [[[3, 1]], [[3, 1, "<foo>"]], [[3, 1, 0]], [[3, "1", ""]]])
def test_the_reader_refuses_a_code_without_a_known_kind(codes):
    import json
    import struct

    header = json.dumps({"kind": "ran", "exercise": "tv", "case": 0, "codes": codes, "whole": 1, "hit": "",
                         "token": TOKEN}).encode()
    frames, bad = read_frames(b"VZ1" + struct.pack(">II", len(header), 0) + header)
    assert frames == [] and bad == 1
    good = header.replace(json.dumps(codes).encode(), b'[[3, 1, "<lambda>"]]')
    assert read_frames(b"VZ1" + struct.pack(">II", len(good), 0) + good)[0][0]["codes"] == [[3, 1, "<lambda>"]]


def test_fault_2_is_settled_only_by_a_whole_report_that_saw_one_of_its_defs():
    cells = [(0, "import torch"), (1, "if torch.cuda.is_available():\n" + indent(TV) + "\nelse:\n" + indent(TV))]
    run = Run("nb.ipynb", frames=[{"kind": "hello", "token": TOKEN}] + reports([(1, 7, "")]))
    run.rules = rules.judge_source(cells, ["tv_loss"])
    assert run.rules.chosen == {"tv_loss"} and run.rules.def_keys["tv_loss"] == {(1, 2, ""), (1, 7, "")}
    assert no_loops_verdict(run, "tv") == ([], True)
    calls = [{"kind": "function", "exercise": "tv", "source": None, "loops": []}] + [
        {"kind": "case", "exercise": "tv", "case": i, "value": None, "error": "not implemented", "seconds": 0.0,
         "forbidden": [], "loops": []} for i in range(N_TV)]
    run.frames += calls
    assert not judge_run(run, ["tv"])["tv"]["review"]
    run.frames = run.frames[:1] + reports([(1, 7, "")], whole=0) + calls  # a call stopped by a limit: not settled
    assert no_loops_verdict(run, "tv") == ([], False)
    scores = judge_run(run, ["tv"])["tv"]
    assert scores["review"] and "which `def` runs" in "".join(scores["problems"])


@pytest.mark.parametrize("trick, says", [
    ("import vizlab.exercises.student as s", "imports vizlab.exercises.student"),
    ("from vizlab.exercises import protocol", "imports vizlab.exercises.protocol"),
    ("from vizlab.exercises.sandbox import _mount", "imports vizlab.exercises.sandbox"),
    ("g = (i for i in [])\nc = g.gi_code", ".gi_code"),
])
def test_reaching_the_harness_or_a_code_object_needs_review(trick, says):
    found = rules.judge_source([(0, "import torch"), (1, TV), (2, trick)], ["tv_loss"]).review
    assert any(says in reason for reason in found), found
    assert rules.judge_source([(0, "from vizlab.exercises import E4"), (1, TV)], ["tv_loss"]).review == []



def test_the_watch_says_when_a_call_was_not_watched_whole(monkeypatch, tmp_path):
    import os
    import sys

    from vizlab.exercises.student import _LibraryWatch

    # the watch treats code from files below the working folder as the notebook's: run where pytest's own files
    # (monkeypatch, called inside the watch below) are not, as in a CI clone with its .venv inside
    monkeypatch.chdir(tmp_path)

    watch = _LibraryWatch(rules.GENERIC_MODULES, cells=[3])
    space: dict = {"__name__": "__main__"}
    exec(compile("def f(x):\n    return x + 1\ndef g(x):\n    return x * 2", "<cell 3>", "exec"), space)
    with watch:
        space["f"](1)
    assert watch.whole and watch.hit is None and watch.ran == {(3, 1, "")}
    before = sys.gettrace()
    with watch:
        sys.settrace(None)  # (the sandbox refuses this during a call; a tracer that raises is removed the same way)
        space["g"](1)
    assert not watch.whole and "removed during the call" in watch.hit[1] and watch.ran == set()
    assert sys.gettrace() is before

    def boom(path):
        raise RuntimeError("no")

    exec(compile("def h(x):\n    return x - 1", "<cell 3>", "exec"), space)
    original = os.path.exists
    with watch:
        os.path.exists = boom  # replaced and put back within the call: the judge never calls it
        space["h"](1)
        os.path.exists = original
    assert not watch.whole and watch.ran == {(3, 1, "")}
    assert "posixpath.exists (the notebook replaced it" in watch.hit[1], watch.hit
    watch.verdicts.clear()
    watch._replaced = lambda: None  # (as if the judge raised for another reason)
    with watch:
        monkeypatch.setattr(os.path, "exists", boom)
        space["g"](1)
    assert not watch.whole and watch.ran == {(3, 3, "")}  # the tracer was not removed: the report is still made
    assert "could not judge it: RuntimeError" in watch.hit[1], watch.hit
    del watch._replaced
    with watch:  # replaced before the call
        space["f"](1)
    assert not watch.whole and "posixpath.exists (the notebook replaced it" in watch.hit[1], watch.hit
    monkeypatch.undo()
    with watch:
        space["f"](1)
    assert watch.whole and watch.hit is None
