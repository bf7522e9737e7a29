"""The distribution has a name of its own (issue 26): ``vizlab`` on the package index is an unrelated project, so
``pip install vizlab`` must never be what the README tells a user; the import name stays ``vizlab``."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_distribution_is_vizlab_cnn_and_the_readme_installs_that():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "vizlab-cnn"  # exact
    assert all(not re.match(r"vizlab\[", dep) for deps in project["optional-dependencies"].values() for dep in deps)  # exact
    readme = (ROOT / "README.md").read_text()
    assert "pip install dist/vizlab_cnn-" in readme and not re.search(r"pip install vizlab(\s|$|\[)", readme)  # exact
