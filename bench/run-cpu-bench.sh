#!/usr/bin/env bash
# owl3 bench --shape 1b --device cpu and the PyTorch CPU peer (Debian's python3-torch), back to back in one run.
# Usage: bench/run-cpu-bench.sh [threads] [prompt-tokens] [new-tokens]   → JSON lines on stdout
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}; prompt=${2:-128}; new=${3:-64}
echo "[run-cpu-bench] building owl3 (Release)" >&2
dotnet build src/Owl3Native.Cli -c Release -nologo -v quiet -clp:ErrorsOnly >&2
owl3="dotnet src/Owl3Native.Cli/bin/Release/net10.0/owl3.dll"
echo "[run-cpu-bench] owl3 bench --shape 1b --threads $threads --prompt-tokens $prompt --new-tokens $new" >&2
$owl3 bench --shape 1b --device cpu --threads "$threads" --prompt-tokens "$prompt" --new-tokens "$new" --json | tr -d '\n' ; echo
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
  for dtype in bfloat16 float32; do
    echo "[run-cpu-bench] torch peer --dtype $dtype" >&2
    /usr/bin/python3 bench/peer/torch_cpu_peer.py --threads "$threads" --dtype "$dtype" --prompt-tokens "$prompt" --new-tokens "$new"
  done
else
  echo "[run-cpu-bench] /usr/bin/python3 with torch not found (apt-get install python3-torch): peer skipped" >&2
fi
