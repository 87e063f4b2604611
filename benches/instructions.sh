#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's
# callgrind: repeatable for the same binary and inputs whatever else the
# machine is doing, so small hot-path changes show up where req/s and CPU
# time drown in noise. It does not see the kernel, and valgrind hides
# SHA-NI, so SHA-256 (the cache key) counts at its software cost.
#
# For each target: start the proxy under callgrind (one worker thread),
# warm up with 2,000 requests, zero the counters, send N requests
# (closed loop, concurrency 8, from `authgate loadtest run`), dump, and divide
# the instructions by the responses the proxy wrote (calls of pingora's
# `prepare_response_header`, one per response).
#
# Targets: bare pingora passthrough; authgate public route (no credential);
# authgate cached API key, alone, with a local rate limit per credential
# and with a global one on Redis (limits high enough never to refuse: the
# cost of counting; the global row includes the background lease calls and
# the Redis client, which run in the same process); authgate cached ES256
# JWT.
#
# Usage: benches/instructions.sh        (env: N=5000, KEEP=dir to keep the
#        callgrind files for callgrind_annotate; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. benches/lib.sh

$BIN echo --listen 127.0.0.1:3100 --fixed >/dev/null 2>&1 & PIDS+=($!)
wait_port 3100
$BIN loadtest prepare --out "$WORK/p" --api-keys 1000 --jwts 1000 --stamps 10 --upstream 127.0.0.1:3100 \
  --listen 127.0.0.1:8180 --admin 127.0.0.1:9190 --threads 1 >/dev/null
sed -i 's/^level = .*/level = "warn"/' "$WORK/p/authgate.toml"

# measure NAME PORT LOAD_ARGS -- PROXY_COMMAND...
measure() {
  local name=$1 port=$2 load=$3; shift 4
  local out="$WORK/cg.${name//[^a-zA-Z0-9]/_}"
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$@" >/dev/null 2>&1 &
  local vp=$!
  wait_port "$port" 600
  # shellcheck disable=SC2086
  $BIN loadtest run --url "http://127.0.0.1:$port" $load --requests 2000 --concurrency 8 >/dev/null 2>&1
  callgrind_control -z "$vp" >/dev/null 2>&1
  # shellcheck disable=SC2086
  $BIN loadtest run --url "http://127.0.0.1:$port" $load --requests "$N" --concurrency 8 >/dev/null 2>&1
  callgrind_control -d "$vp" >/dev/null 2>&1
  sleep 0.5
  kill -INT "$vp"; wait "$vp" 2>/dev/null || true
  local f
  f=$(ls "$out".*.1)
  local total responses
  # (The readers stop early; pipefail must not count that as a failure.)
  total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}' || true)
  responses=$(callgrind_annotate --tree=calling --inclusive=yes "$f" 2>/dev/null \
    | grep -m1 -E "> .*HttpSession::prepare_response_header " | grep -o "([0-9,]*x)" | tr -d '(),x' || true)
  printf '| %s | %d | %s |\n' "$name" "$((total / responses))" "$responses"
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$f" "$KEEP/$(basename "$out").out"; fi
}

echo "| target | instructions / request | responses counted |"
echo "|---|---:|---:|"
measure "bare pingora passthrough" 8181 "--path /public/x" -- \
  $BIN passthrough --listen 127.0.0.1:8181 --upstream 127.0.0.1:3100 --threads 1
measure "authgate public route" 8180 "--path /public/x" -- $BIN serve --config "$WORK/p/authgate.toml"
measure "authgate api_key (cached)" 8180 "--credentials $WORK/p/credentials.jsonl --mix api_key=1" -- \
  $BIN serve --config "$WORK/p/authgate.toml"
{ cat "$WORK/p/authgate.toml"; printf '\n[[rate_limits]]\nkey = "credential"\nrate = 1000000\nper = "1s"\n'; } >"$WORK/p/local.toml"
measure "authgate api_key (cached) + local limit" 8180 "--credentials $WORK/p/credentials.jsonl --mix api_key=1" -- \
  $BIN serve --config "$WORK/p/local.toml"
if command -v redis-cli >/dev/null && redis-cli ping >/dev/null 2>&1; then
  { cat "$WORK/p/local.toml"; printf 'scope = "global"\n[redis]\nurl = "redis://127.0.0.1:6379"\nprefix = "authgate-instr-%s:"\n' "$$"; } >"$WORK/p/global.toml"
  measure "authgate api_key (cached) + global limit (Redis)" 8180 "--credentials $WORK/p/credentials.jsonl --mix api_key=1" -- \
    $BIN serve --config "$WORK/p/global.toml"
fi
measure "authgate jwt ES256 (cached)" 8180 "--credentials $WORK/p/credentials.jsonl --mix jwt_es256=1" -- \
  $BIN serve --config "$WORK/p/authgate.toml"
