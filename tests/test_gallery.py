"""The Voilà gallery without a browser: the dashboard notebook and the ``vizlab gallery`` command line.

The browser test (tests/test_browser.py) serves it with Voilà and uses a slider; these checks are quick.
"""
from __future__ import annotations

import re
import socket

import nbformat
import pytest

import vizlab.widgets as vw
from vizlab.cli import main
from vizlab.widgets import gallery


def test_dashboard_has_every_explorer_once_and_no_output():
    nb = gallery.gallery_notebook()
    nbformat.validate(nb)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    explorers = [name for name in vw.__all__ if name.endswith("Explorer") and name != "Explorer"]
    assert len(explorers) >= 7
    for name in explorers:
        uses = sum(re.search(rf"\b{name}\(", src) is not None for src in code)
        assert uses == 1, f"{name} should appear in exactly one gallery cell, found {uses}"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert len(headings) == len(gallery.SECTIONS) + 1 and headings[0] == f"# {gallery.TITLE}"


def test_write_gallery_round_trips(tmp_path):
    path = gallery.write_gallery(tmp_path)
    assert path == tmp_path / "gallery.ipynb"
    assert nbformat.read(path, as_version=4).cells[1].source == gallery.SETUP
    with pytest.raises(ValueError, match="is not an existing folder"):
        gallery.write_gallery(tmp_path / "missing")


def test_voila_command_serves_on_loopback_without_code(tmp_path):
    port = gallery.free_port()
    with socket.socket() as s:  # the port was free: binding it again works
        s.bind(("127.0.0.1", port))
    cmd = gallery.voila_command(tmp_path / "gallery.ipynb", port)
    assert cmd[1:3] == ["-m", "voila"] and f"--port={port}" in cmd
    assert "--Voila.ip=127.0.0.1" in cmd and "--strip_sources=True" in cmd and "--no-browser" in cmd


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "port must be an integer in 1..65535"),
    (["--notebook", "nowhere.ipynb"], "is not an existing .ipynb file"),
])
def test_cli_rejects_bad_arguments(args, message, capsys):
    pytest.importorskip("voila")
    assert main(["gallery", *args]) == 2
    err = capsys.readouterr().err
    assert re.search(re.escape(message), err), err


def test_cli_port_must_be_a_number(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["gallery", "--port", "eighty"])
    assert exc.value.code == 2 and "invalid int value" in capsys.readouterr().err
