"""Usage: python benchmarks/style_quick_heldout_r15.py OUT.jsonl

Held-out check of notebook 07's quick-table settings (review finding 6): the same per-style settings on photos
the table was not tuned on. One thread, seed 0."""
import json, sys, time
from vizlab.style.quality import transfer_grid
QUICK = {"swirls": dict(style_scale=1.0, content_weight=6), "brush": dict(style_scale=1.0, content_weight=8),
         "impression": dict(style_scale=1.0, content_weight=8), "waves": dict(style_scale=2.0, content_weight=8)}
t = time.process_time()
recs = transfer_grid(QUICK, ["astronaut", "temple", "grace_hopper"], size=128, steps=60, style_weight=30, seed=0)
rows = [dict(style=r.style, photo=r.photo, cls=r.photo_class, fall=round(r.fall, 4), rank=r.rank) for r in recs]
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
print("cpu s", time.process_time() - t)
