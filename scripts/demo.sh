#!/usr/bin/env bash
# The README's run command: `owl3 demo` on the embedded default (pass extra arguments through, e.g. --model DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
exec dotnet run --project src/Owl3Native.Cli -c Release -- demo "$@"
