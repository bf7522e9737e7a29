"""Benchmark: does ``vizlab stylize`` answer as fast with the default (VGG-19-trained) networks as with the older
EfficientNet-Lite0-trained ones (round 14)? The transformation network is the same size, so it should.

Run: ``OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_stylize_defaults.py [--size 256] [--repeats 5]``

Prints, per network name, the median wall and process-CPU seconds of one ``stylize`` call on the cat at ``--size``
(shorter side; in one process, after a warm-up), and the wall seconds of the whole command
``python -m vizlab stylize NAME cat OUT.png --size SIZE`` (a fresh process: imports, loading, writing), median of
``--cli-repeats``. Nothing is asserted; on a shared machine compare the names measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_adain import _median

NAMES = ["impression", "swirls", "lite0/impression", "lite0/swirls"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cli-repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import torch

    from vizlab.images import load_image, resize
    from vizlab.style import load_transformer, stylize

    img = load_image("cat")
    h, w = img.shape[:2]
    s = args.size / min(h, w)
    img = resize(img, (round(h * s), round(w * s)))
    print(f"torch threads {torch.get_num_threads()}, image {img.shape[1]}x{img.shape[0]}, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for name in NAMES:
        net = load_transformer(name, device="cpu")
        wall, cpu = _median(lambda: stylize(net, img), args.repeats)
        cli = []
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.cli_repeats):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "vizlab", "stylize", name, "cat", str(Path(tmp) / "out.png"),
                                "--size", str(args.size)], check=True, capture_output=True, env=env)
                cli.append(time.perf_counter() - t)
        print(f"{name:18s} ({net.meta['loss_net']}): stylize {wall * 1000:6.0f} ms wall, {cpu * 1000:6.0f} ms CPU; "
              f"the whole command {statistics.median(cli):5.2f} s wall", flush=True)


if __name__ == "__main__":
    main()
