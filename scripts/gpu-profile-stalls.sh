#!/usr/bin/env bash
# Where a kernel's warps wait and which pipes it keeps busy (Nsight Compute metrics, one launch each of the kernels the
# bundle's --profile-attention mode runs that match a regex):
#   bash scripts/gpu-profile-stalls.sh "$OUT" [kernel-regex]        (carry bundle/)
# Each query is its own ncu run (a metric name one ncu version lacks costs only that query).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu-profile-stalls.sh <out-dir> [kernel-regex]}
regex=${2:-wgmma_ws3p}
mkdir -p "$out"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null)
[ -n "$ncu" ] || { echo "no ncu on this machine" > "$out/stalls.txt"; exit 0; }
for d in /usr/local/cuda*/lib64; do [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
run() { # name, metrics
  echo "## $1" >> "$out/stalls.txt"
  timeout 120 "$ncu" -k "regex:$regex" --launch-count 1 --metrics "$2" bundle/gpu-check/owl3-gpu-check --profile-attention >> "$out/stalls.txt" 2>&1
  echo "# exit: $?" >> "$out/stalls.txt"
}
run "stall reasons (PC sampling)" "regex:smsp__pcsamp_warps_issue_stalled_.*"
run "pipes" "regex:sm__pipe_.*_cycles_active.avg.pct_of_peak_sustained_active,regex:sm__inst_executed_pipe_.*.avg.pct_of_peak_sustained_active"
run "issue" "smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__warps_eligible.avg.per_cycle_active,smsp__inst_executed.sum,sm__cycles_elapsed.avg,gpu__time_duration.sum"
