#!/usr/bin/env bash
# One lent-GPU call for attention work (carry bundle/ built by `scripts/gpu-check.sh build`):
#   bash scripts/gpu-attention-session.sh "$OUT"
# Writes gpu-check/report.{md,json} (conformance + benchmarks of every kernel variant), peer-attention.json (PyTorch
# SDPA's FlashAttention-2 / cuDNN at our prefill shapes, same card, same call), env.txt (card, profilers present) and
# summary.txt (scripts/summarize-attention.py: the figures a session decides on, printed at the end).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu-attention-session.sh <out-dir>}
mkdir -p "$out"
{
  echo "# date: $(date -u '+%F %T UTC')"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1
  echo "# profilers"; ls /usr/local/cuda/bin 2>/dev/null | grep -E '^(ncu|nsys|nvcc|ptxas|cuobjdump|nvdisasm)$' || echo none
} > "$out/env.txt"
timeout 450 bash scripts/gpu-check.sh run "$out/gpu-check" > "$out/gpu-check.log" 2>&1; echo "# gpu-check exit: $?" >> "$out/env.txt"
grep -E '^\[gpu-check\] .*: [0-9.]+ s$' "$out/gpu-check.log" >> "$out/env.txt" # each stage's seconds (where the 450 s went)
timeout 100 python3 bench/peer/sdpa_peer.py --out "$out/peer-attention.json" > "$out/peer-attention.log" 2>&1
echo "# sdpa peer exit: $?" >> "$out/env.txt"
cat "$out/env.txt"
python3 scripts/summarize-attention.py "$out/gpu-check/report.json" "$out/peer-attention.json" bench/results/gpu/2026-11-26-h200-hf-peer.json > "$out/summary.txt" 2>&1 || grep -E "FAIL|fail|ERROR" "$out/gpu-check/report.md" | head -40
cat "$out/summary.txt"; tail -5 "$out/peer-attention.log"
