"""Finding and reading submissions (trusted side): which notebooks belong to which student, and their code
cells. Nothing here trusts the folder it reads.

* a name that is not valid UTF-8 (as ``unzip`` gives for a Windows zip) is shown escaped (``M\\xfcller``) and
  still gets its row;
* symbolic links are never followed: a linked notebook or folder gets a row (or a note) saying it was refused;
* FIFOs, sockets and devices, and files whose extension is not exactly ``.ipynb`` (``.IPYNB``, ``.txt``) get a
  row or a note with the reason;
* a notebook is opened without following links and without blocking, checked to be a regular file and measured
  *before* it is read or hashed (:func:`read_notebook`).
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

SUFFIX = ".ipynb"
MAX_NOTEBOOKS = 32  # per student: more are listed in a note and not run


@dataclass
class Submission:
    """One row of the grades: a student's notebooks, and what was refused with the reason."""

    student: str
    paths: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def display_name(name: str) -> str:
    """``name`` as text that is valid UTF-8: bytes that were not (surrogate escapes) become ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return "not a regular file"


def scan_submissions(directory: str | Path) -> dict[str, Submission]:
    """``{student: Submission}`` for every entry of ``directory``: ``<student>.ipynb`` files and ``<student>/``
    folders (searched recursively, links not followed); every other entry gets a row with what was wrong.

    Names starting with a dot count like any other (a dot-file is a submission too); only Jupyter's own
    ``.ipynb_checkpoints`` folders are left out.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR must be a folder; {str(directory)!r} is not")
    found: dict[str, Submission] = {}

    def row(name: str) -> Submission:
        student = display_name(name)
        if student not in found:
            found[student] = Submission(student)
            if student != name:
                found[student].problems.append(f"the name {student!r} is not valid UTF-8; shown with \\x escapes")
        return found[student]

    for entry in sorted(root.iterdir()):
        name = entry.name
        if name == ".ipynb_checkpoints":
            continue
        st = entry.lstat()
        stem = name[:-len(SUFFIX)] if name.endswith(SUFFIX) and len(name) > len(SUFFIX) else name
        if stat.S_ISREG(st.st_mode) and name.endswith(SUFFIX):
            row(stem).paths.append(entry)
        elif stat.S_ISDIR(st.st_mode):
            _scan_folder(entry, row(name))
        elif stat.S_ISREG(st.st_mode):
            suffix = os.path.splitext(name)[1]
            stem = name[:-len(suffix)] if suffix else name
            row(stem).problems.append(f"{display_name(name)} was not graded: a notebook's name must end in "
                                      f"{SUFFIX} (got {display_name(suffix) or 'no extension'})")
        else:
            row(stem).problems.append(f"{display_name(name)} was refused: it is {_kind(st.st_mode)}, not a "
                                      "notebook or a folder (links are not followed)")
    return found


def _scan_folder(folder: Path, sub: Submission) -> None:
    notebooks: list[Path] = []
    for here, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        base = Path(here)
        for d in list(dirs):
            if os.path.islink(base / d):
                dirs.remove(d)
                sub.problems.append(f"{display_name(str((base / d).relative_to(folder)))} was refused: a symbolic "
                                    "link (links are not followed)")
        for name in sorted(files):
            path = base / name
            rel = display_name(str(path.relative_to(folder)))
            st = path.lstat()
            if name.endswith(SUFFIX):
                if stat.S_ISREG(st.st_mode):
                    notebooks.append(path)
                else:
                    sub.problems.append(f"{rel} was refused: it is {_kind(st.st_mode)} (links are not followed)")
            elif name.lower().endswith(SUFFIX):
                sub.problems.append(f"{rel} was not graded: a notebook's name must end in {SUFFIX} exactly")
    if len(notebooks) > MAX_NOTEBOOKS:
        sub.problems.append(f"{len(notebooks)} notebooks in one submission; only the first {MAX_NOTEBOOKS} "
                            "(in name order) were run")
    sub.paths.extend(notebooks[:MAX_NOTEBOOKS])


def find_submissions(directory: str | Path) -> dict[str, list[Path]]:
    """``{student: [notebooks]}`` (see :func:`scan_submissions`, which also says what was refused)."""
    return {student: sub.paths for student, sub in scan_submissions(directory).items()}


class NotebookTooLarge(ValueError):
    """A notebook larger than the limit (found before reading it)."""


def read_notebook(path: Path, limit: int) -> bytes:
    """The bytes of ``path``: opened without following links or blocking (a FIFO swapped in cannot hang the
    grader), a regular file, not larger than ``limit`` (checked before reading)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{display_name(path.name)} is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise NotebookTooLarge(f"the notebook is larger than {limit} bytes ({st.st_size} bytes)")
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:  # it grew while being read
            raise NotebookTooLarge(f"the notebook is larger than {limit} bytes")
        return data
    finally:
        os.close(fd)


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
