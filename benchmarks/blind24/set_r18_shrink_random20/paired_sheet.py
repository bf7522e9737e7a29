#!/usr/bin/env python3
"""Round 18: the candidate's and the default's image of each class side by side, the class and Lite0's p written
under them (for the report only, never shown to a viewer). python paired_sheet.py OUT.png"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

here = Path(__file__).resolve().parent
sets = {"shrink (candidate)": here / "key.json", "default": here.parent / "set_r18_default_random20" / "key.json"}
rows = {}
for name, key in sets.items():
    k = json.loads(key.read_text())
    for e in k["entries"]:
        rows.setdefault(e["cls"], {})[name] = (Path(k["folder"]) / e["image"], e)
classes = sorted(rows)
fig, axes = plt.subplots(5, 8, figsize=(16, 11))
for i, cls in enumerate(classes):
    for j, name in enumerate(sets):
        ax = axes[i // 4][(i % 4) * 2 + j]
        ax.axis("off")
        path, e = rows[cls][name]
        ax.imshow(Image.open(path))
        ax.set_title(f"{cls} | {name.split()[0]}\np {e['lite0_p']:.2f}{' R' if e.get('retry') else ''} "
                     f"{e['cpu_seconds']:.0f} CPU s", fontsize=7)
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=70)
