#!/usr/bin/env bash
# One device call (2026-11-27): the GPU image benchmark (benchmarks/images_gpu.sh, the config as
# committed), then, on the same teacher, either two more DxMI seeds at T = 4 (when seed 0 meets
# the 1/4-of-the-best-baseline goal) or two one-change T = 4 probes (when it does not).
# TINY=1: toy sizes, for a CPU check of this script.
set -uo pipefail
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
G=${G:-/tmp/g}; P=${P:-/tmp/p}; OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" "$P"
TINY_SET=()
if [[ "${TINY:-0}" == 1 ]]; then
  TINY_SET=(--set teacher.iterations=4 --set dxmi.iterations=3 --set dxmi.value_warmup=1
            --set eval.n_samples=100 --set run.checkpoint_every=2 --no-teacher-1000)
fi
date -u +"main start %FT%TZ" | tee "$OUT/times.txt"
FULL_TIMEOUT=${FULL_TIMEOUT:-430} bash benchmarks/images_gpu.sh "$G" "${TINY_SET[@]}" > "$OUT/main.log" 2>&1
echo "main rc $?" | tee -a "$OUT/times.txt"
date -u +"post start %FT%TZ" | tee -a "$OUT/times.txt"
branch=$("$PY" - "$G/partial.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
dx = [r["fid"] for r in rows if r["method"] == "dxmi" and r["steps"] == 4]
base = [r["fid"] for r in rows if r["method"] in ("ddim", "dpmsolver++", "unipc", "ancestral") and r["steps"] == 4]
print("seeds" if dx and base and dx[0] <= 0.25 * min(base) else "probes")
PYEOF
)
echo "branch $branch" | tee -a "$OUT/times.txt"
POST_SET=(--set dxmi.max_minutes=1.5)
[[ "${TINY:-0}" == 1 ]] && POST_SET=("${TINY_SET[@]}")
if [[ "$branch" == seeds ]]; then
  timeout "${POST_TIMEOUT:-140}" "$PY" benchmarks/images.py --config configs/mnist-gpu.yaml --out "$G" \
    --workers 2 --dxmi-only --steps 4 --seeds 1 2 "${POST_SET[@]}" > "$OUT/post.log" 2>&1
  echo "post rc $?" | tee -a "$OUT/times.txt"
else
  for probe in clip:dxmi.energy_grad_clip=1.0 linear:dxmi.timestep_spacing=linear; do
    name=${probe%%:*}; kv=${probe#*:}
    mkdir -p "$P/$name" && cp -r "$G/teacher" "$P/$name/teacher"
    timeout "${POST_TIMEOUT:-140}" "$PY" benchmarks/images.py --config configs/mnist-gpu.yaml \
      --out "$P/$name" --workers 1 --dxmi-only --steps 4 --seeds 0 --set "$kv" "${POST_SET[@]}" \
      > "$OUT/post-$name.log" 2>&1 &
  done
  wait
  echo "post done" | tee -a "$OUT/times.txt"
fi
date -u +"end %FT%TZ" | tee -a "$OUT/times.txt"
tar czf "$OUT/results.tgz" --exclude='*.safetensors' --exclude='events.out*' --exclude='checkpoint*' \
  -C / "${G#/}" "${P#/}"
ls -la "$OUT"
