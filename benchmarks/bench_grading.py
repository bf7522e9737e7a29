"""Wall time of ``vizlab grade`` on 16 submissions, each defining all twelve exercises (the reference solutions;
every fourth one with a broken Gram matrix), graded on every exercise.

Run it against two checkouts back to back to compare (the machine may be shared: compare ratios)::

    PYTHONPATH=/path/to/checkout python benchmarks/bench_grading.py [--sandbox auto|bwrap|unshare|none]
"""
from __future__ import annotations

import argparse
import inspect
import tempfile
import time
from pathlib import Path

from vizlab.exercises import grading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", default=None, help="backend (only for versions that have one)")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from vizlab.exercises.references import SOURCES

    repo = Path(grading.__file__).resolve().parents[2]
    imports = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\nimport vizlab"
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        subs.mkdir()
        for i in range(16):
            cells = [imports, *SOURCES.values()]
            if i % 4 == 3:
                cells.append("def gram_matrix(features):\n    return features.sum()")
            nb = new_notebook(cells=[new_code_cell(c) for c in cells])
            (subs / f"student{i:02d}.ipynb").write_text(nbformat.writes(nb))
        kwargs = {"progress": False, "jobs": args.jobs, "regrade": True}
        if args.sandbox and "sandbox" in inspect.signature(grading.grade).parameters:
            kwargs["sandbox"] = args.sandbox
        for _ in range(args.repeat):
            started = time.perf_counter()
            results = grading.grade(subs, Path(tmp) / "grades.csv", **kwargs)
            seconds = time.perf_counter() - started
            totals = sorted({r["total"] for r in results})
            print(f"{repo}: graded {len(results)} submissions in {seconds:.1f} s (totals {totals})")


if __name__ == "__main__":
    main()
