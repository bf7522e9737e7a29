#!/usr/bin/env python3
"""Round 19 (r19-ceiling): real ImageNet photos for a blind viewer, the ceiling the class images are read against.

foolbox 3.3.4's wheel ships twenty labelled ImageNet validation photos (``foolbox/data/imagenet_NN_CLASS.jpg``,
the class index after the second underscore; class 609, jeep, twice). Their licences are unknown, so the photos are
not committed: this script gets the wheel with pip (``pip download foolbox==3.3.4 --no-deps``, nothing installed),
takes the photos out of it, scales each so its shorter side is 224 px, centre-crops 224 x 224, and saves them
untitled and shuffled as ``img00.png ...`` into the viewer's folder; the key (class, source file, Lite2's ranks on
the crop) goes outside that folder, in the layout of ``blind.py render`` (recipe ``"photo"``), so that ``blind.py
score`` and ``blind.py reshuffle`` work on it unchanged::

    python benchmarks/blind24/set_r19_ceiling_photos/photos.py --out /work/blind-queue/r19ceiling-1/images \
        --key benchmarks/blind24/set_r19_ceiling_photos/key.json --seed 1901
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

VERSION = "3.3.4"
SIDE = 224


def wheel(cache: Path) -> Path:
    """The foolbox wheel in ``cache`` (downloaded with pip if it is not there yet)."""
    found = sorted(cache.glob(f"foolbox-{VERSION}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", f"foolbox=={VERSION}", "--no-deps", "-d",
                        str(cache)], check=True)
        found = sorted(cache.glob(f"foolbox-{VERSION}-*.whl"))
    return found[0]


def photos(whl: Path) -> list[tuple[str, int, bytes]]:
    """``(file name, class index, JPEG bytes)`` of every ImageNet photo in the wheel, in file-name order."""
    out = []
    with zipfile.ZipFile(whl) as z:
        for name in sorted(z.namelist()):
            m = re.fullmatch(r"foolbox/data/(imagenet_\d+_(\d+)\.jpg)", name)
            if m:
                out.append((m.group(1), int(m.group(2)), z.read(name)))
    return out


def centre_crop(data: bytes, side: int = SIDE):
    """The photo scaled (shorter side ``side``, Lanczos) and centre-cropped to ``side`` x ``side``, RGB."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = img.size
    s = side / min(w, h)
    img = img.resize((max(side, round(w * s)), max(side, round(h * s))), Image.LANCZOS)
    w, h = img.size
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side)), (w, h)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the viewer's folder (images only)")
    parser.add_argument("--key", required=True, help="the key (JSON), outside that folder")
    parser.add_argument("--seed", type=int, required=True, help="seed of the shuffle")
    parser.add_argument("--cache", default="/tmp/r19_foolbox", help="where the wheel is kept (not the repository)")
    parser.add_argument("--no-proxies", action="store_true", help="leave Lite2's ranks out of the key")
    args = parser.parse_args(argv)
    out, key_path = Path(args.out), Path(args.key)
    if key_path.resolve().is_relative_to(out.resolve()):
        raise SystemExit("the key must not be inside the viewer's folder")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("img*.png")):
        raise SystemExit(f"{out} already has images: use a fresh folder for a fresh viewer")
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    whl = wheel(cache)
    found = photos(whl)
    if not found:
        raise SystemExit(f"{whl.name} holds no ImageNet photos")

    import torch

    import vizlab
    from vizlab.images import load_image

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import blind

    categories = vizlab.load_model().categories
    judge = None if args.no_proxies else vizlab.load_judge()
    order = list(range(len(found)))
    random.Random(args.seed).shuffle(order)
    entries = []
    for slot, j in enumerate(order):
        source, target, data = found[j]
        crop, scaled = centre_crop(data)
        name = f"img{slot:02d}.png"
        crop.save(out / name)
        entry = dict(image=name, recipe="photo", cls=categories[target], target=target, source=source,
                     source_sha256=hashlib.sha256(data).hexdigest(), scaled_to=list(scaled), seconds=0.0)
        if judge is not None:
            image = torch.from_numpy(load_image(out / name)).permute(2, 0, 1).unsqueeze(0)
            entry.update(blind.proxies(judge, image, target))
        entries.append(entry)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_text(json.dumps(dict(folder=str(out), shuffle_seed=args.seed, wheel=whl.name,
                                        wheel_sha256=hashlib.sha256(whl.read_bytes()).hexdigest(),
                                        note=f"foolbox {VERSION}'s ImageNet photos, shorter side {SIDE} px, "
                                             f"centre-cropped {SIDE} x {SIDE}", entries=entries), indent=1))
    print(f"{len(entries)} photos into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
