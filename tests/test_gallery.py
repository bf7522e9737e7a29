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


@pytest.mark.parametrize("value", ["0", "-5", "2.5", "soon"])
def test_cli_refuses_a_cull_idle_that_would_turn_culling_off(value, capsys, monkeypatch):
    """Review round 18: ``--cull-idle 0`` (or negative) reached Voilà as cull_idle_timeout=0, which Jupyter reads
    as "never cull": closed pages' kernels piled up again without a word. Now a one-line argparse error."""
    served = []
    monkeypatch.setattr(gallery, "serve", lambda **kw: served.append(kw) or 0)   # a regression must not start Voilà
    with pytest.raises(SystemExit) as exc:
        main(["gallery", "--cull-idle", value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1  # exact
    assert "argument --cull-idle: expected a positive integer" in err and not served, err


def test_serve_and_voila_command_refuse_a_cull_idle_below_one(tmp_path):
    for bad in (0, -5):
        with pytest.raises(ValueError, match=r"cull_idle must be an integer >= 1, got"):
            gallery.voila_command(tmp_path / "g.ipynb", 8888, cull_idle=bad)
        with pytest.raises(ValueError, match=r"cull_idle must be an integer >= 1, got"):
            gallery.serve(notebook=tmp_path / "missing.ipynb", cull_idle=bad)   # refused before anything starts
    with pytest.raises(TypeError, match="cull_idle must be an integer"):
        gallery.voila_command(tmp_path / "g.ipynb", 8888, cull_idle=2.5)
    cmd = gallery.voila_command(tmp_path / "g.ipynb", 8888, cull_idle=1)
    assert "--MappingKernelManager.cull_idle_timeout=1" in cmd and "--MappingKernelManager.cull_interval=1" in cmd


# -- the server's life cycle (issue 26): kernels culled, SIGTERM/SIGINT stop Voilà and every kernel -------------
def _start_gallery(tmp_path, *extra):
    import os
    import subprocess
    import sys

    pytest.importorskip("voila")
    psutil = pytest.importorskip("psutil")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("print('tiny page')")]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_DIR"}
    proc = subprocess.Popen([sys.executable, "-m", "vizlab", "gallery", "--notebook", str(path), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    url = re.fullmatch(r"vizlab gallery: (http://\S+/)\s*", proc.stdout.readline()).group(1)
    return proc, url, psutil


def _load_page(url, timeout=180):
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _kernels(proc, psutil):
    """Live kernel processes under ``vizlab gallery`` (a zombie, culled but not yet reaped, counts as gone)."""
    alive = []
    for p in psutil.Process(proc.pid).children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(p.cmdline()):
                alive.append(p)
        except psutil.Error:  # exited (or became a zombie) while we looked
            continue
    return alive


def _alive(p, psutil):
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait(predicate, timeout):
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_voila_and_every_kernel(tmp_path, signame):
    import signal

    proc, url, psutil = _start_gallery(tmp_path)
    try:
        assert "tiny page" in _load_page(url) + _load_page(url)  # two page loads: two kernels
        assert _wait(lambda: len(_kernels(proc, psutil)) >= 1, 60)  # exact
        family = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(getattr(signal, signame))
        assert proc.wait(timeout=60) == 0  # exact
        assert _wait(lambda: not [p for p in family if _alive(p, psutil)], 30), \
            f"left running after {signame}: {[p.cmdline() for p in family if p.is_running()]}"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_idle_kernels_of_closed_pages_are_culled(tmp_path):
    proc, url, psutil = _start_gallery(tmp_path, "--cull-idle", "4")
    try:
        for _ in range(3):  # open and close the page three times
            assert "tiny page" in _load_page(url)
        assert _wait(lambda: len(_kernels(proc, psutil)) == 0, 90), \
            f"{len(_kernels(proc, psutil))} kernel(s) still running after the pages closed"
        assert proc.poll() is None  # the server itself keeps serving  # exact
        assert "tiny page" in _load_page(url)  # exact
    finally:
        import signal

        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_an_explorer_shows_a_placeholder_picture_before_its_first_run(model):
    import io

    from PIL import Image

    from vizlab.widgets import ClassVizExplorer
    from vizlab.widgets.base import Explorer, placeholder_png

    assert Image.open(io.BytesIO(placeholder_png())).size == (240, 96)  # exact: a valid PNG
    assert Explorer().image.value == placeholder_png()  # exact
    ex = ClassVizExplorer(model, size=32, steps=2)
    assert ex.image.value == placeholder_png()  # exact: nothing drawn before Run
