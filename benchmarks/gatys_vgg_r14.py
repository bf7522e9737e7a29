"""Round 14 (issue 25 item 2): notebook 07's lecture Gatys on the 4 x 6 held-out grid, measured at checkpoint steps.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. nice -n 10 python benchmarks/gatys_vgg_r14.py --out DIR [--steps 30]
[--at 20 25 30] [--pairs swirls:espresso ...]``

Each pair is painted by :func:`vizlab.style.style_transfer` with notebook 07's lecture settings (``GATYS_VGG``:
192 px, Adam 0.05 from the photo, content ``conv4_2`` 3, style ``relu1_1 … relu5_1`` 30, TV 0.3,
``layer_weights="balanced"``; `waves` at 1.5x scale) for ``--steps`` steps. Adam's iterates do not depend on how many
steps follow, so the image after step k of this run is the result of a run of k steps: at every step in ``--at``
the script records the issue's Gram fall (``1 - d(x)/d(photo)``, the five layers weighted equally), each layer's
relative Gram distance, and EfficientNet-Lite2's rank of the class it gives the photo, and saves the image as
``DIR/steps<k>/<style>_<photo>.png``. One JSON line per pair goes to ``DIR/runs.jsonl`` (with the CPU seconds of
the optimisation alone, measured without the checkpoints' own cost).

Round 14 ran it with f033c84's change to :func:`vizlab.style.style_transfer` applied (Adam's loss reads the projected
iterate itself instead of ``x.clamp(0, 1)``, whose gradient is 0 at the bounds); that change was reverted in
4aedfe3 (benchmarks/README.md, "Round 14") and re-applied in round 15, where it is the default (the grids before
round 15 ran the old loop, which ``style_transfer(..., pin_bounds=True)`` still runs).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from gatys_vgg_r13 import append_row, grid_arguments, pair_setup   # benchmarks/ is the script's folder: on the path


def main() -> None:
    p = grid_arguments(__doc__)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--at", type=int, nargs="+", default=[20, 25, 30])
    args = p.parse_args()

    import torch

    import vizlab
    from vizlab.images import save_image
    from vizlab.style import loss_network, style_transfer

    out = Path(args.out)
    net = loss_network("vgg19_normalised")
    judge = vizlab.load_judge()
    layers = list(net.recipe.style_layers)
    for pair in args.pairs:
        st, ph, scale, c, cls, distances = pair_setup(pair, net, judge, layers)
        d0 = distances(c)
        rows, spent = [], [0.0]

        def checkpoint(step, losses, img):
            if step not in args.at:
                return
            t = time.process_time()
            d = distances(img)
            rows.append(dict(step=step, fall=round(1 - sum(d) / sum(d0), 4), d=[round(v, 4) for v in d],
                             rank=int(judge.rank(img, cls)[0]), style_loss=round(losses["style"], 4),
                             content_loss=round(losses["content"], 4)))
            (out / f"steps{step}").mkdir(parents=True, exist_ok=True)
            save_image(img[0], out / f"steps{step}" / f"{st}_{ph}.png")
            spent[0] += time.process_time() - t

        cpu = time.process_time()
        r = style_transfer(c, st, loss_net=net, steps=args.steps, style_scale=scale, layer_weights="balanced",
                           callback=checkpoint, progress=False)
        row = dict(style=st, photo=ph, cls=cls, d0=[round(v, 4) for v in d0], at=rows,
                   cpu_seconds=round(time.process_time() - cpu - spent[0], 1), wall=round(r.seconds, 1),
                   load=round(os.getloadavg()[0], 1), threads=torch.get_num_threads(),
                   at_utc=time.strftime("%H:%M:%S", time.gmtime()))
        append_row(out, row)


if __name__ == "__main__":
    main()
