"""One source for instructor and student notebooks (nbgrader's markers).

Instructor notebooks (``notebooks/exercises/*.ipynb``) hold the solutions between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` and hidden tests between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``; their
cells carry nbgrader metadata, so they can also be imported into nbgrader. :func:`release_notebook` makes the
student copy: each solution region becomes ``raise NotImplementedError`` (indented like the marker), hidden
test regions disappear, outputs are cleared. ``vizlab release`` writes the copies to ``notebooks/student/``;
``vizlab release --check`` (and a test) fails when the copies in the repository are out of date.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from ..resources import checkout_root, is_installed_copy, shipped_dir

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = "raise NotImplementedError  # your code here"
#: The instructor notebooks: the installed package's copy, or the checkout's ``notebooks/exercises``.
SOURCE_DIR = shipped_dir("notebooks", must_exist=False) / "exercises"
#: Where ``vizlab release`` writes by default: the checkout's ``notebooks/student`` (kept in git, checked by a
#: test), or, from an installed wheel, ``student/`` in the current folder (never into site-packages).
STUDENT_DIR = checkout_root() / "notebooks" / "student" if checkout_root() is not None else Path("student")


def _strip_regions(source: str, begin: str, end: str, replacement: str | None, where: str) -> str:
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"{where}: line {number}: {begin!r} inside another region")
            inside = True
            if replacement is not None:
                indent = re.match(r"\s*", line).group(0)
                out.append(f"{indent}{replacement}\n")
        elif stripped == end:
            if not inside:
                raise ValueError(f"{where}: line {number}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {begin!r} is never closed by {end!r}")
    return "".join(out).rstrip("\n")


def student_source(source: str, where: str = "cell") -> str:
    """A cell's source with solutions replaced by the stub and hidden tests removed."""
    source = _strip_regions(source, BEGIN_SOLUTION, END_SOLUTION, STUB, where)
    return _strip_regions(source, BEGIN_HIDDEN, END_HIDDEN, None, where)


def release_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of an instructor notebook (a new object; outputs cleared)."""
    student = nbformat.from_dict(nb)
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if cell.cell_type in ("code", "markdown"):
            cell.source = student_source(cell.source, f"{name} cell {i}")
    return student


def release(source_dir: str | Path = SOURCE_DIR, out_dir: str | Path = STUDENT_DIR, *, check: bool = False) -> list[Path]:
    """Write (or with ``check``, compare) the student copies of every notebook in ``source_dir``.

    Returns:
        The student notebooks written, or with ``check`` those that are missing or out of date.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not check and is_installed_copy(out_dir):
        raise ValueError(f"out_dir {str(out_dir)!r} is inside the installed package; give a folder of your own")
    sources = sorted(source_dir.glob("*.ipynb"))
    if not sources:
        raise ValueError(f"source_dir {str(source_dir)!r} holds no notebooks")
    changed = []
    for path in sources:
        text = nbformat.writes(release_notebook(nbformat.read(path, as_version=4), path.name)) + "\n"
        target = out_dir / path.name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            changed.append(target)
            if not check:
                out_dir.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    if not check:
        return [out_dir / p.name for p in sources]
    return changed
