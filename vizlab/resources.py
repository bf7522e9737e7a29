"""Where the shipped files are: data (style images, trained networks) and notebooks (lecture and exercises).

The repository keeps them at its top level (``data/``, ``notebooks/``). A wheel carries copies inside the
package, under ``vizlab/_shipped/`` (``setup.py`` copies them there when the wheel is built), read through
:mod:`importlib.resources`. Every lookup goes through :func:`data_dir` and :func:`notebooks_dir`, so both an
installed wheel and a source checkout (``pip install -e .``, ``PYTHONPATH``) find them. Imports no torch.

    >>> data_dir() / "styles"                     # doctest: +SKIP
    PosixPath('.../vizlab/_shipped/data/styles')
"""
from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path

SHIPPED = "_shipped"
KINDS = ("data", "notebooks")


def checkout_root() -> Path | None:
    """The source checkout this package runs from (the folder holding ``pyproject.toml`` next to ``vizlab/``),
    or ``None`` for an installed wheel."""
    package = Path(str(importlib.resources.files("vizlab")))
    root = package.parent
    if (root / "pyproject.toml").is_file() and (root / "vizlab").resolve() == package.resolve():
        return root
    return None


def shipped_dir(kind: str, must_exist: bool = True) -> Path:
    """The folder of ``kind`` (``"data"`` or ``"notebooks"``): the package's own copy, else the checkout's.

    With ``must_exist=False`` a missing folder gives the package's path instead of an error (for module-level
    constants; a lookup in it then fails with the file's name).

    Raises:
        ValueError: an unknown kind. FileNotFoundError: neither exists (a wheel built without its data).
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is unknown; use one of {', '.join(KINDS)}")
    inside = importlib.resources.files("vizlab") / SHIPPED / kind
    if inside.is_dir():
        return Path(str(inside))
    root = checkout_root()
    if root is not None and (root / kind).is_dir():
        return root / kind
    if not must_exist:
        return Path(str(inside))
    raise FileNotFoundError(f"vizlab's {kind} folder is missing: not in the installed package ({inside}) and not "
                            f"in a source checkout. Reinstall vizlab from a wheel built with its data "
                            f"(`pip wheel .` in the repository) or from the repository itself.")


def data_dir() -> Path:
    """``data/``: ``styles/`` (style images) and ``networks/`` (trained networks)."""
    return shipped_dir("data")


def notebooks_dir() -> Path:
    """``notebooks/``: the lecture notebooks, ``exercises/`` (instructor) and ``student/`` copies."""
    return shipped_dir("notebooks")


def is_installed_copy(path: Path) -> bool:
    """Whether ``path`` lies inside the installed package (read-only territory: never write there)."""
    package = Path(str(importlib.resources.files("vizlab"))).resolve()
    try:
        Path(path).resolve().relative_to(package / SHIPPED)
    except ValueError:
        return False
    return True


def copy_notebooks(dest: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the lecture notebooks (and ``exercises/``, ``student/``) into ``dest``; returns the files written.

    Existing files are kept unless ``overwrite`` (a student's edited notebook is never replaced by accident).

    Raises:
        ValueError: ``dest`` is a file, or lies inside the installed package.
    """
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{str(dest)!r} is a file; give a folder for the notebooks")
    if is_installed_copy(dest):
        raise ValueError(f"{str(dest)!r} is inside the installed package; give a folder of your own")
    source = notebooks_dir()
    written = []
    for path in sorted(source.rglob("*.ipynb")):
        rel = path.relative_to(source)
        if any(part.startswith(".") for part in rel.parts):
            continue  # .ipynb_checkpoints
        target = dest / rel
        if target.exists() and not overwrite:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(target)
    return written
