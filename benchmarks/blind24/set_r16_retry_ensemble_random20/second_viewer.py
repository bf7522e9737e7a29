"""A second fresh viewer on a set's images: the same PNGs renamed in a fresh shuffle into a new queue folder, and a
key whose rows carry ``renamed_from`` (the viewer changes, the images do not).

    python second_viewer.py SET_DIR QUEUE_DIR OUT_SET_DIR SHUFFLE_SEED
"""
import json
import random
import shutil
import sys
from pathlib import Path

src, queue, out, seed = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
key = json.loads((src / "key.json").read_text())
entries = sorted(key["entries"], key=lambda e: e["image"])
order = list(range(len(entries)))
random.Random(seed).shuffle(order)
(queue / "images").mkdir(parents=True, exist_ok=False)
out.mkdir(parents=True, exist_ok=True)
rows = []
for slot, j in enumerate(order):
    e = dict(entries[j])
    name = f"img{slot:02d}.png"
    shutil.copyfile(src / "images" / e["image"], queue / "images" / name)
    rows.append(dict(e, image=name, renamed_from=e["image"]))
(out / "key.json").write_text(json.dumps(dict(folder=str(queue / "images"), images_of=str(src), entries=rows),
                                         indent=1))
