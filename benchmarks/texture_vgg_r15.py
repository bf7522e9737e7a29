"""Round 15 (r15-texture): a tuning grid for the VGG-19 texture synthesis's patch term, run one variant after
another in one process, every image saved as it is made.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/texture_vgg_r15.py run --out DIR b_w3 g_w3 ...
    python benchmarks/texture_vgg_r15.py sheet --out DIR --texture brick [--names ...]

``run`` synthesises each named variant of :data:`VARIANTS` (``synthesize_texture_vgg`` with that recipe, seed 0
unless ``--seed``) and writes ``DIR/<name>.png`` (the result), ``DIR/<name>_it<N>.png`` every ``--snap-every``
iterations of the last octave, and one JSON line per snapshot (``snapshots.jsonl``) and per finished variant
(``runs.jsonl``, in the format of ``texture_vgg_r11.py``'s renders, so its ``pairs`` and ``score`` commands work
on the folder): the Gram distance left (relative to a uniform-noise image's), the spectrum distance, the patch
loss at relu3_1/relu4_1 against the whole source (stride 2), seconds, load. A variant whose ``<name>.png``
exists is skipped (a killed run resumes with the next one).

``stage --to STAGE DIR:NAME ...`` copies chosen variants under ``texture_vgg_r11.py``'s names, for its ``pairs``
(the blind pairs) and ``score`` commands.

``sheet`` writes ``DIR/sheet_<texture>.png``: per variant a row of a random crop of the source at the
synthesis's scale, the synthesis, and a second source crop, each 2x (nearest), with the variant's name.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
import sys  # noqa: E402

sys.path.insert(0, str(HERE))
from texture_vgg_r11 import RECIPES  # noqa: E402

PATCH = dict(patch_layers=["relu3_1", "relu4_1"], patch_weight=3.0, patch_stride=2)
#: round 14's recipes (RECIPES_R14) with the fine octave's iterations fixed (snapshots show where they flatten);
#: 100 fine iterations (``b_w3`` ran 200: its snapshots at 50-200 show where the others would go)
BRICK = dict(RECIPES["brick"], steps=[60, 100], **PATCH)
GRAVEL = dict(RECIPES["gravel"], steps=[60, 100], **PATCH)
#: brush at the PNG's own 256 px (round 11-14 used 384, whose 96-px crops hold one or two hues): a 128-px synthesis
BRUSH = dict(size=128, source_size=256, octaves=2, steps=[60, 100], spectrum_weight=0.0, **PATCH)

VARIANTS = {
    # noise start (the synthesis proper)
    "b_w3": ("brick", BRICK),
    "b_w10": ("brick", dict(BRICK, patch_weight=10.0)),
    "b_oct3": ("brick", dict(BRICK, octaves=3, steps=[100, 60, 100])),
    "b_w1": ("brick", dict(BRICK, patch_weight=1.0)),
    "g_w3": ("gravel", GRAVEL),
    # relu2_1 at stride 1 (the brief's ask) costs about 150 GFLOP per evaluation for its nearest-neighbour search
    # alone (4096 positions x 15876 source patches x 1152 values): stride 2 and 60 fine iterations instead
    "g_r2": ("gravel", dict(GRAVEL, patch_layers=["relu2_1", "relu3_1", "relu4_1"], steps=[60, 60])),
    "g_w10": ("gravel", dict(GRAVEL, patch_weight=10.0)),
    "s_w3": ("brush", BRUSH),
    "s_w10": ("brush", dict(BRUSH, patch_weight=10.0)),
    "s384_w3": ("brush", dict(RECIPES["brush"], steps=[60, 100], **PATCH)),
    # every source patch in the bank (stride 1; relu3_1/relu4_1 only), weight 10
    "b_w10s1": ("brick", dict(BRICK, patch_weight=10.0, patch_stride=1)),
    "g_w10s1": ("gravel", dict(GRAVEL, patch_weight=10.0, patch_stride=1)),
    # and the total-variation term that took the grain out of the patch-start brick (qb4)
    "b_w10s1tv": ("brick", dict(BRICK, patch_weight=10.0, patch_stride=1, tv_weight=1.0)),
}
#: the patch start (``init="quilt"``: a periodic quilt of rearranged source patches, 32-px cells, then the same
#: losses at the final size only): NOT a synthesis from noise; ``q*0`` are the quilts themselves (0 iterations)
QUILT = dict(init="quilt", quilt_block=32, quilt_seams="blend", octaves=1, steps=[60])
for key, (texture, recipe) in list(VARIANTS.items()):
    if key in ("b_w3", "g_w3", "s_w3"):
        VARIANTS[f"q{key[0]}"] = (texture, dict(recipe, **QUILT))
        VARIANTS[f"q{key[0]}0"] = (texture, dict(recipe, **dict(QUILT, steps=[0])))
#: the patch start with the Gram and patch terms only (no spectrum constraint, no long-range terms: from a quilt,
#: brick's spectrum weight 3 and long-range weight 5 broke its joints within 50 iterations, qb), the patch term at
#: weight 10 over every source patch (stride 1: at stride 2 three in four of the quilt's own verbatim patches have
#: no exact partner in the bank and are pulled off)
QUILT2 = dict(QUILT, spectrum_weight=0.0, patch_layers=["relu3_1", "relu4_1"], patch_weight=10.0, patch_stride=1)
for key, texture in (("qb2", "brick"), ("qg2", "gravel"), ("qs2", "brush")):
    VARIANTS[key] = (texture, dict(size=128, source_size=256, **QUILT2))
    #: after the blind request on q*2 (the original picked 30/30; the viewer: "muddy, blended strokes", "broken-up,
    #: busy stones", "noisy grain inside the bricks"): one lever each, the quilt's squares cut along the least-error
    #: path instead of cross-faded (q*3; q*30 the cut quilt itself), and then a total-variation term against the
    #: grain (q*4)
    VARIANTS[key[:2] + "3"] = (texture, dict(VARIANTS[key][1], quilt_seams="cut"))
    VARIANTS[key[:2] + "30"] = (texture, dict(VARIANTS[key][1], quilt_seams="cut", steps=[0]))
    VARIANTS[key[:2] + "4"] = (texture, dict(VARIANTS[key][1], quilt_seams="cut", tv_weight=1.0))
    #: and fewer iterations (the 60 of q*3/q*4 made the cut quilt busier and softer than it started: 20 may heal
    #: the cuts before that)
    VARIANTS[key[:2] + "5"] = (texture, dict(VARIANTS[key][1], quilt_seams="cut", tv_weight=1.0, steps=[20]))
    #: tv_weight 1 flattened gravel's stones to cartoon facets and washed out brush's contrast (q*4): 20
    #: iterations without it
    VARIANTS[key[:2] + "6"] = (texture, dict(VARIANTS[key][1], quilt_seams="cut", steps=[20]))
#: after the second blind request (brick 1/10, gravel 5/10, brush 10/10: "blurry and mushy next to crisp brush
#: strokes"): brush with its colours matched along the source's principal axes at the end (contrast back), and
#: with 5 iterations
VARIANTS["qs7"] = ("brush", dict(VARIANTS["qs6"][1], match_colors=True))
VARIANTS["qs8"] = ("brush", dict(VARIANTS["qs6"][1], steps=[5]))
#: after the third (brick 0/10 and 1/10 in the second: both viewers saw the quilt's long joints curve or slant
#: where the photo's are straight, and took the wrong side): 64-px cells (fewer joins for the slant to drift at)
VARIANTS["qb7"] = ("brick", dict(VARIANTS["qb5"][1], quilt_block=64))
#: and gravel (9/10 in the third: "crisper, more separate stones" picked): 5 iterations, less time to mud its start
VARIANTS["qg8"] = ("gravel", dict(VARIANTS["qg6"][1], steps=[5]))


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _run(args: argparse.Namespace) -> None:
    import torch
    from vizlab.images import save_image
    from vizlab.style import style_batch
    from vizlab.style.texture import (PatchBank, TextureNet, _crop, _finished, _patch_loss, spectrum_distance,
                                      synthesize_texture_vgg, texture_gram_distance)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net = TextureNet()
    params: list = []
    base = torch.optim.LBFGS

    class Recording(base):  # type: ignore[misc, valid-type]
        """Remembers the pixels L-BFGS optimises, for the snapshots (benchmark instrumentation)."""

        def __init__(self, p, *a, **kw):
            p = list(p)
            params[:] = p
            super().__init__(p, *a, **kw)

    torch.optim.LBFGS = Recording  # this process only

    for name in args.names:
        texture, recipe = VARIANTS[name]
        recipe = dict(recipe, **json.loads(args.recipe)) if args.recipe else dict(recipe)
        tag = f"{name}{args.tag}"
        if (out / f"{tag}.png").exists():
            print(f"{tag}: done before, skipped", flush=True)
            continue
        size = recipe["size"]
        src = style_batch(None, texture, recipe["source_size"])
        noise = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(args.seed))
        noise_gram = texture_gram_distance(net, noise, src)
        with torch.no_grad():
            fsrc = net(src, ["relu3_1", "relu4_1"])
            banks = {n: PatchBank(fsrc[n], 3, 2) for n in fsrc}

        def patch_left(img: torch.Tensor) -> float:
            with torch.no_grad():
                f = net(img, list(banks))
                return float(sum(_patch_loss(f[n], b) for n, b in banks.items()) / len(banks))

        t = time.perf_counter()
        load0 = _load()
        last = recipe["octaves"] - 1

        def callback(k: int, s: int, loss: float, name=name, tag=tag, src=src, noise_gram=noise_gram) -> None:
            if k == last and s % args.snap_every == 0:
                img = _finished(params[0], src)
                row = dict(name=name, tag=tag, step=s, loss=round(loss, 5),
                           gram_left=round(texture_gram_distance(net, img, src) / noise_gram, 5),
                           patch=round(patch_left(img), 4), seconds=round(time.perf_counter() - t, 1), load=_load())
                save_image(img[0], out / f"{tag}_it{s}.png")
                print(json.dumps(row), flush=True)
                with open(out / "snapshots.jsonl", "a") as f:
                    f.write(json.dumps(row) + "\n")

        r = synthesize_texture_vgg(texture, net=net, seed=args.seed, **recipe, callback=callback)
        save_image(r.image[0], out / f"{tag}.png")
        # the same file under texture_vgg_r11.py's naming (``pairs`` cuts tiles from ``<texture>_s<seed><tag>.png``)
        row = dict(name=name, texture=texture, seed=args.seed, tag=f"_{tag}", recipe=recipe,
                   gram_left=round(texture_gram_distance(net, r.image, src) / noise_gram, 5),
                   spectrum_distance=round(spectrum_distance(r.image, _crop(src, size)), 4),
                   patch_loss=round(patch_left(r.image), 4), iterations=r.steps, stopped=r.stopped,
                   seconds=round(r.seconds, 1), load=[load0, _load()],
                   loss_curve=[round(h["total"], 5) for h in r.history[-recipe["steps"][-1]::25]]
                   if isinstance(recipe["steps"], list) else None)
        print(json.dumps(row), flush=True)
        with open(out / "runs.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


def _sheet(args: argparse.Namespace) -> None:
    import random

    import torch
    import torch.nn.functional as F
    from PIL import Image, ImageDraw
    from vizlab.images import load_image
    from vizlab.style import style_batch

    out = Path(args.out)
    rows = [dict(json.loads(s), folder=folder) for folder in [out, *map(Path, args.also)]
            for s in (folder / "runs.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["texture"] == args.texture and (not args.names or r["name"] in args.names)]
    if args.names:
        rows.sort(key=lambda r: args.names.index(r["name"]))
    rng = random.Random(args.seed)
    tiles = []
    for r in rows:
        png = r["folder"] / f"{r['tag'][1:]}.png"
        synth = torch.from_numpy(load_image(png)).permute(2, 0, 1)[None].float()
        size = synth.shape[-1]
        src = style_batch(None, r["texture"], r["recipe"]["source_size"])
        crops = []
        for _ in range(2):
            y, x = rng.randrange(src.shape[-2] - size + 1), rng.randrange(src.shape[-1] - size + 1)
            crops.append(src[..., y:y + size, x:x + size])
        gap = torch.ones(1, 3, size, 6)
        row = torch.cat([crops[0], gap, synth, gap, crops[1]], dim=-1)
        tiles.append((r, F.interpolate(row, scale_factor=args.scale, mode="nearest")[0]))
    width = max(t.shape[-1] for _, t in tiles)
    label_h = 14
    canvas = Image.new("RGB", (width, sum(t.shape[-2] + label_h + 6 for _, t in tiles)), "white")
    draw = ImageDraw.Draw(canvas)
    y = 0
    for r, t in tiles:
        draw.text((2, y), f"{r['name']}{r['tag'][len(r['name']) + 1:]}: source | synthesis | source   "
                  f"gram {r['gram_left']} patch {r['patch_loss']} its {r['iterations']}", fill="black")
        arr = (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        canvas.paste(Image.fromarray(arr), (0, y + label_h))
        y += t.shape[-2] + label_h + 6
    path = out / f"sheet_{args.texture}{args.suffix}.png"
    canvas.save(path)
    if args.jpg:
        canvas.save(args.jpg, quality=88)
    print(path)


def _stage(args: argparse.Namespace) -> None:
    """Copy the chosen variants into a folder under ``texture_vgg_r11.py``'s names (``<texture>_s<seed>_<name>.png``
    and their ``runs.jsonl`` rows), for its ``pairs`` command."""
    import shutil

    to = Path(args.to)
    to.mkdir(parents=True, exist_ok=True)
    rows = []
    for folder, name in (item.split(":") for item in args.items):
        row = next(r for r in map(json.loads, (Path(folder) / "runs.jsonl").read_text().splitlines())
                   if r["name"] == name)
        shutil.copy(Path(folder) / f"{name}.png", to / f"{row['texture']}_s{row['seed']}{row['tag']}.png")
        rows.append(json.dumps(row))
    (to / "runs.jsonl").write_text("\n".join(rows) + "\n")
    print(f"{len(rows)} syntheses -> {to}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("names", nargs="+", choices=sorted(VARIANTS))
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="", help="suffix of the file names (a recipe override)")
    p.add_argument("--recipe", default="", help="JSON overrides of the variant's recipe")
    p.add_argument("--snap-every", type=int, default=50)
    p.set_defaults(fn=_run)
    p = sub.add_parser("sheet")
    p.add_argument("--out", required=True)
    p.add_argument("--texture", required=True)
    p.add_argument("--names", nargs="*", default=[])
    p.add_argument("--suffix", default="")
    p.add_argument("--also", nargs="*", default=[], help="more run folders")
    p.add_argument("--scale", type=int, default=2, help="nearest-neighbour enlargement")
    p.add_argument("--jpg", default="", help="also write the sheet as this JPEG (quality 88)")
    p.add_argument("--seed", type=int, default=15)
    p.set_defaults(fn=_sheet)
    p = sub.add_parser("stage")
    p.add_argument("items", nargs="+", help="FOLDER:NAME of each synthesis")
    p.add_argument("--to", required=True)
    p.set_defaults(fn=_stage)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
