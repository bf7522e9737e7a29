import subprocess
import sys
from pathlib import Path

import pytest

from vizlab.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_info_command(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "cat_and_espresso" in out and "device:" in out


def test_bad_command_is_one_line_exit_2(capsys):
    try:
        main(["no-such-command"])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "invalid choice" in err


def test_go_py_rejects_unknown_commands_without_installing():
    proc = subprocess.run([sys.executable, str(ROOT / "go.py"), "frobnicate"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "unknown command" in proc.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 go.py test" in readme and "python3 go.py test" in ci


def _go():
    """go.py as a module (it is a script in the repository root, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("vizlab_go", ROOT / "go.py")
    go = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(go)
    return go


def test_go_py_test_runs_two_workers_one_thread_each_and_one_cache(monkeypatch):
    go = _go()
    monkeypatch.setattr(go.os, "cpu_count", lambda: 2)
    env = {}
    cmd = go.pytest_command(["-k", "gradcam"], env)
    assert cmd[-7:] == ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder", "-k", "gradcam"]  # exact
    assert env["OMP_NUM_THREADS"] == "1" and env["VIZLAB_PROFILE"] == "quick"  # exact
    assert env["VIZLAB_CACHE"] == str(ROOT / ".vizlab-cache")  # exact
    # what the caller set stays; choosing the workers (or none) yourself turns the default off
    env = {"OMP_NUM_THREADS": "2", "VIZLAB_CACHE": "/elsewhere"}
    assert "-n" in go.pytest_command([], env)  # exact
    assert env["OMP_NUM_THREADS"] == "2" and env["VIZLAB_CACHE"] == "/elsewhere"  # exact
    for rest in (["-n", "4"], ["-n4"], ["--numprocesses=3"], ["-p", "no:xdist"]):
        env = {}
        assert go.pytest_command(rest, env).count("-n") == rest.count("-n") and "OMP_NUM_THREADS" not in env  # exact
    env = {"VIZLAB_TEST_WORKERS": "1"}
    assert "-n" not in go.pytest_command([], env) and "OMP_NUM_THREADS" not in env  # exact
    monkeypatch.setattr(go.os, "cpu_count", lambda: 1)
    assert "-n" not in go.pytest_command([], {})  # exact: one core, one process
    monkeypatch.setattr(go.os, "cpu_count", lambda: 8)
    env = {}
    go.pytest_command([], env)
    assert env["OMP_NUM_THREADS"] == "4"  # exact: 8 cores, two workers
    with pytest.raises(SystemExit, match="VIZLAB_TEST_WORKERS must be a whole number >= 1, got '0'"):
        go.pytest_command([], {"VIZLAB_TEST_WORKERS": "0"})
