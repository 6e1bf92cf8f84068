#!/usr/bin/env bash
# ptxas-check.sh NVCC ARCH FILE.cu INCLUDE_DIR — compile one kernel file to CUBIN with the resource report (-Xptxas=-v)
# and fail on a compile error or any register spill. Used by CMakeLists.txt's CTest tests.
set -euo pipefail
nvcc=$1; arch=$2; cu=$3; inc=$4
# The -gencode form: `-arch=sm_90a` also runs a plain sm_90 pass, which rejects wgmma (an sm_90a-only instruction).
out=$("$nvcc" -cubin -std=c++17 -gencode="arch=compute_${arch#sm_},code=$arch" -Xptxas=-v -I"$inc" -o /dev/null "$cu" 2>&1) || { echo "$out"; exit 1; }
echo "$out"
if echo "$out" | grep -qE '[1-9][0-9]* bytes spill (stores|loads)'; then echo "SPILL in $cu for $arch"; exit 1; fi
