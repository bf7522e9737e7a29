"""The Colab set-up cell: second cell of every lecture notebook, a fixed snippet, a no-op where vizlab exists."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNIPPET = (ROOT / "tests" / "fixtures" / "colab_cell.py").read_text().rstrip("\n")
LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
URL = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_second_cell_is_the_colab_snippet(path):
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# "), "title first"
    cell = cells[1]
    assert cell["cell_type"] == "code" and "".join(cell["source"]) == SNIPPET, \
        f"{path.name}: the second cell must be tests/fixtures/colab_cell.py, verbatim"


def test_the_readme_names_the_same_repository_once():
    readme = (ROOT / "README.md").read_text()
    (url,) = set(URL.findall(SNIPPET))
    assert readme.count(url) == 1, f"the README should name {url} exactly once"


def _run(snippet_finds: bool, monkeypatch, tmp_path, clone_code: int = 0) -> list:
    calls = []

    def fake_run(*a, **k):
        calls.append((a, k))
        return subprocess.CompletedProcess(a[0], clone_code if a[0][:2] == ["git", "clone"] else 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the snippet adds the clone for its session
    monkeypatch.chdir(tmp_path)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (real(name, *a) if snippet_finds else None) if name == "vizlab"
                        else real(name, *a))
    exec(compile(SNIPPET, "colab_cell", "exec"), {})
    return calls


def test_the_repository_url_is_one_setting():
    assert SNIPPET.count("https://") == 1 and re.search(r'^VIZLAB_REPO = "https://', SNIPPET, re.M)  # exact


def test_snippet_does_nothing_where_vizlab_is_installed(monkeypatch, tmp_path):
    path = list(sys.path)
    assert _run(True, monkeypatch, tmp_path) == [] and sys.path == path


def test_snippet_clones_and_installs_vizlab_where_it_is_missing(monkeypatch, tmp_path):
    (clone, clone_kwargs), (install, kwargs) = _run(False, monkeypatch, tmp_path)
    repo = str(tmp_path / "vizlab-repo")
    assert clone[0][:2] == ["git", "clone"] and URL.fullmatch(clone[0][-2]) and clone[0][-1] == repo
    assert clone_kwargs["env"]["GIT_TERMINAL_PROMPT"] == "0"  # no "could not read Username" prompt
    assert install[0][1:] == ["-m", "pip", "install", "-q", "-e", repo] and kwargs == {"check": True}
    assert sys.path[0] == repo  # importable in this session without a restart


def test_snippet_reuses_an_existing_clone(monkeypatch, tmp_path):
    (tmp_path / "vizlab-repo").mkdir()
    ((install, _),) = _run(False, monkeypatch, tmp_path)
    assert install[0][-2:] == ["-e", str(tmp_path / "vizlab-repo")]


def test_snippet_installs_an_uploaded_wheel_instead_of_cloning(monkeypatch, tmp_path):
    (tmp_path / "vizlab_cnn-0.1.0-py3-none-any.whl").write_bytes(b"")
    ((install, _),) = _run(False, monkeypatch, tmp_path)
    assert install[0][1:5] == ["-m", "pip", "install", "-q"] and install[0][-1] == "vizlab_cnn-0.1.0-py3-none-any.whl"


def test_a_failed_fetch_is_one_clear_line_naming_the_alternatives(monkeypatch, tmp_path):
    with pytest.raises(SystemExit) as info:
        _run(False, monkeypatch, tmp_path, clone_code=128)
    message = str(info.value)
    assert "\n" not in message and "could not fetch" in message and "https://github.com/" in message
    assert "zip" in message and "./vizlab-repo" in message and "wheel" in message
