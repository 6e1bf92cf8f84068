#!/usr/bin/env bash
# Two OpenAI-style turns (the second resends the first) against `owl3 serve --prefix-cache <N>`; prints seconds and usage
# per request (bench/results/2026-11-26-dev-2core-prefix-cache.md).
#   MODEL=/tmp/bench1b IMG=img.jpg bash bench/prefix-cache-turns.sh <prefix-cache> <port>
set -euo pipefail
pc=$1; port=$2
root=$(cd "$(dirname "$0")/.." && pwd)
owl3=${OWL3:-$root/src/Owl3Native.Cli/bin/Release/net10.0/owl3}
model=${MODEL:-/tmp/bench1b}
image=${IMG:-img.jpg}
$owl3 serve --model "$model" --threads 2 --port $port --prefix-cache $pc > "serve-$pc.log" 2>&1 &
pid=$!
for i in $(seq 1 120); do curl -s localhost:$port/health >/dev/null && break; sleep 1; done
img=$(base64 -w0 "$image")
t1='{"messages":[{"role":"system","content":"You are a careful assistant."},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,'$img'"}},{"type":"text","text":"Describe this image in detail."}]}],"temperature":0,"max_tokens":8}'
s=$(date +%s.%N); r1=$(curl -s localhost:$port/v1/chat/completions -H 'content-type: application/json' -d "$t1"); e=$(date +%s.%N)
echo "prefix-cache=$pc turn1 $(echo "$e - $s" | bc) s $(echo "$r1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["usage"])')"
a=$(echo "$r1" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["choices"][0]["message"]["content"]))')
t2='{"messages":[{"role":"system","content":"You are a careful assistant."},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,'$img'"}},{"type":"text","text":"Describe this image in detail."}]},{"role":"assistant","content":'$a'},{"role":"user","content":"What colours are in it?"}],"temperature":0,"max_tokens":8}'
s=$(date +%s.%N); r2=$(curl -s localhost:$port/v1/chat/completions -H 'content-type: application/json' -d "$t2"); e=$(date +%s.%N)
echo "prefix-cache=$pc turn2 $(echo "$e - $s" | bc) s $(echo "$r2" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["usage"])')"
kill $pid; wait $pid 2>/dev/null || true  # SIGTERM: owl3 serve stops cleanly
