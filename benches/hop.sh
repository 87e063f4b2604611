#!/usr/bin/env bash
# Where one proxied request's cost goes, for the hops on pingora side by
# side: the bare pingora passthrough (`authgate passthrough`), pingap
# (passthrough, key_auth, jwt HS256; when `pingap` is installed) and authgate
# (cached API key in Authorization and in X-API-Key, cached HS256 JWT), and
# the bare hop and authgate's API key again with `work_stealing = false`
# (one single-thread tokio runtime per worker instead of a multi-thread one),
# each a fresh process with one worker thread, against the same upstream
# (`authgate echo --fixed`) and the same 1,000 credentials:
#
#   - CPU µs per request, user and kernel apart (/proc/PID/stat utime and
#     stime), under wrk (closed loop, CONC connections, DUR; the proxy
#     pinned to core 0, wrk and the upstream to core 1): one run per
#     target, so as noisy as the machine; for CPU comparisons use
#     compare.sh (alternating rounds, medians), for the split this;
#   - system calls per request, by name (strace -c attached to every thread
#     of the proxy during N requests; strace slows the proxy, the counts
#     are exact);
#   - user-space instructions per request (callgrind, N requests after a
#     2,000-request warm-up; repeatable to a fraction of a percent, blind to
#     the kernel).
#
# Usage: benches/hop.sh     (env: DUR=5s CONC=32 N=5000 ONLY=regex SKIP=strace,callgrind
#                            BIN=path; needs wrk, strace, valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-5s}
CONC=${CONC:-32}
N=${N:-5000}
SKIP=${SKIP:-}
for tool in wrk strace valgrind; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
# shellcheck source=benches/lib.sh
. benches/lib.sh
# shellcheck source=benches/pingap.sh
. benches/pingap.sh
PROXY="taskset -c 0"; LOAD="taskset -c 1"

$LOAD "$BIN" echo --listen 127.0.0.1:3300 --fixed >/dev/null 2>&1 & PIDS+=($!)
wait_port 3300
"$BIN" loadtest prepare --out "$WORK/p" --api-keys 1000 --jwts 1000 --upstream 127.0.0.1:3300 \
  --listen 127.0.0.1:8380 --admin 127.0.0.1:9390 --threads 1 >/dev/null
sed -i 's/^level = .*/level = "warn"/' "$WORK/p/authgate.toml"
CREDS="$WORK/p/credentials.jsonl"
RUNS="/api/v1/workspaces/ws-000/agent-runs"
# The API keys again, sent in X-API-Key (pingap's key_auth reads one header).
python3 - "$CREDS" >"$WORK/p/creds-x.jsonl" <<'PY'
import json, sys
for c in map(json.loads, open(sys.argv[1])):
    if c["kind"] == "api_key":
        c["header"] = "x-api-key"
        print(json.dumps(c))
PY
# wrk scripts: KIND's credentials in turn (none: the runs path, no credential).
creds_of() { if [ "$1" = api_key_x ]; then echo "$WORK/p/creds-x.jsonl"; else echo "$CREDS"; fi; }
for kind in none api_key api_key_x jwt_hs256; do
  wrk_script "$(creds_of $kind)" "${kind%_x}" "$RUNS" >"$WORK/wrk-$kind.lua"
done
HAVE_PINGAP=""
if command -v pingap >/dev/null; then
  HAVE_PINGAP=1
  pingap_config "$CREDS" "$WORK/p/jwt-hs256.secret" "$WORK" 127.0.0.1:3300 8500 >"$WORK/pingap.toml"
fi

# name | port | load kind | proxy command
sed 's/^threads = .*/&\nwork_stealing = false/' "$WORK/p/authgate.toml" >"$WORK/p/nosteal.toml"
TARGETS=("bare pingora passthrough|8381|none|$BIN passthrough --listen 127.0.0.1:8381 --upstream 127.0.0.1:3300 --threads 1"
  "bare pingora passthrough, no work stealing|8381|none|$BIN passthrough --listen 127.0.0.1:8381 --upstream 127.0.0.1:3300 --threads 1 --work-stealing false")
[ -n "$HAVE_PINGAP" ] && TARGETS+=(
  "pingap passthrough|8500|none|pingap -c $WORK/pingap.toml"
  "pingap key_auth (X-API-Key)|8501|api_key_x|pingap -c $WORK/pingap.toml"
  "pingap jwt HS256|8502|jwt_hs256|pingap -c $WORK/pingap.toml")
TARGETS+=(
  "authgate api_key (cached, Bearer)|8380|api_key|$BIN serve --config $WORK/p/authgate.toml"
  "authgate api_key (cached, X-API-Key)|8380|api_key_x|$BIN serve --config $WORK/p/authgate.toml"
  "authgate jwt HS256 (cached)|8380|jwt_hs256|$BIN serve --config $WORK/p/authgate.toml"
  "authgate api_key (cached, Bearer), no work stealing|8380|api_key|$BIN serve --config $WORK/p/nosteal.toml")
if [ -n "${ONLY:-}" ]; then
  kept=(); for t in "${TARGETS[@]}"; do [[ "${t%%|*}" =~ $ONLY ]] && kept+=("$t"); done; TARGETS=("${kept[@]}")
fi

# loadtest ARGS for a kind over N requests (the same rotation as wrk's).
load_args() { if [ "$1" = none ]; then echo "--path $RUNS"; else echo "--credentials $(creds_of "$1") --mix ${1%_x}=1"; fi; }
ports_of() { if [[ "$1" == pingap* ]]; then echo "8500 8501 8502"; else echo "$2"; fi; }
stat_of() { awk '{print $14, $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
CPU="$WORK/cpu.txt"; SYS="$WORK/sys.txt"; INS="$WORK/ins.txt"
: >"$CPU"; : >"$SYS"; : >"$INS"

for t in "${TARGETS[@]}"; do
  IFS='|' read -r name port kind cmd <<<"$t"
  # 1. CPU, user and kernel, under wrk.
  # shellcheck disable=SC2086
  $PROXY $cmd >/dev/null 2>&1 & pid=$!; PIDS+=($pid)
  for p in $(ports_of "$name" "$port"); do wait_port "$p"; done
  $LOAD wrk -t1 -c"$CONC" -d1s -s "$WORK/wrk-$kind.lua" "http://127.0.0.1:$port" >/dev/null
  read -r u0 s0 <<<"$(stat_of $pid)"
  out=$($LOAD wrk -t1 -c"$CONC" -d"$DUR" --latency -s "$WORK/wrk-$kind.lua" "http://127.0.0.1:$port")
  read -r u1 s1 <<<"$(stat_of $pid)"
  read -r rps reqs bad < <(wrk_json "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["rps"], d["requests"], d["status"]["other"])')
  printf '%s|%s|%s|%s|%s|%s\n' "$name" "$rps" "$reqs" "$bad" "$((u1 - u0))" "$((s1 - s0))" >>"$CPU"
  # 2. System calls per request.
  if [[ ",$SKIP," != *,strace,* ]]; then
    # shellcheck disable=SC2086
    "$BIN" loadtest run --url "http://127.0.0.1:$port" $(load_args "$kind") --requests 2000 --concurrency 8 --warmup 0s >/dev/null 2>&1
    strace -c -f -p "$pid" -o "$WORK/strace.txt" 2>/dev/null & sp=$!
    sleep 1
    # shellcheck disable=SC2086
    "$BIN" loadtest run --url "http://127.0.0.1:$port" $(load_args "$kind") --requests "$N" --concurrency 8 --warmup 0s >/dev/null 2>&1
    kill -INT "$sp"; wait "$sp" 2>/dev/null || true
    python3 - "$WORK/strace.txt" "$name" "$N" >>"$SYS" <<'PY'
import re, sys
path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls = {}
for line in open(path):
    f = line.split()
    # % time, seconds, usecs/call, calls, [errors], syscall
    if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] != "total":
        calls[f[-1]] = int(f[3])
per = {k: v / n for k, v in calls.items() if v / n >= 0.05}
print(name + "|" + "%.2f" % (sum(calls.values()) / n) + "|" + ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])))
PY
  fi
  kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  # 3. Instructions per request.
  if [[ ",$SKIP," != *,callgrind,* ]]; then
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" $cmd >/dev/null 2>&1 & vp=$!; PIDS+=($vp)
    for p in $(ports_of "$name" "$port"); do wait_port "$p" 600; done
    # shellcheck disable=SC2086
    "$BIN" loadtest run --url "http://127.0.0.1:$port" $(load_args "$kind") --requests 2000 --concurrency 8 --warmup 0s >/dev/null 2>&1
    callgrind_control -z "$vp" >/dev/null 2>&1
    # shellcheck disable=SC2086
    "$BIN" loadtest run --url "http://127.0.0.1:$port" $(load_args "$kind") --requests "$N" --concurrency 8 --warmup 0s >/dev/null 2>&1
    callgrind_control -d "$vp" >/dev/null 2>&1
    sleep 0.5
    kill -INT "$vp" 2>/dev/null; sleep 1; kill -9 "$vp" 2>/dev/null || true; wait "$vp" 2>/dev/null || true
    f=$(ls -t "$WORK"/cg."$vp".* 2>/dev/null | grep -v '\.0$' | head -1 || true)
    [ -n "$f" ] || f=$(ls -t "$WORK"/cg."$vp"* | head -1)
    total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}' || true)
    echo "$name|$((total / N))" >>"$INS"
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$f" "$KEEP/${name//[^a-zA-Z0-9]/_}.callgrind"; fi
    rm -f "$WORK"/cg.*
  fi
  echo "$name done" >&2
done

python3 - "$CPU" "$SYS" "$INS" "$HZ" "$DUR" "$CONC" "$N" <<'PY'
import sys
cpu_path, sys_path, ins_path, hz, dur, conc, n = sys.argv[1:8]
hz = int(hz)
def table(path):
    return {l.split("|")[0]: l.rstrip("\n").split("|")[1:] for l in open(path) if l.strip()}
cpu, calls, ins = table(cpu_path), table(sys_path), table(ins_path)
bare = "bare pingora passthrough"
print(f"One worker thread per proxy on core 0; wrk (closed loop, {conc} connections, {dur}) and the "
      f"upstream on core 1. Syscalls and instructions over {n} requests (concurrency 8).\n")
print("| target | req/s (wrk) | non-2xx | CPU µs/req | user | kernel | ÷ bare CPU | syscalls/req | instructions/req | ÷ bare instr. |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
def us(name):
    rps, reqs, bad, u, s = cpu[name]
    reqs = max(int(reqs), 1)
    return int(u) * 1e6 / hz / reqs, int(s) * 1e6 / hz / reqs
for name, (rps, reqs, bad, u, s) in cpu.items():
    usr, ker = us(name)
    ratio = f"{(usr + ker) / sum(us(bare)):.2f}" if bare in cpu else "-"
    sc = calls.get(name, ["-"])[0]
    it = ins.get(name, ["-"])[0]
    iratio = f"{int(it) / int(ins[bare][0]):.2f}" if bare in ins and it != "-" else "-"
    it = f"{int(it):,}" if it != "-" else "-"
    print(f"| {name} | {float(rps):.0f} | {bad} | {usr + ker:.1f} | {usr:.1f} | {ker:.1f} | {ratio} | {sc} | {it} | {iratio} |")
if calls:
    print("\nSystem calls per request by name (≥ 0.05):\n")
    for name, (total, detail) in calls.items():
        print(f"- {name}: {detail}")
PY
