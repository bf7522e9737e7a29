"""How long the command line takes to answer ``--help`` and an argument error (issue 26: at most 1 s; torch is
not imported before the arguments are parsed). Also the time of ``import torch`` alone, for scale.

    python benchmarks/bench_cli.py [--repeat 5]

Each case runs in a fresh interpreter (``python -m vizlab ...``); prints the median and the slowest wall time.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "vizlab --help": ["-m", "vizlab", "--help"],
    "vizlab stylize --help": ["-m", "vizlab", "stylize", "--help"],
    "vizlab explain cat --method magic (error)": ["-m", "vizlab", "explain", "cat", "--method", "magic"],
    "vizlab no-such-command (error)": ["-m", "vizlab", "no-such-command"],
    "python -c 'import torch' (for scale)": ["-c", "import torch"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"{'case':45s} {'median s':>9s} {'max s':>7s}")
    for name, argv in CASES.items():
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, *argv], capture_output=True)
            times.append(time.perf_counter() - start)
        print(f"{name:45s} {statistics.median(times):9.2f} {max(times):7.2f}", flush=True)


if __name__ == "__main__":
    main()
