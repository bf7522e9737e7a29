#!/usr/bin/env python3
"""Issue 24, item 1, round 17: does any automatic proxy agree with the blind verdicts on *newer* rounds?

Three steps, each a sub-command:

``table``     every blind-scored class image in ``benchmarks/blind24/`` as one row: the PNG the viewer saw, class,
              recipe, round, the viewer's folder, strict top-1 / top-5 hit and basic-level top-5 hit. Second
              viewers' sets point at the first set's PNGs (``same_as``, ``renamed_from``), so one PNG can carry
              two verdicts; ``png`` names the file, ``viewer`` the folder one viewer answered.
``features``  candidate proxies of every distinct PNG, computed without the answers (cached, one row per PNG, in
              ``blind24/proxy_study_features.jsonl.gz``, appended as they come): Lite0/1/2 on the image and on
              degraded copies (grey, blur sigma 2 px, 32-, 56- and 64-px down-samples, a mirror, four 80 % corner
              crops and a centre crop), the class's rank / log-probability and each copy's top class and its
              log-probability; and cheap picture statistics (colourfulness, contrast, saturation, spectral
              slope, fine-scale power, centre vs border energy, edge density).
``evaluate``  choose on the older rounds (<= ``--train-max``, default 14), report on the newer ones only:
              accuracy against the base rate, balanced accuracy, ROC AUC with a bootstrap interval over PNGs,
              per recipe.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/proxy_study.py table
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/proxy_study.py features
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/proxy_study.py evaluate --json blind24/proxy_study_r17.json
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent / "blind24"
FEATURES = HERE / "proxy_study_features.jsonl.gz"
#: folders of blind24 that are not class images
#: sets that are not the blind protocol's class images: units and dreams; round 19's photo ceiling (real photos, not
#: committed) and its notebook-figure checks (panels cut from notebooks 01 and 05, scored for the notebook)
NOT_CLASS_IMAGES = ("units", "dreams", "photos", "figures")
#: second viewers' sets whose key names the first set only in prose (``renamed_from`` without ``images_of``)
SOURCE_SET = {
    "set_r13_retry_random20_second_viewer": "set_r12_retry_random20",     # same names, same order
    "set_r15_b_cs231n_s300_ten_second_viewer": "set_r15_a_cs231n_s300_ten",
    "set_r16_b_cs231n_ens_retry_ten_second_viewer": "set_r16_a_cs231n_ens_retry_ten",
}


def set_round(name: str) -> int:
    """The round of a blind24 set: ``set1``-``set5`` are round 7; ``set_r<N>...`` round N."""
    if re.fullmatch(r"set\d", name):
        return 7
    m = re.match(r"set_r(\d+)", name)
    if not m:
        raise ValueError(f"cannot tell the round of set {name!r}")
    return int(m.group(1))


def _hit(v, k: int) -> bool:
    return v is not None and int(v) <= k


def table(root: Path = HERE) -> list[dict]:
    """One row per blind verdict on a class image (see the module's docstring)."""
    rows = []
    for scored in sorted(root.glob("set*/scored.json")):
        folder = scored.parent
        if any(s in folder.name for s in NOT_CLASS_IMAGES):
            continue
        key = json.loads((folder / "key.json").read_text())
        source = key.get("images_of", "").split("/")[-1] or SOURCE_SET.get(folder.name)
        viewer = key.get("folder") or folder.name
        for r in json.loads(scored.read_text()):
            if not r.get("guesses"):
                continue
            if r.get("same_as"):
                png = r["same_as"]
            elif source:
                png = f"{source}/images/{r.get('renamed_from') or r['image']}"
            else:
                png = f"{folder.name}/images/{r['image']}" if (folder / "images").is_dir() else \
                    f"{folder.name}/{r['image']}"
            rows.append(dict(set=folder.name, round=set_round(folder.name), viewer=viewer, png=png,
                             image=r["image"], cls=r["cls"], target=int(r["target"]), recipe=r["recipe"],
                             top1=_hit(r.get("strict_hit"), 1), top5=_hit(r.get("strict_hit"), 5),
                             basic5=_hit(r.get("basic_hit"), 5), guesses=r["guesses"]))
    # every PNG exists and shows the class its verdicts were scored against (a wrong renamed_from would not)
    by_png: dict[str, set] = {}
    for r in rows:
        if not (root / r["png"]).is_file():
            raise FileNotFoundError(root / r["png"])
        by_png.setdefault(r["png"], set()).add((r["cls"], r["recipe"]))
    bad = {p: c for p, c in by_png.items() if len(c) != 1}
    if bad:
        raise ValueError(f"PNGs scored against different classes or recipes: {bad}")
    return rows


def print_table(rows: list[dict]) -> None:
    pngs = {r["png"] for r in rows}
    viewers = {r["viewer"] for r in rows}
    print(f"{len(rows)} verdicts on {len(pngs)} distinct PNGs, {len({r['set'] for r in rows})} sets, "
          f"{len(viewers)} viewer folders; named in five (strict) {sum(r['top5'] for r in rows)}, first "
          f"{sum(r['top1'] for r in rows)}, basic level in five {sum(r['basic5'] for r in rows)}")
    print("| round | sets | verdicts | PNGs | top-1 | top-5 | basic top-5 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for rd in sorted({r["round"] for r in rows}):
        rr = [r for r in rows if r["round"] == rd]
        print(f"| {rd} | {len({r['set'] for r in rr})} | {len(rr)} | {len({r['png'] for r in rr})} | "
              f"{sum(r['top1'] for r in rr)} | {sum(r['top5'] for r in rr)} | {sum(r['basic5'] for r in rr)} |")


# ----------------------------------------------------------------------------------------------- features


def load_png(path: Path):
    import torch
    from PIL import Image

    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def copies(x):
    """``{name: (1, 3, H, W)}``: the image and the copies a viewer's poor eyes or a framing change would give."""
    import torch
    import torch.nn.functional as F

    from vizlab.optimize import degraded_copy

    h, w = x.shape[-2:]
    out = {k: degraded_copy(x, k) for k in ("plain", "grey", "blur", "small", "tiny")}
    small = F.interpolate(x, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
    out["down64"] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
    out["flip"] = torch.flip(x, dims=[-1])
    c = int(round(0.8 * h))
    for name, (top, left) in {"crop_tl": (0, 0), "crop_tr": (0, w - c), "crop_bl": (h - c, 0),
                              "crop_br": (h - c, w - c), "crop_c": ((h - c) // 2, (w - c) // 2)}.items():
        crop = x[..., top:top + c, left:left + c]
        out[name] = F.interpolate(crop, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return out


def picture_stats(x) -> dict:
    """Cheap statistics of a ``(1, 3, H, W)`` picture in [0, 1] (no network)."""
    a = x[0].permute(1, 2, 0).double().numpy()
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    grey = 0.299 * r + 0.587 * g + 0.114 * b
    mx, mn = a.max(axis=2), a.min(axis=2)
    h, w = grey.shape
    # spectrum of the grey picture (Hann window): slope of the radial power 4-80 cycles, share above 56 cycles
    win = np.outer(np.hanning(h), np.hanning(w))
    p = np.abs(np.fft.fftshift(np.fft.fft2((grey - grey.mean()) * win))) ** 2
    fy, fx = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    rad = np.hypot(fy, fx)
    ri = rad.round().astype(int)
    radial = np.bincount(ri.ravel(), p.ravel()) / np.maximum(np.bincount(ri.ravel()), 1)
    f = np.arange(len(radial))
    band = (f >= 4) & (f <= 80)
    slope = float(np.polyfit(np.log(f[band]), np.log(radial[band] + 1e-20), 1)[0])
    total = p[(rad >= 1) & (rad <= h // 2)].sum()
    fine = float(p[(rad > 56) & (rad <= h // 2)].sum() / max(total, 1e-20))
    # gradients: edge density (share of pixels whose Sobel magnitude exceeds 0.1) and centre vs border energy
    gy, gx = np.gradient(grey)
    mag = np.hypot(gx, gy)
    yy, xx = np.mgrid[0:h, 0:w]
    rr = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2) / h
    centre, border = rr <= 0.25, rr >= 0.4
    dev = np.linalg.norm(a - a.reshape(-1, 3).mean(0), axis=2)           # distance from the mean colour
    return dict(colourfulness=float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())),
                contrast=float(grey.std()), saturation=float(np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9),
                                                                      0).mean()),
                spec_slope=slope, spec_fine=fine, edge_density=float((mag > 0.05).mean()),
                grad_centre_border=float(np.log((mag[centre].mean() + 1e-6) / (mag[border].mean() + 1e-6))),
                dev_centre_border=float(np.log((dev[centre].mean() + 1e-6) / (dev[border].mean() + 1e-6))))


class Networks:
    def __init__(self):
        from proxy24_features import load_lites

        self.nets = load_lites()

    def measure(self, x, target: int) -> dict:
        """Per network and copy: the class's rank, its log-probability and the copy's top class."""
        import torch

        from vizlab.inside.features import resize_batch

        cs = copies(x)
        names = list(cs)
        batch = torch.cat([cs[k] for k in names])
        out = {}
        with torch.no_grad():
            for short, net in self.nets.items():
                logp = net(resize_batch(batch, net.input_size)).log_softmax(dim=1)
                for i, k in enumerate(names):
                    lp = logp[i]
                    out[f"{short}/{k}/rank"] = int((lp > lp[target]).sum()) + 1
                    out[f"{short}/{k}/logp"] = float(lp[target])
                    out[f"{short}/{k}/top"] = int(lp.argmax())
                    out[f"{short}/{k}/toplogp"] = float(lp.max())
        return out


def features(rows: list[dict], path: Path = FEATURES) -> dict[str, dict]:
    """Measure every distinct PNG of ``rows`` not yet in ``path`` (appending a line per PNG); return all."""
    import torch

    torch.set_num_threads(1)
    done = {}
    if path.exists():
        with gzip.open(path, "rt") as fh:
            lines = fh.read().splitlines()
        for line in lines:
            if line.strip():
                d = json.loads(line)
                done[d["png"]] = d
    todo = {}
    for r in rows:
        if r["png"] not in done:
            todo.setdefault(r["png"], r["target"])
    if not todo:
        return done
    nets = Networks()
    t0 = time.process_time()
    with gzip.open(path, "at") as fh:
        for i, (png, target) in enumerate(sorted(todo.items())):
            x = load_png(HERE / png)
            d = dict(png=png, target=target, **picture_stats(x), **nets.measure(x, target))
            fh.write(json.dumps(d) + "\n")
            fh.flush()
            done[png] = d
            if (i + 1) % 10 == 0:
                print(f"{i + 1}/{len(todo)} ({time.process_time() - t0:.0f} CPU s)", flush=True)
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("table", help="count the blind-scored class images")
    f = sub.add_parser("features", help="compute the candidate proxies of every PNG (cached)")
    f.add_argument("--limit", type=int, default=0, help="only the first N PNGs not yet measured (timing)")
    e = sub.add_parser("evaluate", help="choose on the older rounds, report on the newer ones")
    e.add_argument("--train-max", type=int, default=14, help="rounds <= this choose; the later ones test")
    e.add_argument("--test-max", type=int, default=16,
                   help="rounds after this are left out (16: round 17's tables; later sets are a fresh test)")
    e.add_argument("--json", default=None, help="write the tables here (one entry per truth)")
    e.add_argument("--truth", nargs="+", default=["top5", "top1", "basic5"], choices=["top5", "top1", "basic5"],
                   help="what the viewer did: named it in five (strict), first (strict), in five (basic level)")
    e.add_argument("--figure", default=None, help="ROC curves of the candidates on the test rounds (PNG)")
    args = parser.parse_args(argv)
    rows = table()
    if args.command == "table":
        print_table(rows)
    elif args.command == "features":
        if args.limit:
            keep = sorted({r["png"] for r in rows})
            measured = set()
            if FEATURES.exists():
                with gzip.open(FEATURES, "rt") as fh:
                    measured = {json.loads(x)["png"] for x in fh.read().splitlines() if x.strip()}
            keep = set([p for p in keep if p not in measured][:args.limit])
            rows = [r for r in rows if r["png"] in keep]
        features(rows)
    else:
        from proxy_study_eval import evaluate, roc_figure

        rows = [r for r in rows if r["round"] <= args.test_max]
        feats = features(rows)
        results = {}
        for truth in args.truth:
            print(f"\n===== truth: {truth}")
            results[truth] = evaluate(rows, feats, args.train_max, truth_key=truth)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
        if args.figure:
            roc_figure(results[args.truth[0]], args.figure)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
