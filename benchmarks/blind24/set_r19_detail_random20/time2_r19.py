#!/usr/bin/env python3
"""Round 19: wall and CPU seconds per image at two torch threads (the ensemble's members at once,
``Ensemble.concurrent``), the default against the candidate with its detail stage, one class after another.

    python time2_r19.py OUT.jsonl CLASS [CLASS ...]
"""
import json
import sys
import time

import torch

import vizlab
from vizlab.optimize import class_visualization, preset

torch.set_num_threads(2)
model = vizlab.load_model()
for p in model.parameters():
    p.requires_grad_(False)
class_visualization(model, "zebra", preset("object_ensemble3", steps=1, retry_plain=0.0), progress=False)  # warm-up
with open(sys.argv[1], "a") as f:
    for cls in sys.argv[2:]:
        for mode in ("object_ensemble3", "object_ensemble3_detail"):
            wall, cpu = time.perf_counter(), time.process_time()
            r = class_visualization(model, cls, mode=mode, progress=False)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            row = dict(cls=cls, mode=mode, wall_s=wall, cpu_s=cpu, threads=2, retry="retry" in r.info,
                       stage_s=r.info.get("detail", {}).get("seconds"), load=open("/proc/loadavg").read().split()[:3])
            f.write(json.dumps(row) + "\n")
            f.flush()
            print(row, flush=True)
