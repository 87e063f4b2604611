#!/usr/bin/env bash
# How fast the load tool is, against wrk (Debian's package) as the outside
# instrument: both drive `authgate echo --fixed` (pinned to core 1, one
# thread) from core 0, one thread, the same concurrency and keep-alive, in
# alternating rounds; medians. A load generator that is slower than the
# target measures itself: `authgate loadtest run` must reach >= 0.95x
# wrk's request rate closed loop, and hold an open-loop rate of 0.9x wrk's
# closed-loop rate with nothing missed.
#
# Usage: benches/loadgen.sh      (env: ROUNDS=3 DUR=5s CONC=32 BIN=...)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5s}
CONC=${CONC:-32}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "needs two cores" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. benches/lib.sh

taskset -c 1 "$BIN" echo --listen 127.0.0.1:3190 --fixed >/dev/null 2>&1 & PIDS+=($!)
wait_port 3190
URL=http://127.0.0.1:3190/
# Warm both paths once.
taskset -c 0 wrk -t1 -c"$CONC" -d1s "$URL" >/dev/null
taskset -c 0 "$BIN" loadtest run --url "$URL" --concurrency "$CONC" --duration 1s --warmup 0s --quiet >/dev/null

: >"$WORK/rows"
for r in $(seq "$ROUNDS"); do
  w=$(taskset -c 0 wrk -t1 -c"$CONC" -d"$DUR" "$URL" | awk '/^Requests\/sec/ {print $2}')
  echo "wrk $w" >>"$WORK/rows"
  l=$(taskset -c 0 "$BIN" loadtest run --url "$URL" --concurrency "$CONC" --duration "$DUR" \
        --warmup 0s --quiet --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rps"])')
  echo "tool $l" >>"$WORK/rows"
  echo "round $r: wrk $w req/s, loadtest $l req/s" >&2
done

wrk_med=$(awk '$1=="wrk" {print $2}' "$WORK/rows" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
tool_med=$(awk '$1=="tool" {print $2}' "$WORK/rows" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
rate=$(python3 -c "print(round(0.9 * $wrk_med))")
open=$(taskset -c 0 "$BIN" loadtest run --url "$URL" --concurrency "$CONC" --rate "$rate" \
        --duration "$DUR" --warmup 1s --quiet --json)
python3 - "$wrk_med" "$tool_med" "$rate" "$open" "$CONC" <<'PY'
import json, sys
wrk, tool, rate, conc = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[5]
o = json.loads(sys.argv[4])
print(f"| load generator (one core, c={conc}) | req/s | ÷ wrk |")
print("|---|---:|---:|")
print(f"| wrk 4 (-t1) | {wrk:,.0f} | 1.00 |")
print(f"| authgate loadtest run, closed loop | {tool:,.0f} | {tool / wrk:.2f} |")
print(f"| authgate loadtest run, open loop at {rate:,} req/s | {o['rps']:,.0f} ({o.get('missed', 0)} missed, p99 {o['latency_us']['p99']:.0f} µs) | {o['rps'] / wrk:.2f} |")
PY
