"""Render notebook 06's head_conv dreams (lecture profile) for the blind test of RULES.md, shuffled, untitled.

    python benchmarks/blind24/set_r20_head_dreams/render.py OUT_IMAGES_FOLDER [--plain]

Writes OUT/img00.png ... img04.png (256 px, the dream alone) and, beside this script, ``key.json`` (or
``key_plain.json``): image -> photo, seconds, and Lite2's animal mass and top-3 (for the report, not shown to the
viewer). ``--plain``: the notebook's plain step instead of ``opt.HEAD_DREAM`` (shuffle seed 2002); ``--vgg``: the
notebook's VGG-19 dream, ``opt.VGG_DREAM`` at 224 px (shuffle seed 2003).
"""
import json
import random
import sys
import time
from pathlib import Path

import torch

import vizlab
from vizlab import optimize as opt
from vizlab.images import save_image

torch.set_num_threads(1)
PHOTOS = ["temple", "espresso", "rocket", "motorcycle", "flower"]
SIZE, OCTAVES, STEPS = 256, 4, 30            # notebook 06's lecture profile
plain, vgg = "--plain" in sys.argv, "--vgg" in sys.argv
out = Path([a for a in sys.argv[1:] if not a.startswith("--")][0])
out.mkdir(parents=True, exist_ok=True)
order = PHOTOS[:]
random.Random(2003 if vgg else 2002 if plain else 2001).shuffle(order)
model, judge = vizlab.load_model("vgg19_normalised" if vgg else "efficientnet_lite0"), vizlab.load_judge()
for p in model.parameters():
    p.requires_grad_(False)
key_path = Path(__file__).parent / ("key_vgg.json" if vgg else "key_plain.json" if plain else "key.json")
key = {}
for i, name in enumerate(order):
    photo = model.to_input(name, 224 if vgg else SIZE)
    t0 = time.perf_counter()
    if vgg:
        d = opt.deepdream(model, photo, **opt.VGG_DREAM, progress=False)
    elif plain:
        d = opt.deepdream(model, photo, "head_conv", octaves=OCTAVES, steps=STEPS, octave_scale=1.4, step_size=0.02,
                          detail_blur=0.7, progress=False)
    else:
        d = opt.deepdream(model, photo, "head_conv", octaves=OCTAVES, steps=STEPS, **opt.HEAD_DREAM, progress=False)
    seconds = time.perf_counter() - t0
    save_image(d.image[0], out / f"img{i:02d}.png")
    key[f"img{i:02d}"] = dict(photo=name, seconds=round(seconds, 1),
                              lite2_animal_mass_photo=round(opt.class_mass(judge, photo), 4),
                              lite2_animal_mass_dream=round(opt.class_mass(judge, d.image), 4),
                              lite2_top3_dream=judge.predict(d.image, k=3))
    key_path.write_text(json.dumps(key, indent=1, default=str))
    print(f"img{i:02d}", key[f"img{i:02d}"], flush=True)
