"""Copy the 5 round-9 dreams into the blind queue, shuffled (seed 924); the key stays here (key.json)."""
import json
import random
import shutil
import sys
from pathlib import Path

src = Path(sys.argv[1])                       # folder with c_<photo>.png from the dream run
photos = ["temple", "espresso", "rocket", "motorcycle", "flower"]
order = photos[:]
random.Random(924).shuffle(order)
dest = Path("/work/blind-queue/r9-dreams-objects/images")
dest.mkdir(parents=True, exist_ok=False)
key = {}
for i, p in enumerate(order):
    shutil.copy(src / f"c_{p}.png", dest / f"img{i:02d}.png")
    key[f"img{i:02d}"] = p
(Path(__file__).parent / "key.json").write_text(json.dumps(key, indent=1))
(dest.parent / "request.md").write_text(
    "Five pictures: images/img00.png ... images/img04.png.\n\n"
    "Question for the viewer: Describe in one or two sentences what you see in each picture, including anything "
    "in it that looks strange or added.\n\nAnswer format, one line per picture:\n"
    "img00: <your description>\nimg01: <your description>\n...\nimg04: <your description>\n")
print(key)
