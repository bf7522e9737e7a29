import subprocess
import sys
from pathlib import Path

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
