"""Lite0's p of the class on a blind set's PNGs, at the 128-px view and at 224 px, and its top 3 at the view
(issue 24 round 13's diagnosis). Run from the repository root:

    python benchmarks/blind24/r13_dev/view_p.py benchmarks/blind24/set_r12_retry_random20 OUT.json
"""
import json
import sys

import torch

import vizlab
from vizlab.images import load_image
from vizlab.inside.features import resize_batch

torch.set_num_threads(1)
folder, out_path = sys.argv[1].rstrip("/") + "/", sys.argv[2]
model = vizlab.load_model()
out = []
for e in json.load(open(folder + "key.json"))["entries"]:
    x = torch.from_numpy(load_image(folder + "images/" + e["image"])).permute(2, 0, 1)[None].float()
    t = e["target"]
    with torch.no_grad():
        view = model(resize_batch(x, 128)).softmax(1)[0]
        full = model(x).softmax(1)[0]
    row = dict(cls=e["cls"], image=e["image"], p_view=float(view[t]), p224=float(full[t]), lite2=e["lite2_rank"],
               cpu=e["cpu_seconds"], top_view=[model.categories[i] for i in view.topk(3).indices])
    out.append(row)
    print(row, flush=True)
json.dump(out, open(out_path, "w"), indent=1)
