"""Gatys on VGG-19 (notebook 07's lecture recipe) measured on held-out photos, and a blind-viewer set.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/gatys_vgg.py --out /tmp/gatys_vgg [--styles swirls brush]
[--photos cat astronaut] [--size 128] [--steps 40]``

For every style x photo (default: notebook 07's four styles x the six photos held out of the fast-style training,
:data:`vizlab.style.transformer.HELD_OUT`) it runs :func:`vizlab.style.style_transfer` on the normalised VGG-19
with the lecture profile's settings and prints, as JSON lines, the two measures of issue 25:

* **style**: how far the relative Gram distance to the style image (on the recipe's style layers) fell,
  ``1 - d(result) / d(photo)`` (target: >= 0.9 for every pair);
* **content**: the rank, for the independent judge EfficientNet-Lite2, of the class it gives the photo (target:
  in the top 5 for >= 4 of the 6 photos, per style).

It also writes every result untitled to ``OUT/blind/imgNN.png`` in a seeded shuffled order, the style images to
``OUT/styles/A.png`` ... (letters in another shuffled order) and the key to ``OUT/key.json`` (keep it from the
viewer), for the blind test: "which style image (A-D) does each picture come from, and what does it show?".
Several processes may split the work with ``--styles``; the shuffled names then restart per process, so give
each its own ``--out``.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

STYLES = {"swirls": 1.0, "brush": 1.0, "impression": 1.0, "waves": 1.5}   # as in notebook 07


def main() -> None:
    from vizlab.style.transformer import HELD_OUT

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--styles", nargs="*", default=list(STYLES))
    parser.add_argument("--photos", nargs="*", default=list(HELD_OUT))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--style-weight", type=float, default=30.0)
    parser.add_argument("--content-weight", type=float, default=3.0)
    parser.add_argument("--tv-weight", type=float, default=0.3)
    parser.add_argument("--content-layers", nargs="+", default=["conv4_2"],
                        help="content layers (round 8 measured relu3_1, and conv4_2 relu2_2, against the paper's conv4_2)")
    parser.add_argument("--optimizer", default="adam", choices=["adam", "lbfgs"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import vizlab
    from vizlab.images import save_image
    from vizlab.style import loss_network, style_batch, style_distance, style_transfer

    out = Path(args.out)
    (out / "blind").mkdir(parents=True, exist_ok=True)
    (out / "styles").mkdir(parents=True, exist_ok=True)
    net = loss_network("vgg19_normalised")
    style_layers = list(net.recipe.style_layers)
    net = loss_network("vgg19_normalised", model=net.model, layers=[*style_layers, *args.content_layers])
    judge = vizlab.load_judge()
    rng = random.Random(args.seed)
    letters = dict(zip(args.styles, rng.sample("ABCDEFGH"[:len(args.styles)], len(args.styles))))
    pairs = [(st, ph) for st in args.styles for ph in args.photos]
    order = rng.sample(range(len(pairs)), len(pairs))
    key = {"styles": letters, "images": {}}
    for st in args.styles:
        save_image(style_batch(None, st, 256)[0], out / "styles" / f"{letters[st]}.png")
    for k, (st, ph) in enumerate(pairs):
        scale = STYLES.get(st, 1.0)
        c = style_batch(None, ph, args.size)
        s = style_batch(None, st, round(args.size * scale))
        t = time.perf_counter()
        r = style_transfer(c, st, loss_net=net, size=args.size, steps=args.steps, lr=args.lr, style_scale=scale,
                           style_weight=args.style_weight, content_weight=args.content_weight,
                           tv_weight=args.tv_weight, content_layers=args.content_layers, style_layers=style_layers,
                           optimizer=args.optimizer, progress=False, seed=args.seed)
        fall = 1 - style_distance(net, r.image, s, style_layers) / style_distance(net, c, s, style_layers)
        cls = judge.predict(c, 1)[0][0]
        rank = int(judge.rank(r.image, cls)[0])
        name = f"img{order[k]:02d}.png"
        save_image(r.image[0], out / "blind" / name)
        key["images"][name] = {"style": st, "letter": letters[st], "photo": ph, "class": cls}
        print(json.dumps({"style": st, "photo": ph, "fall": round(fall, 4), "class": cls, "rank": rank,
                          "seconds": round(time.perf_counter() - t, 1)}), flush=True)
    (out / "key.json").write_text(json.dumps(key, indent=1))


if __name__ == "__main__":
    main()
