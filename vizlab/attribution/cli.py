"""``vizlab explain IMAGE --method gradcam|occlusion|saliency --class NAME -o out.png``."""
from __future__ import annotations

import argparse
from pathlib import Path

from vizlab._validate import positive_int_arg as _positive_int   # standard library only: --help stays light

METHODS = ("gradcam", "occlusion", "saliency", "smoothgrad", "cam")
_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
#: Options that only some methods use -> (those methods, the default). Given to another method, an option is an
#: error, not silently ignored (review round 18: ``--method occlusion --layer nonsense`` exited 0).
_METHOD_OPTIONS = {"layer": (("gradcam", "cam"), None), "patch": (("occlusion",), 32),
                   "stride": (("occlusion",), 16), "baseline": (("occlusion",), "gray")}


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def add_commands(sub) -> None:
    """Add ``explain`` to the ``vizlab`` command line."""
    p = sub.add_parser("explain", help="why this decision: save a Grad-CAM, occlusion or saliency map",
                       description="Explain a classification of IMAGE (a path, URL or sample name) and save a "
                                   "figure: the image and the map for one class.")
    p.add_argument("image", metavar="IMAGE", help="image path, http(s) URL or sample name (e.g. cat_and_espresso)")
    p.add_argument("--method", choices=METHODS, default="gradcam", help="attribution method (default gradcam)")
    p.add_argument("--class", dest="target", default=None, metavar="NAME",
                   help="class name or index to explain (default: the top-1 class)")
    p.add_argument("-o", "--output", default="explain.png", help="figure to write (.png, .jpg, .pdf, .svg)")
    p.add_argument("--layer", default=None, help="layer for gradcam/cam (default: the model's cam_layer, 'head')")
    # default None: an option given to a method that does not use it is refused (_check_method_options)
    p.add_argument("--patch", type=_positive_int, default=None, help="occlusion window side in pixels (default 32)")
    p.add_argument("--stride", type=_positive_int, default=None, help="occlusion step in pixels (default 16)")
    p.add_argument("--baseline", default=None, choices=("gray", "mean", "blur", "zero"),
                   help="what fills the occluded window (default gray)")
    p.add_argument("--alpha", type=_fraction, default=0.5, help="heatmap weight in the overlay (default 0.5)")
    p.add_argument("--size", type=_positive_int, default=224, help="image side fed to the model (default 224)")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    p.set_defaults(func=explain)


def _check_method_options(args: argparse.Namespace) -> None:
    """Refuse a method-specific option given to a method that ignores it; fill in the defaults of the others."""
    for option, (methods, default) in _METHOD_OPTIONS.items():
        if getattr(args, option) is None:
            setattr(args, option, default)
        elif args.method not in methods:
            raise ValueError(f"--{option} is for {' and '.join(methods)}, not {args.method} "
                             f"(--method {args.method} does not use it)")


def explain(args: argparse.Namespace) -> int:
    """Compute one map and save ``image | map`` as a figure; returns 0."""
    from ..models import load_model
    from . import cam, grad_cam, occlusion, saliency, smoothgrad
    from .plot import show_maps, show_occlusion

    out = Path(args.output)
    if out.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"-o {args.output!r}: the file name must end in one of {', '.join(_SUFFIXES)}")
    if not out.parent.exists():
        raise ValueError(f"-o {args.output!r}: the folder {str(out.parent)!r} does not exist")
    _check_method_options(args)   # before the model loads: a misplaced option costs nothing
    target = args.target
    if target is not None and target.strip().isdigit():
        target = int(target)
    model = load_model(device=args.device)
    x = model.to_input(args.image, args.size)
    probs = model.probabilities(x)[0]
    c = int(probs.argmax()) if target is None else model.class_index(target)
    name, p = model.categories[c], float(probs[c])
    if args.method == "occlusion":
        res = occlusion(model, x, c, patch=args.patch, stride=args.stride, baseline=args.baseline, progress=True)
        fig = show_occlusion(x, res, alpha=args.alpha, title=f"occlusion: {name}")
        t, l, _, _ = res.most_damaging[0]
        detail = f"most damaging patch at (top {t}, left {l}) lowers p by {float(res.grid.max()):.3f}"
    else:
        if args.method in ("gradcam", "cam"):
            fn = grad_cam if args.method == "gradcam" else cam
            layer = args.layer or model.cam_layer
            heat = fn(model, x, c, layer)
            key = f"{'Grad-CAM' if args.method == 'gradcam' else 'CAM'} at {layer}"
        else:
            heat = (saliency if args.method == "saliency" else smoothgrad)(model, x, c)
            key = "saliency max|dS/dx|" if args.method == "saliency" else "SmoothGrad"
        fig = show_maps(x, {key: heat}, alpha=args.alpha, title=f"{name}: p = {p:.3f}")
        detail = key
    fig.savefig(out, dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"{args.method}: {name!r} (p = {p:.3f}); {detail} -> {out}")
    return 0
