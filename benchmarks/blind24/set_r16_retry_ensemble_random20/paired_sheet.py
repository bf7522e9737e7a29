"""The default's images (converge.py, variant retry; the same PNGs as set_r16_default_random20's, bit for bit) above
the ensemble's blind PNGs, same draw (seed 12009), with Lite0's p at 224 / the 128-px view and Lite2's rank under each;
report only (no viewer saw it)."""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

here = Path(__file__).resolve().parent
key = {e["cls"]: e for e in json.loads((here / "key.json").read_text())["entries"]}
view = json.loads((here / "view_p.json").read_text())
default = {r["cls"]: r for r in map(json.loads, (here / "default_same_draw.jsonl").read_text().splitlines())}
paired = here.parent / "set_r16_default_random20"
default_png = {e["cls"]: paired / "images" / e["image"]
               for e in json.loads((paired / "key.json").read_text())["entries"]}
classes = sorted(key, key=str.lower)
fig, axes = plt.subplots(4, 10, figsize=(22, 10.5))
for k, cls in enumerate(classes):
    row, col = 2 * (k // 10), k % 10
    d, e = default[cls], key[cls]
    pairs = ((default_png[cls],
              f"{cls}\ndefault {d['lite0_p']:.2f}/{d['lite0_p_view']:.2f} L2 {d['lite2_rank']}"
              + (" R" if d.get("retry", {}).get("kept") == "plain" else "")),
             (here / "images" / e["image"],
              f"+ Lite1 {e['lite0_p']:.2f}/{view[e['image']]['p_view']:.2f} L2 {e['lite2_rank']}"
              + (" R" if e.get("retry", {}).get("kept") == "plain" else "")))
    for i, (path, title) in enumerate(pairs):
        ax = axes[row + i][col]
        ax.imshow(Image.open(path).convert("RGB"))
        ax.set_title(title, fontsize=8)
        ax.axis("off")
fig.tight_layout()
fig.savefig(here / "paired_default_vs_ensemble.png", dpi=65)
