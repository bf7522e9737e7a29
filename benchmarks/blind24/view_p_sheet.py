"""Lite0's p of the class on each PNG of a blind set, at 224 px and at the 128-px view, written to the set's
``view_p.json``, and a captioned contact sheet ``sheet_with_classes.png`` (for the report only: it shows the key).
Run from the repository root (rounds 15 and 16's random 20s):

    python benchmarks/blind24/view_p_sheet.py benchmarks/blind24/set_r16_retry_ensemble_random20
"""
import json
import sys
from pathlib import Path

import matplotlib
import torch
from PIL import Image

import vizlab
from vizlab.images import load_image
from vizlab.optimize.classviz import class_probability, view_probability

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def main(folder: str) -> None:
    here = Path(folder)
    key = json.loads((here / "key.json").read_text())
    model = vizlab.load_model()
    rows = {}
    for e in key["entries"]:
        x = torch.from_numpy(load_image(str(here / "images" / e["image"]))).permute(2, 0, 1)[None].float()
        rows[e["image"]] = dict(cls=e["cls"], p224=class_probability(model, x, e["target"]),
                                p_view=view_probability(model, x, e["target"], 128))
    (here / "view_p.json").write_text(json.dumps(rows, indent=1))
    es = sorted(key["entries"], key=lambda e: e["cls"].lower())
    fig, axes = plt.subplots(4, 5, figsize=(12, 10.4))
    for ax, e in zip(axes.flat, es):
        ax.imshow(Image.open(here / "images" / e["image"]).convert("RGB"))
        r = rows[e["image"]]
        ax.set_title(f"{e['cls']} ({e['image'][:-4]})\np {r['p224']:.2f} / view {r['p_view']:.2f}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(here / "sheet_with_classes.png", dpi=70)


if __name__ == "__main__":
    main(sys.argv[1])
