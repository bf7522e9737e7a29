"""The command line answers ``--help`` and argument errors without importing torch (issue 26); ``stylize`` caps
the longest side by default, says so, and checks the output path before any work; ``vizlab notebooks`` copies the
notebooks out. (How fast ``--help`` is, is measured in benchmarks/bench_cli.py, not asserted.)"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vizlab.cli import main

PROBE = """
import json, sys
from vizlab.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules,
                  "vizlab": sorted(m for m in sys.modules if m.startswith("vizlab"))}), file=sys.stderr)
"""


def probe(*argv):
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report, proc.stdout, "\n".join(proc.stderr.strip().splitlines()[:-1])


@pytest.mark.parametrize("argv", [["--help"], ["stylize", "--help"], ["grade", "--help"], ["explain", "--help"],
                                  ["no-such-command"], ["explain", "cat", "--method", "magic"],
                                  ["stylize", "swirls", "cat", "out.png", "--size", "huge"], ["--version"]])
def test_help_and_argument_errors_do_not_import_torch(argv):
    report, out, err = probe(*argv)
    assert report["code"] in (0, 2) and not report["torch"], report  # exact
    if report["code"] == 2:
        assert len(err.splitlines()) == 1 and "error" in err  # exact


def test_stylize_refuses_a_bad_output_before_loading_anything(tmp_path):
    report, _, err = probe("stylize", "swirls", "cat", str(tmp_path / "out.txt"))
    assert report["code"] == 2 and "must end in an image format" in err and not report["torch"]  # exact
    report, _, err = probe("stylize", "swirls", "cat", str(tmp_path / "missing" / "out.png"))
    assert report["code"] == 2 and "does not exist" in err and not report["torch"]  # exact


def _big_photo(tmp_path, w=1500, h=1000):
    from PIL import Image

    rng = np.random.default_rng(0)
    path = tmp_path / "big.png"
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory):
    from vizlab.style.transformer import TransformerNet, save_transformer

    path = tmp_path_factory.mktemp("net") / "tiny.pt"
    save_transformer(TransformerNet(width=4, blocks=1), path)
    return path


def test_stylize_caps_the_longest_side_by_default_and_says_so(tmp_path, tiny_net, capsys, monkeypatch):
    from PIL import Image

    import vizlab.style.cli as style_cli

    monkeypatch.setattr(style_cli, "DEFAULT_MAX_SIDE", 300)  # the same code path as 1024, on a small photo
    photo = _big_photo(tmp_path, 600, 400)
    assert main(["stylize", str(tiny_net), str(photo), str(tmp_path / "capped.png")]) == 0
    out = capsys.readouterr().out
    assert "longest side capped at 300 px" in out and "--size full" in out  # exact
    assert Image.open(tmp_path / "capped.png").size == (300, 200)  # exact
    assert main(["stylize", str(tiny_net), str(photo), str(tmp_path / "full.png"), "--size", "full"]) == 0
    assert Image.open(tmp_path / "full.png").size == (600, 400)  # exact
    assert main(["stylize", str(tiny_net), str(photo), str(tmp_path / "short.png"), "--size", "100"]) == 0
    assert Image.open(tmp_path / "short.png").size == (150, 100)  # exact
    assert "stylising 150x100" in capsys.readouterr().out  # exact


def test_notebooks_command_copies_and_keeps_edits(tmp_path, capsys):
    dest = tmp_path / "nbs"
    assert main(["notebooks", str(dest)]) == 0
    names = {p.name for p in dest.glob("*.ipynb")}
    assert "01_weights_and_activations.ipynb" in names and list((dest / "exercises").glob("*.ipynb"))  # exact
    edited = dest / "01_weights_and_activations.ipynb"
    edited.write_text("{}")
    assert main(["notebooks", str(dest)]) == 0 and edited.read_text() == "{}"  # exact
    assert main(["notebooks", str(edited)]) == 2  # a file is not a folder
    assert "is a file" in capsys.readouterr().err  # exact
