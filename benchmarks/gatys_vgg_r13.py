"""Round 13 (issue 25 item 2): the candidate lecture recipe on the full held-out grid, for one blind check.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. nice -n 10 python benchmarks/gatys_vgg_r13.py --out DIR
[--pairs swirls:cat brush:temple ...] [--layer-weights balanced|equal] [--content-weight 3]``

Every pair is painted by :func:`vizlab.style.quality.transfer_grid` (so by :func:`vizlab.style.style_transfer`)
on the normalised VGG-19 with ``GATYS_VGG``'s settings (192 px, 30 Adam steps of 0.05 from the photo, content
``conv4_2`` weight 3, style ``relu1_1 … relu5_1`` weight 30, TV 0.3; `waves` at 1.5x scale as in notebook 07),
with the style layers weighted ``--layer-weights`` (round 11's ``balanced``: each layer's term starts equal). For
each pair it appends one JSON line to ``DIR/runs.jsonl``: the issue's Gram fall (``1 - d(result)/d(photo)``, the
five layers weighted equally), EfficientNet-Lite2's rank of the class it gives the photo, the optimisation's wall
seconds and the process's CPU seconds for the pair, the load average; it saves the result untitled as
``DIR/blind/<style>_<photo>.png`` and keeps ``DIR/key.json`` in the format ``blind_style_r9.py`` merges (which
shuffles the results into neutral names and draws the labelled style strip).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

STYLES = {"swirls": 1.0, "brush": 1.0, "impression": 1.0, "waves": 1.5}   # style -> style_scale, as notebook 07


def grid_arguments(doc: str) -> argparse.ArgumentParser:
    """A parser with ``--out`` and ``--pairs`` (default: notebook 07's 4 styles x the 6 held-out photos), for this
    script and round 14's ``gatys_vgg_r14.py``."""
    from vizlab.style.transformer import HELD_OUT

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--pairs", nargs="*", default=[f"{st}:{ph}" for st in STYLES for ph in HELD_OUT],
                   help="style:photo pairs (default: notebook 07's 4 styles x the 6 held-out photos)")
    return p


def pair_setup(pair: str, net, judge, layers):
    """One ``style:photo`` pair of rounds 14-16's scripts: ``(style, photo, style_scale, photo_batch, photo_class,
    distances)``, where ``distances(img)`` is the per-layer relative Gram distance of ``img`` to the style image
    on ``layers`` (the issue's Gram fall is ``1 - sum(distances(result)) / sum(distances(photo))``)."""
    import torch

    from vizlab.style import style_batch
    from vizlab.style.losses import gram_matrix, relative_style_loss

    st, ph = pair.split(":")
    scale = STYLES[st]
    s = style_batch(None, st, max(16, round(192 * scale)))
    c = style_batch(None, ph, 192)
    cls = judge.predict(c, 1)[0][0]
    with torch.no_grad():
        feats = net(s)
        grams = [gram_matrix(feats[n]) for n in layers]

    def distances(img):
        with torch.no_grad():
            f = net(img)
            return [float(relative_style_loss([f[n]], [g], [1.0])) for n, g in zip(layers, grams)]

    return st, ph, scale, c, cls, distances


def append_row(out: Path, row: dict) -> None:
    """Append ``row`` to ``out/runs.jsonl`` as one JSON line (saved as it comes) and print it."""
    with open(out / "runs.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def main() -> None:
    p = grid_arguments(__doc__)
    p.add_argument("--layer-weights", default="balanced", choices=["balanced", "equal"])
    p.add_argument("--content-weight", type=float, default=None, help="default: GATYS_VGG's")
    p.add_argument("--steps", type=int, default=None, help="default: GATYS_VGG's")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import torch

    import vizlab
    from vizlab.images import save_image
    from vizlab.style import loss_network
    from vizlab.style.quality import transfer_grid

    out = Path(args.out)
    (out / "blind").mkdir(parents=True, exist_ok=True)
    net = loss_network("vgg19_normalised")
    judge = vizlab.load_judge()
    key_path = out / "key.json"
    key = json.loads(key_path.read_text()) if key_path.exists() else {"images": {}}
    extra = {} if args.layer_weights == "equal" else {"layer_weights": "balanced"}
    if args.content_weight is not None:
        extra["content_weight"] = args.content_weight
    for pair in args.pairs:
        st, ph = pair.split(":")
        cpu, wall = time.process_time(), time.perf_counter()
        (rec,) = transfer_grid({st: STYLES[st]}, [ph], loss_net=net, judge=judge, steps=args.steps, seed=args.seed,
                               verbose=False, **extra)
        name = f"{st}_{ph}.png"
        save_image(rec.image[0], out / "blind" / name)
        key["images"][name] = {"style": st, "photo": ph, "class": rec.photo_class}
        key_path.write_text(json.dumps(key, indent=1))
        row = dict(style=st, photo=ph, layer_weights=args.layer_weights, content_weight=args.content_weight,
                   steps=args.steps, fall=round(rec.fall, 4), cls=rec.photo_class, rank=rec.rank,
                   seconds=round(rec.seconds, 1), cpu_seconds=round(time.process_time() - cpu, 1),
                   pair_wall=round(time.perf_counter() - wall, 1), load=round(os.getloadavg()[0], 1),
                   threads=torch.get_num_threads(), at=time.strftime("%H:%M:%S", time.gmtime()))
        append_row(out, row)


if __name__ == "__main__":
    main()
