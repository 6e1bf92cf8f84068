#!/usr/bin/env bash
# Nsight Compute on the attention kernels (ours, one launch per benchmarked shape; optionally only those matching a
# regex) and on the peer's FlashAttention-2 (PyTorch SDPA) at the same prefill shape, plus the SASS of our cubins:
#   bash scripts/gpu-profile-attention.sh "$OUT" [kernel-regex] [--fa2]        (carry bundle/)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu-profile-attention.sh <out-dir> [kernel-regex] [--fa2]}
regex=${2:-attention_}
mkdir -p "$out"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null)
[ -n "$ncu" ] || { echo "no ncu on this machine" > "$out/ncu-ours.txt"; exit 0; }
sections="--section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SchedulerStats --section InstructionStats --section SourceCounters"
for d in /usr/local/cuda*/lib64; do [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
timeout 240 "$ncu" -k "regex:$regex" $sections bundle/gpu-check/owl3-gpu-check --profile-attention > "$out/ncu-ours.txt" 2>&1
echo "# ncu ours exit: $?" >> "$out/ncu-ours.txt"
# SASS of the compiled attention modules (the kernel cache keeps the cubins).
for f in "${TMPDIR:-/tmp}"/owl3-gpu-check-kernels/*; do
  case "$f" in *attention_prefill*|*attention_decode*) cuobjdump -sass "$f" > "$out/sass-$(basename "$f").txt" 2>&1 || true ;; esac
done
ls "${TMPDIR:-/tmp}"/owl3-gpu-check-kernels > "$out/kernel-cache.txt" 2>&1
if [ "${3:-}" = "--fa2" ]; then
  timeout 150 "$ncu" -k regex:flash_fwd --launch-count 1 $sections python3 -c "
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
q = torch.rand(2, 32, 16384, 128, device='cuda').mul_(2).sub_(1).to(torch.bfloat16); k = torch.rand_like(q); v = torch.rand_like(q)
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    F.scaled_dot_product_attention(q, k, v, is_causal=True)
torch.cuda.synchronize()
" > "$out/ncu-fa2.txt" 2>&1
  echo "# ncu fa2 exit: $?" >> "$out/ncu-fa2.txt"
fi
