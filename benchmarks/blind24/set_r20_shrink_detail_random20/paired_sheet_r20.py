#!/usr/bin/env python3
"""Round 20's scored draw side by side (for the report only; the classes are written on it): per class the
default's image (left) and the candidate's (right), with Lite0's p at 224 px ("R": retried, a second run on the plain ground was made).

    python paired_sheet_r20.py OUT.png
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

B = Path(__file__).resolve().parents[1]
Q = Path("/work/blind-queue")
cand = {e["cls"]: e for e in json.loads((B / "set_r20_shrink_detail_random20/key.json").read_text())["entries"]}
base = {e["cls"]: e for e in json.loads((B / "set_r20_default_random20/key.json").read_text())["entries"]}
folders = {"cand": B / "set_r20_shrink_detail_random20/images", "base": B / "set_r20_default_random20/images"}
for k, q in (("cand", "r20-lever-1"), ("base", "r20-lever-3")):
    if not folders[k].exists():
        folders[k] = Q / q / "images"
classes = sorted(cand)
fig, axes = plt.subplots(4, 10, figsize=(25, 11.5))
for i, cls in enumerate(classes):
    for j, (k, e) in enumerate((("base", base[cls]), ("cand", cand[cls]))):
        ax = axes[i // 5][2 * (i % 5) + j]
        ax.axis("off")
        ax.imshow(Image.open(folders[k] / e["image"]))
        ax.set_title(f"{cls[:22]} | {'default' if k == 'base' else 'shrink+detail'}\np {e['lite0_p']:.2f}"
                     f"{' R' if 'retry' in e else ''}", fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=50)
