#!/usr/bin/env python3
"""Round 19 (r19-ceiling): the default's 19 class images captioned with their classes (report only, never shown to a
viewer), and with ``--photos KEY`` each beside its photo (kept out of the repository: the photos' licences are unknown).

    python benchmarks/blind24/set_r19_ceiling_default/sheet.py --out sheet_with_classes.png [--photos PHOTO_KEY]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--photos", default=None, help="the photos' key: put each photo beside its class image")
    args = parser.parse_args(argv)
    key = json.loads((HERE / "key.json").read_text())
    entries = sorted(key["entries"], key=lambda e: e["cls"].lower())
    photos = {}
    if args.photos:
        pk = json.loads(Path(args.photos).read_text())
        for e in sorted(pk["entries"], key=lambda e: e["source"]):
            photos.setdefault(e["cls"], Path(pk["folder"]) / e["image"])  # the first of the two jeeps
    per = 2 if photos else 1
    cols = 5 if photos else 7
    rows = -(-len(entries) // cols)
    fig, axes = plt.subplots(rows, cols * per, figsize=(cols * per * 1.6, rows * 1.8))
    for ax in axes.flat:
        ax.axis("off")
    for i, e in enumerate(entries):
        r, c = divmod(i, cols)
        if photos:
            axes[r, c * 2].imshow(Image.open(photos[e["cls"]]))
            axes[r, c * 2].set_title(f"{e['cls']}: photo", fontsize=7)
        ax = axes[r, c * per + per - 1]
        ax.imshow(Image.open(Path(key["folder"]) / e["image"]))
        ax.set_title(f"{e['cls']}" + (": default" if photos else ""), fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
