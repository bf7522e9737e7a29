"""Build hook: a wheel carries the repository's ``data/`` and ``notebooks/`` inside the package.

Everything else is in ``pyproject.toml``. The copies land in ``vizlab/_shipped/`` of the build (never in the
source tree), and :mod:`vizlab.resources` finds them through :mod:`importlib.resources`; an editable install
(``pip install -e .``) copies nothing and reads the checkout's folders instead.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("data", "notebooks")
SKIP = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store", ".vizlab-cache")


class BuildWithData(build_py):
    def run(self):
        if not getattr(self, "editable_mode", False):
            # an in-tree build reuses build/lib: files of modules deleted since must not reach the wheel
            shutil.rmtree(Path(self.build_lib) / "vizlab", ignore_errors=True)
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for kind in SHIPPED:
            source = ROOT / kind
            if not source.is_dir():  # building from an sdist that lacks them would ship a package without data
                raise SystemExit(f"cannot build vizlab: {source} is missing")
            target = Path(self.build_lib) / "vizlab" / "_shipped" / kind
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithData})
