#!/usr/bin/env python3
"""Contact sheet of round 16's development renders (``converge.py`` rows): one row per variant, one column per class,
each caption Lite0's p at 224 px / at the 128-px view, Lite2's rank, CPU s, and "R" where the plain-ground second run
was kept.

    python benchmarks/blind24/r16_dev/sheet.py --log converge_r16_dev.jsonl --variants retry retry_ensemble --out s.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--log", default=str(HERE / "converge_r16_dev.jsonl"))
    p.add_argument("--variants", nargs="+", required=True)
    p.add_argument("--classes", nargs="*", default=None)
    p.add_argument("--images", default=str(HERE))
    p.add_argument("--out", required=True)
    args = p.parse_args()
    rows = {}
    for line in Path(args.log).read_text().splitlines():
        r = json.loads(line)
        rows[(r["variant"], r["cls"])] = r
    classes = args.classes or list(dict.fromkeys(c for (v, c) in rows if v in args.variants))
    fig, axes = plt.subplots(len(args.variants), len(classes), figsize=(2.2 * len(classes), 2.5 * len(args.variants)),
                             squeeze=False)
    for i, variant in enumerate(args.variants):
        for j, cls in enumerate(classes):
            ax = axes[i][j]
            ax.axis("off")
            path = Path(args.images) / f"{variant}_s0" / f"{cls.replace(' ', '_')}.png"
            r = rows.get((variant, cls))
            if r is None or not path.exists():
                continue
            ax.imshow(np.asarray(Image.open(path).convert("RGB")))
            kept = "R" if r.get("retry", {}).get("kept") == "plain" else ""
            note = f"{r['lite0_p']:.2f}/{r['lite0_p_view']:.2f} L2 {r['lite2_rank']} {r['cpu_seconds']:.0f}s {kept}"
            ax.set_title(f"{cls}\n{variant}\n{note}" if i == 0 else f"{variant}\n{note}", fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(args.out)


if __name__ == "__main__":
    main()
