"""Benchmark: how fast the AdaIN explorer answers (issue 25 asks <= 0.5 s at 256 px on 2 cores).

Run: ``OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_adain.py [--size 256] [--repeats 5]``

Times, median of the repeats, in one process: a whole ``adain()`` call (encode the photo and the style,
AdaIN, decode), what the explorer does when the strength slider moves (decoder only: both feature maps are
cached), when a new style is picked (encode the style, decode) and when a style seen before is picked again
(decoder only); each in channels-last memory format (what :func:`vizlab.style.adain.load_adain` uses) and in
the default contiguous format, interleaved, so the choice of format is measured on the same load.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _median(fn, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds (all threads) of ``fn()``. On a shared machine the CPU
    seconds are the steadier number: on idle cores the wall time is about CPU / threads (at best)."""
    fn()  # warm-up (allocations, kernel selection)
    times, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), _cpu()
        fn()
        times.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return statistics.median(times), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--style-size", type=int, default=192, help="the explorer's style side (STYLE_SIDE)")
    args = parser.parse_args()
    from vizlab.style import style_batch
    from vizlab.style.adain import adain, feature_statistics, load_adain

    cl = load_adain("cpu")
    photo = style_batch(None, "cat", args.size)
    style = style_batch(None, "swirls", args.size)
    small = style_batch(None, "swirls", args.style_size)
    rows = []
    with torch.no_grad():
        for fmt in ("channels_last", "contiguous"):
            memory = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
            net = cl.to(memory_format=memory)
            if fmt == "contiguous":  # undo the module's own channels-last conversion of its inputs
                net.encode = lambda x, n=net: n.encoder(x.contiguous())
                net.decode = lambda f, n=net: n.decoder(f.contiguous())
            fc, fs = net.encode(photo), net.encode(style)
            rows.append((fmt, "adain() call: encode both, decode", _median(lambda: adain(photo, style, net=net), args.repeats)))
            rows.append((fmt, "alpha slider: decode only", _median(lambda: net.blend(fc, fs, 0.5), args.repeats)))
            rows.append((fmt, "new style: encode style + decode",
                         _median(lambda: net.blend(fc, net.encode(style), 1.0), args.repeats)))
            rows.append((fmt, f"new style, explorer: encode at {args.style_size} px, statistics, decode",
                         _median(lambda: net.blend(fc, feature_statistics(net.encode(small)), 1.0), args.repeats)))
    print(f"AdaIN at {args.size} px, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
          f"torch {torch.__version__}, median of {args.repeats}; load average {os.getloadavg()[0]:.1f}")
    threads = torch.get_num_threads()
    for fmt, what, (sec, cpu) in rows:
        print(f"  {fmt:14s} {what:62s} wall {sec * 1000:6.0f} ms  CPU {cpu * 1000:6.0f} ms "
              f"(idle {threads} cores: >= {cpu / threads * 1000:4.0f} ms)")


if __name__ == "__main__":
    main()
