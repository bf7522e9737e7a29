"""The explorer gallery: every explorer on one page, without code, served by Voilà (``vizlab gallery``).

A lecturer projects the sliders, not the code. :func:`gallery_notebook` builds one dashboard notebook (a
setup cell, then one heading and one explorer per technique); :func:`serve` writes it to a temporary folder
and runs Voilà on it, on a free loopback port, with the code cells stripped. Sizes and step counts are small
so that the page loads within about a minute on a busy 2-core CPU (measured on a shared 2-core machine: the
notebook runs in 41 s under nbclient, 23 s of it importing vizlab and loading the first model; the browser test
saw all explorers 63 s after requesting the page); sliders and Run make bigger pictures on demand.

Example:
    $ vizlab gallery            # prints  vizlab gallery: http://127.0.0.1:PORT/  and serves until Ctrl-C
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat

from .._validate import check_int

TITLE = "vizlab explorers"

# (heading, one line about what to do, code). The code runs in the dashboard's kernel, top to bottom.
# Each explorer gets its own model: in "thread" mode two explorers may compute at once, and forward hooks on a
# shared model would also see the other explorer's forward passes (measured: the patch explorer failed with a
# shape error while the occlusion sweep ran). A model costs about 1.4 s to load and 20 MB.
SECTIONS: list[tuple[str, str, str]] = [
    ("Feature maps", "Pick an image, a layer and a channel: where does that channel fire?",
     'FeatureMapExplorer(new_model(), images=["cat", "espresso", "temple"])'),
    ("Maximally activating patches", "Which crops of the sample photos drive a channel the hardest?",
     'PatchExplorer(new_model(), photo_crops(per_class=6, size=64, photos=["cat", "espresso", "rocket", "flower"]),\n'
     '              ["block1", "block2", "block3"], k=6)'),
    ("Occlusion", "Slide a gray patch over the photo: where does hiding it lower the class score most?",
     'OcclusionExplorer(new_model(), "cat_and_espresso", patch=32, stride=16, size=128)'),
    ("Grad-CAM", "Class activation maps for the top classes, at a layer of your choice.",
     'GradCamExplorer(new_model(), "cat_and_espresso", size=160)'),
    ("Class visualisation", "Optimise an image to maximise a class; press Run, and Stop to keep the partial image.",
     "ClassVizExplorer(new_model(), size=96, steps=60)"),
    ("DeepDream", "Amplify what a layer already sees in a photo; Run, then Stop whenever you like.",
     'DeepDreamExplorer(new_model(), "temple", size=128)'),
    ("Style transfer", "Paint the cat in the style of an artwork; Run, and Stop to keep the partial result.",
     'StyleExplorer("cat", loss_net=loss_network(model=new_model()), size=96, steps=40, autostart=False)'),
    ("AdaIN: any style in one pass", "Pick a style (or upload one) and slide its strength: one forward pass each.",
     'AdainExplorer("cat", size=192)'),
    ("Can we trust this map?", "A method's map beside its deletion curve; randomise the layers and watch it change.",
     'TrustExplorer(new_model(), "cat_and_espresso", size=128, steps=8)'),
    ("Ground-truth lab", "A model that learned a shortcut and a clean one: does the heat sit on the cue or the shape?",
     'LabExplorer({kind: lab_model(kind, progress=False) for kind in ("shortcut", "clean")}, paired_sets(48))'),
]

SETUP = """\
import vizlab
from vizlab.inside import photo_crops
from vizlab.lab import lab_model, paired_sets
from vizlab.style import loss_network
from vizlab.widgets import (AdainExplorer, ClassVizExplorer, DeepDreamExplorer, FeatureMapExplorer, GradCamExplorer,
                            LabExplorer, OcclusionExplorer, PatchExplorer, StyleExplorer, TrustExplorer)


def new_model():
    return vizlab.load_model()"""


def gallery_notebook() -> nbformat.NotebookNode:
    """The dashboard notebook: a title, a setup cell, then a heading and an explorer per technique."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_markdown_cell(
        f"# {TITLE}\n\nEvery explorer of the lecture on one page. Controls recompute when released; "
        "**Run** starts a long optimisation and **Stop** keeps what it has so far. Sizes are small so the page "
        "loads quickly on a laptop; the lecture notebooks use bigger ones."),
        nbformat.v4.new_code_cell(SETUP)]
    for heading, text, code in SECTIONS:
        cells.append(nbformat.v4.new_markdown_cell(f"## {heading}\n\n{text}"))
        cells.append(nbformat.v4.new_code_cell(code))
    nb.cells = cells
    return nb


def write_gallery(folder: str | os.PathLike) -> Path:
    """Write the dashboard notebook as ``folder/gallery.ipynb`` and return its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder={str(folder)!r} is not an existing folder")
    path = folder / "gallery.ipynb"
    nbformat.write(gallery_notebook(), path)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


#: Seconds a kernel may sit idle with no page connected before Voilà shuts it down. Each page load starts a
#: kernel of about 1.3 GB, and Voilà's own shutdown request on closing the page was refused (403), so closed
#: pages' kernels piled up (issue 26).
CULL_IDLE_S = 120


def voila_command(notebook: str | os.PathLike, port: int, *, host: str = "127.0.0.1",
                  cull_idle: int = CULL_IDLE_S) -> list[str]:
    """The Voilà command line that serves ``notebook`` on ``host:port`` without code and without a browser;
    kernels idle for ``cull_idle`` seconds with no page connected are shut down (an open page keeps its own).
    ``cull_idle`` is an integer >= 1: Jupyter reads 0 or less as "never cull", so it is refused (ValueError)."""
    cull_idle = check_int("cull_idle", cull_idle, 1)
    return [sys.executable, "-m", "voila", str(notebook), f"--port={port}", f"--Voila.ip={host}",
            "--no-browser", "--strip_sources=True", "--Voila.port_retries=0",
            # the kernel may take a while on a busy 2-core machine: do not give up on the page early
            "--VoilaConfiguration.http_keep_alive_timeout=600",
            f"--MappingKernelManager.cull_idle_timeout={cull_idle}",
            f"--MappingKernelManager.cull_interval={max(1, min(60, cull_idle // 2))}",
            "--MappingKernelManager.cull_connected=False"]


class _Stopped(Exception):
    """SIGTERM (or SIGINT) reached ``vizlab gallery``."""


def _descendants(pid: int) -> list:
    try:
        import psutil  # comes with ipykernel, which Voilà needs
    except ImportError:
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def stop_voila(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop Voilà and every kernel it started: SIGTERM (Voilà then shuts its kernels down itself), SIGKILL
    after ``timeout`` seconds, and the same for any kernel still alive after that."""
    children = _descendants(proc.pid)  # before Voilà goes: afterwards its kernels have no parent to find them by
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    for child in children:
        try:
            child.terminate()
        except Exception:  # noqa: BLE001 - gone already
            continue
    for child in children:
        try:
            child.wait(timeout=timeout)
        except Exception:  # noqa: BLE001 - gone (psutil.NoSuchProcess) or stuck
            try:
                child.kill()
            except Exception:  # noqa: BLE001
                pass


def serve(port: int | None = None, notebook: str | os.PathLike | None = None, *, host: str = "127.0.0.1",
          cull_idle: int = CULL_IDLE_S) -> int:
    """Serve the gallery (or ``notebook``) with Voilà until interrupted; prints the URL first.

    SIGTERM and SIGINT (Ctrl-C) stop Voilà and every kernel it started (:func:`stop_voila`).

    Args:
        port: TCP port; ``None`` picks a free one.
        notebook: serve this notebook instead of the built-in dashboard.
        host: interface to listen on (loopback by default: nothing is exposed to the network).
        cull_idle: seconds an idle kernel with no page connected lives on (see :data:`CULL_IDLE_S`); an integer
            >= 1 (0 or less would turn culling off in Jupyter, so it is a ValueError).

    Returns:
        Voilà's exit code (0 after Ctrl-C).
    """
    cull_idle = check_int("cull_idle", cull_idle, 1)   # before anything starts
    if importlib.util.find_spec("voila") is None:
        raise ValueError("Voilà is not installed: pip install 'vizlab[lab]' (or pip install voila)")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise ValueError(f"port must be an integer in 1..65535, got {port!r}")
    folder = Path(tempfile.mkdtemp(prefix="vizlab-gallery-"))
    try:
        if notebook is None:
            path = write_gallery(folder)
        else:
            path = Path(notebook)
            if not path.is_file() or path.suffix != ".ipynb":
                raise ValueError(f"notebook={str(notebook)!r} is not an existing .ipynb file")
        port = free_port(host) if port is None else port
        print(f"vizlab gallery: http://{host}:{port}/", flush=True)
        try:  # Voilà's chatter to stderr: stdout keeps only the URL line (scripts read it)
            out = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):
            out = subprocess.DEVNULL
        # Voilà is a browser front end like JupyterLab: "thread" mode, also when started from VS Code's
        # terminal (whose VSCODE_PID the kernel would inherit and read as "VS Code"), unless chosen explicitly.
        env = dict(os.environ)
        env.setdefault("VIZLAB_WIDGET_MODE", "thread")
        # Its own session: Ctrl-C in the terminal reaches only this process, which stops Voilà and its kernels
        # in order (Voilà itself would ask "Shutdown this server (y/[n])?" on a terminal and keep running).
        proc = subprocess.Popen(voila_command(path, port, host=host, cull_idle=cull_idle), cwd=path.parent,
                                stdout=out, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        previous = {}
        if threading.current_thread() is threading.main_thread():
            def stopped(signum, frame):
                raise _Stopped(signum)

            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, stopped)
        try:
            return proc.wait()
        except (KeyboardInterrupt, _Stopped):
            stop_voila(proc)
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if proc.poll() is None:  # any other way out (an error) must not leave Voilà behind either
                stop_voila(proc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
