#!/usr/bin/env bash
# The GPU image benchmark as it ran for the README (one H100 / H200, at most 10 minutes):
# a smoke run of every kind of job at toy size first (a broken environment fails in seconds,
# not after the teacher), then configs/mnist-gpu.yaml with DxMI at T = 4 and T = 10, one seed each
# (three seeds do not fit the 10 minutes at the measured speeds).
#   bash benchmarks/images_gpu.sh [OUT]
set -euo pipefail
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
OUT=${1:-benchmarks/results/images-gpu}
SMOKE=$(mktemp -d)
timeout "${SMOKE_TIMEOUT:-150}" "$PY" benchmarks/images.py --config configs/mnist-gpu.yaml \
  --out "$SMOKE" --steps 2 --workers 2 --no-teacher-1000 --seeds-at 2 0 1 \
  --set teacher.iterations=4 --set dxmi.iterations=3 --set dxmi.value_warmup=1 \
  --set eval.n_samples=100 --set run.checkpoint_every=2 > "$SMOKE.log" 2>&1 \
  || { tail -50 "$SMOKE.log"; exit 3; }
echo "smoke run passed"
timeout "${FULL_TIMEOUT:-480}" "$PY" benchmarks/images.py --config configs/mnist-gpu.yaml \
  --out "$OUT" --workers 2 --steps 4 10 --seeds 0
