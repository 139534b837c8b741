#!/usr/bin/env bash
# The GPU CIFAR-10 table on one H200, started detached by the first of three device calls (the
# CIFAR-10 zip, 51 MB, and the FID Inception, 87 MB, do not fit one call's 64 MiB, so they
# travel in turns; see results.md). The teacher trains while the Inception arrives; the table
# (benchmarks/images.py) waits for it. Everything lands in $G; DONE marks the end.
#   CODE=/tmp/code G=/tmp/g STAGE=/tmp/stage setsid bash device_run.sh &
# TINY=1: toy sizes with pixel features, for a CPU check of this script.
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
CODE=${CODE:-/tmp/code}; G=${G:-/tmp/g}; STAGE=${STAGE:-/tmp/stage}
CONFIG=configs/cifar10-gpu.yaml
mkdir -p "$G"
cd "$CODE" || exit 1
# the teacher's 1000 steps in bf16 (about twice as fast on a GPU; every row is drawn so),
# checks every 150 DxMI iterations (about 400 fit dxmi.max_minutes with three jobs on the GPU)
SETS=(--set "data.path=$STAGE/train.zip" --set teacher.max_minutes=2.5
      --set eval.precision=bf16 --set eval.every=150)
FEATURES="inception:$STAGE/default_1.pt"
EXTRA=()
if [[ "${TINY:-0}" == 1 ]]; then
  FEATURES=pixels
  SETS+=(--set teacher.iterations=4 --set teacher.batch_size=8 --set dxmi.batch_size=8
         --set eval.batch_size=50 --set dxmi.iterations=3 --set dxmi.value_warmup=1
         --set eval.n_samples=100 --set eval.n_reference=500 --set eval.every=2
         --set run.checkpoint_every=2 --set eval.precision=fp32)
  EXTRA=(--no-teacher-1000)  # 1000 steps on a CPU: minutes even at toy size
fi
date -u +"start %FT%TZ" | tee "$G/times.txt"
"$PY" -c 'import sys; from dxmi.cli import main; sys.exit(main(sys.argv[1:]))' pretrain \
  --config "$CONFIG" --out "$G/teacher" "${SETS[@]}" > "$G/pretrain.log" 2>&1
echo "pretrain rc $?" | tee -a "$G/times.txt"
date -u +"teacher done %FT%TZ" | tee -a "$G/times.txt"
# the Inception is assembled by a later call; TINY needs none
until [[ "$FEATURES" == pixels || -f "$STAGE/inception.ok" ]]; do sleep 2; done
date -u +"table start %FT%TZ" | tee -a "$G/times.txt"
timeout "${TABLE_TIMEOUT:-420}" "$PY" benchmarks/images.py --config "$CONFIG" --out "$G" \
  --workers 3 --steps 4 10 --seeds 0 "${EXTRA[@]}" "${SETS[@]}" --set "eval.feature_net=$FEATURES" \
  > "$G/main.log" 2>&1
echo "table rc $?" | tee -a "$G/times.txt"
date -u +"end %FT%TZ" | tee -a "$G/times.txt"
touch "$G/DONE"
