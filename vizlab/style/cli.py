"""Command-line sub-commands of the style part: ``vizlab style-train`` and ``vizlab stylize``.

Examples::

    vizlab style-train swirls data/networks/swirls.pt --size 256 --steps 1000 --width 16 --resume
    vizlab stylize swirls cat cat_swirls.png --size 512
    vizlab stylize adain:waves cat cat_waves.png --size 512 --alpha 0.8
"""
from __future__ import annotations

import argparse
import json
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


def _stylize(args: argparse.Namespace) -> int:
    from ..images import save_image
    from .transformer import load_transformer, stylize

    output = Path(args.output).expanduser()
    # Checked before the network runs, so a typo in the folder costs nothing and reads as one line.
    if not output.parent.is_dir():
        raise ValueError(f"output folder {str(output.parent)!r} does not exist; create it first "
                         f"(mkdir -p {output.parent})")
    if args.network.startswith(ADAIN_PREFIX):
        from .adain import adain, load_adain

        style = args.network[len(ADAIN_PREFIX):]
        if not style:
            raise ValueError(f"network {args.network!r} names no style image; write adain:STYLE, e.g. adain:swirls "
                             f"or adain:my_painting.jpg")
        out = adain(args.image, style, alpha=args.alpha, size=args.size, net=load_adain(args.device))
    else:
        if args.alpha != 1.0:
            raise ValueError("--alpha applies to adain:STYLE only (a trained network has one fixed strength)")
        net = load_transformer(args.network, device=args.device)
        out = stylize(net, args.image, size=args.size)
    path = save_image(out[0], output)
    print(f"wrote {path} ({out.shape[-1]}x{out.shape[-2]})")
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
    styl.add_argument("network", help="a shipped network name (see data/networks), a .pt file, or adain:STYLE for "
                                      "AdaIN with any style image (adain:swirls, adain:painting.jpg, adain:URL)")
    styl.add_argument("image", help="content image: sample name, path or URL")
    styl.add_argument("output", help="image file to write (.png/.jpg)")
    styl.add_argument("--size", type=int, default=None, help="shorter side in pixels (default: keep)")
    styl.add_argument("--alpha", type=float, default=1.0,
                      help="AdaIN strength in [0, 1] (adain:STYLE only; default 1)")
    styl.add_argument("--device", default=None)
    styl.set_defaults(func=_stylize)
