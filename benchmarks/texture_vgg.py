"""Texture synthesis on VGG-19 (issue 25, round 9) and its blind pair test.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/texture_vgg.py --out /tmp/tex [--textures brick gravel impression]``

For every texture it runs :func:`vizlab.style.synthesize_texture` on the normalised VGG-19 (style Gram at
``relu1_1 … relu5_1``, from noise, coarse to fine) at ``--size`` px with the source at ``size * --scale`` px, and
writes, for the blind question "which tile, left or right, is the original photo crop?", a pair image
``OUT/blind/imgNN.png``: a random ``size`` x ``size`` crop of the source at the same scale and the synthesised
tile, side chosen with ``--seed``; the key goes to ``OUT/key.json`` (keep it from the viewer). It prints one JSON
line per texture: the Gram distance left (relative to noise's) and the seconds.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--textures", nargs="*", default=["brick", "gravel", "impression"])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--octaves", type=int, default=2)
    parser.add_argument("--optimizer", default="lbfgs", choices=["adam", "lbfgs"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from vizlab.images import save_image
    from vizlab.style import loss_network, style_batch, style_distance, synthesize_texture

    out = Path(args.out)
    (out / "blind").mkdir(parents=True, exist_ok=True)
    net = loss_network("vgg19_normalised")
    layers = list(net.recipe.style_layers)
    rng = random.Random(args.seed)
    order = rng.sample(range(len(args.textures)), len(args.textures))
    key = {}
    for k, name in enumerate(args.textures):
        t = time.perf_counter()
        r = synthesize_texture(name, loss_net=net, size=args.size, steps=args.steps, octaves=args.octaves,
                               style_scale=args.scale, optimizer=args.optimizer, lr=0.05, seed=args.seed,
                               progress=False)
        src = style_batch(None, name, round(args.size * args.scale))
        g = torch.Generator().manual_seed(args.seed + k)
        noise = torch.rand(1, 3, args.size, args.size, generator=g)
        left = style_distance(net, r.image, src, layers) / style_distance(net, noise, src, layers)
        y, x = rng.randrange(src.shape[-2] - args.size + 1), rng.randrange(src.shape[-1] - args.size + 1)
        crop = src[:, :, y:y + args.size, x:x + args.size]
        synth_left = rng.random() < 0.5
        gap = torch.ones(1, 3, args.size, 8)
        tiles = [r.image, gap, crop] if synth_left else [crop, gap, r.image]
        img = f"img{order[k]:02d}.png"
        save_image(torch.cat(tiles, dim=-1)[0], out / "blind" / img)
        save_image(r.image[0], out / f"{name}_synth.png")
        key[img] = {"texture": name, "original": "right" if synth_left else "left"}
        print(json.dumps({"texture": name, "gram_left": round(float(left), 4), "seconds": round(time.perf_counter() - t, 1),
                          "image": img}), flush=True)
    (out / "key.json").write_text(json.dumps(key, indent=1))


if __name__ == "__main__":
    main()
