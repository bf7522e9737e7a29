#!/usr/bin/env python3
"""Issue 24 item 3, round 14: the lecture's pixel recipe (``cs231n``) from round 13's candidate
(``blind.py``'s ``cs231n_r13_chroma_blur2``), one lever at a time on a small development set looked at by eye
beside round 13's blind images; Lite0 at the view and Lite2's rank are diagnostics only.

    python benchmarks/pixel_r14.py --variants luma4 --out /tmp/pix14 --jsonl rows.jsonl
    python benchmarks/pixel_r14.py contrast /tmp/pix14/*.png     # the window's contrast and colourfulness

Each row: variant, class, Lite0's p on the 224-px image and at the 128-px view, Lite2's rank, CPU seconds (one
thread). A contact sheet per variant (``<out>/<variant>.png``).
"""
from __future__ import annotations

import sys
from pathlib import Path

#: round 13's frozen candidate (blind.py's cs231n_r13_chroma_blur2)
BASE = {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong", "chroma_blur": 4.0,
        "blur_sigma": 2.0, "blur_end": 0.5}
VARIANTS = {
    "r13": {},
    "l2w": {"l2": 2e-4},                                   # a weaker L2 (round 13's pictures were faint)
    "l2z": {"l2": 0.0},                                    # no L2
    "luma4": {"luma_blur": 4.0, "luma_blur_end": 0.5},     # brightness blur, wide early and narrowing
}
DEV = ["flamingo", "lemon", "tarantula"]


def contrast(paths) -> list[dict]:
    """Inside the centre window (radius 0.3 of the side, the recipe's): the grey level's standard deviation
    (contrast) and Hasler and Suesstrunk's colourfulness, both on [0, 1] pixels."""
    import numpy as np
    from PIL import Image

    rows = []
    for path in paths:
        x = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255
        h, w = x.shape[:2]
        yy, xx = np.mgrid[:h, :w]
        inside = (yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2 <= (0.3 * min(h, w) * 0.9) ** 2
        px = x[inside]
        grey = px.mean(axis=1)
        rg, yb = px[:, 0] - px[:, 1], 0.5 * (px[:, 0] + px[:, 1]) - px[:, 2]
        colourful = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
        rows.append(dict(path=str(path), contrast=round(float(grey.std()), 4),
                         colourfulness=round(float(colourful), 4)))
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "contrast":
        for row in contrast(argv[1:]):
            print(f"{row['path']}: contrast {row['contrast']:.3f} colourfulness {row['colourfulness']:.3f}")
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pixel_r12   # the same loop, rows and contact sheets as rounds 12 and 13; the library as it is

    return pixel_r12.main(argv, variants=VARIANTS, base=BASE, dev=DEV, patch=False)


if __name__ == "__main__":
    raise SystemExit(main())
