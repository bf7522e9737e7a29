#!/bin/bash
# Round 20 (r20-lever): the scored renders. The candidate and the default render at the same time, one process
# (one thread) each; each folder's request.md is written after its last image, then its reshuffle for the second
# viewer is made and queued.
set -e
cd /work/r20-lever
PY="nice -n 10 env PYTHONPATH=/work/r20-lever OMP_NUM_THREADS=1 /work/main/.venv/bin/python"
B=benchmarks/blind24
Q=/work/blind-queue
req() {  # $1 = queue folder: round 11's QUESTION and the image paths (blind.py prompt), then round 16's answer format
  $PY benchmarks/blind.py prompt --out $1/images > $1/request.md.tmp
  printf '\nAnswer format: one line per picture, img00 to img19, e.g.\nimg00: guess1; guess2; guess3; guess4; guess5\n' >> $1/request.md.tmp
  mv $1/request.md.tmp $1/request.md
}
one() {  # $1 recipe, $2 shuffle seed, $3 first folder, $4 set, $5 reshuffle seed, $6 second folder
  echo "$1 start $(date -u)"
  $PY benchmarks/blind.py render --recipes $1 --random 20 --random-seed 1658 --seed $2 \
      --image-seed 0 --threads 1 --no-proxies --out $Q/$3/images --key $B/$4/key.json
  test $(ls $Q/$3/images/img*.png | wc -l) = 20
  req $Q/$3
  $PY benchmarks/blind.py reshuffle --key $B/$4/key.json --out $Q/$6/images \
      --new-key $B/${4}_second_viewer/key.json --seed $5
  req $Q/$6
  echo "$1 queued $(date -u)"
}
one canvas_retry_ensemble3_shrink_detail 2001 r20-lever-1 set_r20_shrink_detail_random20 2002 r20-lever-2 &
one canvas_retry_ensemble3_detail 2003 r20-lever-3 set_r20_default_random20 2004 r20-lever-4 &
wait
echo all done $(date -u)
