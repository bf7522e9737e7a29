"""Notebook 07's EfficientNet-Lite0 Gatys results measured with VGG-19's Gram fall (issue 25, round 11).

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/gatys_lite0_on_vgg.py --photos motorcycle espresso --out DIR``

Lite0's table (192 px, 80 Adam steps, style 30, content 4: the lecture grid of ``claims_style.py``) keeps Lite2's
class in its top 5; this prints, per style x photo, the Gram fall on Lite0's own style layers (the notebook's
measure), the fall on VGG-19's ``relu1_1 … relu5_1`` (the issue's measure for the VGG recipe) and Lite2's rank,
also on a 64-px copy, to show how much of VGG's style the class-keeping results take.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch.nn.functional as F


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", nargs="+", default=["motorcycle", "espresso"])
    p.add_argument("--styles", nargs="+", default=["swirls", "brush", "impression", "waves"])
    p.add_argument("--out", required=True)
    args = p.parse_args()

    import vizlab
    from vizlab.images import save_image
    from vizlab.style import loss_network, style_batch, style_distance, style_transfer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lite, vgg = loss_network(), loss_network("vgg19_normalised")
    judge = vizlab.load_judge()
    for st in args.styles:
        scale = 1.5 if st == "waves" else 1.0
        s = style_batch(None, st, round(192 * scale))
        for ph in args.photos:
            c = style_batch(None, ph, 192)
            cls = judge.predict(c, 1)[0][0]
            r = style_transfer(c, st, loss_net=lite, size=192, steps=80, style_weight=30, content_weight=4,
                               style_scale=scale, progress=False)
            x = r.image
            save_image(x[0], out / f"lite0_{st}_{ph}.png")
            row = dict(style=st, photo=ph, cls=cls,
                       fall_lite0=round(1 - style_distance(lite, x, s) / style_distance(lite, c, s), 4),
                       fall_vgg=round(1 - style_distance(vgg, x, s) / style_distance(vgg, c, s), 4),
                       rank=int(judge.rank(x, cls)[0]),
                       rank_small=int(judge.rank(F.interpolate(x, size=(64, 64), mode="area"), cls)[0]))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
