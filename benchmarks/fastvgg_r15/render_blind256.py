"""Round 15's 256-px blind check of the default fast-style networks (issue 25 item 4): the six held-out photos
through `swirls` and `impression` (both VGG-19-trained, the defaults) at 256 px on the short side, shuffled.

    python benchmarks/fastvgg_r15/render_blind256.py OUT_FOLDER KEY.json   # OUT_FOLDER gets img00.png ... only
"""
import json
import random
import sys

import torch
from torchvision.utils import save_image

from vizlab.images import load_image
from vizlab.style.transformer import HELD_OUT, load_transformer, stylize

out_dir, key_file = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
items = [(net, p) for net in ("swirls", "impression") for p in HELD_OUT]
random.Random(1501).shuffle(items)
nets = {n: load_transformer(n, device="cpu") for n in ("swirls", "impression")}
key = {}
for i, (net, photo) in enumerate(items):
    with torch.no_grad():
        out = stylize(nets[net], load_image(photo), size=256)
    name = f"img{i:02d}.png"
    save_image(out, f"{out_dir}/{name}")
    key[name] = {"network": net, "photo": photo, "size": list(out.shape[-2:])}
with open(key_file, "w") as f:
    json.dump(key, f, indent=1)
