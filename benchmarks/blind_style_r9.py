"""Assemble issue 25's round-9 blind style-matching request from ``gatys_vgg.py`` output folders.

Run: ``PYTHONPATH=. python benchmarks/blind_style_r9.py --queue /work/blind-queue/r9-style-a --key benchmarks/blind25/key_a.json /tmp/a /tmp/b``

Merges the folders' results, shuffles them again with ``--seed`` into ``QUEUE/images/imgNN.png``, draws the style
images as one strip ``QUEUE/images/styles.png`` labelled S1-S4 (order shuffled too) and writes the key elsewhere.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args()
    from PIL import Image, ImageDraw

    from vizlab.images import save_image
    from vizlab.style import style_batch

    rng = random.Random(args.seed)
    items = []
    for folder in map(Path, args.folders):
        key = json.loads((folder / "key.json").read_text())
        items += [(folder / "blind" / name, info) for name, info in key["images"].items()]
    styles = sorted({info["style"] for _, info in items})
    rng.shuffle(styles)
    labels = {st: f"S{k + 1}" for k, st in enumerate(styles)}
    rng.shuffle(items)
    images = Path(args.queue) / "images"
    images.mkdir(parents=True, exist_ok=True)
    out_key = {"styles": labels, "images": {}}
    for k, (path, info) in enumerate(items):
        name = f"img{k:02d}.png"
        shutil.copy(path, images / name)
        out_key["images"][name] = {"style": info["style"], "label": labels[info["style"]], "photo": info["photo"],
                                   "class": info["class"]}
    tiles = []
    for st in styles:
        p = Path(args.queue) / f"_{st}.png"
        save_image(style_batch(None, st, 192)[0], p)
        tiles.append(Image.open(p).convert("RGB"))
        p.unlink()
    strip = Image.new("RGB", (len(tiles) * 200, 222), "white")
    draw = ImageDraw.Draw(strip)
    for k, tile in enumerate(tiles):
        strip.paste(tile, (k * 200 + 4, 26))
        draw.text((k * 200 + 90, 6), f"S{k + 1}", fill="black")
    strip.save(images / "styles.png")
    Path(args.key).parent.mkdir(parents=True, exist_ok=True)
    Path(args.key).write_text(json.dumps(out_key, indent=1))


if __name__ == "__main__":
    main()
