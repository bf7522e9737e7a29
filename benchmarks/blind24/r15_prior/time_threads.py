"""Round 15: wall and CPU seconds of one PRIOR class image (goldfish, image seed 0) with 1 and 2 torch threads."""
import json, sys, time
import torch
import vizlab
from vizlab.optimize import class_visualization, preset

model = vizlab.load_model()
for threads in (int(t) for t in sys.argv[1:]):
    torch.set_num_threads(threads)
    class_visualization(model, "goldfish", preset("prior"), steps=2, progress=False)   # warm: decoder, stats, Lite1
    w, c = time.perf_counter(), time.process_time()
    r = class_visualization(model, "goldfish", preset("prior"), progress=False)
    print(json.dumps(dict(threads=threads, wall=time.perf_counter() - w, cpu=time.process_time() - c,
                          p=r.info["target_probability"], when=time.strftime("%H:%M:%S"))), flush=True)
