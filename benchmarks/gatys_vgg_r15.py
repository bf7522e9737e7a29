"""Round 15 (issue 25 item 2): notebook 07's lecture Gatys with Adam's projected gradient (no clamp in the loss),
content weight (and content layer) against the issue's two automatic bars, on the 4 x 6 held-out grid.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. nice -n 10 python benchmarks/gatys_vgg_r15.py --out DIR
[--configs 3 30 100:conv4_2 30:conv3_1 ...] [--steps 40] [--at 20 30 40] [--pairs swirls:espresso ...]``

Like ``gatys_vgg_r14.py`` (notebook 07's lecture settings: ``GATYS_VGG``, 192 px, Adam 0.05 from the photo, style
``relu1_1 … relu5_1`` 30, TV 0.3, ``layer_weights="balanced"``, `waves` at 1.5x scale), but for each pair it paints
one result per ``--configs`` entry ``WEIGHT[:LAYER]`` (content weight, content layer; default layer ``conv4_2``),
pair by pair, so a partial run gives the whole curve on the pairs done. At every step in ``--at`` it records the
issue's Gram fall (``1 - d(x)/d(photo)``, the five layers weighted equally), each layer's relative Gram distance,
EfficientNet-Lite2's rank of the class it gives the photo, the share of channel values at exactly 0 or 1, and saves
the image as ``DIR/cw<WEIGHT>_<LAYER>/steps<k>/<style>_<photo>.png``. One JSON line per pair and config goes to
``DIR/runs.jsonl`` (CPU seconds of the optimisation alone, without the checkpoints' own cost).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from gatys_vgg_r13 import append_row, grid_arguments, pair_setup   # benchmarks/ is the script's folder: on the path


def parse_config(text: str) -> tuple[float, str]:
    weight, _, layer = text.partition(":")
    return float(weight), layer or "conv4_2"


def main() -> None:
    p = grid_arguments(__doc__)
    p.add_argument("--configs", nargs="+", default=["3"], help="content WEIGHT[:LAYER] per result")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--at", type=int, nargs="+", default=[20, 30, 40])
    args = p.parse_args()
    configs = [parse_config(c) for c in args.configs]

    import torch

    import vizlab
    from vizlab.images import save_image
    from vizlab.style import GATYS_VGG, loss_network, style_transfer

    out = Path(args.out)
    layers = list(GATYS_VGG.style_layers)
    extra = sorted({lay for _, lay in configs} - set(GATYS_VGG.content_layers))
    net = loss_network("vgg19_normalised", layers=[*layers, *GATYS_VGG.content_layers, *extra])
    judge = vizlab.load_judge()
    for pair in args.pairs:
        st, ph, scale, c, cls, distances = pair_setup(pair, net, judge, layers)
        d0 = distances(c)
        for cw, lay in configs:
            tag = f"cw{cw:g}_{lay}"
            rows, spent = [], [0.0]

            def checkpoint(step, losses, img, tag=tag, rows=rows, spent=spent):
                if step not in args.at:
                    return
                t = time.process_time()
                d = distances(img)
                rows.append(dict(step=step, fall=round(1 - sum(d) / sum(d0), 4), d=[round(v, 4) for v in d],
                                 rank=int(judge.rank(img, cls)[0]), style_loss=round(losses["style"], 4),
                                 content_loss=round(losses["content"], 4),
                                 pinned=round(float(((img == 0) | (img == 1)).float().mean()), 4)))
                folder = out / tag / f"steps{step}"
                folder.mkdir(parents=True, exist_ok=True)
                save_image(img[0], folder / f"{st}_{ph}.png")
                spent[0] += time.process_time() - t

            cpu = time.process_time()
            r = style_transfer(c, st, loss_net=net, steps=args.steps, style_scale=scale, layer_weights="balanced",
                               content_weight=cw, content_layers=[lay], callback=checkpoint, progress=False)
            row = dict(style=st, photo=ph, content_weight=cw, content_layer=lay, cls=cls,
                       d0=[round(v, 4) for v in d0], at=rows,
                       cpu_seconds=round(time.process_time() - cpu - spent[0], 1), wall=round(r.seconds, 1),
                       load=round(os.getloadavg()[0], 1), threads=torch.get_num_threads(),
                       at_utc=time.strftime("%H:%M:%S", time.gmtime()))
            append_row(out, row)


if __name__ == "__main__":
    main()
