#!/usr/bin/env bash
# One million keys in each store: the config-file store (store.keys_file),
# the embedded SQLite store and PostgreSQL. For each: the time to load or
# import, first-sight request latency (random keys of ~333k API keys, so
# almost every request is a cache miss answered by the store; closed loop,
# concurrency 8, one worker thread) and the proxy's resident memory after
# the run.
#
# Usage: benches/store_scale.sh   (env: KEYS_PER_KIND=333334, REQUESTS=20000,
#        PG=postgres://root@127.0.0.1:5432; BIN= skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
N=${KEYS_PER_KIND:-333334}
REQUESTS=${REQUESTS:-20000}
PG=${PG:-postgres://root@127.0.0.1:5432}
db="authgate_scale_$$"

$BIN echo --listen 127.0.0.1:3110 --fixed >/dev/null 2>&1 & PIDS+=($!)
wait_port 3110
t=$(date +%s.%N)
$BIN loadtest prepare --out "$WORK/p" --api-keys "$N" --jwts 10 --stamps 0 --upstream 127.0.0.1:3110 \
  --listen 127.0.0.1:8190 --admin 127.0.0.1:9195 --threads 1 >/dev/null
echo "prepared $((N * 3)) keys in $(echo "$(date +%s.%N) - $t" | bc) s" >&2
base="$WORK/p/authgate.toml"
sed -i 's/^level = .*/level = "warn"/' "$base"
psql "$PG/postgres" -qc "CREATE DATABASE $db" >/dev/null
trap 'psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; cleanup' EXIT

# with_store URL KEEP_KEYS_FILE: the prepared config pointed at a store.
with_store() {
  local out="$WORK/p/$2.toml"
  if [ "$1" = "none" ]; then cp "$base" "$out"; else
    awk -v url="$1" -v keep="$3" '
      /^\[store\]/ { print; print "url = \"" url "\""; next }
      /^keys_file/ && keep == "no" { next }
      { print }' "$base" > "$out"
    grep -q '^\[store\]' "$out" || printf '\n[store]\nurl = "%s"\n' "$1" >> "$out"
  fi
  echo "$out"
}

measure() { # NAME CONFIG LOAD_SECONDS
  local name=$1 cfg=$2 load=$3 json pid rss
  $BIN serve --config "$cfg" 2>>"$WORK/serve.log" & pid=$!
  PIDS+=("$pid")
  wait_port 8190 600
  json=$($BIN loadtest run --url http://127.0.0.1:8190 --credentials "$WORK/p/credentials.jsonl" \
    --mix api_key=1 --requests "$REQUESTS" --concurrency 8 --json 2>/dev/null)
  rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  python3 - "$name" "$load" "$rss" "$json" <<'PY'
import json, sys
name, load, rss, doc = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
l = doc["latency_us"]
status = doc.get("status", {})
ok = sum(v for k, v in status.items() if str(k).startswith("2")) / max(1, doc.get("requests", 1))
print(f"| {name} | {load} | {l['p50']/1000:.2f} ms | {l['p99']/1000:.2f} ms | {doc.get('rps', 0):.0f} | {ok:.0%} | {rss} MiB |")
PY
}

echo "| store ($((N * 3)) keys) | load / import | first-sight p50 | p99 | req/s | 2xx | proxy RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
# File store: the keys file is parsed at start.
cfg=$(with_store none file)
t=$(date +%s.%N); $BIN check --config "$cfg" >/dev/null; load=$(printf '%.1f s parse' "$(echo "$(date +%s.%N) - $t" | bc)")
measure "config file (store.keys_file)" "$cfg" "$load"
for store in sqlite postgres; do
  if [ $store = sqlite ]; then url="sqlite://$WORK/keys.db"; else url="$PG/$db"; fi
  imp=$(with_store "$url" "imp-$store" yes)
  t=$(date +%s.%N); $BIN store import --config "$imp" >&2
  load=$(printf '%.1f s import' "$(echo "$(date +%s.%N) - $t" | bc)")
  measure "$store" "$(with_store "$url" "serve-$store" no)" "$load"
done
