"""Round 16: contact sheet of ``gatys_vgg_r16.py`` results: one row per config, one column per pair, each tile
titled with its Gram fall and Lite2 rank; the style images (at their table scale, cropped to 192 px) on top.

Run: ``PYTHONPATH=. python benchmarks/contact_r16.py --runs DIR/runs.jsonl --out sheet.jpg --configs base cl=conv3_1
[--pairs swirls:espresso ...] [--base-key benchmarks/blind25/key_r15_style.json --base-images /work/blind-queue/gatys-1/images]``

``base`` rows can come from round 15's blind set (the same code and settings: its key maps the shuffled names back
to pairs; their numbers from ``blind25/runs_r15_style.jsonl``) when ``DIR`` has no base run of a pair.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def folder_of(config: str) -> str:
    return config.replace("=", "").replace(",", "_").replace("+", "-")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--configs", nargs="+", required=True)
    p.add_argument("--pairs", nargs="*", default=None)
    p.add_argument("--base-key", default="benchmarks/blind25/key_r15_style.json")
    p.add_argument("--base-images", default="/work/blind-queue/gatys-1/images")
    p.add_argument("--base-runs", default="benchmarks/blind25/runs_r15_style.jsonl")
    p.add_argument("--tile", type=int, default=192)
    args = p.parse_args()
    from PIL import Image, ImageDraw

    runs = Path(args.runs)
    rows = [json.loads(line) for line in runs.read_text().splitlines()]
    table = {(r["config"], r["style"], r["photo"]): r for r in rows}
    base_img = {}
    if Path(args.base_key).exists():
        key = json.loads(Path(args.base_key).read_text())["images"]
        base_img = {(v["style"], v["photo"]): Path(args.base_images) / k for k, v in key.items()}
        for line in Path(args.base_runs).read_text().splitlines():
            r = json.loads(line)
            if r["content_weight"] == 3 and r["content_layer"] == "conv4_2":
                table.setdefault(("base", r["style"], r["photo"]), dict(fall=r["at"][-1]["fall"], rank=r["at"][-1]["rank"]))
    pairs = args.pairs or sorted({(r["style"], r["photo"]) for r in rows}, key=lambda sp: (sp[0], sp[1]))
    pairs = [tuple(pp.split(":")) if isinstance(pp, str) else pp for pp in pairs]
    t, lab = args.tile, 30
    label_w = 170
    sheet = Image.new("RGB", (label_w + t * len(pairs), (t + lab) * len(args.configs) + 20), "white")
    draw = ImageDraw.Draw(sheet)
    for j, (st, ph) in enumerate(pairs):
        draw.text((label_w + j * t + 4, 4), f"{st} x {ph}", fill="black")
    for i, cfg in enumerate(args.configs):
        y = 20 + i * (t + lab)
        draw.text((4, y + t // 2), cfg, fill="black")
        for j, (st, ph) in enumerate(pairs):
            x = label_w + j * t
            path = runs.parent / folder_of(cfg) / f"{st}_{ph}.png"
            if not path.exists() and cfg == "base":
                path = base_img.get((st, ph), path)
            if path.exists():
                sheet.paste(Image.open(path).convert("RGB").resize((t, t)), (x, y))
            r = table.get((cfg, st, ph))
            if r:
                good = r["fall"] >= 0.9 and r["rank"] <= 5
                draw.text((x + 4, y + t + 4), f"fall {r['fall']:.1%}  rank {r['rank']}", fill="green" if good else "black")
    sheet.save(args.out, **({"quality": 90} if args.out.endswith(".jpg") else {}))
    print(args.out)


if __name__ == "__main__":
    main()
