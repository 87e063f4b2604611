#!/usr/bin/env bash
# How authgate scales with worker threads ([server] threads), on the cached
# API-key path (1,000 keys, the load rotating through them).
#
# Two methods, because the answer needs cores the proxy does not share:
#
# closed (a machine with cores to spare): for each thread count T, authgate
#   runs T worker threads pinned to the first T cores of PROXY_CPUS, and wrk
#   (LOAD_THREADS threads, CONC connections per proxy thread) and the
#   upstream (`authgate echo --fixed`) run on LOAD_CPUS. Reported: req/s,
#   req/s per thread, the proxy's CPU µs per request and the scaling
#   efficiency (req/s per thread ÷ that at 1 thread). The load side must
#   never be the limit: the table shows its cores' busy share, and a row
#   where it passes 90 % measures wrk, not authgate (give it more cores).
#   E.g. on a 16-core box:
#     MODE=closed THREADS="1 2 4 8" PROXY_CPUS=0-7 LOAD_CPUS=8-15 LOAD_THREADS=8 bash benches/scaling.sh
#
# rate (the default here, where 2 cores cannot hold both a 2-thread proxy
#   and a load generator that outruns it): the load tool sends an open-loop
#   fixed RATE that neither thread count saturates, everything on all cores,
#   and the proxy's CPU µs per request is compared between thread counts.
#   If the per-request cost stays flat as threads are added, the threads do
#   not contend (no shared lock or cache line on the hot path) and capacity
#   is threads × 10^6 ÷ that cost once each thread has its own core; if it
#   rises, the rise is the contention. p50/p99 show the queueing.
#     THREADS="1 2" RATE=8000 bash benches/scaling.sh
#
# Env: MODE=closed|rate (default: closed with ≥ 4 cores, else rate),
#      THREADS="1 2", DUR=10s, ROUNDS=3 (alternating, medians), CONC=32,
#      RATE=8000, WORK_STEALING=true|false (default: authgate's, on with 2+
#      threads), PROXY_CPUS / LOAD_CPUS (closed; default: the first half
#      of the cores / the rest), LOAD_THREADS (closed; default 1 per load
#      core), BIN=path (else a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

CORES=$(nproc)
MODE=${MODE:-$([ "$CORES" -ge 4 ] && echo closed || echo rate)}
THREADS=${THREADS:-1 2}
DUR=${DUR:-10s}
ROUNDS=${ROUNDS:-3}
CONC=${CONC:-32}
RATE=${RATE:-8000}
HALF=$((CORES / 2))
PROXY_CPUS=${PROXY_CPUS:-0-$((HALF > 0 ? HALF - 1 : 0))}
LOAD_CPUS=${LOAD_CPUS:-$HALF-$((CORES - 1))}
# The cores of a taskset list ("0-3,6" → 0 1 2 3 6).
expand() {
  local part out=()
  IFS=',' read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then out+=($(seq "${part%-*}" "${part#*-}")); else out+=("$part"); fi
  done
  echo "${out[@]}"
}
read -ra PCPU <<<"$(expand "$PROXY_CPUS")"
read -ra LCPU <<<"$(expand "$LOAD_CPUS")"
LOAD_THREADS=${LOAD_THREADS:-${#LCPU[@]}}
if [ "$MODE" = closed ]; then
  for t in $THREADS; do
    [ "$t" -le "${#PCPU[@]}" ] || { echo "THREADS has $t but PROXY_CPUS ($PROXY_CPUS) has ${#PCPU[@]} cores" >&2; exit 1; }
  done
  command -v wrk >/dev/null || { echo "closed mode needs wrk (apt-get install wrk)" >&2; exit 1; }
  LOAD="taskset -c $LOAD_CPUS"
else
  LOAD=""
fi

$LOAD "$BIN" echo --listen 127.0.0.1:3100 --fixed 2>/dev/null & ECHO=$!; PIDS+=($ECHO)
wait_port 3100
"$BIN" loadtest prepare --out "$WORK/p" --api-keys 1000 --upstream 127.0.0.1:3100 \
  --listen 127.0.0.1:8180 --admin 127.0.0.1:9190 --threads 1 >&2
sed -i 's/^level = .*/level = "warn"/' "$WORK/p/authgate.toml"
CREDS="$WORK/p/credentials.jsonl"
wrk_script "$CREDS" api_key / >"$WORK/keys.lua"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
child_ticks() { awk '{print $16+$17}' "/proc/$$/stat"; }
HZ=$(getconf CLK_TCK)
RESULTS="$WORK/results.jsonl"

# start T: authgate with T worker threads (pinned in closed mode); sets AG.
start() {
  local t=$1 pin=""
  sed "s/^threads = .*/threads = $t${WORK_STEALING:+\\nwork_stealing = $WORK_STEALING}/" "$WORK/p/authgate.toml" >"$WORK/p/t$t.toml"
  if [ "$MODE" = closed ]; then pin="taskset -c $(echo "${PCPU[@]:0:$t}" | tr ' ' ',')"; fi
  $pin "$BIN" serve --config "$WORK/p/t$t.toml" 2>"$WORK/t$t.log" & AG=$!; PIDS+=($AG)
  wait_port 8180
}
stop() { kill -INT "$AG"; wait "$AG" 2>/dev/null || true; }

for round in $(seq "$ROUNDS"); do
  for t in $THREADS; do
    start "$t"
    if [ "$MODE" = closed ]; then
      c=$((CONC * t))
      $LOAD wrk -t"$LOAD_THREADS" -c"$c" -d1s -s "$WORK/keys.lua" http://127.0.0.1:8180 >/dev/null
      b=$(ticks "$AG"); eb=$(ticks "$ECHO"); lb=$(child_ticks); t0=$(date +%s.%N)
      out=$($LOAD wrk -t"$LOAD_THREADS" -c"$c" -d"$DUR" --latency -s "$WORK/keys.lua" http://127.0.0.1:8180)
      t1=$(date +%s.%N); la=$(child_ticks); ea=$(ticks "$ECHO"); a=$(ticks "$AG")
      json=$(wrk_json "$out"); load=$((la - lb + ea - eb))
    else
      "$BIN" loadtest run --url http://127.0.0.1:8180 --credentials "$CREDS" --mix api_key=1 \
        --rate "$RATE" --duration 1s --warmup 0s --concurrency "$CONC" --quiet >/dev/null
      b=$(ticks "$AG"); lb=$(child_ticks); t0=$(date +%s.%N)
      json=$("$BIN" loadtest run --url http://127.0.0.1:8180 --credentials "$CREDS" --mix api_key=1 \
        --rate "$RATE" --duration "$DUR" --warmup 0s --concurrency "$CONC" --quiet --json)
      t1=$(date +%s.%N); la=$(child_ticks); a=$(ticks "$AG"); load=$((la - lb))
    fi
    python3 - "$json" "$t" "$((a - b))" "$load" "$t0" "$t1" >>"$RESULTS" <<'PY'
import json, sys
d, t, ticks, load, t0, t1 = sys.argv[1:7]
d = json.loads(d)
ok = sum(v for k, v in d["status"].items() if k.startswith("2"))
print(json.dumps({"threads": int(t), "rps": d["rps"], "requests": d["requests"],
                  "bad": d["requests"] - ok, "p50": d["latency_us"]["p50"], "p99": d["latency_us"]["p99"],
                  "ticks": int(ticks), "load_ticks": int(load), "wall": float(t1) - float(t0)}))
PY
    stop
    echo "round $round: $t thread(s) done" >&2
  done
done

python3 - "$RESULTS" "$MODE" "$HZ" "$DUR" "$ROUNDS" "$CORES" "$PROXY_CPUS" "$LOAD_CPUS" "$RATE" "${#LCPU[@]}" "${WORK_STEALING:-default}" <<'PY'
import json, statistics, sys
path, mode, hz, dur, rounds, cores, pcpus, lcpus, rate, lcores, steal = sys.argv[1:12]
hz, lcores = int(hz), int(lcores)
rows = {}
for line in open(path):
    d = json.loads(line)
    r = rows.setdefault(d["threads"], {k: [] for k in ("rps", "cpu", "p50", "p99", "bad", "load")})
    n = max(d["requests"], 1)
    r["rps"].append(d["rps"]); r["p50"].append(d["p50"]); r["p99"].append(d["p99"])
    r["cpu"].append(d["ticks"] * 1e6 / hz / n); r["bad"].append(d["bad"] / n)
    r["load"].append(d["load_ticks"] / hz / max(d["wall"], 1e-9) / (lcores if mode == "closed" else 1))
med = {t: {k: statistics.median(v) for k, v in r.items()} for t, r in sorted(rows.items())}
one = med.get(min(med))
if mode == "closed":
    print(f"Closed loop (wrk), {cores} cores: proxy on {pcpus} (first T), load + upstream on {lcpus}; "
          f"{rounds} alternating rounds of {dur}; work stealing: {steal}; medians.\n")
    print("| threads | req/s | req/s per thread | efficiency | proxy CPU µs/req | p99 µs | non-2xx | load cores busy |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t, m in med.items():
        per = m["rps"] / t
        eff = per / (one["rps"] / min(med))
        flag = " ⚠" if m["load"] > 0.9 else ""
        print(f"| {t} | {m['rps']:.0f} | {per:.0f} | {eff:.2f} | {m['cpu']:.1f} | {m['p99']:.0f} | {m['bad']:.1%} | {m['load']:.0%}{flag} |")
else:
    print(f"Open loop at {rate} req/s (the load tool), {cores} cores, nothing pinned; "
          f"{rounds} alternating rounds of {dur}; work stealing: {steal}; medians.\n")
    print("| threads | req/s | proxy CPU µs/req | ÷ 1 thread | capacity if each thread had a core | p50 µs | p99 µs | non-2xx |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t, m in med.items():
        print(f"| {t} | {m['rps']:.0f} | {m['cpu']:.1f} | {m['cpu'] / one['cpu']:.2f} | "
              f"{t * 1e6 / m['cpu']:.0f} req/s | {m['p50']:.0f} | {m['p99']:.0f} | {m['bad']:.1%} |")
PY
