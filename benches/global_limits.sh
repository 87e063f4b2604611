#!/usr/bin/env bash
# Accuracy of a global rate limit: three authgate instances share one
# 1,000 req/s limit (burst 100, key = route) kept in Redis, under 5,000
# req/s of offered load spread evenly across them (three open-loop load
# tools, ~1,667 req/s each, for DUR). Admitted = 200s counted by the load
# tools; refused = 429s. Also: the same limit with offered load below it
# (600 req/s, nothing should be refused), and the limit declared local
# (each instance counts alone) to show what sharing buys. Redis calls come
# from authgate's own counter (authgate_rate_limit_backend_calls_total).
#
# Usage: benches/global_limits.sh   (env: DUR=30s RATE=1000 OFFERED=5000
#        REDIS=redis://127.0.0.1:6379 OUT=file.md; BIN= skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
DUR=${DUR:-30s}
RATE=${RATE:-1000}
OFFERED=${OFFERED:-5000}
REDIS=${REDIS:-redis://127.0.0.1:6379}
OUT=${OUT:-}
PREFIX="authgate-bench-$$:"
trap 'redis-cli -u "$REDIS" --scan --pattern "$PREFIX*" 2>/dev/null | xargs -r redis-cli -u "$REDIS" del >/dev/null 2>&1; cleanup' EXIT

$BIN echo --listen 127.0.0.1:3120 --fixed >/dev/null 2>&1 & PIDS+=($!)
wait_port 3120
$BIN loadtest prepare --out "$WORK/p" --api-keys 10 --jwts 1 --stamps 0 --upstream 127.0.0.1:3120 \
  --listen 127.0.0.1:8120 --admin 127.0.0.1:9120 --threads 1 >/dev/null
sed -i 's/^level = .*/level = "warn"/' "$WORK/p/authgate.toml"
CREDS="$WORK/p/credentials.jsonl"

# start SCOPE ROUND: three instances with the limit, on ports 812x / 912x.
start() {
  local scope=$1 round=$2
  INST=()
  for i in 1 2 3; do
    local cfg="$WORK/p/$scope-$round-$i.toml"
    sed -e "s/127.0.0.1:8120/127.0.0.1:812$i/" -e "s/127.0.0.1:9120/127.0.0.1:912$i/" \
      "$WORK/p/authgate.toml" >"$cfg"
    cat >>"$cfg" <<CFG

[redis]
url = "$REDIS"
prefix = "$PREFIX$round:"

[[rate_limits]]
name = "fleet"
key = "route"
rate = $RATE
per = "1s"
burst = 100
scope = "$scope"
CFG
    $BIN serve --config "$cfg" 2>"$WORK/$scope-$round-$i.log" & INST+=($!); PIDS+=($!)
  done
  for i in 1 2 3; do wait_port "812$i"; done
}
stop() { for p in "${INST[@]}"; do kill -INT "$p" 2>/dev/null || true; done; sleep 1; }

calls() {
  local n=0
  for i in 1 2 3; do
    local c
    c=$(curl -s "http://127.0.0.1:912$i/metrics" | awk '/^authgate_rate_limit_backend_calls_total/ {s+=$2} END {print s+0}')
    n=$((n + ${c%.*}))
  done
  echo "$n"
}

RESULTS="$WORK/results.jsonl"
# run NAME SCOPE OFFERED
run() {
  local name=$1 scope=$2 offered=$3 round=$4
  start "$scope" "$round"
  local per
  per=$(python3 -c "print($offered / 3)")
  local pids=()
  for i in 1 2 3; do
    $BIN loadtest run --url "http://127.0.0.1:812$i" --credentials "$CREDS" --mix api_key=1 \
      --rate "$per" --duration "$DUR" --warmup 0s --concurrency 64 --quiet --json >"$WORK/$round-$i.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  local redis_calls
  redis_calls=$(calls)
  stop
  python3 - "$name" "$offered" "$redis_calls" "$WORK/$round-1.json" "$WORK/$round-2.json" "$WORK/$round-3.json" >>"$RESULTS" <<'PY'
import json, sys
name, offered, calls = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ok = refused = sent = 0
secs = 0
for f in sys.argv[4:]:
    d = json.load(open(f))
    ok += sum(v for k, v in d["status"].items() if k.startswith("2"))
    refused += d["status"].get("429", 0)
    sent += d["requests"]
    secs = max(secs, d["duration_s"])
print(json.dumps({"name": name, "offered": offered, "ok": ok, "refused": refused, "sent": sent, "secs": secs, "calls": calls}))
PY
  echo "$name done" >&2
}

run "global, offered $OFFERED req/s" global "$OFFERED" a
run "global, offered 600 req/s" global 600 b
run "local (per instance), offered $OFFERED req/s" local "$OFFERED" c

python3 - "$RESULTS" "$RATE" "$DUR" <<'PY' | tee ${OUT:+"$OUT"}
import json, sys
path, rate, dur = sys.argv[1], float(sys.argv[2]), sys.argv[3]
print(f"Three instances, one limit of {rate:.0f} req/s (burst 100, key = route), {dur} per row, loopback, 2 cores.\n")
print("| scenario | sent | admitted | refused (429) | admitted req/s | vs limit | Redis calls/s |")
print("|---|---:|---:|---:|---:|---:|---:|")
for line in open(path):
    d = json.loads(line)
    adm = d["ok"] / d["secs"]
    print(f"| {d['name']} | {d['sent']} | {d['ok']} | {d['refused']} | {adm:.1f} | {(adm / rate - 1) * 100:+.2f} % | {d['calls'] / d['secs']:.0f} |")
PY
