#!/usr/bin/env bash
# The GPU check, as run on a lent GPU machine (benchmarks/README.md, "GPU vs CPU"): the device end-to-end tests on
# CPU and CUDA, the test command's pytest run with CUDA visible, and benchmarks/bench_devices.py.
# Needs the wheels of vizlab's missing dependencies in .whl/ (that machine has torch but no internet) and $OUT.
set -u
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg VIZLAB_PROFILE=quick OMP_WAIT_POLICY=PASSIVE
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
export PYTHONPATH="$PWD:/tmp/site"
nvidia-smi -L; nproc
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"
echo "== 1. device end-to-end tests (cpu and cuda)"
( time timeout 150 python3 -m pytest -p no:cacheprovider -q -rA tests/test_devices_end_to_end.py tests/test_device.py \
    --durations=0 ) 2>&1 | tee "$OUT/e2e.log"
echo "== 2. the test command's pytest run (go.py test's arguments; CUDA visible, so models load on the GPU)"
( time timeout -s INT "${SUITE_S:-200}" python3 -m pytest --nbval-lax -p no:cacheprovider -q -rfE -n 14 --dist loadfile \
    --timeout 150 --ignore=tests/test_wheel.py --ignore=tests/test_browser.py --durations=25 ) 2>&1 | tee "$OUT/suite.log" | tail -150
echo "== 3. GPU vs CPU, the lecture's techniques"
timeout "${BENCH_S:-120}" python3 benchmarks/bench_devices.py --repeats 2 --laptop-threads 0 \
    --json "$OUT/bench_devices.json" 2>&1 | tee "$OUT/bench.log"
