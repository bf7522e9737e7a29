"""E6, the shortcut detective: the judge knows the planted truth and explains wrong answers."""
from __future__ import annotations

import pytest
import torch

from vizlab.exercises import E6
from vizlab.exercises.catalog import _detective_cue, _detective_specs
from vizlab.inside.shapes import COLOURS


@pytest.fixture(scope="module")
def case():
    return E6.detective.cases()[0]


def _truth(seed, place):
    cue = _detective_cue(seed, place)
    row, col = cue.centre(32)
    return row, col, torch.tensor([list(COLOURS).index(c) for c in cue.colours])


def test_hidden_variants_differ_in_place_and_colours():
    specs = _detective_specs()
    cues = [_detective_cue(seed, place) for seed, place, _ in specs]
    assert len({c.place for c in cues}) == 4  # exact
    assert [hidden for *_, hidden in specs] == [False, False, True, True]  # exact
    assert len(E6.detective.cases(hidden=True)) == 4 and len(E6.detective.cases()) == 2  # exact


def test_the_truth_passes_and_wrong_answers_are_explained(case):
    row, col, colours = _truth(*_detective_specs()[0][:2])
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
    row, col, _ = _truth(*_detective_specs()[0][:2])
    r, c = int(row - 1.5), int(col - 1.5)
    corner = images[:, :, r:r + 4, c:c + 4]
    assert corner.amax(1).mean() < 0.5  # exact: dark background there (no mark), objects are >= 0.8 bright


def test_swapped_row_and_col_is_named():
    seed, place, _ = _detective_specs()[2]
    case = next(c for c in E6.detective.cases(hidden=True) if c.hidden)
    row, col, colours = _truth(seed, place)
    assert "swapped" in E6.detective.judge(case, (col, row, colours))
