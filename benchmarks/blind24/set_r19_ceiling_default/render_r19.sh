#!/bin/sh
# Round 19 (r19-ceiling): the library default (OBJECT_ENSEMBLE3 = blind.py's canvas_retry_ensemble3_members) on the
# 19 distinct classes of foolbox 3.3.4's 20 ImageNet photos (jeep twice there), image seed 0, one thread, niced.
# Run from the worktree root; the viewer's folder is the queue folder, the key stays here.
cd "$(dirname "$0")/../../.." || exit 1
OMP_NUM_THREADS=1 PYTHONPATH=. nice -n 10 /work/main/.venv/bin/python benchmarks/blind.py render \
  --recipes canvas_retry_ensemble3_members \
  --classes "bull mastiff" "folding chair" "beaker" "buckeye" "strawberry" "thatch" "jeep" "yurt" "bottlecap" \
            "drum" "Loafer" "prayer rug" "cannon" "spoonbill" "goose" "dalmatian" "bald eagle" "leafhopper" \
            "dung beetle" \
  --seed 1903 --image-seed 0 --threads 1 --no-proxies \
  --out /work/blind-queue/r19ceiling-3/images --key benchmarks/blind24/set_r19_ceiling_default/key.json
