#!/usr/bin/env python3
"""Contact sheet of round 19's development renders (``dev_r19.py``): one row per class, one column per variant;
the caption gives Lite0 / Lite1 / Lite2 p at 224 px (no transforms), "R" where the plain-ground retry ran, and the
CPU seconds (the run's, plus the stage's). For the report only (the classes are written on it).

    python sheet_r19.py LOG.jsonl IMAGES OUT.png [variant ...]
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

log, folder, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
rows = [json.loads(line) for line in log.read_text().splitlines()]
cols = sys.argv[4:] or list(dict.fromkeys(r["variant"] for r in rows))
classes = list(dict.fromkeys(r["cls"] for r in rows))
by = {(r["cls"], r["variant"]): r for r in rows}
fig, axes = plt.subplots(len(classes), len(cols), figsize=(3.4 * len(cols), 3.6 * len(classes)), squeeze=False)
for i, cls in enumerate(classes):
    for j, var in enumerate(cols):
        ax = axes[i][j]
        ax.axis("off")
        r = by.get((cls, var))
        if r is None:
            continue
        ax.imshow(Image.open(folder / var / f"{cls.replace(' ', '_').replace('/', '_')}.png"))
        p = r["p"]
        ax.set_title(f"{cls} | {var}\n{p['lite0']['224']:.2f}/{p['lite1']['224']:.2f}/{p['lite2']['224']:.2f} "
                     f"{'R ' if r['retry'] else ''}{r['cpu_s']:.0f}s", fontsize=8)
fig.tight_layout()
fig.savefig(out, dpi=50)
