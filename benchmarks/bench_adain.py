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


def _median(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, kernel selection)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from vizlab.style import style_batch
    from vizlab.style.adain import adain, load_adain

    cl = load_adain("cpu")
    photo = style_batch(None, "cat", args.size)
    style = style_batch(None, "swirls", args.size)
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
    print(f"AdaIN at {args.size} px, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
          f"torch {torch.__version__}, median of {args.repeats}; load average {os.getloadavg()[0]:.1f}")
    for fmt, what, sec in rows:
        print(f"  {fmt:14s} {what:36s} {sec * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
