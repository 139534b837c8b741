#!/usr/bin/env bash
# One device call: one-change DxMI probes on one 28x28 GPU teacher (configs/mnist-gpu.yaml),
# T = 4 and T = 10 side by side (six processes share the GPU; every probe gets the same
# dxmi.max_minutes). T = 10 starts once the T = 4 call's teacher is finished and uses a copy.
# TINY=1: toy sizes, for a CPU check of this script.
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
P=${P:-/tmp/p}; OUT=${OUT:-/tmp/out}; MINUTES=${MINUTES:-3.0}
mkdir -p "$OUT" "$P"
SETS=(--set "dxmi.max_minutes=$MINUTES")
if [[ "${TINY:-0}" == 1 ]]; then
  SETS=(--set teacher.iterations=4 --set dxmi.iterations=3 --set dxmi.value_warmup=1
        --set eval.n_samples=100 --set eval.every=2 --set run.checkpoint_every=2)
fi
date -u +"start %FT%TZ" | tee "$OUT/times.txt"
timeout "${T4_TIMEOUT:-500}" "$PY" benchmarks/image_probes.py --config configs/mnist-gpu.yaml \
  --out "$P/t4" --steps 4 --workers 4 "${SETS[@]}" \
  --probe config \
  --probe slow dxmi.sampler_lr=3e-6 \
  --probe eta-0.5 dxmi.eta=0.5 \
  --probe eta-0.5-slow dxmi.eta=0.5 dxmi.sampler_lr=3e-6 \
  > "$OUT/t4.log" 2>&1 &
t4=$!
# the T = 10 probes wait for the finished teacher (its metrics.json is written last)
while [[ ! -f "$P/t4/teacher/metrics.json" ]] && kill -0 "$t4" 2>/dev/null; do sleep 5; done
date -u +"teacher done %FT%TZ" | tee -a "$OUT/times.txt"
mkdir -p "$P/t10" && cp -r "$P/t4/teacher" "$P/t10/teacher"
timeout "${T10_TIMEOUT:-330}" "$PY" benchmarks/image_probes.py --config configs/mnist-gpu.yaml \
  --out "$P/t10" --steps 10 --workers 2 "${SETS[@]}" \
  --probe slow dxmi.sampler_lr=3e-6 \
  --probe eta-0.5-slow dxmi.eta=0.5 dxmi.sampler_lr=3e-6 \
  > "$OUT/t10.log" 2>&1
echo "t10 rc $?" | tee -a "$OUT/times.txt"
wait "$t4"
echo "t4 rc $?" | tee -a "$OUT/times.txt"
date -u +"end %FT%TZ" | tee -a "$OUT/times.txt"
tar czf "$OUT/results.tgz" --exclude='*.safetensors' --exclude='events.out*' --exclude='checkpoint*' \
  -C / "${P#/}"
ls -la "$OUT"
