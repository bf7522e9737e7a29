"""Lite0's p of the class on each saved PNG at 224 px and at the 128-px view; and a captioned sheet (report only)."""
import json, sys
from pathlib import Path
import torch
import vizlab
from vizlab.images import load_image
from vizlab.optimize.classviz import class_probability, view_probability

here = Path(__file__).resolve().parent
key = json.loads((here / "key.json").read_text())
model = vizlab.load_model()
rows = {}
for e in key["entries"]:
    x = torch.from_numpy(load_image(str(here / "images" / e["image"]))).permute(2, 0, 1)[None].float()
    rows[e["image"]] = dict(cls=e["cls"], p224=class_probability(model, x, e["target"]),
                            p_view=view_probability(model, x, e["target"], 128))
(here / "view_p.json").write_text(json.dumps(rows, indent=1))
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image
es = sorted(key["entries"], key=lambda e: e["cls"].lower())
fig, axes = plt.subplots(4, 5, figsize=(12, 10.4))
for ax, e in zip(axes.flat, es):
    ax.imshow(Image.open(here / "images" / e["image"]).convert("RGB"))
    ax.set_title(f"{e['cls']} ({e['image'][:-4]})\np {rows[e['image']]['p224']:.2f} / view {rows[e['image']]['p_view']:.2f}", fontsize=8)
    ax.axis("off")
fig.tight_layout()
fig.savefig(here / "sheet_with_classes.png", dpi=70)
