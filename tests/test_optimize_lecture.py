"""Notebooks 05 and 06 in the lecture profile (what a student sees): every assertion in them must pass.

Deselected by default (minutes each on a CPU); run with ``pytest -m lecture tests/test_optimize_lecture.py``.
Run time is printed, never asserted (the budget, 3 min per notebook on a 2-core CPU, is measured in
``benchmarks/README.md``).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.lecture
@pytest.mark.parametrize("name", ["05_class_visualization.ipynb", "06_deepdream.ipynb"])
def test_notebook_runs_in_the_lecture_profile(name, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbconvert.preprocessors import ExecutePreprocessor

    monkeypatch.setenv("VIZLAB_PROFILE", "lecture")   # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    start = time.perf_counter()
    ExecutePreprocessor(timeout=1200, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(NOTEBOOKS)}})
    print(f"{name}: lecture profile ran in {time.perf_counter() - start:.0f} s "
          f"({os.environ.get('OMP_NUM_THREADS', 'all')} threads)")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
