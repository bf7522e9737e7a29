#!/bin/bash
# Round 16, second part: the generator prior left out after five classes (by eye unreadable red-orange-black matter,
# 27-57 CPU s per image); the default and the default + Lite1 ensemble on the rest of the development draw (seed 16016).
cd "$(dirname "$0")/../../.."
for cls in "magnetic compass" "digital clock" kimono "suspension bridge" necklace; do
  PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 10 /work/main/.venv/bin/python benchmarks/converge.py \
    --variants retry retry_ensemble --classes "$cls" --seeds 0 \
    --log benchmarks/blind24/r16_dev/converge_r16_dev.jsonl --images benchmarks/blind24/r16_dev
done
