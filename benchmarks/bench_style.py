"""Benchmark: one Gatys step, vizlab vs the PyTorch neural-style tutorial's formulation; fast-style inference.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_style.py [--size 256] [--repeats 5]``

*Tutorial formulation* (written here from the tutorial's description, not copied): loss modules sit after
the chosen layers and compute their loss inside the forward pass; content loss is ``mse_loss`` of the
features, style loss ``mse_loss`` of Gram matrices ``F Fᵀ / (N·C·H·W)``; the forward pass stops after the
last loss layer (the tutorial truncates its ``nn.Sequential`` there). For EfficientNet, which is not a
sequence, the loss modules are forward hooks, and we time both a truncated and a full forward pass.
*vizlab*: :class:`vizlab.style.LossNetwork` (hooks, stop after the deepest layer) plus the relative losses.
Both take one Adam step on the pixels of the same image, on the same loss network and size, timed
interleaved in one process (median of the repeats).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from vizlab.style import TransformerNet, loss_network
from vizlab.style.losses import gram_matrix, relative_content_loss, relative_style_loss, tv_loss


class _Stop(Exception):
    pass


def tutorial_step_factory(lnet, content, style, truncate: bool):
    """One Adam step in the tutorial's formulation (loss modules inside the forward pass)."""
    model = lnet.model
    recipe = lnet.recipe
    modules = {n: m for n, m in lnet._modules_by_name.items()}

    def tgram(f):
        a, b, c, d = f.shape
        flat = f.reshape(a * b, c * d)
        return flat @ flat.t() / (a * b * c * d)

    with torch.no_grad():
        feats = lnet(content)
        c_targets = {n: feats[n].detach() for n in recipe.content_layers}
        feats = lnet(style)
        s_targets = {n: tgram(feats[n]).detach() for n in recipe.style_layers}
    img = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([img], lr=0.03)
    losses: list = []
    seen: set = set()

    def hook_for(name):
        def hook(module, inputs, output):
            if name in c_targets:
                losses.append(F.mse_loss(output, c_targets[name]))
            if name in s_targets:
                losses.append(1e3 * F.mse_loss(tgram(output), s_targets[name]))
            seen.add(name)
            if truncate and len(seen) == len(modules):  # every loss layer has run: stop, like the tutorial
                raise _Stop
        return hook

    def step():
        losses.clear()
        seen.clear()
        handles = [m.register_forward_hook(hook_for(n)) for n, m in modules.items()]
        try:
            try:
                model(img)
            except _Stop:
                pass
        finally:
            for h in handles:
                h.remove()
        opt.zero_grad()
        loss = sum(losses)
        loss.backward()
        opt.step()
        with torch.no_grad():
            img.clamp_(0, 1)
    return step


def vizlab_step_factory(lnet, content, style):
    recipe = lnet.recipe
    with torch.no_grad():
        cf = lnet(content)
        targets = [gram_matrix(lnet(style)[n]) for n in recipe.style_layers]
        tv_ref = tv_loss(content)
    img = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([img], lr=0.03)
    w = recipe.weights()

    def step():
        feats = lnet(img)
        loss = (recipe.style_weight * relative_style_loss([feats[n] for n in recipe.style_layers], targets, w)
                + sum(relative_content_loss(feats[n], cf[n]) for n in recipe.content_layers)
                + recipe.tv_weight * tv_loss(img) / tv_ref)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            img.clamp_(0, 1)
    return step


def timeit(fns: dict, repeats: int) -> dict:
    for fn in fns.values():  # warm-up
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():  # interleaved, so that load changes hit every contender alike
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--vgg-size", type=int, default=128, help="size for the random VGG-19 comparison (0: skip)")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")

    def pair(size, device):
        from vizlab.style import style_batch
        c = style_batch(None, "cat", size).to(device)
        s = style_batch(None, "waves", size).to(device)
        return c, s

    nets = [("efficientnet_lite0", loss_network("efficientnet_lite0"), args.size)]
    if args.vgg_size:
        nets.append(("vgg19 (random)", loss_network("vgg19", weights=None), args.vgg_size))
    gatys_step = {}
    for label, lnet, size in nets:
        dev = next(lnet.parameters()).device
        c, s = pair(size, dev)
        fns = {"vizlab": vizlab_step_factory(lnet, c, s),
               "tutorial (truncated)": tutorial_step_factory(lnet, c, s, truncate=True),
               "tutorial (full forward)": tutorial_step_factory(lnet, c, s, truncate=False)}
        t = timeit(fns, args.repeats)
        gatys_step[label] = t["vizlab"]
        print(f"\nOne Gatys step, {label}, {size} px (median of {args.repeats}):")
        for k, v in t.items():
            print(f"  {k:24s} {v * 1000:8.1f} ms   vizlab/this = {t['vizlab'] / v:.2f}")

    print("\nFast style transfer (TransformerNet, instance norm, width 32), one forward pass:")
    net = TransformerNet().eval()
    lnet = nets[0][1]
    for size in (256, 512):
        x = torch.rand(1, 3, size, size)
        c, s = pair(size, "cpu")
        step = vizlab_step_factory(lnet, c, s)

        def fwd():
            with torch.no_grad():
                net(x)
        t = timeit({"forward": fwd, "gatys step": step}, max(2, args.repeats // 2))
        print(f"  {size} px: forward {t['forward'] * 1000:.0f} ms; one Gatys step {t['gatys step'] * 1000:.0f} ms; "
              f"200-step optimisation / one forward = {200 * t['gatys step'] / t['forward']:.0f}x")


if __name__ == "__main__":
    main()
