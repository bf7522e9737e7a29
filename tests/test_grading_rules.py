"""The rules judged on a notebook's source, outside the student's process (issue 27, A24): what needs review,
which functions count as defined by a plain ``def``, and where the loops are (with the helpers a function uses)."""
from __future__ import annotations

import pytest

from vizlab.exercises.rules import judge_source

HONEST = "import torch\n\ndef tv_loss(img, weight=1.0):\n    return weight * (img[..., 1:] - img[..., :-1]).pow(2).sum()"


def review(*cells: str, function: str = "tv_loss") -> list[str]:
    return judge_source(list(enumerate(cells)), [function]).review


def test_honest_code_needs_no_review():
    rules = judge_source([(0, HONEST), (1, "%%time\nx = tv_loss(torch.ones(1, 1, 2, 2))\nprint(x.item())")],
                         ["tv_loss"])
    assert rules.review == [] and rules.plain == {"tv_loss"} and rules.loops["tv_loss"] == []
    with_grad = "@torch.no_grad()\n" + HONEST.split("\n\n", 1)[1]
    assert review(with_grad) == []


@pytest.mark.parametrize("trick, says", [
    ("exec('x = 1')", "calls exec()"),
    ("f = eval\nf('x = 1')", "uses eval"),
    ("import sys\nsys.settrace(None)", ".settrace"),
    ("import sys\nframe = sys._getframe(0)", "._getframe"),
    ("import sys as s\ndel s.modules['vizlab.style.losses']", ".modules"),
    ("import importlib", "imports importlib"),
    ("from ctypes import CDLL", "imports ctypes"),
    ("import inspect", "imports inspect"),
    ("tv_loss.__code__ = (lambda img, weight=1.0: img.sum()).__code__", ".__code__"),
    ("setattr(tv_loss, '__co' + 'de__', None)", "computed name"),
    ("b = __builtins__", "uses __builtins__"),
    ("g = globals()\ng['tv_loss'] = print", "calls globals()"),
    ("t = torch.jit.script(tv_loss)", ".jit"),
    ("%time exec('y = 2')", "calls exec()"),
    ("tv_loss = print", "binds `tv_loss` again"),
    ("def set_it():\n    global tv_loss\n    tv_loss = print", "binds `tv_loss` again"),
])
def test_tricks_anywhere_need_review(trick, says):
    found = review(HONEST, trick)
    assert any(says in reason for reason in found), found


def test_a_decorator_that_may_replace_the_function_needs_review():
    assert any("decorates `tv_loss` with torch.jit.script" in r for r in review("@torch.jit.script\n" + HONEST.split("\n\n", 1)[1]))
    rules = judge_source([(0, "import functools\n@functools.lru_cache\n" + HONEST.split("\n\n", 1)[1])], ["tv_loss"])
    assert "tv_loss" not in rules.plain and rules.review


def test_loops_are_found_in_the_function_and_the_helpers_it_uses():
    src = ("def rows(img):\n    return sum((img[:, :, i + 1] - img[:, :, i]).pow(2).sum() for i in range(3))\n"
           "def unused():\n    while True:\n        pass\n"
           "def tv_loss(img, weight=1.0):\n    return weight * rows(img)")
    rules = judge_source([(4, src)], ["tv_loss"])
    assert rules.loops["tv_loss"] == ["generator in rows (cell 4, line 2)"]
    assert "def rows" in rules.sources["tv_loss"] and "def unused" not in rules.sources["tv_loss"]


def test_a_cell_that_does_not_parse_is_skipped():
    rules = judge_source([(0, "def tv_loss(img:\n"), (1, HONEST)], ["tv_loss"])
    assert rules.plain == {"tv_loss"} and rules.review == []
