#!/bin/bash
# Round 19 (r19-detail): the scored renders, one process at a time, each request.md written after its folder's
# last image; the candidate's second-viewer folder is queued before the default is rendered.
set -e
cd /work/r19-detail
PY="nice -n 10 env PYTHONPATH=/work/r19-detail OMP_NUM_THREADS=1 /work/main/.venv/bin/python"
B=benchmarks/blind24
Q=/work/blind-queue
req() {  # $1 = queue folder: round 11's QUESTION and the image paths (blind.py prompt), then round 16's answer format
  $PY benchmarks/blind.py prompt --out $1/images > $1/request.md.tmp
  printf '\nAnswer format: one line per picture, img00 to img19, e.g.\nimg00: guess1; guess2; guess3; guess4; guess5\n' >> $1/request.md.tmp
  mv $1/request.md.tmp $1/request.md
}
echo start $(date)
$PY benchmarks/blind.py render --recipes canvas_retry_ensemble3_detail --random 20 --random-seed 74728 --seed 1901 \
    --image-seed 0 --threads 1 --no-proxies --out $Q/r19detail-1/images --key $B/set_r19_detail_random20/key.json
test $(ls $Q/r19detail-1/images/img*.png | wc -l) = 20
req $Q/r19detail-1
$PY benchmarks/blind.py reshuffle --key $B/set_r19_detail_random20/key.json --out $Q/r19detail-2/images \
    --new-key $B/set_r19_detail_random20_second_viewer/key.json --seed 1902
req $Q/r19detail-2
echo candidate queued $(date)
$PY benchmarks/blind.py render --recipes canvas_retry_ensemble3_members --random 20 --random-seed 74728 --seed 1903 \
    --image-seed 0 --threads 1 --no-proxies --out $Q/r19detail-3/images --key $B/set_r19_default_random20/key.json
test $(ls $Q/r19detail-3/images/img*.png | wc -l) = 20
req $Q/r19detail-3
$PY benchmarks/blind.py reshuffle --key $B/set_r19_default_random20/key.json --out $Q/r19detail-4/images \
    --new-key $B/set_r19_default_random20_second_viewer/key.json --seed 1904
req $Q/r19detail-4
echo all done $(date)
