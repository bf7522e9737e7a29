"""Command-line sub-commands of the style part: ``vizlab style-train`` and ``vizlab stylize``.

Examples::

    vizlab style-train swirls my_swirls.pt --size 256 --steps 1000 --width 16 --resume
    vizlab stylize swirls cat cat_swirls.png --size 512        # the shipped VGG-19-trained network
    vizlab stylize lite0/swirls cat cat_lite0.png --size 512  # the older one, trained on EfficientNet-Lite0
    vizlab stylize adain:waves cat cat_waves.png --size 512 --alpha 0.8
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ADAIN_PREFIX = "adain:"


def _train(args: argparse.Namespace) -> int:
    from .lossnet import loss_network
    from .transformer import train_transformer

    loss_net = loss_network(args.loss_net, device=args.device)
    result = train_transformer(args.style, content=args.content, size=args.size, batch_size=args.batch_size,
                               steps=args.steps, lr=args.lr, style_weight=args.style_weight,
                               content_weight=args.content_weight, tv_weight=args.tv_weight, norm=args.norm,
                               width=args.width, blocks=args.blocks, loss_net=loss_net, checkpoint=args.output,
                               checkpoint_every=args.checkpoint_every, seed=args.seed, resume=args.resume,
                               palette_weight=args.palette_weight, palette_margin=args.palette_margin,
                               flat_patches=args.flat_patches, dark_weight=args.dark_weight,
                               saturation_weight=args.saturation_weight, saturation_limit=args.saturation_limit)
    last = result.history[-1] if result.history else {}
    summary = {"output": str(args.output), "steps": result.steps, "seconds": round(result.seconds, 1),
               "stopped": result.stopped, "final": {k: round(v, 4) for k, v in last.items() if k != "step"}}
    print(json.dumps(summary))
    return 0


#: ``vizlab stylize`` caps the longest side at this many pixels unless ``--size`` says otherwise: a 12 MP photo at
#: full size took 169 s and 5.4 GB on a laptop CPU (issue 26); 1024 px takes a few seconds.
DEFAULT_MAX_SIDE = 1024


def _size(text: str):
    """``--size``: ``full`` (keep the image's size) or the shorter side in pixels (at least 16)."""
    if text.strip().lower() == "full":
        return "full"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels (>= 16) or 'full', got {text!r}") from None
    if value < 16:
        raise argparse.ArgumentTypeError(f"expected a number of pixels (>= 16) or 'full', got {value}")
    return value


def _check_output(output: Path) -> None:
    """Refuse an output path that cannot be written, before any work (a typo costs nothing)."""
    from PIL import Image

    writable = sorted(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE)
    if output.suffix.lower() not in writable:
        common = [e for e in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".bmp") if e in writable]
        raise ValueError(f"output {str(output)!r}: the file name must end in an image format, e.g. "
                         f"{', '.join(common)}")
    # Checked before the network runs, so a typo in the folder costs nothing and reads as one line.
    if not output.parent.is_dir():
        raise ValueError(f"output folder {str(output.parent)!r} does not exist; create it first "
                         f"(mkdir -p {output.parent})")


def _say(message: str) -> None:
    print(message, flush=True)  # stdout: stderr holds only the one-line error, if any


def _stylize(args: argparse.Namespace) -> int:
    output = Path(args.output).expanduser()
    _check_output(output)
    adain_style = args.network[len(ADAIN_PREFIX):] if args.network.startswith(ADAIN_PREFIX) else None
    if adain_style is not None and not adain_style:
        raise ValueError(f"network {args.network!r} names no style image; write adain:STYLE, e.g. adain:swirls "
                         f"or adain:my_painting.jpg")
    if adain_style is None and args.alpha != 1.0:
        raise ValueError("--alpha applies to adain:STYLE only (a trained network has one fixed strength)")
    start = time.perf_counter()
    _say(f"loading {args.network} ...")
    from ..images import load_image, resize, save_image

    if adain_style is not None:
        from .adain import adain, cropped_size, load_adain

        net = load_adain(args.device)
    else:
        from .transformer import load_transformer, stylize

        net = load_transformer(args.network, device=args.device)
    img = load_image(args.image)
    h, w = img.shape[:2]
    if args.size == "full":
        note = "full size (--size full)"
    elif args.size is not None:
        s = args.size / min(h, w)
        img = resize(img, (max(1, round(h * s)), max(1, round(w * s))))
        note = f"shorter side {args.size} px (--size)"
    elif max(h, w) > DEFAULT_MAX_SIDE:
        s = DEFAULT_MAX_SIDE / max(h, w)
        img = resize(img, (max(1, round(h * s)), max(1, round(w * s))))
        note = f"longest side capped at {DEFAULT_MAX_SIDE} px by default (--size full keeps all {w}x{h})"
    else:
        note = "its own size"
    device = next(net.parameters()).device
    if adain_style is not None:
        h, w = img.shape[:2]
        h8, w8 = cropped_size(h, w)  # as adain.content_batch crops: the decoder's sizes
        if (h8, w8) != (h, w):
            note += f"; centre-cropped to {w8}x{h8}, multiples of 8 for AdaIN's decoder"
    _say(f"stylising {img.shape[1]}x{img.shape[0]} ({note}) on {device} ...")
    if adain_style is not None:
        out = adain(img, adain_style, alpha=args.alpha, size=None, net=net)
    else:
        out = stylize(net, img)
    path = save_image(out[0], output)
    print(f"wrote {path} ({out.shape[-1]}x{out.shape[-2]}) in {time.perf_counter() - start:.1f} s")
    return 0


def add_commands(sub) -> None:
    """Register ``style-train`` and ``stylize`` on the ``vizlab`` parser's sub-parsers."""
    train = sub.add_parser("style-train", help="train a fast style-transfer network for one style image")
    train.add_argument("style", help="style image: swirls, mosaic, brush, waves, brick, gravel, grass, a path or URL")
    train.add_argument("output", help="checkpoint file to write (.pt, half precision)")
    train.add_argument("--content", default=None, help="folder of content images (default: sample photos)")
    train.add_argument("--size", type=int, default=256, help="training crop size in pixels (default 256)")
    train.add_argument("--batch-size", type=int, default=4)
    train.add_argument("--steps", type=int, default=300)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--style-weight", type=float, default=5.0)
    train.add_argument("--content-weight", type=float, default=1.0)
    train.add_argument("--tv-weight", type=float, default=1e-4)
    train.add_argument("--palette-weight", type=float, default=0.0,
                       help="weight of the palette term: output colours farther than --palette-margin from "
                            "the style's 64 main colours are pulled back (default 0: off)")
    train.add_argument("--palette-margin", type=float, default=0.08)
    train.add_argument("--dark-weight", type=float, default=0.0,
                       help="weight of the near-black term: no near-black output where the photo is not dark "
                            "(default 0 = off)")
    train.add_argument("--saturation-weight", type=float, default=0.0,
                       help="weight of the spike term: pre-tanh outputs beyond --saturation-limit cost (default 0)")
    train.add_argument("--saturation-limit", type=float, default=3.0)
    train.add_argument("--flat-patches", type=float, default=0.0,
                       help="probability of flat random-colour rectangles in a training crop (default 0)")
    train.add_argument("--norm", choices=("instance", "batch"), default="instance")
    train.add_argument("--width", type=int, default=32, help="channels of the first layer (default 32)")
    train.add_argument("--blocks", type=int, default=5, help="residual blocks (default 5)")
    train.add_argument("--loss-net", default="efficientnet_lite0", help="efficientnet_lite0 (offline), vgg19_normalised_fast (offline: Johnson et al.'s "
                            "layers on the normalised VGG-19), vgg16, vgg19")
    train.add_argument("--checkpoint-every", type=int, default=50)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default=None)
    train.add_argument("--resume", action="store_true",
                       help="continue from OUTPUT if it exists (network, Adam state, step count, losses) up to "
                            "--steps in total; without it an existing OUTPUT is overwritten")
    train.set_defaults(func=_train)

    styl = sub.add_parser("stylize", help="stylise an image with a trained network (one forward pass)")
    styl.add_argument("network", help="a shipped network name (swirls, impression: trained on VGG-19; lite0/swirls, "
                                      "lite0/impression: on EfficientNet-Lite0), a .pt file, or adain:STYLE for "
                                      "AdaIN with any style image (adain:swirls, adain:painting.jpg, adain:URL)")
    styl.add_argument("image", help="content image: sample name, path or URL")
    styl.add_argument("output", help="image file to write (.png, .jpg, ...; checked before any work)")
    styl.add_argument("--size", type=_size, default=None,
                      help=f"shorter side in pixels, or 'full' for the image's own size (default: the image's "
                           f"size with its longest side capped at {DEFAULT_MAX_SIDE} px)")
    styl.add_argument("--alpha", type=float, default=1.0,
                      help="AdaIN strength in [0, 1] (adain:STYLE only; default 1)")
    styl.add_argument("--device", default=None)
    styl.set_defaults(func=_stylize)
