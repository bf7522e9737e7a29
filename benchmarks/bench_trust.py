"""Trust: the new CAM variants, Integrated Gradients and the faithfulness metrics beside their peers, in one process.

Run:  OMP_NUM_THREADS=2 python benchmarks/bench_trust.py [--repeat 3] [--size 224] [--score-layer block6]

EfficientNet-Lite0 on the cat-and-espresso composite, its top-1 class. Calls alternate between vizlab and the
peer in every round (load from other processes hits both alike); the table gives the best time of the rounds,
the ratio peer / vizlab (> 1: vizlab is faster) and how closely the outputs agree (Pearson correlation of the
maps, or the largest difference of the scores). Peers: pytorch-grad-cam and captum (``pip install vizlab[bench]``).

Metric peers: pytorch-grad-cam's ``DropInConfidence``/``IncreaseInConfidence`` (on ``image * map``, as our
``average_drop``/``increase_in_confidence``), ``ROADMostRelevantFirst`` (its imputation solves a sparse system on
the CPU with SciPy, one image at a time; ours runs conjugate gradients batched on the model's device). Deletion
and insertion have no maintained peer here, so they are timed against the same curve computed one perturbed
image per forward pass (what the batching saves).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def corr(a, b) -> float:
    a = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).detach().double().flatten()
    b = torch.as_tensor(np.asarray(b) if not isinstance(b, torch.Tensor) else b).detach().double().flatten()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-300))


def race(entries: dict, repeat: int) -> dict:
    """``{name: fn}`` -> ``{name: (best seconds, last output)}``; each round calls every entry once."""
    best = {k: float("inf") for k in entries}
    outs = {}
    for _ in range(repeat):
        for name, fn in entries.items():
            start = time.perf_counter()
            outs[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return {k: (best[k], outs[k]) for k in entries}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--score-layer", default="block6", help="Score-CAM layer (one forward pass per channel)")
    parser.add_argument("--score-batch", type=int, default=64)
    args = parser.parse_args(argv)

    import pytorch_grad_cam as pgc
    from captum.attr import IntegratedGradients
    from pytorch_grad_cam.metrics.cam_mult_image import DropInConfidence, IncreaseInConfidence
    from pytorch_grad_cam.metrics.road import ROADMostRelevantFirst
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget

    import vizlab
    from vizlab import attribution as A
    from vizlab import evaluate as E

    model = vizlab.load_model("efficientnet_lite0", device="cpu")
    x = model.to_input("cat_and_espresso", args.size)
    c = int(model(x).argmax())
    rows = []

    def peer_cam(cls, layer, batch=None):
        def run():
            p = cls(model=model, target_layers=[model.layer(layer)])
            if batch:
                p.batch_size = batch
            return p(input_tensor=x, targets=[ClassifierOutputTarget(c)])
        return run

    methods = [("LayerCAM", lambda: A.layer_cam(model, x, c, "head"), peer_cam(pgc.LayerCAM, "head")),
               ("HiResCAM", lambda: A.hires_cam(model, x, c, "head"), peer_cam(pgc.HiResCAM, "head")),
               ("XGrad-CAM", lambda: A.xgrad_cam(model, x, c, "head"), peer_cam(pgc.XGradCAM, "head")),
               ("EigenCAM", lambda: A.eigen_cam(model, x, c, "head"), peer_cam(pgc.EigenCAM, "head")),
               (f"Score-CAM @ {args.score_layer}",
                lambda: A.score_cam(model, x, c, args.score_layer, batch_size=args.score_batch),
                peer_cam(pgc.ScoreCAM, args.score_layer, args.score_batch)),
               ("Integrated Gradients (32 steps)",
                lambda: A.integrated_gradients(model, x, c, steps=32, reduce="none"),
                lambda: IntegratedGradients(model).attribute(x, target=c, n_steps=32, method="riemann_middle",
                                                             internal_batch_size=16))]
    for name, ours, theirs in methods:
        repeat = 1 if name.startswith("Score") else args.repeat
        res = race({"vizlab": ours, "peer": theirs}, repeat)
        (t_ours, a), (t_peer, b) = res["vizlab"], res["peer"]
        rows.append((name, t_ours, t_peer, f"r = {corr(a, b):.4f}"))
        print(f"  done {name}", flush=True)

    heat = A.grad_cam(model, x, c)
    cam_np = heat.numpy()
    soft = [ClassifierOutputSoftmaxTarget(c)]

    def peer_drop():
        y = model(x).softmax(1)[0, c].item()
        return DropInConfidence()(x, cam_np, soft, model) / y

    res = race({"vizlab": lambda: E.average_drop(model, x, heat, c),
                "peer": peer_drop}, args.repeat)
    rows.append(("average drop", res["vizlab"][0], res["peer"][0],
                 f"|diff| = {abs(float(res['vizlab'][1][0]) - float(np.ravel(res['peer'][1])[0])):.1e}"))
    res = race({"vizlab": lambda: E.increase_in_confidence(model, x, heat, c),
                "peer": lambda: IncreaseInConfidence()(x, cam_np, soft, model)}, args.repeat)
    rows.append(("increase in confidence", res["vizlab"][0], res["peer"][0],
                 f"equal: {float(res['vizlab'][1][0]) == float(np.ravel(res['peer'][1])[0])}"))

    def peer_road():
        return float(np.ravel(ROADMostRelevantFirst(percentile=50)(x, cam_np, soft, model, return_diff=False))[0])

    res = race({"vizlab": lambda: float(E.road(model, x, heat, c, fractions=(0.5,)).scores[0, 1]),
                "peer": peer_road}, args.repeat)
    rows.append(("ROAD MoRF 50 % (1 image)", res["vizlab"][0], res["peer"][0],
                 f"p = {res['vizlab'][1]:.3f} vs {res['peer'][1]:.3f} (noise differs)"))

    steps = 32

    def one_by_one():
        ranks = E.pixel_ranks(heat)[0]
        counts = torch.round(torch.linspace(0, ranks.numel(), steps + 1)).long()
        out = []
        with torch.no_grad():
            for k in counts:
                out.append(float(model(torch.where(ranks < k, torch.zeros_like(x), x)).softmax(1)[0, c]))
        return torch.tensor(out)

    res = race({"vizlab": lambda: E.deletion(model, x, heat, c, steps=steps).scores[0],
                "peer": one_by_one}, args.repeat)
    rows.append((f"deletion, {steps} steps (vs unbatched)", res["vizlab"][0], res["peer"][0],
                 f"max |diff| = {float((res['vizlab'][1] - res['peer'][1]).abs().max()):.1e}"))

    print(f"\nEfficientNet-Lite0, {args.size} px, torch threads {torch.get_num_threads()}")
    print(f"| {'what':40s} | vizlab s | peer s | peer / vizlab | agreement |")
    print(f"|{'-' * 42}|---------:|-------:|--------------:|-----------|")
    for name, a, b, agree in rows:
        print(f"| {name:40s} | {a:8.3f} | {b:6.3f} | {b / a:13.2f} | {agree} |")


if __name__ == "__main__":
    main()
