"""Attribution speed and agreement: vizlab against captum and pytorch-grad-cam, side by side in one process.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_attribution.py [--repeat 20] [--occlusion-repeat 2] [--skip-fine]

Everything runs on the embedded EfficientNet-Lite0 at 224 x 224 on the cat-and-espresso composite, class
"espresso". Calls alternate between the libraries in each round, so load from other processes hits all of
them alike; the table gives the best time of the rounds, the ratio peer / vizlab (> 1: vizlab is faster)
and the Pearson correlation of the maps.
Peers: ``pip install captum grad-cam`` (the ``bench`` extra of pyproject.toml).
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().flatten(), b.detach().double().flatten()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-300))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def race(entries: dict, repeat: int) -> dict:
    """``{name: fn}`` -> ``{name: (best seconds, last output)}``; each round calls every entry once."""
    best = {k: float("inf") for k in entries}
    outs = {}
    for _ in range(repeat):
        for name, fn in entries.items():
            t, outs[name] = timed(fn)
            best[name] = min(best[name], t)
    return {k: (best[k], outs[k]) for k in entries}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="rounds for the fast methods (best is kept)")
    parser.add_argument("--occlusion-repeat", type=int, default=2, help="rounds for occlusion 32/16")
    parser.add_argument("--fine-repeat", type=int, default=1, help="rounds for occlusion 16/8")
    parser.add_argument("--skip-fine", action="store_true", help="skip occlusion with patch 16, stride 8")
    args = parser.parse_args(argv)

    from captum.attr import LayerAttribution, LayerGradCam, Occlusion, Saliency
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    import vizlab
    from vizlab.attribution import grad_cam, occlusion, saliency

    model = vizlab.load_model("efficientnet_lite0", device="cpu")
    x = model.to_input("cat_and_espresso")
    c = model.class_index("espresso")
    layer = model.layer("head")  # timm bn2: the activated tensor that is pooled into the classifier
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); image {tuple(x.shape)}; class {c}")
    rows = []

    with torch.no_grad():
        fwd = race({"forward": lambda: model(x)}, args.repeat)["forward"][0]
    rows.append(("forward pass (reference)", "-", fwd, None, None, None))

    # -- saliency ---------------------------------------------------------------------------------------------
    cap_sal = Saliency(model)
    r = race({"vizlab": lambda: saliency(model, x, c),
              "captum": lambda: cap_sal.attribute(x, target=c, abs=True).amax(1)}, args.repeat)
    rows.append(("saliency", "captum Saliency", r["vizlab"][0], r["captum"][0], corr(r["vizlab"][1], r["captum"][1]), None))

    # -- Grad-CAM ---------------------------------------------------------------------------------------------
    cap_gc = LayerGradCam(model, layer)
    pgc = GradCAM(model=model, target_layers=[layer])

    def captum_gradcam():
        low = cap_gc.attribute(x, target=c, relu_attributions=True)
        return LayerAttribution.interpolate(low, (224, 224), interpolate_mode="bilinear")[:, 0]

    def pgc_gradcam():
        return torch.from_numpy(pgc(input_tensor=x, targets=[ClassifierOutputTarget(c)]))

    r = race({"vizlab": lambda: grad_cam(model, x, c), "captum": captum_gradcam, "pgc": pgc_gradcam}, args.repeat)
    rows.append(("Grad-CAM (head, 224 map)", "captum LayerGradCam", r["vizlab"][0], r["captum"][0],
                 corr(r["vizlab"][1], r["captum"][1]), None))
    rows.append(("Grad-CAM (head, 224 map)", "pytorch-grad-cam GradCAM", r["vizlab"][0], r["pgc"][0],
                 corr(r["vizlab"][1], r["pgc"][1]), None))
    low_ours = grad_cam(model, x, c, upsample=False, normalize=False).detach()
    low_cap = cap_gc.attribute(x, target=c, relu_attributions=True)[:, 0].detach()
    print(f"Grad-CAM at 7x7, unnormalised: max |vizlab - captum| = {float((low_ours - low_cap).abs().max()):.2e}")
    del pgc  # removes its hooks

    # -- occlusion --------------------------------------------------------------------------------------------
    probs = lambda inp: model(inp).softmax(1)  # noqa: E731 - the drop of the probability, as vizlab's default
    cap_occ = Occlusion(probs)
    settings = [(32, 16)] + ([] if args.skip_fine else [(16, 8)])
    for patch, stride in settings:
        def ours(method):
            return lambda: occlusion(model, x, c, patch=patch, stride=stride, baseline="gray", method=method).map

        def theirs(ppe):
            return lambda: cap_occ.attribute(x, sliding_window_shapes=(3, patch, patch), strides=(3, stride, stride),
                                             baselines=0.5, target=c, perturbations_per_eval=ppe)[:, 0]

        n = len(range(0, 224 - patch + 1, stride)) ** 2
        entries = {"incremental": ours("incremental"), "full": ours("full"), "captum ppe=1": theirs(1),
                   "captum ppe=32": theirs(32)}
        with torch.no_grad():
            r = race(entries, args.occlusion_repeat if patch == 32 else args.fine_repeat)
        for mine in ("incremental", "full"):
            for peer in ("captum ppe=1", "captum ppe=32"):
                rows.append((f"occlusion {patch}/{stride} ({n} images), vizlab {mine}",
                             f"captum Occlusion, perturbations_per_eval={peer[11:]}", r[mine][0], r[peer][0],
                             corr(r[mine][1], r[peer][1]), float((r[mine][1] - r[peer][1]).abs().max())))

    print()
    print("| method | peer | vizlab (ms) | peer (ms) | peer / vizlab | map correlation |")
    print("|---|---|---:|---:|---:|---:|")
    for name, peer, ours_t, peer_t, rho, maxdiff in rows:
        if peer_t is None:
            print(f"| {name} | {peer} | {1000 * ours_t:.0f} | | | |")
            continue
        extra = f" (max abs diff {maxdiff:.1e})" if maxdiff is not None else ""
        print(f"| {name} | {peer} | {1000 * ours_t:.0f} | {1000 * peer_t:.0f} | {peer_t / ours_t:.2f}x | "
              f"{rho:.5f}{extra} |")


if __name__ == "__main__":
    main()
