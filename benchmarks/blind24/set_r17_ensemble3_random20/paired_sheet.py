#!/usr/bin/env python3
"""The report's paired sheet (classes written on it; never shown to a viewer): per class of round 17's draw, the
default's image (top) and the candidate's (bottom), captioned with Lite0's p at 224 px and the CPU seconds.

    python paired_sheet.py CANDIDATE_KEY DEFAULT_KEY OUT.png
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

cand, default = (json.loads(Path(p).read_text()) for p in sys.argv[1:3])
rows = [("default (object_ensemble)", default), ("candidate (object_ensemble3)", cand)]
classes = sorted(e["cls"] for e in cand["entries"])
fig, axes = plt.subplots(2 * 2, 10, figsize=(20, 9.6))
for half in range(2):
    for j, cls in enumerate(classes[10 * half:10 * half + 10]):
        for i, (label, key) in enumerate(rows):
            e = next(e for e in key["entries"] if e["cls"] == cls)
            ax = axes[2 * half + i][j]
            ax.imshow(Image.open(Path(key["folder"]) / e["image"]))
            ax.axis("off")
            ax.set_title(f"{cls}\n{label.split()[0]} p{e['lite0_p']:.2f} {e['cpu_seconds']:.0f}s"
                         + (" R" if e.get("retry", {}).get("kept") == "plain" else ""), fontsize=7)
fig.tight_layout()
fig.savefig(sys.argv[3], dpi=60)
