"""Threads on a busy machine: OpenMP wait policy and torch's thread count, each in a fresh process.

Run:  python benchmarks/bench_threads.py [--burn] [--pytest "tests/test_fastpath.py|-k|photos or torchvision"]

``OMP_WAIT_POLICY`` is read once, when OpenMP starts (at ``import torch``), so every setting runs in its own
subprocess. The workload is notebook-like: 10 class-visualisation steps (forward + backward through
EfficientNet-Lite0 at 96 px) and one forward pass of 8 photos at 224 px. ``--burn`` starts a second
CPU-heavy process (a two-thread matrix-multiply loop) for the duration; without it the machine's own load
is the load (the load average is printed). ``--pytest`` also times a slice of the test command per setting.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKLOAD = r"""
import time, torch, vizlab
start_wall, start_cpu = time.perf_counter(), time.process_time()
model = vizlab.load_model()
x = torch.rand(1, 3, 96, 96, requires_grad=True)
for _ in range(10):
    score = model(x)[0, 130]
    (g,) = torch.autograd.grad(score, x)
    with torch.no_grad():
        x += 0.01 * g / (g.abs().mean() + 1e-8)
with torch.no_grad():
    model(model.to_input(vizlab.sample_names()[:8]))
print(f"RESULT {time.perf_counter() - start_wall:.2f} {time.process_time() - start_cpu:.2f} {torch.get_num_threads()}")
"""

BURN = r"""
import torch, time
torch.set_num_threads(2)
a = torch.rand(1024, 1024)
end = time.time() + float(__import__('sys').argv[1])
while time.time() < end:
    a = (a @ a).clamp_(-1, 1)
"""

def run(policy: str | None, threads: str, cmd: list[str]) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=threads, MPLBACKEND="Agg", VIZLAB_PROFILE="quick")
    env.pop("OMP_WAIT_POLICY", None)
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    result = next((line for line in out.stdout.splitlines() if line.startswith("RESULT")), "")
    tail = (out.stdout.strip().splitlines() or [""])[-1]
    return wall, result or tail


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burn", action="store_true", help="run a second CPU-heavy process meanwhile")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settings", default="PASSIVE:2,ACTIVE:2,unset:2,PASSIVE:1,ACTIVE:1",
                        help="comma-separated POLICY:THREADS (POLICY unset: the variable is removed)")
    parser.add_argument("--pytest", default="", help="a slice of the test command, arguments separated by |")
    args = parser.parse_args(argv)
    burner = None
    if args.burn:
        burner = subprocess.Popen([sys.executable, "-c", BURN, "3600"])
    try:
        print(f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}, burner: {bool(burner)}")
        for rnd in range(args.rounds):
            for item in args.settings.split(","):
                policy, threads = item.split(":")
                policy = None if policy == "unset" else policy
                wall, result = run(policy, threads, [sys.executable, "-c", WORKLOAD])
                print(f"round {rnd} OMP_WAIT_POLICY={policy or 'unset'} threads={threads}: workload "
                      f"(wall s, cpu s, threads) {result.split()[1:] if result.startswith('RESULT') else result}; "
                      f"process {wall:.1f} s; load {os.getloadavg()[0]:.1f}", flush=True)
                if args.pytest:
                    wall, tail = run(policy, threads, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                                       *args.pytest.split("|")])
                    print(f"    pytest {args.pytest!r}: {wall:.1f} s ({tail})", flush=True)
    finally:
        if burner is not None:
            burner.terminate()
            burner.wait()


if __name__ == "__main__":
    main()
