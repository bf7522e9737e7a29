"""Class visualization: vizlab's CS231n mode against a plain loop written the way the CS231n assignment does it.

Both run the same recipe (normalised gradient ascent, lr 25, L2 1e-3, jitter 16, blur sigma 0.5 every 10 steps,
clamp) for the same number of steps on the same model and image size, alternately, in one process. The plain
loop works on the network's normalised input directly (``model.net``), rolls the image in place, calls
``backward()`` and blurs with ``scipy.ndimage`` as the assignment does; vizlab goes through its render loop
(parameterization, transforms, regularizers, ``torch.autograd.grad``).

Run:  python benchmarks/bench_optimize.py [--size 224] [--steps 100] [--repeats 3] [--device auto]
Prints a Markdown table; the ratio is vizlab time / plain time (target <= 1.0).
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import torch


def plain_cs231n(model, target: int, size: int, steps: int, seed: int = 0, lr: float = 25.0, l2: float = 1e-3,
                 max_jitter: int = 16, blur_every: int = 10, sigma: float = 0.5) -> torch.Tensor:
    """The assignment's loop, written plainly. Returns the image in ``[0, 1]`` pixels."""
    from scipy.ndimage import gaussian_filter1d

    net = model.net
    mean, std = model.normalize.mean, model.normalize.std
    device = mean.device
    torch.manual_seed(seed)
    random.seed(seed)
    img = torch.randn(1, 3, size, size, device=device).requires_grad_(True)
    lo, hi = (-mean / std).view(3), ((1 - mean) / std).view(3)
    for t in range(steps):
        ox, oy = random.randint(0, max_jitter), random.randint(0, max_jitter)
        img.data.copy_(torch.roll(img.data, (oy, ox), dims=(2, 3)))
        score = net(img)[0, target] - l2 * (img * img).sum()
        score.backward()
        img.data += lr * img.grad / img.grad.norm()
        img.grad.zero_()
        img.data.copy_(torch.roll(img.data, (-oy, -ox), dims=(2, 3)))
        for c in range(3):
            img.data[:, c].clamp_(min=float(lo[c]), max=float(hi[c]))
        if t % blur_every == 0:
            arr = img.data.cpu().numpy()
            arr = gaussian_filter1d(gaussian_filter1d(arr, sigma, axis=2), sigma, axis=3)
            img.data.copy_(torch.from_numpy(arr).to(device))
    return (mean + std * img.detach()).clamp(0, 1)


def vizlab_cs231n(model, target: int, size: int, steps: int, seed: int = 0) -> torch.Tensor:
    from vizlab.optimize import class_visualization, preset

    # the assignment's recipe (the "cs231n" mode's preset adds scale/rotate and schedules, which the plain
    # loop does not have)
    return class_visualization(model, target, preset("assignment", size=size, steps=steps), seed=seed,
                               progress=False).image


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", default="flamingo")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    import vizlab
    from vizlab.device import describe_device

    model = vizlab.load_model(device=args.device)
    for p in model.parameters():
        p.requires_grad_(False)  # as the assignment does: only the image is optimized
    target = model.class_index(args.target)
    runners = {"plain CS231n loop": plain_cs231n, "vizlab cs231n mode": vizlab_cs231n}
    times: dict[str, list[float]] = {k: [] for k in runners}
    probs: dict[str, float] = {}
    runners["plain CS231n loop"](model, target, args.size, 2)  # warm-up (allocator, kernels)
    for rep in range(args.repeats):
        for name, fn in runners.items():
            if model.device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            image = fn(model, target, args.size, args.steps, seed=rep)
            if model.device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
            with torch.no_grad():
                probs[name] = float(model(image).softmax(dim=1)[0, target])
    base = statistics.median(times["plain CS231n loop"])
    print(f"device: {describe_device(model.device)}; model {model.name}; {args.size} px; {args.steps} steps; "
          f"class {model.categories[target]!r}; median of {args.repeats}")
    print()
    print("| implementation | median s | s/step | p(target) of last run | ratio to plain |")
    print("|---|---|---|---|---|")
    for name in runners:
        med = statistics.median(times[name])
        print(f"| {name} | {med:.2f} | {med / args.steps * 1000:.0f} ms | {probs[name]:.4f} | {med / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
