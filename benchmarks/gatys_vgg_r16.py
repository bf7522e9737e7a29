"""Round 16 (issue 25 item 2's content bar): one lever at a time on notebook 07's lecture Gatys (VGG-19).

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. nice -n 10 python benchmarks/gatys_vgg_r16.py --out DIR
--configs base cl=conv3_1 lr=0.02,steps=80 lw=0.25+0.5+1+1+1 ... [--pairs swirls:espresso ...]``

The base is notebook 07's lecture settings as shipped after round 15 (``GATYS_VGG``: 192 px, 40 Adam steps of 0.05
from the photo, content ``conv4_2`` weight 3, style ``relu1_1 … relu5_1`` weight 30, TV 0.3,
``layer_weights="balanced"``, projected Adam; `waves` at 1.5x scale). A config is ``base`` or comma-separated
``key=value`` changes to it:

* ``cw`` content weight; ``cl`` content layer(s), ``+``-joined (``conv3_1+conv4_2``); ``lr``, ``steps``, ``tv``;
* ``init`` ``content`` (the default: the photo) or ``noise``;
* ``lw`` five ``+``-joined multipliers of the balanced style-layer weights (``relu1_1`` first; renormalised);
* ``pc=1`` luminance-only transfer (``preserve_color``);
* ``sw`` style weight.

For each pair and config it records, at the final step (and at ``--at`` steps), the issue's Gram fall (``1 -
d(x)/d(photo)``, the five layers weighted equally, against the style in colour), each layer's relative Gram
distance, EfficientNet-Lite2's rank of the class it gives the photo and its top-5 labels; it saves the image as
``DIR/<config>/<style>_<photo>.png`` and one JSON line to ``DIR/runs.jsonl`` (CPU seconds of the optimisation alone).
Pairs already in ``runs.jsonl`` for a config are skipped, so a killed run resumes.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from gatys_vgg_r13 import STYLES, grid_arguments, pair_setup   # benchmarks/ is the script's folder: on the path

R15_PAIRS = ["swirls:espresso", "swirls:astronaut", "brush:motorcycle", "brush:cat", "impression:temple",
             "waves:grace_hopper"]


def parse_config(text: str) -> dict:
    """``base`` -> {}; ``cw=10,cl=conv3_1`` -> {"cw": 10.0, "cl": ["conv3_1"]}."""
    out: dict = {}
    if text == "base":
        return out
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key in ("cw", "lr", "tv", "sw"):
            out[key] = float(value)
        elif key == "steps":
            out[key] = int(value)
        elif key == "cl":
            out[key] = value.split("+")
        elif key == "lw":
            out[key] = [float(v) for v in value.split("+")]
            if len(out[key]) != 5:
                raise SystemExit(f"lw needs 5 multipliers, got {value!r}")
        elif key == "init":
            out[key] = value
        elif key == "pc":
            out[key] = bool(int(value))
        else:
            raise SystemExit(f"unknown config key {key!r} in {text!r}")
    return out


def main() -> None:
    p = grid_arguments(__doc__)
    p.set_defaults(pairs=R15_PAIRS)
    p.add_argument("--configs", nargs="+", default=["base"])
    p.add_argument("--at", type=int, nargs="*", default=[])
    p.add_argument("--all24", action="store_true", help="the 4 styles x 6 held-out photos")
    args = p.parse_args()
    if args.all24:
        from vizlab.style.transformer import HELD_OUT
        args.pairs = [f"{st}:{ph}" for st in STYLES for ph in HELD_OUT]

    import torch

    import vizlab
    from vizlab.images import save_image
    from vizlab.style import GATYS_VGG, loss_network, style_transfer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = out / "runs.jsonl"
    done = set()
    if runs.exists():
        for line in runs.read_text().splitlines():
            r = json.loads(line)
            done.add((r["config"], r["style"], r["photo"]))
    configs = {c: parse_config(c) for c in args.configs}
    layers = list(GATYS_VGG.style_layers)
    extra = sorted({lay for c in configs.values() for lay in c.get("cl", [])} - set(GATYS_VGG.content_layers))
    net = loss_network("vgg19_normalised", layers=[*layers, *GATYS_VGG.content_layers, *extra])
    judge = vizlab.load_judge()
    for pair in args.pairs:
        st, ph, scale, c, cls, distances = pair_setup(pair, net, judge, layers)
        d0 = distances(c)
        for name, cfg in configs.items():
            if (name, st, ph) in done:
                continue
            steps = cfg.get("steps", GATYS_VGG.steps)
            at = sorted({*[a for a in args.at if a < steps], steps})
            rows, spent = [], [0.0]
            folder = out / name.replace("=", "").replace(",", "_").replace("+", "-")

            def checkpoint(step, losses, img, rows=rows, spent=spent, at=at, folder=folder):
                if step not in at:
                    return
                t = time.process_time()
                d = distances(img)
                top = [n for n, _ in judge.predict(img, 5)]
                rows.append(dict(step=step, fall=round(1 - sum(d) / sum(d0), 4), d=[round(v, 4) for v in d],
                                 rank=int(judge.rank(img, cls)[0]), top5=top,
                                 style_loss=round(losses["style"], 4), content_loss=round(losses["content"], 4)))
                sub = folder if step == at[-1] else folder / f"steps{step}"
                sub.mkdir(parents=True, exist_ok=True)
                save_image(img[0], sub / f"{st}_{ph}.png")
                spent[0] += time.process_time() - t

            kw = dict(steps=steps, style_scale=scale, content_weight=cfg.get("cw", GATYS_VGG.content_weight),
                      content_layers=cfg.get("cl", list(GATYS_VGG.content_layers)), lr=cfg.get("lr", GATYS_VGG.lr),
                      tv_weight=cfg.get("tv", GATYS_VGG.tv_weight), style_weight=cfg.get("sw", GATYS_VGG.style_weight),
                      init=cfg.get("init", "content"), preserve_color=cfg.get("pc", False))
            if "lw" in cfg:
                # balanced weights (as style_transfer computes them from the start image) times the multipliers
                start = c if kw["init"] == "content" else None
                if start is None:
                    gen = torch.Generator().manual_seed(0)
                    start = (0.5 + 0.1 * torch.randn(1, 3, 192, 192, generator=gen)).clamp(0, 1)
                ds = distances(start)
                floor = max(0.01 * sum(ds) / len(ds), 1e-12)
                w = [m / max(d, floor) for m, d in zip(cfg["lw"], ds)]
                kw["layer_weights"] = [v / sum(w) for v in w]
            else:
                kw["layer_weights"] = "balanced"
            cpu = time.process_time()
            r = style_transfer(c, st, loss_net=net, callback=checkpoint, progress=False, **kw)
            if kw["preserve_color"]:   # the callback saw the luminance iterate: measure the returned colour image
                t = time.process_time()
                d = distances(r.image)
                rows.append(dict(step=steps, final_color=True, fall=round(1 - sum(d) / sum(d0), 4),
                                 d=[round(v, 4) for v in d], rank=int(judge.rank(r.image, cls)[0]),
                                 top5=[n for n, _ in judge.predict(r.image, 5)]))
                save_image(r.image[0], folder / f"{st}_{ph}.png")
                spent[0] += time.process_time() - t
            final = rows[-1]
            row = dict(config=name, style=st, photo=ph, cls=cls, fall=final["fall"], rank=final["rank"],
                       d0=[round(v, 4) for v in d0], at=rows,
                       cpu_seconds=round(time.process_time() - cpu - spent[0], 1), wall=round(r.seconds, 1),
                       load=round(os.getloadavg()[0], 1), threads=torch.get_num_threads(),
                       at_utc=time.strftime("%H:%M:%S", time.gmtime()))
            with open(runs, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{name:28s} {st:10s} x {ph:12s} fall {final['fall']:.1%} rank {final['rank']:4d} "
                  f"({row['cpu_seconds']} CPU s, load {row['load']})", flush=True)


if __name__ == "__main__":
    main()
