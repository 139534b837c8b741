#!/usr/bin/env bash
# The GPU image benchmark as it runs for the README (one H100 / H200, at most 10 minutes):
# $CONFIG (default configs/mnist-gpu.yaml; configs/cifar10-gpu.yaml for CIFAR-10 at 32x32 with
# Inception FID) with DxMI at T = 4 and T = 10, one seed each (three seeds do not fit the 10
# minutes at the measured speeds).
#   bash benchmarks/images_gpu.sh [OUT [images.py options...]]   e.g. OUT --set dxmi.value_lr=1e-4
#   CONFIG=configs/cifar10-gpu.yaml SMOKE=1 bash benchmarks/images_gpu.sh OUT
# MORE_SEEDS="1 2" then adds those DxMI seeds at T = 4 on the same teacher (about 2.5 minutes
# for two side by side, outside the table's 10), for medians over seeds where the device time
# allows; their rows join the same tables.
# SMOKE=1 first runs every kind of job at toy size, so that a broken environment fails before
# the teacher trains; it costs about 2 minutes on a fresh machine (CUDA start-up and cuDNN
# autotuning in every worker), a fifth of the budget, so it is off by default. Without it a
# failing DxMI job still leaves the baselines' rows (benchmarks/images.py keeps going).
set -euo pipefail
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
CONFIG=${CONFIG:-configs/mnist-gpu.yaml}
# T = 10 overrides: the MNIST config's best T = 10 probe (a lower sampler rate, the CPU config's
# energy/value rate; configs/mnist-gpu.yaml says why); none for other configs unless T10 says
if [[ "$CONFIG" == configs/mnist-gpu.yaml ]]; then
  T10=${T10:-"--set-at 10 dxmi.sampler_lr=1e-6 --set-at 10 dxmi.value_lr=1e-3"}
fi
OUT=${1:-benchmarks/results/images-gpu}
shift $(( $# > 0 ))  # the rest goes to benchmarks/images.py
if [[ "${SMOKE:-0}" == 1 ]]; then
  SMOKE_DIR=$(mktemp -d)
  # shellcheck disable=SC2086  # SMOKE_SETS: extra overrides (a CPU check: eval.feature_net=pixels)
  timeout "${SMOKE_TIMEOUT:-180}" "$PY" benchmarks/images.py --config "$CONFIG" \
    --out "$SMOKE_DIR" --steps 2 --workers 2 --no-teacher-1000 --seeds-at 2 0 1 \
    --set teacher.iterations=4 --set dxmi.iterations=3 --set dxmi.value_warmup=1 \
    --set eval.n_samples=100 --set run.checkpoint_every=2 \
    ${SMOKE_SETS:-} > "$SMOKE_DIR.log" 2>&1 \
    || { tail -50 "$SMOKE_DIR.log"; exit 3; }
  echo "smoke run passed"
fi
# shellcheck disable=SC2086  # T10 is a list of options
timeout "${FULL_TIMEOUT:-540}" "$PY" benchmarks/images.py --config "$CONFIG" \
  --out "$OUT" --workers 2 --steps 4 10 --seeds 0 ${T10:-} "$@" || status=$?
if [[ -n "${MORE_SEEDS:-}" ]]; then
  # shellcheck disable=SC2086  # MORE_SEEDS is a list of seeds
  timeout "${MORE_TIMEOUT:-170}" "$PY" benchmarks/images.py --config "$CONFIG" \
    --out "$OUT" --workers 2 --dxmi-only --steps 4 --seeds $MORE_SEEDS "$@"
fi
exit "${status:-0}"
