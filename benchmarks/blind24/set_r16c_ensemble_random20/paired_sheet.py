"""The default's blind PNGs (set_r16c_default_random20) above the ensemble's (this set), same draw (seed 18962) and
image seed, with Lite0's p at 224 px and Lite2's rank under each (R: the plain-ground second run was kept); report
only (no viewer saw it)."""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

here = Path(__file__).resolve().parent
other = here.parent / "set_r16c_default_random20"
sets = [(other, "default"), (here, "+ Lite1")]
keys = [{e["cls"]: e for e in json.loads((d / "key.json").read_text())["entries"]} for d, _ in sets]
classes = sorted(keys[0], key=str.lower)
fig, axes = plt.subplots(4, 10, figsize=(22, 10.5))
for k, cls in enumerate(classes):
    row, col = 2 * (k // 10), k % 10
    for i, ((folder, label), key) in enumerate(zip(sets, keys)):
        e = key[cls]
        title = (f"{cls}\n" if i == 0 else "") + f"{label} {e['lite0_p']:.2f} L2 {e.get('lite2_rank', '?')}"
        title += " R" if e.get("retry", {}).get("kept") == "plain" else ""
        ax = axes[row + i][col]
        ax.imshow(Image.open(folder / "images" / e["image"]).convert("RGB"))
        ax.set_title(title, fontsize=8)
        ax.axis("off")
fig.tight_layout()
fig.savefig(here / "paired_default_vs_ensemble.png", dpi=65)
