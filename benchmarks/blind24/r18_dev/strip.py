#!/usr/bin/env python3
"""One class's variants side by side at full size (224 px each), no captions: python strip.py IMAGES CLASS OUT var..."""
import sys
from pathlib import Path

from PIL import Image

folder, cls, out, variants = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
name = cls.replace(" ", "_").replace("/", "_") + ".png"
ims = [Image.open(folder / v / name) for v in variants if (folder / v / name).exists()]
sheet = Image.new("RGB", (230 * len(ims), 224), "white")
for i, im in enumerate(ims):
    sheet.paste(im.convert("RGB"), (230 * i, 0))
sheet.save(out)
