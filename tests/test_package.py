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


def test_seeded_construction_is_thread_safe():
    """The global generator is process-wide: seeded builds in several threads must not draw each other's numbers."""
    import threading

    import torch

    from vizlab.toy import tiny_cnn

    reference = {s: tiny_cnn(s).state_dict() for s in range(4)}
    wrong = []

    def build(k: int) -> None:
        try:
            for i in range(300):
                s = (k + i) % 4
                state = tiny_cnn(s).state_dict()
                if any(not torch.equal(state[n], reference[s][n]) for n in state):
                    wrong.append(s)
        except Exception as exc:  # noqa: BLE001 - a thread's error must fail the test, not vanish
            wrong.append(exc)

    threads = [threading.Thread(target=build, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
