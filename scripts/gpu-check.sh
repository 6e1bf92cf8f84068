#!/usr/bin/env bash
# The one-shot GPU check bundle.
#   scripts/gpu-check.sh build               (a machine with the .NET SDK) trimmed self-contained publish → bundle/gpu-check/
#   scripts/gpu-check.sh run <out-dir> [--no-bench] [--only=WORD,…]
#                                            (a GPU host without .NET) runs the bundle, writes <out-dir>/report.{md,json};
#                                            --only runs just the stages whose names hold a word (a second, targeted call)
#   scripts/gpu-check.sh selftest [out-dir]  build + run here; without a GPU the report says so (CI runs this)
# On the GPU host: carry bundle/ with the working tree, then `bash scripts/gpu-check.sh run "$OUT"`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bundle="$root/bundle/gpu-check"
log() { echo "[gpu-check] $*" >&2; }

build() {
  log "dotnet publish src/Owl3Native.GpuCheck (trimmed, self-contained, linux-x64) → $bundle"
  rm -rf "$bundle"
  dotnet publish src/Owl3Native.GpuCheck -c Release -r linux-x64 --self-contained -p:PublishTrimmed=true \
    -p:InvariantGlobalization=true -p:DebugType=none -p:GenerateDocumentationFile=false -o "$bundle" -nologo -v quiet >&2
  # The goldens of ../shared (a few MB) travel with the bundle: the device checks the GPU path against them.
  rm -rf "$root/bundle/golden"
  if [ -d "$root/../shared/golden" ]; then
    mkdir -p "$root/bundle/golden"
    for g in "$root"/../shared/golden/tiny-*; do [ -f "$g/golden.json" ] && cp -r "$g" "$root/bundle/golden/"; done
    log "goldens: $(ls "$root/bundle/golden" | tr '\n' ' ')"
  fi
  size=$(du -sm "$bundle" | cut -f1)
  log "bundle: ${size} MB"
  if [ "$size" -gt 40 ]; then log "ERROR: bundle is ${size} MB (> 40 MB)"; exit 1; fi
}

run() {
  local out=$1; shift # the rest goes to owl3-gpu-check (--no-bench, --only=…)
  [ -x "$bundle/owl3-gpu-check" ] || { log "ERROR: no bundle at $bundle (run 'scripts/gpu-check.sh build' where .NET exists)"; exit 1; }
  # CUDA libraries of a Python environment (torch wheels ship nvidia/*/lib) join the search path.
  if command -v python3 >/dev/null 2>&1; then
    extra=$(python3 - <<'PY' 2>/dev/null || true
import glob, site, os
dirs = []
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    dirs += [d for d in glob.glob(os.path.join(sp, "nvidia", "*", "lib")) if os.path.isdir(d)]
print(":".join(dirs))
PY
)
    [ -n "$extra" ] && export LD_LIBRARY_PATH="${extra}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  for d in /usr/local/cuda*/lib64; do [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
  mkdir -p "$out"
  log "running $bundle/owl3-gpu-check $out"
  "$bundle/owl3-gpu-check" "$out" "$@"
}

case "${1:-}" in
  build) build ;;
  run) shift; [ $# -ge 1 ] || { echo "usage: $0 run <out-dir> [--no-bench] [--only=WORD,…]" >&2; exit 2; }; run "$@" ;;
  selftest) build; run "${2:-$root/artifacts/gpu-check}" ;;
  *) echo "usage: $0 build | run <out-dir> | selftest [out-dir]" >&2; exit 2 ;;
esac
