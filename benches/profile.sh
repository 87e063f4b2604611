#!/usr/bin/env bash
# Where a proxied request's CPU goes, kernel included: the bare pingora
# passthrough next to authgate (public route, cached API key, cached ES256
# JWT), each sampled with `perf record -e cpu-clock` while a closed loop
# (concurrency 32, `authgate loadtest run`) saturates it.
#
# CPU µs per request comes from /proc/PID/stat over the same run; perf's
# self-time samples split it by component (first crate of each symbol;
# kernel and libc by object): kernel, libc (memcpy …), allocator (mimalloc),
# tokio, pingora, http (http, httparse, bytes), authgate's own code, and the
# libraries it calls on the hot path (moka, sha2, aws-lc, matchit,
# prometheus, tracing, serde_json, arc-swap, rand …).
#
# Proxies are pinned to core 0, the echo upstream and the load tool to
# core 1. Needs `perf` (linux-perf). Loopback only.
#
# Usage: benches/profile.sh        (env: DUR=6s, KEEP=dir keeps perf.data files)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-6s}
command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 1; }
# shellcheck source=benches/lib.sh
. benches/lib.sh
PROXY="taskset -c 0"; LOAD="taskset -c 1"

$LOAD "$BIN" echo --listen 127.0.0.1:3200 --fixed >/dev/null 2>&1 & PIDS+=($!)
wait_port 3200
"$BIN" loadtest prepare --out "$WORK/p" --api-keys 1000 --jwts 1000 --stamps 10 --upstream 127.0.0.1:3200 \
  --listen 127.0.0.1:8280 --admin 127.0.0.1:9290 --threads 1 >/dev/null
sed -i 's/^level = .*/level = "warn"/' "$WORK/p/authgate.toml"
$PROXY "$BIN" serve --config "$WORK/p/authgate.toml" >/dev/null 2>&1 & AG=$!; PIDS+=($AG)
$PROXY "$BIN" passthrough --listen 127.0.0.1:8281 --upstream 127.0.0.1:3200 --threads 1 >/dev/null 2>&1 & PT=$!; PIDS+=($PT)
wait_port 8280; wait_port 8281

CREDS="$WORK/p/credentials.jsonl"
# name | pid | url | loadtest args
TARGETS=(
  "bare pingora passthrough|$PT|http://127.0.0.1:8281|--path /public/x"
  "authgate public route|$AG|http://127.0.0.1:8280|--path /public/x"
  "authgate api_key (cached)|$AG|http://127.0.0.1:8280|--credentials $CREDS --mix api_key=1"
  "authgate jwt ES256 (cached)|$AG|http://127.0.0.1:8280|--credentials $CREDS --mix jwt_es256=1"
)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
for t in "${TARGETS[@]}"; do
  IFS='|' read -r name pid url args <<<"$t"
  data="$WORK/${name//[^a-zA-Z0-9]/_}.data"
  # shellcheck disable=SC2086
  $LOAD "$BIN" loadtest run --url "$url" $args --duration 1s --warmup 0s --concurrency 32 --quiet >/dev/null
  perf record -q -e cpu-clock -F 2000 -p "$pid" -o "$data" >/dev/null 2>&1 & REC=$!
  sleep 0.5
  before=$(ticks "$pid")
  # shellcheck disable=SC2086
  json=$($LOAD "$BIN" loadtest run --url "$url" $args --duration "$DUR" --warmup 0s --concurrency 32 --quiet --json)
  after=$(ticks "$pid")
  kill -INT "$REC"; wait "$REC" 2>/dev/null || true
  perf report -i "$data" --no-children --sort dso,sym --stdio -g none --field-separator '|' 2>/dev/null \
    | grep -v '^#' | grep -v '^$' >"$data.txt" || true
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["requests"], d["rps"])' "$json" >"$data.req"
  echo "$name|$((after - before))|$data" >>"$WORK/runs"
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$data" "$KEEP/"; fi
  echo "$name done" >&2
done

python3 - "$WORK/runs" "$(getconf CLK_TCK)" <<'PY'
import re, sys
runs, hz = sys.argv[1], int(sys.argv[2])
LIBS = ("moka", "sha2", "aws_lc", "matchit", "prometheus", "tracing", "serde", "serde_json",
        "arc_swap", "rand", "subtle", "base64", "jsonwebtoken", "dashmap", "crossbeam")
ORDER = ["kernel", "libc", "allocator", "tokio", "pingora", "http", "authgate", "authgate libs", "other"]

def component(dso, sym):
    if "kernel" in dso:
        return "kernel"
    if dso.startswith("libc") or dso.startswith("[vdso]") or dso.startswith("libm"):
        return "libc"
    if sym.startswith(("mi_", "_mi_")):
        return "allocator"
    crate = re.sub(r"^[<&*\s]+", "", sym).split("::")[0].split("<")[0].strip()
    if crate.startswith("pingora"):
        return "pingora"
    if crate in ("tokio", "mio"):
        return "tokio"
    if crate in ("http", "httparse", "bytes", "h2"):
        return "http"
    if crate == "authgate":
        return "authgate"
    if crate in LIBS or crate.startswith(LIBS):
        return "authgate libs"
    return "other"

rows = []
for line in open(runs):
    name, ticks, data = line.rstrip("\n").split("|")
    requests, rps = open(data + ".req").read().split()
    cpu = int(ticks) * 1e6 / hz / max(int(requests), 1)
    shares = dict.fromkeys(ORDER, 0.0)
    for l in open(data + ".txt"):
        parts = [p.strip() for p in l.split("|")]
        if len(parts) < 3 or not parts[0].endswith("%"):
            continue
        sym = re.sub(r"^\[[.k]\]\s*", "", parts[2])
        shares[component(parts[1], sym)] += float(parts[0].rstrip("%"))
    total = sum(shares.values()) or 1.0
    rows.append((name, float(rps), cpu, {k: cpu * v / total for k, v in shares.items()}))

print(f"Proxy CPU µs per request by component (perf cpu-clock samples, self time; closed loop, concurrency 32):\n")
print("| target | req/s | CPU µs/req | " + " | ".join(ORDER) + " |")
print("|---|---:|---:|" + "---:|" * len(ORDER))
for name, rps, cpu, parts in rows:
    print(f"| {name} | {rps:.0f} | {cpu:.1f} | " + " | ".join(f"{parts[k]:.1f}" for k in ORDER) + " |")
base = rows[0]
print("\n| target − bare | CPU µs/req | " + " | ".join(ORDER) + " |")
print("|---|---:|" + "---:|" * len(ORDER))
for name, rps, cpu, parts in rows[1:]:
    print(f"| {name} | {cpu - base[2]:+.1f} | " + " | ".join(f"{parts[k] - base[3][k]:+.1f}" for k in ORDER) + " |")
PY
