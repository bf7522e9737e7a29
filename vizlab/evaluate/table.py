"""One table for many methods: deletion AUC, insertion AUC and average drop per (method, layer)."""
from __future__ import annotations

import time
import warnings
from typing import Sequence

import torch
from torch import nn

from ..attribution._common import as_batch
from ..attribution.targets import TargetLike, as_class_target
from .faithfulness import average_drop, deletion, insertion
from .methods import MapFn, as_method, attribute, method_name


def faithfulness_table(model: nn.Module, images, rows: Sequence[tuple[str | MapFn, object]], target: TargetLike = None,
                       *, steps: int = 20, batch_size: int | None = None, progress: bool = True) -> dict[str, dict[str, torch.Tensor]]:
    """``{row label: {"deletion": (N,), "insertion": (N,), "average drop": (N,)}}`` for each ``(method, layer)``.

    The class of each image is the model's top-1 (or ``target``), the same for every row. ``progress`` prints
    one line per row (so a notebook shows it is working).
    """
    for method, _ in rows:
        as_method(method)  # an unknown name fails before any work
    x = as_batch(model, images)
    with torch.no_grad():
        classes = as_class_target(model, target, model(x)).indices(x.shape[0])
    table: dict[str, dict[str, torch.Tensor]] = {}
    for method, layer in rows:
        start = time.perf_counter()
        label = method_name(method) + (f" @ {layer}" if layer is not None else "")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            heat = attribute(model, x, classes, method, layer)
        cls = classes.tolist()
        table[label] = {"deletion": deletion(model, x, heat, cls, steps=steps, batch_size=batch_size).auc,
                        "insertion": insertion(model, x, heat, cls, steps=steps, batch_size=batch_size).auc,
                        "average drop": average_drop(model, x, heat, cls)}
        if progress:
            print(f"  {label:28s} {time.perf_counter() - start:5.1f} s", flush=True)
    return table


def format_table(table: dict[str, dict[str, torch.Tensor]]) -> str:
    """The table as text, means over the images: lower deletion and average drop, higher insertion are better."""
    cols = ["deletion", "insertion", "average drop"]
    lines = [f"{'method @ layer':28s} " + " ".join(f"{c:>13s}" for c in cols),
             f"{'(better)':28s} " + " ".join(f"{w:>13s}" for w in ("lower", "higher", "lower"))]
    for label, row in table.items():
        lines.append(f"{label:28s} " + " ".join(f"{float(row[c].mean()):13.3f}" for c in cols))
    return "\n".join(lines)
