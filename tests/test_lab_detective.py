"""E6, the shortcut detective: the judge knows the planted truth and explains wrong answers."""
from __future__ import annotations

import pytest
import torch

from vizlab.exercises import E6
from vizlab.exercises.catalog import _DETECTIVE, _detective_cue, _detective_specs
from vizlab.inside.shapes import COLOURS


@pytest.fixture(scope="module")
def case():
    return E6.detective.cases()[0]


def _truth(seed, place):
    cue = _detective_cue(seed, place)
    row, col = cue.centre(32)
    return row, col, torch.tensor([list(COLOURS).index(c) for c in cue.colours])


def test_hidden_variants_come_from_the_key():
    """The visible cases are fixed; the hidden ones are drawn from the grader's key (seed and corner), so reading
    the package does not tell them."""
    from vizlab.exercises import catalog

    try:
        specs = {}
        for key in ("test-key-0", "test-key-1"):   # the keys of the next test: their models are trained once
            catalog.use_key(key)
            specs[key] = _detective_specs()
            assert [hidden for *_, hidden in specs[key]] == [False, False, True, True]  # exact
            assert len(E6.detective.cases(hidden=True)) == 4 and len(E6.detective.cases()) == 2  # exact
        assert specs["test-key-0"][:2] == specs["test-key-1"][:2]  # exact: the visible cases
        assert specs["test-key-0"][2:] != specs["test-key-1"][2:]  # exact: another key, other hidden cases
        for seed, place, hidden in specs["test-key-0"]:
            assert place in catalog._DETECTIVE_CORNERS  # exact
    finally:
        catalog.use_key(None)


def test_listing_the_cases_draws_nothing_making_a_hidden_case_does(monkeypatch):
    """The grader lists every exercise's cases for its fingerprint on every run, also when it grades only other
    exercises; a draw trains a model (about 10 s on one core), so listing must not draw. Making a hidden case
    draws it, from the key in use at that moment."""
    from vizlab.exercises import catalog
    from vizlab.exercises.grading import catalog_fingerprint

    drawn = []

    def spy(slot):
        drawn.append((catalog.key_fingerprint(), slot))
        return _DETECTIVE[0]  # a visible case's model: trained or loaded once for this module anyway

    monkeypatch.setattr(catalog, "_detective_reachable", spy)
    try:
        catalog.use_key("a key never drawn from")
        cases = E6.detective.cases(hidden=True)
        catalog_fingerprint()
        assert drawn == [] and [c.hidden for c in cases] == [False, False, True, True]  # exact
        cases[3].make()
        assert drawn == [(catalog.key_fingerprint(), 1)]  # exact
    finally:
        catalog.use_key(None)


def test_hidden_cases_are_solvable_by_the_solution_and_the_hint_for_any_key():
    """For several grader keys, the instructor notebook's solution passes every hidden case, and the hint's algorithm
    read literally passes one per key (a drawn model is kept only when both find its cue with a margin, so this
    checks the draw end to end)."""
    from test_exercises import _notebook_solutions

    from vizlab.exercises import catalog, references

    mine = _notebook_solutions("E6_detective")["find_cue"]
    try:
        for k in range(3):
            catalog.use_key(f"test-key-{k}")
            for case in E6.detective.cases(hidden=True)[2:]:
                (model, images, palette), _ = case.make()
                assert E6.detective.judge(case, mine(model, images, palette)) is None, (k, case.label)
            # the hint's algorithm (all 24 images in the scan: 6 times the solution's work) on the last case
            assert E6.detective.judge(case, references.find_cue_by_hint(model, images, palette)) is None, k
    finally:
        catalog.use_key(None)


def test_the_truth_passes_and_wrong_answers_are_explained(case):
    row, col, colours = _truth(*_DETECTIVE[0])
    assert E6.detective.judge(case, (row, col, colours)) is None  # exact
    assert E6.detective.judge(case, (row + 5.0, col - 5.0, colours)) is None  # exact: within the corner
    far = E6.detective.judge(case, (row + 20.0, col, colours))
    assert "the cue is not at" in far
    wrong = colours.roll(1)
    assert "the colours are not" in E6.detective.judge(case, (row, col, wrong))
    assert "a tuple (row, col, colours)" in E6.detective.judge(case, colours)
    assert "integer indices" in E6.detective.judge(case, (row, col, colours.float()))


def test_the_inputs_do_not_carry_the_answer():
    """The student gets a plain nn.Sequential and cue-free images: nothing names the cue."""
    (model, images, palette), kwargs = E6.detective.cases()[0].make()
    assert kwargs == {} and type(model) is torch.nn.Sequential  # exact
    assert all(type(m).__module__.startswith("torch.") for m in model.modules())  # exact: unpickles with torch alone
    assert images.shape == (24, 3, 32, 32) and palette.shape == (6, 3)  # exact
    row, col, _ = _truth(*_DETECTIVE[0])
    r, c = int(row - 1.5), int(col - 1.5)
    corner = images[:, :, r:r + 4, c:c + 4]
    assert corner.amax(1).mean() < 0.5  # exact: dark background there (no mark), objects are >= 0.8 bright


def test_swapped_row_and_col_is_named():
    """On a hidden case at the top right or bottom left (swapping row and col moves those to the other one)."""
    from vizlab.exercises import catalog

    try:
        for k in range(3):   # the keys of the test above: their models are trained already
            catalog.use_key(f"test-key-{k}")
            cases = E6.detective.cases(hidden=True)
            found = [(spec, case) for spec, case in zip(_detective_specs(), cases)
                     if spec[1] in ("top-right", "bottom-left")]
            if found:
                break
        assert found, "no hidden case off the diagonal for the test keys"
        (seed, place, _), case = found[0]
        row, col, colours = _truth(seed, place)
        assert "swapped" in E6.detective.judge(case, (col, row, colours))
    finally:
        catalog.use_key(None)
