#!/bin/bash
# Round 17 (r17-random20): the adopted recipe on the ten (a check after the rule was met; no rule attached),
# rendered into a fresh queue folder; request.md written after the tenth image.
set -e
cd /work/r17-random20
PY="nice -n 10 env PYTHONPATH=/work/r17-random20 OMP_NUM_THREADS=1 /work/main/.venv/bin/python"
Q=/work/blind-queue/random20-10
$PY benchmarks/blind.py render --recipes canvas_retry_ensemble3_members --seed 1705 --image-seed 0 --threads 1 \
    --no-proxies --out $Q/images --key benchmarks/blind24/set_r17_ensemble3_ten/key.json
$PY benchmarks/blind.py prompt --out $Q/images > $Q/request.md.tmp
printf '\nAnswer format: one line per picture, img00 to img09, e.g.\nimg00: guess1; guess2; guess3; guess4; guess5\n' >> $Q/request.md.tmp
mv $Q/request.md.tmp $Q/request.md
echo done $(date)
