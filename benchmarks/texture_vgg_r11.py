"""VGG-19 texture synthesis (issue 25, round 11): render syntheses, then a seeded two-alternative blind test.

Step 1, one process per texture and seed (they can run side by side, one thread each)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/texture_vgg_r11.py render --texture brick --seed 0 --out DIR

runs :func:`vizlab.style.texture.synthesize_texture_vgg` with the recipe below (``RECIPES[texture]``) and writes
``DIR/<texture>_s<seed>.png`` (the synthesis), and one JSON line per run to ``DIR/runs.jsonl``: the Gram distance
left (relative to a uniform-noise image's) and the spectrum distance to a source crop, the seconds, the load.

Step 2::

    python benchmarks/texture_vgg_r11.py pairs --out DIR --queue /work/blind-queue/NAME --key KEY.json --seed 11

cuts, for every synthesis, ``--tiles`` tiles of ``--tile`` px (the synthesis is periodic, so any window is a
texture) and as many random crops of the source at the same scale, pairs each tile with a crop, puts the photo
left or right by a seeded coin, shuffles the pairs, and writes ``QUEUE/images/imgNN.png`` (two tiles and a white
gap, nothing else), ``QUEUE/request.md`` (the question) and the key (kept out of the queue).

Step 3::

    python benchmarks/texture_vgg_r11.py score --key KEY.json --answers QUEUE/answers.md

counts the viewer's correct picks per texture and overall, with the two-sided binomial p against chance.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import time
from pathlib import Path

#: The texture recipes (source at ``source_size`` px, output ``size`` px). ``brush`` is the shipped painted
#: stroke artwork (data/styles/brush.png, 256 px): the painting texture.
RECIPES = {
    # Round 11's last recipes (request c; runs_r11_texture_c.jsonl): brick with the spectrum constraint at 3 and
    # long-range correlations (shifts across and down, in output pixels) at pool1-pool3; brush at 1.5x its PNG's
    # scale (bigger strokes for VGG), not histogram-matched (the default for colour sources since request c).
    # Request b had the same with steps [60, 30] (brick), [50, 30] (gravel) and [40, 60] plus PCA colour matching
    # (brush), and a gravel at 96 px from 384.
    "brick": dict(size=128, source_size=256, octaves=2, steps=[120, 80], spectrum_weight=3.0,
                  long_range_weight=5.0,
                  long_range={"pool1": [8, 16], "pool2": [8, 16, 32, 48], "pool3": [16, 32, 48]}),
    "gravel": dict(size=128, source_size=256, octaves=2, steps=[60, 60], spectrum_weight=0.3),
    "brush": dict(size=96, source_size=384, octaves=2, steps=[80, 160], spectrum_weight=0.0),
}
#: Round 12 (r12-texture): Risser et al.'s histogram loss on relu1_1 ... relu4_1 added; ``waves`` (the shipped
#: painted wave bands, data/styles/waves.png, stationary) as a second painting beside the non-stationary ``brush``.
#: ``render --round 12`` starts from these.
HIST = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
RECIPES_R12 = {
    "brick": dict(RECIPES["brick"], histogram_layers=HIST),
    "gravel": dict(size=128, source_size=256, octaves=2, steps=[80, 100], spectrum_weight=3.0, histogram_layers=HIST),
    "brush": dict(RECIPES["brush"], histogram_layers=HIST),
    "waves": dict(size=128, source_size=256, octaves=2, steps=[60, 80], spectrum_weight=0.3, histogram_layers=HIST),
}
#: Round 13 (r13-texture): round 11's last recipes (no histogram loss: round 12 found no gain) run for about a
#: thousand L-BFGS iterations (Gatys et al.'s budget; rounds 11-12 stopped at 140-240 because that was the
#: ``steps`` asked for, the loss still falling). Each ``step`` call of torch's L-BFGS now runs 10 iterations
#: (``texture.LBFGS_CHUNK``), which saves the extra evaluation every call makes: about 1.2 instead of 2 forward
#: and backward passes per iteration.
RECIPES_R13 = {
    "gravel": dict(RECIPES["gravel"], steps=[100, 900]),
    "brick": dict(RECIPES["brick"], steps=[300, 700]),
    "waves": dict(size=128, source_size=256, octaves=2, steps=[100, 900], spectrum_weight=0.3),
    "brush": dict(RECIPES["brush"], steps=[100, 900]),
}
#: Round 14 (r14-texture): Li & Wand (2016)'s patch-matching term (``patch_layers``: each 3 x 3 neighbourhood of
#: relu3_1 and relu4_1 pulled towards its nearest source patch; every second source patch down and across, for
#: the search's cost) at weight 3 on top of round 11's last recipes (brick keeps its spectrum and long-range
#: terms). The final octave asks for 400 iterations and is cut by the clock (``render`` under ``timeout -s INT``:
#: Ctrl-C returns the synthesis so far); the blind images are what the runs reached (runs_r14_texture.jsonl).
PATCH = dict(patch_layers=["relu3_1", "relu4_1"], patch_weight=3.0, patch_stride=2)
RECIPES_R14 = {texture: dict(RECIPES[texture], steps=[40, 400], **PATCH) for texture in ("brick", "gravel", "brush")}
ROUNDS = {11: RECIPES, 12: RECIPES_R12, 13: RECIPES_R13, 14: RECIPES_R14}
ALL_TEXTURES = sorted({*RECIPES, *RECIPES_R12})

#: Request a (round 11, first): the same for gravel; brick spectrum 1.0 without long-range terms, brush 128 px
#: from the 256-px PNG with spectrum 0.3 and per-RGB-channel histogram matching.
RECIPES_A = {
    "brick": dict(size=128, source_size=256, octaves=2, steps=[50, 30], spectrum_weight=1.0),
    "gravel": dict(size=128, source_size=256, octaves=2, steps=[50, 30], spectrum_weight=0.3),
    "brush": dict(size=128, source_size=256, octaves=2, steps=[50, 30], spectrum_weight=0.3),
}

QUESTION = """Each image shows two square tiles side by side, separated by a white gap. In every image, one tile
is a crop of an original image (a photograph, or a painting) and the other tile was generated by a computer
program that imitates it. Look at each image only briefly (a glance, a few seconds), then say which tile is the
original, and how sure you are (1 = guessing, 2 = leaning, 3 = sure).

Answer one line per image, in this exact format:

img00: left 2
img01: right 1
...
"""


def _render(args: argparse.Namespace) -> None:
    import torch
    from vizlab.images import save_image
    from vizlab.style import style_batch
    from vizlab.style.texture import (TextureNet, _crop, spectrum_distance, synthesize_texture_vgg,
                                      texture_gram_distance)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    recipe = dict(ROUNDS[args.round][args.texture])
    if args.recipe:
        recipe.update(json.loads(args.recipe))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net = TextureNet()
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    size = recipe["size"]
    src = style_batch(None, args.texture, recipe["source_size"])
    noise = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(args.seed))
    noise_gram = texture_gram_distance(net, noise, src)
    snap = _Snapshots(args, src, net, noise_gram, out) if args.snap_every else None

    def callback(k: int, s: int, loss: float) -> None:
        if s % 10 == 0:
            print(f"octave {k} step {s} loss {loss:.4f} ({time.perf_counter() - t:.0f} s)", flush=True)
        if snap is not None and k == recipe["octaves"] - 1 and s % args.snap_every == 0:
            snap(s, time.perf_counter() - t)

    r = synthesize_texture_vgg(args.texture, net=net, seed=args.seed, **recipe, callback=callback)
    gram = texture_gram_distance(net, r.image, src) / noise_gram
    spec = spectrum_distance(r.image, _crop(src, size))
    save_image(r.image[0], out / f"{args.texture}_s{args.seed}{args.tag}.png")
    # no history: the clock's Ctrl-C came before the first chunk ended
    patch = round(r.history[-1].get("patch", 0.0), 4) if r.history else None
    row = dict(texture=args.texture, seed=args.seed, tag=args.tag, recipe=recipe, gram_left=round(gram, 4),
               spectrum_distance=round(spec, 4), patch_loss=patch,
               iterations=r.steps, stopped=r.stopped,
               seconds=round(r.seconds, 1),
               load=[round(load0, 1), round(os.getloadavg()[0], 1)])
    print(json.dumps(row), flush=True)
    with open(out / "runs.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


class _Snapshots:
    """Round 13: every ``--snap-every`` iterations of the last octave, save the synthesis as it stands (finished as
    :func:`synthesize_texture_vgg` finishes it: clamped, a gray source histogram-matched) to
    ``<texture>_s<seed><tag>_it<N>.png`` and log its Gram distance left. The pixels are read from torch's L-BFGS,
    which holds them as its only parameter (benchmark instrumentation, not library API)."""

    def __init__(self, args, src, net, noise_gram, out):
        import torch

        self.args, self.src, self.net, self.noise_gram, self.out = args, src, net, noise_gram, out
        self.params: list = []
        base = torch.optim.LBFGS
        params = self.params

        class Recording(base):  # type: ignore[misc, valid-type]
            def __init__(self, p, *a, **kw):
                p = list(p)
                params[:] = p
                super().__init__(p, *a, **kw)

        torch.optim.LBFGS = Recording  # this process only: it renders one texture and exits

    def __call__(self, step: int, seconds: float) -> None:
        from vizlab.images import save_image
        from vizlab.style.texture import _finished, texture_gram_distance

        img = _finished(self.params[0], self.src)
        gram = texture_gram_distance(self.net, img, self.src) / self.noise_gram
        a = self.args
        save_image(img[0], self.out / f"{a.texture}_s{a.seed}{a.tag}_it{step}.png")
        row = dict(texture=a.texture, seed=a.seed, tag=a.tag, last_octave_step=step, gram_left=round(gram, 5),
                   seconds=round(seconds, 1), load=round(os.getloadavg()[0], 1))
        print(json.dumps(row), flush=True)
        with open(self.out / "snapshots.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


def _pairs(args: argparse.Namespace) -> None:
    import torch
    from vizlab.images import load_image, save_image
    from vizlab.style import style_batch

    rng = random.Random(args.seed)
    src_dir = Path(args.out)
    # Each synthesis's recipe (its source scale) as its render recorded it.
    runs = {f"{r['texture']}_s{r['seed']}{r['tag']}.png": r["recipe"]
            for r in map(json.loads, (src_dir / "runs.jsonl").read_text().splitlines())} \
        if (src_dir / "runs.jsonl").exists() else {}
    items = []
    for path in sorted(src_dir.glob("*_s*.png")):
        m = re.fullmatch(r"([a-z]+)_s(\d+)(.*)\.png", path.name)
        if not m or m.group(1) not in ALL_TEXTURES or (args.tag and m.group(3) != args.tag):
            continue
        texture = m.group(1)
        recipe = runs.get(path.name, RECIPES.get(texture, RECIPES_R12.get(texture)))
        synth = torch.from_numpy(load_image(path)).permute(2, 0, 1)[None].float()
        src = style_batch(None, texture, recipe["source_size"])
        t = args.tile
        for j in range(args.tiles):
            # The synthesis is periodic (circular padding): a window that wraps round is as good as any.
            sy, sx = rng.randrange(synth.shape[-2]), rng.randrange(synth.shape[-1])
            cy, cx = rng.randrange(src.shape[-2] - t + 1), rng.randrange(src.shape[-1] - t + 1)
            window = torch.roll(synth, shifts=(-sy, -sx), dims=(2, 3))[..., :t, :t]
            items.append(dict(texture=texture, synthesis=path.name, recipe=recipe, synth_xy=[sx, sy],
                              crop_xy=[cx, cy], tiles=(window, src[..., cy:cy + t, cx:cx + t])))
    rng.shuffle(items)
    queue = Path(args.queue)
    (queue / "images").mkdir(parents=True, exist_ok=False)
    key = {}
    for i, it in enumerate(items):
        synth_tile, crop = it.pop("tiles")
        photo_left = rng.random() < 0.5
        gap = torch.ones(1, 3, args.tile, 8)
        row = [crop, gap, synth_tile] if photo_left else [synth_tile, gap, crop]
        img = torch.cat(row, dim=-1)[0]
        if args.scale != 1:
            img = torch.nn.functional.interpolate(img[None], scale_factor=args.scale, mode="nearest")[0]
        name = f"img{i:02d}"
        save_image(img, queue / "images" / f"{name}.png")
        key[name] = dict(it, original="left" if photo_left else "right")
    (queue / "request.md").write_text(QUESTION)
    Path(args.key).write_text(json.dumps(dict(seed=args.seed, tile=args.tile, scale=args.scale, pairs=key), indent=1))
    print(f"{len(key)} pairs -> {queue}/images; key {args.key}")


def binomial_p(k: int, n: int) -> float:
    """Two-sided exact binomial p-value of ``k`` successes in ``n`` trials against chance (1/2)."""
    probs = [math.comb(n, i) / 2 ** n for i in range(n + 1)]
    return min(1.0, sum(p for p in probs if p <= probs[k] * (1 + 1e-9)))


def _score(args: argparse.Namespace) -> None:
    key = json.loads(Path(args.key).read_text())["pairs"]
    answers = {m.group(1): (m.group(2).lower(), int(m.group(3)) if m.group(3) else None)
               for m in re.finditer(r"(img\d+)\W+(left|right)\W*(\d)?", Path(args.answers).read_text(), re.I)}
    per: dict[str, list] = {}
    for name, row in sorted(key.items()):
        if name not in answers:
            print(f"{name}: no answer")
            continue
        pick, sure = answers[name]
        per.setdefault(row["texture"], []).append((pick == row["original"], sure))
    total = [c for rows in per.values() for c in rows]
    out = {}
    for texture, rows in [*sorted(per.items()), ("all", total)]:
        k, n = sum(c for c, _ in rows), len(rows)
        sure_right = sum(1 for c, s in rows if c and s == 3)
        out[texture] = dict(correct=k, n=n, p=round(binomial_p(k, n), 4), sure_and_right=sure_right,
                            mean_sureness=round(sum(s or 0 for _, s in rows) / max(n, 1), 2))
        print(f"{texture}: photo picked {k}/{n} (two-sided binomial p = {binomial_p(k, n):.3f}); "
              f"sure (3) and right {sure_right}; mean sureness {out[texture]['mean_sureness']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("render")
    p.add_argument("--texture", required=True, choices=ALL_TEXTURES)
    p.add_argument("--round", type=int, default=11, choices=sorted(ROUNDS),
                   help="whose recipes: round 11's, 12's, 13's or 14's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--tag", default="", help="suffix of the file name (a recipe variant)")
    p.add_argument("--recipe", default="", help="JSON overrides of RECIPES[texture]")
    p.add_argument("--snap-every", type=int, default=0, help="save the last octave every N iterations (round 13)")
    p.set_defaults(fn=_render)
    p = sub.add_parser("pairs")
    p.add_argument("--out", required=True, help="the render folder")
    p.add_argument("--tag", default="", help="only the syntheses with this suffix (default: all)")
    p.add_argument("--queue", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--tile", type=int, default=96)
    p.add_argument("--tiles", type=int, default=2, help="tiles per synthesis")
    p.add_argument("--scale", type=float, default=2.0, help="nearest-neighbour enlargement of the pair image")
    p.add_argument("--seed", type=int, default=11)
    p.set_defaults(fn=_pairs)
    p = sub.add_parser("score")
    p.add_argument("--key", required=True)
    p.add_argument("--answers", required=True)
    p.add_argument("--json", default="")
    p.set_defaults(fn=_score)
    args = parser.parse_args()
    if args.cmd == "render" and args.texture not in ROUNDS[args.round]:
        parser.error(f"round {args.round} has no recipe for --texture {args.texture!r}; "
                     f"it has {sorted(ROUNDS[args.round])}")
    args.fn(args)


if __name__ == "__main__":
    main()
