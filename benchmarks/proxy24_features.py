#!/usr/bin/env python3
"""Candidate proxies of every blind-judged class image (issue 24, item 1, round 12): the features only.

Round 11's ``proxy24.py`` measured Lite0/1/2 on the PNG and on a blurred copy. This adds, for every scored
class image in ``benchmarks/blind24/set*/scored.json`` (rounds 7-11, including the round-11 sets c, d and e that
came after round 11's table):

* the class's rank and log-probability under Lite0, Lite1 and Lite2 on the PNG and on three degraded copies
  (grey, blurred sigma 2 px, 56 px and back) and their agreement: how many of the 12 (network, copy) pairs rank
  the class in their top 5, and the mean log rank over the 12;
* a different architecture: the normalised VGG-19 of the style lecture (no classifier) as a "naturalness"
  judge: the relative distance of the image's Gram matrices (relu1_1 ... relu4_1) to those of the package's
  photos (nearest photo and the photos' mean Gram), and of its per-channel mean activations;
* the spectrum: the slope of the radially averaged power of the grey image (a photo: about -2), the fraction
  of power above 56 cycles per image, and a "grain" score (how far the strongest peaks of the fine-scale 2-D
  spectrum stand above its median: a periodic honeycomb makes sharp peaks); vizlab's spectrum distance;
* colour: colourfulness (Hasler-Suesstrunk), RMS contrast, mean saturation, and their z-distance to the photos';
* compactness: Lite0's gradient saliency for the class (max over colours, blurred): the fraction of its mass
  within a centred disc of radius 0.3 of the side, its spread (RMS radius / side) and its entropy.

Only features: nothing is rendered. One thread. The rows go to ``blind24/proxies_r12.json`` (the truth, the set,
the image, the features); ``proxy24_heldout.py`` evaluates them held out by set and by round.

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/proxy24_features.py
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy24 import colourfulness, scored_rows  # noqa: E402

HERE = Path(__file__).resolve().parent / "blind24"
OUT = HERE / "proxies_r12.json"
LITES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
COPIES = ("plain", "grey", "blur", "small")
VGG_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def image_rows(root: Path = HERE) -> list[dict]:
    """Every scored class image (``proxy24.scored_rows``): its set, the PNG the viewer saw, the truth."""
    rows = []
    for r in scored_rows(root):
        png = Path(r["path"])
        if not png.exists():
            raise FileNotFoundError(png)
        rows.append(dict(set=r["set"], image=r["image"], png=str(png.relative_to(root)), cls=r["cls"],
                         target=int(r["target"]), recipe=r.get("recipe"), strict_hit=r.get("strict_hit"),
                         basic_hit=r.get("basic_hit"), guesses=r["guesses"]))
    return rows


def load_png(path: Path) -> torch.Tensor:
    from PIL import Image

    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def spectrum_features(x: torch.Tensor) -> dict:
    """Slope of the radial power spectrum, fine-scale power fraction and grain peakiness of the grey image."""
    g = (0.299 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2]).double().numpy()
    h, w = g.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    g = (g - g.mean()) * win
    p = np.abs(np.fft.fftshift(np.fft.fft2(g))) ** 2
    fy, fx = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    r = np.hypot(fy, fx)
    ri = r.round().astype(int)
    radial = np.bincount(ri.ravel(), p.ravel()) / np.maximum(np.bincount(ri.ravel()), 1)
    f = np.arange(len(radial))
    band = (f >= 4) & (f <= 80)
    slope, _ = np.polyfit(np.log(f[band]), np.log(radial[band] + 1e-20), 1)
    total = p[(r >= 1) & (r <= h // 2)].sum()
    fine = p[(r > 56) & (r <= h // 2)].sum()
    ring = (r >= 24) & (r <= h // 2)
    # grain: the strongest fine-scale peaks against their own ring's level (power / radial mean at that radius)
    rel = p[ring] / radial[ri[ring]]
    return dict(spec_slope=float(slope), spec_fine=float(fine / max(total, 1e-20)),
                spec_grain=float(np.log(np.sort(rel)[-8:].mean())))


def colour_features(x: torch.Tensor) -> dict:
    arr = (x[0].permute(1, 2, 0).numpy() * 255).astype(np.float64)
    grey = arr.mean(axis=2) / 255
    mx, mn = arr.max(axis=2), arr.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0)
    return dict(colourfulness=colourfulness(arr), contrast=float(grey.std()), saturation=float(sat.mean()))


def photos(size: int = 224) -> list[torch.Tensor]:
    """The package's non-texture sample photos, centre-cropped square and resized (the 'natural' reference)."""
    from vizlab.images import SAMPLES, TEXTURES, sample_image

    out = []
    for name in SAMPLES:
        if name in TEXTURES:
            continue
        a = sample_image(name)
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        h, w = a.shape[:2]
        s = min(h, w)
        a = a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s, :3]
        t = torch.from_numpy(np.ascontiguousarray(a)).float().permute(2, 0, 1).unsqueeze(0)
        if t.max() > 1.5:
            t = t / 255
        out.append(torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", antialias=True,
                                                   align_corners=False).clamp(0, 1))
    return out


def load_lites() -> dict:
    """Lite0, Lite1 and Lite2 on the CPU in eval mode, by short name (``"lite0"`` ...)."""
    from vizlab.models import load_model

    return {name.split("_")[-1]: load_model(name, device="cpu").eval() for name in LITES}


class Judges:
    def __init__(self):
        from vizlab.models import load_model
        from vizlab.style.texture import TextureNet

        self.lites = load_lites()
        self.vgg = TextureNet(load_model("vgg19_normalised", device="cpu"), pooling="max", padding="reflect").eval()
        refs = photos()
        self.ref_grams = {layer: [] for layer in VGG_LAYERS}
        self.ref_means = {layer: [] for layer in VGG_LAYERS}
        self.ref_colour = []
        with torch.no_grad():
            for p in refs:
                g, mu = self._vgg_stats(p)
                for layer in VGG_LAYERS:
                    self.ref_grams[layer].append(g[layer])
                    self.ref_means[layer].append(mu[layer])
                self.ref_colour.append(colour_features(p))
        self.mean_gram = {k: torch.stack(v).mean(0) for k, v in self.ref_grams.items()}
        self.mean_mu = {k: torch.stack(v).mean(0) for k, v in self.ref_means.items()}
        cols = {k: np.array([c[k] for c in self.ref_colour]) for k in self.ref_colour[0]}
        self.colour_ref = {k: (float(v.mean()), float(v.std())) for k, v in cols.items()}

    def _vgg_stats(self, x):
        from vizlab.style.losses import gram_matrix

        feats = self.vgg(x, VGG_LAYERS)
        return ({k: gram_matrix(v)[0] for k, v in feats.items()}, {k: v.mean(dim=(2, 3))[0] for k, v in feats.items()})

    @torch.no_grad()
    def measure(self, x: torch.Tensor, target: int) -> dict:
        from vizlab.optimize import judge_panel

        # the library's panel (Lite0/1/2 on the image and its degraded copies), this script's loaded networks
        panel = judge_panel(x, target, models=tuple(self.lites.values()), copies=COPIES)
        out = {}
        degraded_logranks = []
        for (key, rank), short in zip(panel["ranks"].items(), [s for _ in COPIES for s in self.lites]):
            copy = key.split("/")[1]
            out[f"{short}_{copy}_rank"] = rank
            out[f"{short}_{copy}_logp"] = panel["log_probs"][key]
            if copy != "plain":
                degraded_logranks.append(np.log(rank))
        out["lite_top5_count"] = int(panel["top5"])
        out["lite_mean_logrank"] = float(panel["mean_log_rank"])
        out["lite_degraded_mean_logrank"] = float(np.mean(degraded_logranks))
        g, mu = self._vgg_stats(x)
        near, tomean, mdist = [], [], []
        for layer in VGG_LAYERS:
            d = [float((g[layer] - r).norm() / r.norm()) for r in self.ref_grams[layer]]
            out[f"vgg_{layer}_gram_near"] = min(d)
            near.append(np.log(min(d)))
            tomean.append(np.log(float((g[layer] - self.mean_gram[layer]).norm() / self.mean_gram[layer].norm())))
            mdist.append(np.log(float((mu[layer] - self.mean_mu[layer]).norm() / self.mean_mu[layer].norm())))
        out["vgg_gram_near"] = float(np.mean(near))
        out["vgg_gram_mean"] = float(np.mean(tomean))
        out["vgg_act_mean"] = float(np.mean(mdist))
        out.update(spectrum_features(x))
        from vizlab.optimize import spectrum_distance

        out["spectrum_distance"] = spectrum_distance(x)
        col = colour_features(x)
        out.update(col)
        out["colour_z"] = float(np.hypot(*((col[k] - self.colour_ref[k][0]) / self.colour_ref[k][1]
                                           for k in ("colourfulness", "contrast"))))
        out.update(self._compactness(x, target))
        return out

    def _compactness(self, x: torch.Tensor, target: int) -> dict:
        from vizlab.inside.features import resize_batch
        from vizlab.optimize.regularizers import gaussian_blur

        m = self.lites["lite0"]
        with torch.enable_grad():
            xx = x.clone().requires_grad_(True)
            lg = m(resize_batch(xx, m.input_size))[0]
            lg[target].backward()
        s = gaussian_blur(xx.grad.abs().amax(dim=1, keepdim=True), 4.0)[0, 0].double().numpy()
        s = s / max(s.sum(), 1e-20)
        h, w = s.shape
        yy, xg = np.mgrid[0:h, 0:w]
        rr = np.hypot(yy - (h - 1) / 2, xg - (w - 1) / 2) / h
        return dict(sal_centre=float(s[rr <= 0.3].sum()), sal_spread=float(np.sqrt((s * rr ** 2).sum())),
                    sal_entropy=float(-(s * np.log(s + 1e-20)).sum() / np.log(s.size)))


def write(rows: list[dict]) -> None:
    """One row per line (a readable diff)."""
    OUT.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")


def main() -> int:
    torch.set_num_threads(1)
    rows = image_rows()
    done = {}
    if OUT.exists():
        for r in json.loads(OUT.read_text()):
            done[r["png"]] = r
    t0 = time.process_time()
    judges = Judges()
    print(f"judges ready ({time.process_time() - t0:.0f} CPU s); {len(rows)} rows", flush=True)
    cache: dict[str, dict] = {}
    out = []
    for i, r in enumerate(rows):
        key = r["png"]
        if key in done:
            feats = {k: v for k, v in done[key].items() if k not in r and k not in ("image", "set")}
        elif key in cache:
            feats = cache[key]
        else:
            feats = judges.measure(load_png(HERE / key), r["target"])
        cache[key] = feats
        out.append(dict(r, **feats))
        if (i + 1) % 10 == 0:
            write(out)
            print(f"{i + 1}/{len(rows)} ({time.process_time() - t0:.0f} CPU s)", flush=True)
    write(out)
    print(f"done: {len(out)} rows, {time.process_time() - t0:.0f} CPU s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
