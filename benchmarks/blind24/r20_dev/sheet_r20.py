#!/usr/bin/env python3
"""Round 20's development sheet (classes written on it: for the report only, never shown to a viewer): each class a
row, each variant a column, 160-px cells.

    python benchmarks/blind24/r20_dev/sheet_r20.py IMAGES OUT.png
"""
import sys
from pathlib import Path

from PIL import Image, ImageDraw

VARIANTS = ["base", "d25", "s40", "lr25", "ls", "sat07", "sat05", "shrd"]
CLASSES = ["Dandie Dinmont", "Sealyham terrier", "Rhodesian ridgeback", "espresso", "lemon", "paintbrush", "maypole",
           "scoreboard", "harvestman"]


def main(root: Path, out: str, side: int = 160) -> None:
    sheet = Image.new("RGB", (side * len(VARIANTS), (side + 14) * len(CLASSES)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, cls in enumerate(CLASSES):
        for j, var in enumerate(VARIANTS):
            f = root / var / (cls.replace(" ", "_") + ".png")
            if f.exists():
                sheet.paste(Image.open(f).convert("RGB").resize((side, side), Image.LANCZOS), (j * side, i * (side + 14) + 14))
            draw.text((j * side + 3, i * (side + 14) + 1), f"{cls} | {var}", fill="black")
    sheet.save(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
