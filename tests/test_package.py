"""The package's public surface: every exported name resolves, every sub-command is registered."""
import pytest

import vizlab
import vizlab.widgets
from vizlab.cli import build_parser


@pytest.mark.parametrize("module", [vizlab, vizlab.widgets], ids=["vizlab", "vizlab.widgets"])
def test_every_exported_name_resolves(module):
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        getattr(module, "no_such_name")


def test_all_sub_commands_are_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"info", "explain", "style-train", "stylize", "release", "grade"} <= set(sub.choices)
