#!/usr/bin/env bash
# The README's test command: installs what the tests need (as root on Debian), builds the solution,
# runs every test project, prints "N passed, N failed, N skipped" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { echo "[test.sh] $*"; }

# --- prerequisites ---------------------------------------------------------------------------------
# libnvrtc11.2: NVRTC compiles kernels to CUBIN without a GPU (kernel budget tests).
# ffmpeg: video decoding tests. chromium: the web page test (Microsoft.Playwright drives /usr/bin/chromium; no browser download).
# Never the CUDA toolkit, cuBLAS or python3-torch: the tests do not need them.
packages=(libnvrtc11.2 ffmpeg chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    # A non-comment line naming the `non-free` component itself (not only `non-free-firmware`).
    if [ -n "$codename" ] && ! grep -rhsE '^[^#]*[[:space:]]non-free([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/ >/dev/null; then
      suites="$codename"
      case "$codename" in sid|unstable) ;; *) suites="$codename $codename-updates" ;; esac
      log "enabling Debian non-free for $codename (libnvrtc11.2 lives there)"
      cat > /etc/apt/sources.list.d/debian-nonfree.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suites
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "not root (or not Debian): missing ${missing[*]}; tests that need them skip and say why"
  fi
fi

# --- shared goldens ------------------------------------------------------------------------------------
shared="${OWL3_SHARED:-$root/../shared}"
if [ ! -d "$shared/golden" ]; then
  log "ERROR: golden data not found at $shared (set OWL3_SHARED); golden tests will fail"
fi

# --- build and test ----------------------------------------------------------------------------------
results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"
log "dotnet build Owl3Native.sln -c Release"
dotnet build Owl3Native.sln -c Release -nologo -v quiet -clp:ErrorsOnly
# One run per test project, each with its own TRX file (one shared results folder would let two projects that finish
# in the same second overwrite each other's default-named TRX).
test_rc=0
# A test project is one that references the test SDK (TestKit does not); none may be skipped silently.
for proj in tests/*/*.csproj; do
  name=$(basename "$proj" .csproj)
  grep -q 'Include="Microsoft.NET.Test.Sdk"' "$proj" || { log "not a test project: $name"; continue; }
  log "dotnet test $name"
  set +e
  dotnet test "$proj" -c Release --no-build -nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" --results-directory "$results"
  rc=$?
  set -e
  [ "$rc" -eq 0 ] || test_rc=$rc
done

# The GPU check bundle's self-test: it builds trimmed, starts, detects whether there is a GPU and writes its report.
selftest_passed=0; selftest_failed=0
log "scripts/gpu-check.sh selftest"
if bash scripts/gpu-check.sh selftest "$root/artifacts/gpu-check" > "$root/artifacts/gpu-check.log" 2>&1 && [ -s "$root/artifacts/gpu-check/report.md" ]; then
  selftest_passed=1
  grep -E "^- GPU:|^Result:" "$root/artifacts/gpu-check/report.md" || true
else
  selftest_failed=1
  tail -20 "$root/artifacts/gpu-check.log"
fi

# dotnet test prints no plain total: sum the TRX counters of every test project.
passed=0; failed=0; skipped=0; total=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  total=$((total + $(get total)))
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  # xunit's skipped tests are counted in total but not in executed (notExecuted stays 0).
  skipped=$((skipped + $(get total) - $(get executed)))
done
passed=$((passed + selftest_passed)); failed=$((failed + selftest_failed))
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$test_rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
  log "FAILED (dotnet test exit $test_rc)"
  exit 1
fi
if [ "$total" -eq 0 ]; then
  log "FAILED: no test ran"
  exit 1
fi
