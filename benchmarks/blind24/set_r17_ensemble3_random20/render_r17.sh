#!/bin/bash
# Round 17 (r17-random20): the scored renders, one process at a time, each request.md written after its folder's
# last image. (The first render was started by an earlier version of this script with the same command; this one
# waits for it: $1 = its process id. The candidate's second-viewer folder is queued before the default is rendered.)
set -e
cd /work/r17-random20
PY="nice -n 10 env PYTHONPATH=/work/r17-random20 OMP_NUM_THREADS=1 /work/main/.venv/bin/python"
B=benchmarks/blind24
Q=/work/blind-queue
req() {  # $1 = queue folder: round 11's QUESTION and the image paths (blind.py prompt), then round 16's answer format
  $PY benchmarks/blind.py prompt --out $1/images > $1/request.md.tmp
  printf '\nAnswer format: one line per picture, img00 to img19, e.g.\nimg00: guess1; guess2; guess3; guess4; guess5\n' >> $1/request.md.tmp
  mv $1/request.md.tmp $1/request.md
}
if [ -n "$1" ]; then
  while kill -0 $1 2>/dev/null; do sleep 5; done
else
  $PY benchmarks/blind.py render --recipes canvas_retry_ensemble3_members --random 20 --random-seed 50719 --seed 1701 \
      --image-seed 0 --threads 1 --no-proxies --out $Q/random20-6/images --key $B/set_r17_ensemble3_random20/key.json
fi
test $(ls $Q/random20-6/images/img*.png | wc -l) = 20
req $Q/random20-6
$PY benchmarks/blind.py reshuffle --key $B/set_r17_ensemble3_random20/key.json --out $Q/random20-8/images \
    --new-key $B/set_r17_ensemble3_random20_second_viewer/key.json --seed 1703
req $Q/random20-8
$PY benchmarks/blind.py render --recipes canvas_retry_ensemble --random 20 --random-seed 50719 --seed 1702 \
    --image-seed 0 --threads 1 --no-proxies --out $Q/random20-7/images --key $B/set_r17_default_random20/key.json
req $Q/random20-7
$PY benchmarks/blind.py reshuffle --key $B/set_r17_default_random20/key.json --out $Q/random20-9/images \
    --new-key $B/set_r17_default_random20_second_viewer/key.json --seed 1704
req $Q/random20-9
echo all done $(date)
