import json, random, shutil, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from blind import ISSUE_CLASSES
import vizlab
dev = Path("benchmarks/blind24/r15_prior")
rows = {}
for line in (dev / "prior_r15_dev.jsonl").read_text().splitlines():
    r = json.loads(line)
    if r["variant"] == "p8_stats_ens":
        rows[r["cls"]] = r
out = Path("/work/blind-queue/prior-1/images"); out.mkdir(parents=True, exist_ok=False)
keydir = Path("benchmarks/blind24/set_r15_prior_ten"); keydir.mkdir(parents=True, exist_ok=True)
model = vizlab.load_model()
jobs = [("prior_stats_ens", c) for c in ISSUE_CLASSES]
order = list(range(len(jobs))); random.Random(1501).shuffle(order)
entries = []
for slot, j in enumerate(order):
    recipe, cls = jobs[j]
    name = f"img{slot:02d}.png"
    shutil.copyfile(dev / "p8_stats_ens" / f"{cls.replace(' ', '_')}.png", out / name)
    r = rows[cls]
    entries.append(dict(image=name, recipe=recipe, cls=cls, target=model.class_index(cls), lite0_p=r["lite0_p"],
                        view_p=r["view_p"], cpu_seconds=r["cpu_seconds"], seconds=r["wall_seconds"], threads=1,
                        image_seed=0, copied_from=f"r15_prior/p8_stats_ens/{cls.replace(' ', '_')}.png"))
(keydir / "key.json").write_text(json.dumps(dict(folder=str(out), shuffle_seed=1501, entries=entries), indent=1))
print("ok", len(entries))
