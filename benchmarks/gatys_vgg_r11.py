"""Round 11 (issue 25): content-preserving variants of Gatys on VGG-19, with trajectories of both bars.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/gatys_vgg_r11.py --tag T --out DIR [--param pixel|pyramid]
[--warmup 0] [--lr 0.05] [--steps 30] [--styles ...] [--photos ...] ...``

For each style x photo it optimises the image as :func:`vizlab.style.style_transfer` does (the same relative
losses on the normalised VGG-19, Adam from the photo) with one of these changes, and prints one JSON line with, every
``--every`` steps, the Gram fall ``1 - d(x)/d(photo)`` on ``relu1_1 … relu5_1`` weighted equally (the issue's
measure) and EfficientNet-Lite2's rank of the class it gives the photo:

* ``--param pyramid``: the image is the photo plus a Laplacian-pyramid-like sum of upsampled offsets at
  1, 1/2, 1/4 ... of the side (``--levels``), so Adam's per-parameter steps move coarse areas as much as pixels;
* ``--warmup N``: the step grows linearly over the first N steps;
* ``--preserve-color``: luminance-only transfer, the photo's colours put back (vizlab's ``preserve_color``);
* ``--layer-weights``: the five style layers' weights.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F


def main() -> None:
    from gatys_vgg_sweep import common_arguments, setup   # benchmarks/ is the script's folder: on the path

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(p)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--param", default="pixel", choices=["pixel", "pyramid"])
    p.add_argument("--levels", type=int, default=4)
    p.add_argument("--level-lr", type=float, nargs="+", default=None, help="lr multiplier per level, fine first")
    p.add_argument("--style-weight", type=float, default=30.0)
    p.add_argument("--content-weight", type=float, default=3.0)
    p.add_argument("--tv-weight", type=float, default=0.3)
    p.add_argument("--layer-weights", type=float, nargs=5, default=None)
    p.add_argument("--auto-weights", action="store_true",
                   help="style-layer weights 1 / (the photo's relative Gram distance at that layer), normalised")
    p.add_argument("--content-layers", nargs="+", default=["conv4_2"])
    p.add_argument("--lite-content", type=float, default=0.0,
                   help="also a relative content loss on EfficientNet-Lite0's block3_expand (the judge's sister)")
    p.add_argument("--preserve-color", action="store_true")
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--save-every", action="store_true")
    args = p.parse_args()

    from vizlab.images import save_image
    from vizlab.style import loss_network, style_batch, style_distance
    from vizlab.style.gatys import _finish, luminance, match_luminance
    from vizlab.style.losses import gram_matrix, relative_content_loss, relative_style_loss, tv_loss


    out, net, sl, judge = setup(args.out, args.content_layers)
    lite = loss_network() if args.lite_content else None
    lw = args.layer_weights or [1 / len(sl)] * len(sl)
    lw = [w / sum(lw) for w in lw]
    for st in args.styles:
        scale = 1.5 if st == "waves" else 1.0
        s_full = style_batch(None, st, round(args.size * scale))
        for ph in args.photos:
            c_full = style_batch(None, ph, args.size)
            d0 = style_distance(net, c_full, s_full, sl)
            d0_l = [style_distance(net, c_full, s_full, [k]) for k in sl]
            lw_pair = lw
            if args.auto_weights:
                lw_pair = [1 / v for v in d0_l]
                lw_pair = [w / sum(lw_pair) for w in lw_pair]
            cls = judge.predict(c_full, 1)[0][0]
            s_opt, c_opt = s_full, c_full
            if args.preserve_color:
                s_opt, c_opt = match_luminance(s_full, c_full), luminance(c_full)
            with torch.no_grad():
                fs = net(s_opt)
                targets = [gram_matrix(fs[n]) for n in sl]
                fc = net(c_opt)
                tv_ref = tv_loss(c_opt)
                lite_c = lite(c_opt)["block3_expand"] if lite is not None else None
            n = args.size
            if args.param == "pixel":
                params = [c_opt.clone().requires_grad_(True)]
                mult = [1.0]

                def image():
                    return params[0]
            else:
                sides = [max(8, n // 2 ** k) for k in range(args.levels)]
                params = [torch.zeros(1, 3, s_, s_, requires_grad=True) for s_ in sides]
                mult = args.level_lr or [1.0] * args.levels

                def image():
                    x = c_opt
                    for q in params:
                        x = x + (q if q.shape[-1] == n else F.interpolate(q, size=(n, n), mode="bilinear",
                                                                          align_corners=False))
                    return x
            opt = torch.optim.Adam([dict(params=[q], lr=args.lr * m) for q, m in zip(params, mult)])
            base = [g["lr"] for g in opt.param_groups]
            rows = []
            t = time.perf_counter()
            for step in range(1, args.steps + 1):
                if args.warmup:
                    f = min(1.0, step / args.warmup)
                    for g, b in zip(opt.param_groups, base):
                        g["lr"] = b * f
                opt.zero_grad()
                x = image()
                img = x.clamp(0, 1) if args.param == "pyramid" else x
                feats = net(img)
                loss = args.style_weight * relative_style_loss([feats[k] for k in sl], targets, lw_pair)
                for k in args.content_layers:
                    loss = loss + relative_content_loss(feats[k], fc[k], args.content_weight)
                if lite is not None:
                    loss = loss + relative_content_loss(lite(img)["block3_expand"], lite_c, args.lite_content)
                loss = loss + args.tv_weight * tv_loss(img) / tv_ref.clamp_min(1e-8)
                loss.backward()
                opt.step()
                if args.param == "pixel":
                    with torch.no_grad():
                        params[0].clamp_(0, 1)
                if step % args.every == 0 or step == args.steps:
                    with torch.no_grad():
                        fin = _finish(image(), c_full, args.preserve_color)
                        d_l = [style_distance(net, fin, s_full, [k]) for k in sl]
                        rows.append(dict(step=step, fall=round(1 - sum(d_l) / len(d_l) / d0, 4),
                                         fall_layers=round(1 - sum(a / b for a, b in zip(d_l, d0_l)) / len(sl), 4),
                                         rank=int(judge.rank(fin, cls)[0]),
                                         rank_small=int(judge.rank(F.interpolate(fin, size=(64, 64), mode="area"),
                                                                   cls)[0])))
                    if args.save_every:
                        save_image(fin[0], out / f"{args.tag}_{st}_{ph}_{step:03d}.png")
            secs = time.perf_counter() - t
            with torch.no_grad():
                fin = _finish(image(), c_full, args.preserve_color)
            save_image(fin[0], out / f"{args.tag}_{st}_{ph}.png")
            print(json.dumps(dict(tag=args.tag, style=st, photo=ph, cls=cls, seconds=round(secs, 1), traj=rows)),
                  flush=True)


if __name__ == "__main__":
    main()
