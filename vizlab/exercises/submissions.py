"""Finding and reading submissions (trusted side): which notebooks belong to which student, and their code
cells."""
from __future__ import annotations

import json
from pathlib import Path

def find_submissions(directory: str | Path) -> dict[str, list[Path]]:
    """``{student: [notebooks]}``: ``<student>.ipynb`` files and ``<student>/`` folders (searched recursively).

    Names starting with a dot count like any other (a dot-file is a submission too); only Jupyter's own
    ``.ipynb_checkpoints`` folders are left out.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR must be a folder; {str(directory)!r} is not")
    found: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if entry.name == ".ipynb_checkpoints":
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            found.setdefault(entry.name[:-len(".ipynb")] or entry.name, []).append(entry)
        elif entry.is_dir():
            found.setdefault(entry.name, []).extend(
                sorted(p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file()))
    return found


def _code_cells(data: bytes) -> list[tuple[int, str]]:
    """The code cells to run, as ``(index, source)``; nbgrader test cells are skipped (the grader judges)."""
    nb = json.loads(data.decode("utf-8"))
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no list of cells)")
    cells = []
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        grader = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        if grader.get("grade") and not grader.get("solution"):
            continue
        source = cell.get("source", "")
        source = "".join(str(s) for s in source) if isinstance(source, list) else str(source)
        cells.append((index, source))
    return cells
