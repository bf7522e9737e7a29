#!/bin/bash
# Round 16 (r16-random20) development renders: a random development set drawn with seed 16016 (never used for
# scoring), one class at a time across the variants so that a stopped run leaves comparable columns.
cd "$(dirname "$0")/../../.."
for cls in loudspeaker limousine "kit fox" "pill bottle" "squirrel monkey" "magnetic compass" "digital clock" kimono "suspension bridge" necklace; do
  PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 10 /work/main/.venv/bin/python benchmarks/converge.py \
    --variants retry retry_ensemble prior_retry_lr03 --classes "$cls" --seeds 0 \
    --log benchmarks/blind24/r16_dev/converge_r16_dev.jsonl --images benchmarks/blind24/r16_dev
done
