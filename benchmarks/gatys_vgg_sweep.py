"""Trajectories of Gatys on VGG-19: Gram fall and Lite2 rank every few steps, for one setting (issue 25, round 10).

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/gatys_vgg_sweep.py --tag base --styles impression brush
--photos cat espresso [--size 192 --steps 30 --lr 0.05 --content-weight 3 --optimizer adam ...] --out DIR``

One JSON line per (style, photo, checkpoint): the relative Gram distance's fall ``1 - d(x)/d(photo)`` on the five
style layers weighted equally (the issue's measure, whatever weights the optimisation used), and EfficientNet-
Lite2's rank of the class it gives the photo. The final image is saved to ``OUT/<tag>_<style>_<photo>.png``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def common_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments both Gatys-VGG trajectory scripts take (output, pairs, size, steps, Adam step)."""
    p.add_argument("--tag", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--styles", nargs="+", default=["swirls", "brush", "impression", "waves"])
    p.add_argument("--photos", nargs="+", default=["cat", "espresso"])
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--lr", type=float, default=0.05)


def setup(out: str, content_layers) -> tuple:
    """The output folder (made), VGG-19 computing the recipe's style layers and ``content_layers``, the style
    layers' names and the judge EfficientNet-Lite2."""
    import vizlab
    from vizlab.style import loss_network

    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    net = loss_network("vgg19_normalised")
    sl = list(net.recipe.style_layers)
    return path, loss_network("vgg19_normalised", model=net.model, layers=[*sl, *content_layers]), sl, \
        vizlab.load_judge()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(p)
    p.add_argument("--optimizer", default="adam", choices=["adam", "lbfgs"])
    p.add_argument("--style-weight", type=float, default=30.0)
    p.add_argument("--content-weight", type=float, default=3.0)
    p.add_argument("--tv-weight", type=float, default=0.3)
    p.add_argument("--layer-weights", type=float, nargs=5, default=None)
    p.add_argument("--content-layers", nargs="+", default=["conv4_2"])
    p.add_argument("--scale", type=float, default=None, help="style_scale for every style (default: waves 1.5)")
    p.add_argument("--every", type=int, default=5)
    args = p.parse_args()

    from vizlab.images import save_image
    from vizlab.style import style_batch, style_distance, style_transfer

    out, net, sl, judge = setup(args.out, args.content_layers)
    for st in args.styles:
        scale = args.scale if args.scale is not None else (1.5 if st == "waves" else 1.0)
        s = style_batch(None, st, round(args.size * scale))
        for ph in args.photos:
            c = style_batch(None, ph, args.size)
            d0 = style_distance(net, c, s, sl)
            cls = judge.predict(c, 1)[0][0]
            rows = []

            def cb(step, losses, img):
                if step % args.every == 0 or step == args.steps:
                    rows.append(dict(step=step, fall=round(1 - style_distance(net, img, s, sl) / d0, 4),
                                     rank=int(judge.rank(img, cls)[0])))

            t = time.perf_counter()
            r = style_transfer(c, st, loss_net=net, size=args.size, steps=args.steps, lr=args.lr,
                               style_scale=scale, style_weight=args.style_weight,
                               content_weight=args.content_weight, tv_weight=args.tv_weight,
                               content_layers=args.content_layers, style_layers=sl,
                               layer_weights=args.layer_weights, optimizer=args.optimizer, progress=False,
                               callback=cb)
            secs = time.perf_counter() - t
            save_image(r.image[0], out / f"{args.tag}_{st}_{ph}.png")
            print(json.dumps(dict(tag=args.tag, style=st, photo=ph, cls=cls, seconds=round(secs, 1),
                                  opt_seconds=round(r.seconds, 1), traj=rows)), flush=True)


if __name__ == "__main__":
    main()
