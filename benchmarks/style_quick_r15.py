"""Round 15 (issue 25 item 2): notebook 07's quick Gatys table (EfficientNet-Lite0, 128 px, Adam 0.03, style 30)
re-tuned for Adam's projected gradient: content weight, `waves`' style scale and steps against the table's two
claims (largest Gram distance left < 10 %; worst second-best Lite2 rank per style <= 5).

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. nice -n 10 python benchmarks/style_quick_r15.py --out FILE.jsonl
[--content-weights 4 6 8] [--waves-scales 1.0 1.5 2.0] [--steps 70] [--at 40 50 60 70]``

Each style x photo (notebook 07's quick table: swirls, brush, impression x cat, espresso, motorcycle at scale 1, and
`waves` at every ``--waves-scales``) is painted once per content weight for ``--steps`` steps; Adam's iterates do not
depend on how many steps follow, so at every step in ``--at`` the script records what
:func:`vizlab.style.quality.transfer_grid` would for a run of that many steps (the Gram fall on Lite0's style layers
to the style image at its scale, Lite2's rank of the class it gives the photo). One JSON line per run.
"""
from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--content-weights", type=float, nargs="+", default=[4.0, 6.0, 8.0])
    p.add_argument("--waves-scales", type=float, nargs="+", default=[1.0, 1.5, 2.0])
    p.add_argument("--styles", nargs="+", default=["swirls", "brush", "impression", "waves"])
    p.add_argument("--photos", nargs="+", default=["cat", "espresso", "motorcycle"])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=70)
    p.add_argument("--at", type=int, nargs="+", default=[40, 50, 60, 70])
    args = p.parse_args()

    import torch

    import vizlab
    from vizlab.style import loss_network, style_batch, style_distance, style_transfer

    net = loss_network()
    judge = vizlab.load_judge()
    size = args.size
    for cw in args.content_weights:
        for st in args.styles:
            for scale in (args.waves_scales if st == "waves" else [1.0]):
                s = style_batch(None, st, max(16, round(size * scale)))
                for ph in args.photos:
                    c = style_batch(None, ph, size)
                    cls = judge.predict(c, 1)[0][0]
                    d0 = style_distance(net, c, s)
                    rows = []

                    def checkpoint(step, losses, img, rows=rows, s=s, d0=d0, cls=cls):
                        if step in args.at:
                            rows.append(dict(step=step, fall=round(1 - style_distance(net, img, s) / d0, 4),
                                             rank=int(judge.rank(img, cls)[0]),
                                             pinned=round(float(((img == 0) | (img == 1)).float().mean()), 4)))

                    cpu = time.process_time()
                    style_transfer(c, st, loss_net=net, size=size, steps=args.steps, style_scale=scale,
                                   style_weight=30, content_weight=cw, callback=checkpoint, progress=False)
                    row = dict(style=st, scale=scale, photo=ph, content_weight=cw, cls=cls, at=rows,
                               cpu_seconds=round(time.process_time() - cpu, 1), threads=torch.get_num_threads())
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
