#!/usr/bin/env bash
# Everything one lent GPU session runs, in one call (the device has no .NET; carry bundle/ built by gpu-check.sh build):
#   bash scripts/gpu-session.sh "$OUT" [peer-budget-s]
# Writes: gpu-check/report.{md,json} (our kernels), peer.json (HF transformers with our shapes), env.txt (driver,
# where the device keeps libnvrtc/libcublas). Never stops early: each part's exit status is recorded in env.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu-session.sh <out-dir> [peer-budget-s]}
budget=${2:-200}
mkdir -p "$out"
{
  echo "# date: $(date -u '+%F %T UTC')"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1
  nvidia-smi 2>&1 | head -15
  echo "# libraries (ldconfig)"; ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvrtc|libcublas' | head -20
  echo "# libraries (find)"; find / -xdev \( -name 'libnvrtc.so*' -o -name 'libcublas.so*' -o -name 'libcublasLt.so*' \) 2>/dev/null | head -30
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' 2>&1
} > "$out/env.txt"
timeout 240 bash scripts/gpu-check.sh run "$out/gpu-check" > "$out/gpu-check.log" 2>&1; echo "# gpu-check exit: $?" >> "$out/env.txt"
timeout $((budget + 60)) python3 bench/peer/hf_gpu_peer.py --out "$out/peer.json" --budget-s "$budget" > "$out/peer.log" 2>&1
echo "# peer exit: $?" >> "$out/env.txt"
tail -5 "$out/env.txt"; tail -40 "$out/gpu-check.log"; tail -8 "$out/peer.log"
