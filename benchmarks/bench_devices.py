"""The lecture's techniques on every device this machine has, at the lecture's sizes: seconds per call.

For each device (CPU always; CUDA and MPS when present) and each technique, one warm-up call and then the median
of ``--repeats`` timed calls (CUDA synchronised before the clock stops). The CPU rows run with torch's default
thread count and, for a laptop-like comparison, with ``--laptop-threads`` threads. Every row uses the default
offline model (EfficientNet-Lite0), so it runs wherever vizlab is installed.

Run:  python benchmarks/bench_devices.py [--repeats 3] [--json out.json]
Prints a Markdown table (seconds, and the GPU speed-up over each CPU row when a GPU is present).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import vizlab
from vizlab.attribution import grad_cam, integrated_gradients, occlusion, saliency
from vizlab.optimize import class_visualization, deepdream
from vizlab.style import loss_network, style_transfer


def techniques(model):
    """``(name, call)`` pairs at the lecture profile's sizes (224 px attribution, 224 px class images)."""
    x = model.to_input("cat_and_espresso", size=224)
    net = loss_network(model=model)
    return [
        ("saliency, 224 px", lambda: saliency(model, x, "espresso")),
        ("Grad-CAM, 224 px", lambda: grad_cam(model, x, "espresso")),
        ("integrated gradients, 64 steps, 224 px", lambda: integrated_gradients(model, x, "espresso", steps=64)),
        ("occlusion, patch 32 stride 16, 224 px", lambda: occlusion(model, x, "espresso", patch=32, stride=16,
                                                                      method="full")),
        ("class visualization (fourier), 224 px, 64 steps",
         lambda: class_visualization(model, "flamingo", mode="fourier", size=224, steps=64, progress=False)),
        ("DeepDream, 3 octaves x 10 steps", lambda: deepdream(model, "temple", "block4", octaves=3, steps=10,
                                                               progress=False)),
        ("Gatys style transfer, 256 px, 50 steps", lambda: style_transfer("cat", "waves", loss_net=net, size=256,
                                                                         steps=50, progress=False)),
    ]


def timed(call, device: torch.device, repeats: int) -> float:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    call()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--laptop-threads", type=int, default=2, help="a second CPU row with this many threads (0: none)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()

    settings = [("cpu", torch.get_num_threads())] + ([("cpu", args.laptop_threads)] if args.laptop_threads else [])
    if torch.cuda.is_available():
        settings.append(("cuda", torch.get_num_threads()))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        settings.append(("mps", torch.get_num_threads()))
    default_threads = torch.get_num_threads()
    rows: dict[str, dict[str, float | str]] = {}
    columns = []
    for device_name, threads in settings:
        torch.set_num_threads(threads)
        device = torch.device(device_name)
        column = f"{device_name} ({threads} threads)" if device_name == "cpu" else device_name
        if device_name == "cuda":
            column = f"cuda ({torch.cuda.get_device_name(0)})"
        columns.append(column)
        model = vizlab.load_model(device=device)
        for name, call in techniques(model):
            try:
                rows.setdefault(name, {})[column] = timed(call, device, args.repeats)
            except Exception as exc:  # one technique failing on a device is a finding, not the end of the run
                rows.setdefault(name, {})[column] = f"error: {type(exc).__name__}: {exc}"[:200]
            print(f"{column:40s} {name:50s} {rows[name][column]}", flush=True)
    torch.set_num_threads(default_threads)

    gpu = next((c for c in columns if c.startswith(("cuda", "mps"))), None)
    head = ["technique", *columns] + ([f"speed-up vs {c}" for c in columns if c.startswith("cpu")] if gpu else [])
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for name, row in rows.items():
        cells = [f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row.get(c)) for c in columns]
        if gpu:
            for c in columns:
                if c.startswith("cpu"):
                    ok = isinstance(row.get(c), float) and isinstance(row.get(gpu), float)
                    cells.append(f"{row[c] / row[gpu]:.1f}x" if ok else "-")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        meta = {"torch": torch.__version__, "cpu_threads_default": default_threads,
                "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "columns": columns, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
