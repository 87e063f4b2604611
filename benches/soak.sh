#!/usr/bin/env bash
# Soak: authgate (release build) under a steady mixed load for SOAK_SECS
# (default 1800 = 30 minutes), sampling its RSS, open file descriptors and
# server-side p99 every SAMPLE_SECS (default 10), then judging the run.
#
# Load (all on loopback, bounded in time): `authgate loadtest run` open loop
# at RATE req/s (default 2000) over API keys, access tokens, HS256/ES256/RS256
# JWTs and ed25519 stamps, 10 % forged credentials; beside it a trickle of
# bad input (dot-segment and encoded-slash paths, garbage request lines,
# oversized and malformed headers, truncated headers, two credentials).
#
# Fails (exit 1) when RSS or FDs grow without bound (the last quarter's peak
# above the second quarter's by more than 25 % + 8 MiB, or 16 FDs), when any
# 5xx appears (refusals are 4xx by design; a 5xx means a fault), or when the
# load tool reports transport errors. Writes soak.csv and, when matplotlib is
# importable, soak.png into OUT (default target/soak).
#
#   bash benches/soak.sh                   # the full 30-minute run
#   SOAK_SECS=120 bash benches/soak.sh     # a short one
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECS=${SOAK_SECS:-1800}
SAMPLE_SECS=${SAMPLE_SECS:-10}
RATE=${RATE:-2000}
OUT=${OUT:-$PWD/target/soak}
source benches/lib.sh
mkdir -p "$OUT"

PORT=18480 ADMIN=19480 UP=13480
"$BIN" loadtest prepare --out "$WORK/lt" --api-keys 1000 --jwts 1000 --stamps 1000 \
  --listen 127.0.0.1:$PORT --admin 127.0.0.1:$ADMIN --upstream 127.0.0.1:$UP \
  --threads 1 >/dev/null
# A 50,000-entry identity cache: the forged credentials (each new) fill it in
# about four minutes, and the replay memory (stamps live window + 2 x leeway
# = 6 min) is full by then too, so memory should be flat from minute 7 on.
printf '\n[cache]\nmax_entries = 50000\n' >>"$WORK/lt/authgate.toml"
"$BIN" echo --fixed --listen 127.0.0.1:$UP >/dev/null 2>&1 &
PIDS+=($!)
"$BIN" serve --config "$WORK/lt/authgate.toml" >"$WORK/gate.log" 2>&1 &
GATE=$!
PIDS+=($GATE)
wait_port $PORT
wait_port $ADMIN

"$BIN" loadtest run --url http://127.0.0.1:$PORT --credentials "$WORK/lt/credentials.jsonl" \
  --mix api_key=3,access_token=1,jwt_hs256=1,jwt_es256=1,jwt_rs256=1,stamp_ed25519=1 \
  --invalid 0.1 --rate "$RATE" --concurrency 64 --duration "${SOAK_SECS}s" --quiet --json \
  >"$WORK/load.json" &
LOAD=$!

# Bad input, one request every 50 ms, on fresh connections.
bad_input() {
  local reqs=(
    "GET /api/v1/workspaces/w1/../w2/agent-runs HTTP/1.1\r\nHost: x\r\n\r\n"
    "GET /api/v1/workspaces/w1%2fw2/agent-runs HTTP/1.1\r\nHost: x\r\n\r\n"
    "NOT A REQUEST LINE\r\n\r\n"
    "GET / HTTP/1.1\r\nHost: x\r\nBad Header Name: v\r\n\r\n"
    "GET /api/v1/workspaces/w1/agent-runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nX-API-Key: b\r\n\r\n"
    "GET /api/v1/workspaces/w1/agent-runs HTTP/1.1\r\nHost: x\r\nX-Big: $(head -c 70000 /dev/zero | tr '\0' a)\r\n\r\n"
    "GET /api/v1/workspaces/w1/agent-runs HTTP/1.1\r\nHost: x\r\nX-Cut: "
  )
  local i=0
  while :; do
    exec 3<>/dev/tcp/127.0.0.1/$PORT || { sleep 0.05; continue; }
    printf "%b" "${reqs[i % ${#reqs[@]}]}" >&3 2>/dev/null || true
    timeout 1 cat <&3 >/dev/null 2>&1 || true
    exec 3>&-
    i=$((i + 1))
    sleep 0.05
  done
}
bad_input &
PIDS+=($!)

metric() { curl -s "http://127.0.0.1:$ADMIN/metrics"; }
echo "t_s,rss_kib,fds,requests,p99_ms,status_5xx" >"$OUT/soak.csv"
start=$(date +%s)
while kill -0 "$LOAD" 2>/dev/null; do
  sleep "$SAMPLE_SECS"
  now=$(( $(date +%s) - start ))
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$GATE/status)
  fds=$(ls /proc/$GATE/fd | wc -l)
  m=$(metric)
  # Server-side p99 over the last interval: difference of the cumulative
  # latency histogram (all routes summed) between two samples.
  echo "$m" >"$WORK/metrics.now"
  row=$(python3 - "$WORK/metrics.prev" "$WORK/metrics.now" <<'PY'
import re, sys
def buckets(path):
    d = {}
    try:
        text = open(path).read()
    except FileNotFoundError:
        return d
    for m in re.finditer(r'^authgate_request_duration_seconds_bucket\{.*?le="([^"]+)"\} (\S+)$', text, re.M):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        d[le] = d.get(le, 0.0) + float(m.group(2))
    return d
prev, cur = buckets(sys.argv[1]), buckets(sys.argv[2])
delta = sorted((k, cur[k] - prev.get(k, 0.0)) for k in cur)
total = delta[-1][1] if delta else 0
p99 = next((k for k, c in delta if total and c >= 0.99 * total), float("nan"))
print(f"{int(total)},{p99 * 1000:.3f}")
PY
)
  mv "$WORK/metrics.now" "$WORK/metrics.prev"
  s5=$(echo "$m" | awk '/^authgate_requests_total/ && /status="5/ {s += $NF} END {print s + 0}')
  echo "$now,$rss,$fds,$row,$s5" | tee -a "$OUT/soak.csv"
done
wait "$LOAD" || true
cp "$WORK/load.json" "$OUT/load.json"

python3 - "$OUT" <<'PY'
import csv, json, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/soak.csv")))
load = json.load(open(f"{out}/load.json"))
fail = []
if len(rows) < 8:
    fail.append(f"only {len(rows)} samples: run longer")
else:
    q = len(rows) // 4
    second, last = rows[q:2 * q], rows[3 * q:]
    rss2 = max(int(r["rss_kib"]) for r in second)
    rss4 = max(int(r["rss_kib"]) for r in last)
    fd2 = max(int(r["fds"]) for r in second)
    fd4 = max(int(r["fds"]) for r in last)
    print(f"RSS peak: second quarter {rss2 / 1024:.1f} MiB, last quarter {rss4 / 1024:.1f} MiB")
    print(f"FDs peak: second quarter {fd2}, last quarter {fd4}")
    if rss4 > rss2 * 1.25 + 8192:
        fail.append("RSS keeps growing")
    if fd4 > fd2 + 16:
        fail.append("FDs keep growing")
s5 = int(rows[-1]["status_5xx"]) if rows else 0
s5 += sum(n for code, n in load.get("status", {}).items() if code.startswith("5"))
if s5:
    fail.append(f"{s5} responses with a 5xx status")
errors = sum(load.get("errors", {}).values()) if isinstance(load.get("errors"), dict) else load.get("errors", 0)
print(f"load: {load.get('requests')} requests, {load.get('rps', 0):.0f} req/s, statuses {load.get('status')}, errors {errors}")
if errors:
    fail.append(f"{errors} transport errors at the load tool")
p99 = sorted(float(r["p99_ms"]) for r in rows if r["p99_ms"] != "nan")
if p99:
    print(f"p99 per {len(rows)} intervals (ms): median {p99[len(p99) // 2]:.2f}, worst {p99[-1]:.2f}")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [int(r["t_s"]) / 60 for r in rows]
    fig, ax = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    ax[0].plot(t, [int(r["rss_kib"]) / 1024 for r in rows]); ax[0].set_ylabel("RSS (MiB)")
    ax[1].plot(t, [int(r["fds"]) for r in rows]); ax[1].set_ylabel("open FDs")
    ax[2].plot(t, [float(r["p99_ms"]) for r in rows]); ax[2].set_ylabel("p99 (ms)")
    ax[2].set_xlabel("minutes")
    fig.suptitle("authgate soak: mixed load, 10 % forged credentials, bad input")
    fig.tight_layout(); fig.savefig(f"{out}/soak.png", dpi=90)
    print(f"plot: {out}/soak.png")
except ImportError:
    print("matplotlib not importable: no plot (pip install matplotlib)")
if fail:
    print("SOAK FAILED: " + "; ".join(fail))
    sys.exit(1)
print("soak passed")
PY
