#!/usr/bin/env python3
"""Issue 24 item 3, round 13: the lecture's pixel recipe (``cs231n``) with Yosinski et al. 2015's clips and with
octaves (coarse-to-fine canvases), one lever at a time on round 12's candidate, on a small development set
looked at by eye; Lite0 at the view and Lite2's rank are diagnostics only (round 12: convergence was not what
stopped the recipe).

    python benchmarks/pixel_r13.py --variants r12 oct contrib50 --out /tmp/pix13 --jsonl rows.jsonl

Each row: variant, class, Lite0's p on the 224-px image and at the 128-px view, Lite2's rank, CPU seconds (one
thread). A contact sheet per variant (``<out>/<variant>.png``, the classes in the order given) to look at.
"""
from __future__ import annotations

from pathlib import Path

#: round 12's candidate (``blind.py``'s ``cs231n_r12``): centre window, 128-px view and canvas, strong transforms
BASE = {"centre": 0.3, "view": 128, "canvas": 128, "transforms": "strong"}
VARIANTS = {
    "r12": {},
    "oct": {"octaves": (32, 64)},                                  # coarse-to-fine: 32 -> 64 -> 128 px canvas
    "oct16": {"octaves": (16, 32, 64)},
    "contrib50": {"clip_contrib": 50.0, "clip_every": 4},          # Yosinski: small contribution -> mean colour
    "weak50": {"clip_weak": 50.0, "clip_every": 4},                # Yosinski: small norm -> mean colour
    "oct_contrib50": {"octaves": (32, 64), "clip_contrib": 50.0, "clip_every": 4},
    "chroma4": {"chroma_blur": 4.0},                               # blur only the colour (no rainbow grain)
    "oct_chroma4": {"octaves": (32, 64), "chroma_blur": 4.0},
    # the frozen candidate (blind.py's cs231n_r13_chroma_blur2); run as --variants chroma4 --tag _blur2
    # --extra '{"blur_sigma": 2.0, "blur_end": 0.5}', like _c8 ('{"chroma_blur": 8.0}') and _lr50 ('{"lr": 50.0}')
    "chroma4_blur2": {"chroma_blur": 4.0, "blur_sigma": 2.0, "blur_end": 0.5},
}
DEV = ["flamingo", "lemon", "tarantula", "strawberry"]


def main(argv=None) -> int:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pixel_r12   # the same loop, rows and contact sheets as round 12's; the library's pixel path as it is

    return pixel_r12.main(argv, variants=VARIANTS, base=BASE, dev=DEV, patch=False)


if __name__ == "__main__":
    raise SystemExit(main())
