#!/usr/bin/env python3
"""The two commands of vizlab's quick start.

    python3 go.py lab     # set up .venv (once) and open the lecture notebooks in JupyterLab
    python3 go.py test    # set up .venv (once) and run every unit test and every notebook

Needs only Python >= 3.10 with pip and venv. The virtual environment lives in ``.venv`` next to this file
and is reused: packages are installed again only when ``pyproject.toml`` changes. Extra arguments after
``test`` go to pytest (``python3 go.py test -k gradcam``), after ``lab`` to JupyterLab.

``test`` runs pytest in two worker processes (pytest-xdist, ``--dist loadfile``: each file, and so each notebook,
stays in one worker, in order) with ``OMP_NUM_THREADS`` = cores / workers, so two workers on two cores use one
torch thread each. ``VIZLAB_TEST_WORKERS=1`` runs in one process; passing ``-n``/``--numprocesses`` or
``-p no:xdist`` yourself overrides it. Trained lab models and cached features go to one folder for the whole run
(``VIZLAB_CACHE``, default ``.vizlab-cache`` here), shared by the tests and the notebooks' kernels.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".vizlab-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _extras() -> str:
    """The extras to install: always ``dev``; ``VIZLAB_EXTRAS=bench`` adds the peers (captum, pytorch-grad-cam)
    so that the comparison tests run instead of skipping (CI sets it)."""
    more = [e.strip() for e in os.environ.get("VIZLAB_EXTRAS", "").split(",") if e.strip()]
    return ",".join(["dev", *sorted(set(more) - {"dev"})])


def _wanted_stamp() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {sys.version_info[:2]} [{_extras()}]"


def _run(cmd: list[str], **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def setup() -> None:
    """Create ``.venv`` and install vizlab with its lab and test extras, unless already done."""
    if sys.version_info < (3, 10):
        sys.exit(f"vizlab needs Python >= 3.10, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _wanted_stamp():
        print(f"Reusing {VENV} (up to date).", flush=True)
        return
    # An old pip cannot install a pyproject-only package in editable mode.
    _run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip>=23"])
    # Up to round 7 the distribution was called "vizlab" (an unrelated project on the package index has that
    # name): an old editable install of it would shadow the new one's metadata, so it goes first.
    if subprocess.run([PYTHON, "-m", "pip", "show", "-q", "vizlab"], capture_output=True).returncode == 0:
        _run([PYTHON, "-m", "pip", "uninstall", "--quiet", "-y", "vizlab"])
    _run([PYTHON, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{_extras()}]"])
    STAMP.write_text(_wanted_stamp())


def _workers(rest: list[str], env: dict[str, str]) -> int:
    """How many pytest-xdist workers ``go.py test`` starts: ``VIZLAB_TEST_WORKERS``, else 2 where there are at
    least two cores; 1 (no xdist) when the arguments choose already (``-n``, ``--numprocesses``, ``-p no:xdist``)."""
    chosen = any(a == "-n" or (a.startswith("-n") and (a[2:].isdigit() or a[2:] == "auto"))
                 or a.startswith("--numprocesses") or "no:xdist" in a for a in rest)
    if chosen:
        return 1
    text = env.get("VIZLAB_TEST_WORKERS", "").strip()
    if text:
        try:
            workers = int(text)
        except ValueError as exc:
            raise SystemExit(f"VIZLAB_TEST_WORKERS must be a whole number >= 1, got {text!r}") from exc
        if workers < 1:
            raise SystemExit(f"VIZLAB_TEST_WORKERS must be a whole number >= 1, got {text!r}")
        return workers
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def pytest_command(rest: list[str], env: dict[str, str]) -> list[str]:
    """The pytest command line of ``go.py test`` with the arguments ``rest``; sets its defaults in ``env``."""
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("VIZLAB_PROFILE", "quick")  # small sizes and step counts; students get "lecture"
    # One cache folder for the run: the tests (run here) and each notebook's kernel (run in the notebook's own
    # folder) would otherwise each train the lab models again in their own ./.vizlab-cache.
    env.setdefault("VIZLAB_CACHE", str(ROOT / ".vizlab-cache"))
    workers = _workers(rest, env)
    if workers > 1:
        # Two processes keep both cores busy where a test runs mostly on one (small tensors, Python, waiting on a
        # kernel or a sandbox); one torch thread each (cores / workers), so they do not fight over the cores.
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
        # whole files from one queue in collection order (tests/conftest.py puts the longest first)
        rest = ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder", *rest]
    return [str(PYTHON), "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", *rest]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "lab"
    rest = argv[1:]
    if command not in {"lab", "test"}:
        print(__doc__)
        print(f"error: unknown command {command!r}; use 'lab' or 'test'", file=sys.stderr)
        return 2
    setup()
    env = dict(os.environ)
    # OpenMP threads that busy-wait between parallel regions make torch 30-50x slower on a busy machine
    # (measured: a 96 px class visualization took 138 s instead of 2.6 s); passive waiting costs nothing idle.
    # Re-measured (benchmarks/bench_threads.py, load average 18 on 2 cores): ACTIVE 3.5x the wall time and 5x
    # the CPU time of PASSIVE. Fewer threads on a busy machine: vizlab.device.set_threads("auto").
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if command == "test":
        cmd = pytest_command(rest, env)
    else:
        cmd = [PYTHON, "-m", "jupyter", "lab", str(ROOT / "notebooks" / "00_welcome.ipynb"), *rest]
        if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in rest:
            cmd.append("--allow-root")  # containers often run as root; JupyterLab refuses that otherwise
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
