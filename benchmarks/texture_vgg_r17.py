"""Round 17 (r17-texture): the quilt start's two untried levers, on round 15's runner.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/texture_vgg_r17.py run --out DIR hg2 hs2 ...
    PYTHONPATH=. python benchmarks/texture_vgg_r17.py verbatim --out DIR

``run``, ``sheet`` and ``stage`` are ``texture_vgg_r15.py``'s (every image saved as it is made), with this round's
variants added to its ``VARIANTS``:

* **heal only near the cuts** (``heal_band``): round 15's cut-quilt recipes (``q?6``: Gram + patch term at weight 10,
  stride 1, 20 iterations, one octave) with the gradient zero farther than ``heal_band - 1`` px from the quilt's
  cuts, so the cells' insides stay the source's pixels, bit for bit;
* **a lattice quilt for brick** (``quilt_period``, ``quilt_region``): squares only at source offsets congruent modulo
  the wall's column pitch (16 px at 256 px, :func:`vizlab.style.texture.source_period` of the upper middle of the
  photo: 16.4), from the upper middle of the photo (``region`` rows 0-140, columns 56-200), where the perspective
  leaves the long joints upright (their lean there: under 0.05 px per px; 0.10-0.14 at the sides).

``verbatim`` measures, for every variant of ``DIR/runs.jsonl`` that started from a cut quilt, how much of the saved
result is the source verbatim: the quilt is made again with the run's seed (the first draws of the run's generator)
and each result pixel (8-bit PNG) compared with the source pixel it was copied from.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import texture_vgg_r15 as r15  # noqa: E402

V = r15.VARIANTS
#: heal only near the cuts: 2 px either side of each cut (band 2), no feather; the same 20 iterations as q?6
for key, base in (("hb2", "qb5"), ("hg2", "qg6"), ("hs2", "qs6")):
    V[key] = (V[base][0], dict(V[base][1], heal_band=2))
    V[key + "f"] = (V[base][0], dict(V[base][1], heal_band=2, heal_feather=3))    # feathered over 3 more px
    V[key + "l"] = (V[base][0], dict(V[base][1], heal_band=2, steps=[60]))        # 60 iterations inside the band
for key, base in (("hb4", "qb5"), ("hg4", "qg6"), ("hs4", "qs6")):
    V[key] = (V[base][0], dict(V[base][1], heal_band=4))
#: the lattice quilt for brick (no healing: the start itself; then round 15's brick healing, then band-limited)
LATTICE = dict(quilt_period=(0, 16), quilt_region=(0, 140, 56, 200))
V["lb0"] = ("brick", dict(V["qb5"][1], steps=[0], **LATTICE))
V["lb5"] = ("brick", dict(V["qb5"][1], **LATTICE))
V["lb2"] = ("brick", dict(V["hb2"][1], **LATTICE))
V["lb2f"] = ("brick", dict(V["hb2f"][1], **LATTICE))
#: after looking at hg2/hs2 (the band grainy: bright specks and fine noise along every cut, a visible grid):
#: the total-variation term (round 15's lever against grain; from noise it flattened gravel and washed out brush,
#: but here the cells' insides cannot move) in the band, and a wider feathered band with it
for key, base in (("hg2", "qg6"), ("hs2", "qs6"), ("hb2", "qb5"), ("lb2", "qb5")):
    extra = LATTICE if key == "lb2" else {}
    V[key + "t"] = (V[base][0], dict(V[base][1], heal_band=2, tv_weight=1.0, **extra))
    V[key + "t3"] = (V[base][0], dict(V[base][1], heal_band=2, tv_weight=3.0, **extra))
    V[key + "tf"] = (V[base][0], dict(V[base][1], heal_band=3, heal_feather=2, tv_weight=1.0, **extra))
#: the lattice quilt from the upright middle only (columns 72-152 of 256, rows 0-150): the first region (columns
#: 56-200) still held joints leaning 0.05-0.07 px per px, and their lean made a jog at every row of cells (looked
#: at, three seeds, sheets of quilts alone); the narrow one kept them straight
LATTICE2 = dict(quilt_period=(0, 16), quilt_region=(0, 150, 72, 152))
V["mb0"] = ("brick", dict(V["qb5"][1], steps=[0], **LATTICE2))
V["mb5"] = ("brick", dict(V["qb5"][1], **LATTICE2))
V["mb2"] = ("brick", dict(V["hb2"][1], **LATTICE2))
V["mb2tf"] = ("brick", dict(V["hb2tf"][1], **LATTICE2))
#: after texture17-1/-2 (heal: brick 9, brush 9, gravel 8 of 10; raw quilts: 10, 9, 8; the tells: brick's short
#: bricks and broken joints at the cuts, the painting's "coherent dark centre with strokes around it" that 32-px
#: cells scramble, gravel "slightly smeared", guessing): 64-px cells (2 a side: fewer cuts, more of the source's
#: layout in each cell, more of the image copied), the same band healing; brick's region widened to hold a
#: 64 + 16 px square on the lattice (columns 64-176, rows 0-220; lean there under 0.05 px per px)
V["hg2t64"] = ("gravel", dict(V["hg2t"][1], quilt_block=64))
V["hs2f64"] = ("brush", dict(V["hs2f"][1], quilt_block=64))
V["mb2_64"] = ("brick", dict(V["mb2"][1], quilt_block=64, quilt_region=(0, 220, 64, 176)))
#: after texture17-3 (64-px cells healed in the band: gravel 4/10, all guessing; brush 10/10, all guessing, "strokes
#: flow together" in the photo; brick 10/10, "glitchy mortar" at the cuts): the brush's 64-px quilt unhealed (0
#: iterations: every pixel a source pixel), to see whether the band's healing is what gives the strokes away
V["qs0c64"] = ("brush", dict(V["hs2f64"][1], steps=[0]))
#: and gravel's 64-px quilt unhealed (is the band's healing what took gravel to chance in texture17-3/-4?)
V["qg0c64"] = ("gravel", dict(V["hg2t64"][1], steps=[0]))
#: the quilts themselves (0 iterations) for the sheets
for key, base in (("qb0c", "qb5"), ("qg0c", "qg6"), ("qs0c", "qs6")):
    V[key] = (V[base][0], dict(V[base][1], steps=[0]))


def _verbatim(args: argparse.Namespace) -> None:
    import torch
    from vizlab.images import load_image
    from vizlab.style import style_batch
    from vizlab.style.texture import quilt, seam_weights

    out = Path(args.out)
    rows = [json.loads(s) for s in (out / "runs.jsonl").read_text().splitlines()]
    results = []
    for r in rows:
        rec = r["recipe"]
        if rec.get("init") != "quilt" or rec.get("quilt_seams") != "cut":
            continue
        src = style_batch(None, r["texture"], rec["source_size"])
        period = tuple(rec["quilt_period"]) if rec.get("quilt_period") else None
        region = tuple(rec["quilt_region"]) if rec.get("quilt_region") else None
        img, origin = quilt(src, rec["size"], rec["quilt_block"], torch.Generator().manual_seed(r["seed"]),
                            seams="cut", period=period, region=region, return_origin=True)
        res = torch.from_numpy(load_image(out / f"{r['tag'][1:]}.png")).permute(2, 0, 1).float()
        copied = (src[0][:, origin[0], origin[1]] * 255).round()
        diff = (res * (255 if res.max() <= 1 else 1)).round() - copied
        same = (diff == 0).all(dim=0).float().mean().item()
        near = (diff.abs() <= 2).all(dim=0).float().mean().item()
        row = dict(name=r["name"], texture=r["texture"], verbatim=round(same, 4), within_2=round(near, 4),
                   mean_abs=round(diff.abs().mean().item(), 2), heal_band=rec.get("heal_band"),
                   iterations=r["iterations"])
        if rec.get("heal_band"):
            row["outside_band"] = round((seam_weights(origin, rec["heal_band"], rec.get("heal_feather", 0)) == 0)
                                        .float().mean().item(), 4)
        results.append(row)
        print(json.dumps(row), flush=True)
    (out / "verbatim.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "verbatim":
        p = argparse.ArgumentParser()
        p.add_argument("cmd")
        p.add_argument("--out", required=True)
        _verbatim(p.parse_args())
    else:
        r15.main()


if __name__ == "__main__":
    main()
