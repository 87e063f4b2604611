#!/usr/bin/env bash
# Side-by-side on loopback, in one run, measured in alternation so drift hits
# every target alike (each round starts one target further down the list, so
# none always runs first or after the same neighbour; ratios are also taken
# per round, between a target and its reference measured in that round):
#   upstream direct | bare pingora passthrough (`authgate passthrough`, with
#   pingora's default multi-thread runtime and, as authgate runs one worker
#   thread, on a single-thread runtime: `--work-stealing false`) |
#   authgate: cached API keys, cached JWTs (HS256, RS256, ES256, EdDSA; 1,000
#   distinct tokens each), ed25519 stamps (1,000 keys; every request a new
#   POST body and a new X-Stamp, so each one is verified and replay-checked:
#   never a cache hit), the same with RFC 9421 message signatures (a new
#   POST body, Content-Digest and ed25519 signature per request; with
#   PostgreSQL reachable also with [stamps] shared_replay, each signature
#   claimed in the database), 100% invalid keys, a flood over a local and
#   (with Redis reachable) a global rate limit | HAProxy 2.6 jwt_verify
#   (HS256, RS256, ES256) and HAProxy passthrough, when haproxy is installed;
#   and, when wrk is installed, the bare hop, cached API keys (Bearer and
#   X-API-Key) and HS256/ES256 JWTs (and HAProxy's passthrough and HS256, and
#   pingap's passthrough, key_auth and jwt HS256 when pingap is installed)
#   again under wrk.
# For each: requests/s, p99 latency, and the proxy's CPU µs per request (from
# /proc/PID/stat), the load core's busy share (load generator + upstream;
# rows over 90 % are flagged: they measure the load side), plus ratios against the bare passthrough and HAProxy, and
# stamps against the cached EdDSA JWT (same curve, verified every time).
# The load tool signs each stamp itself (~20 µs, on core 1, not the proxy's).
#
# The upstream is `authgate echo --fixed`: the same small JSON body for every
# request, so neither the response nor the upstream's work grows with the
# identity headers authgate adds (the describing echo answered authgate's
# requests with twice the bytes of the bare hop's).
#
# Proxies (authgate, passthrough, haproxy: one worker thread each) are pinned
# to core 0; the echo upstream and the load tool to core 1 (taskset), so the
# proxy's CPU is measured alone. Loopback only.
#
# The shared-replay instance's PostgreSQL is not pinned: its CPU is not in
# the proxy's column (it shows in req/s and p99 only).
#
# Usage: benches/compare.sh            (env: DUR=8s ROUNDS=3 CONC=32 OUT=file.md ONLY=regex
#                                       PG=postgres://root@127.0.0.1:5432, PG= skips)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-8s}
ROUNDS=${ROUNDS:-3}
CONC=${CONC:-32}
OUT=${OUT:-}
# shellcheck source=benches/lib.sh
. benches/lib.sh
# shellcheck source=benches/pingap.sh
. benches/pingap.sh

if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  PROXY="taskset -c 0"; LOAD="taskset -c 1"; PIN="proxies on core 0, upstream + load tool on core 1"
else
  PROXY=""; LOAD=""; PIN="not pinned (fewer than 2 cores or no taskset)"
fi


# Upstream.
$LOAD $BIN echo --listen 127.0.0.1:3000 --fixed 2>/dev/null & ECHO=$!; PIDS+=($ECHO)
wait_port 3000

# authgate with 1,000 API keys, 1,000 tokens per JWT algorithm and 1,000 ed25519 stamp keys;
# access logs off (as for the peers).
$BIN loadtest prepare --out "$WORK/p" --api-keys 1000 --jwts 1000 --stamps 1000 --upstream 127.0.0.1:3000 \
  --listen 127.0.0.1:8080 --admin 127.0.0.1:9090 --threads 1 >&2
sed -i 's/^level = .*/level = "warn"/' "$WORK/p/authgate.toml"
$PROXY $BIN serve --config "$WORK/p/authgate.toml" 2>"$WORK/authgate.log" & AG=$!; PIDS+=($AG)
$PROXY $BIN passthrough --listen 127.0.0.1:8081 --upstream 127.0.0.1:3000 --threads 1 2>/dev/null & PT=$!; PIDS+=($PT)
# The same bare hop on single-thread runtimes (pingora's NoSteal), as
# authgate runs one worker thread by default.
$PROXY $BIN passthrough --listen 127.0.0.1:8086 --upstream 127.0.0.1:3000 --threads 1 --work-stealing false 2>/dev/null & PT2=$!; PIDS+=($PT2)
wait_port 8080; wait_port 8081; wait_port 8086

# The same authgate with a PostgreSQL store beside its keys file and
# shared replay on: every stamp or message signature is also claimed in the
# database (a throwaway database, dropped at exit).
PG=${PG-postgres://root@127.0.0.1:5432}
AG2=""
if [ -n "$PG" ] && command -v psql >/dev/null && psql "$PG/postgres" -qc 'select 1' >/dev/null 2>&1; then
  DB="authgate_compare_$$"
  psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
  trap 'psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1; cleanup' EXIT
  sed -e 's/127.0.0.1:8080/127.0.0.1:8082/' -e 's/127.0.0.1:9090/127.0.0.1:9092/' \
    -e "s|^keys_file = .*|&\nurl = \"$PG/$DB\"\nauto_migrate = true|" "$WORK/p/authgate.toml" >"$WORK/p/shared.toml"
  printf '\n[stamps]\nshared_replay = true\n' >>"$WORK/p/shared.toml"
  $PROXY $BIN serve --config "$WORK/p/shared.toml" 2>"$WORK/shared.log" & AG2=$!; PIDS+=($AG2)
  wait_port 8082
fi

# The same authgate with one request an hour per route: a flood of
# over-limit requests, refused 429 (to compare with refused invalid keys);
# with Redis reachable, the limit global.
limited() {
  sed -e "s/127.0.0.1:8080/127.0.0.1:$1/" -e "s/127.0.0.1:9090/127.0.0.1:$2/" "$WORK/p/authgate.toml"
  printf '\n[[rate_limits]]\nkey = "route"\nrate = 1\nper = "1h"\nburst = 1\n'
}
limited 8083 9093 >"$WORK/p/limited.toml"
$PROXY $BIN serve --config "$WORK/p/limited.toml" 2>"$WORK/limited.log" & AG3=$!; PIDS+=($AG3)
wait_port 8083
AG4=""
if command -v redis-cli >/dev/null && redis-cli ping >/dev/null 2>&1; then
  { limited 8084 9094; printf 'scope = "global"\n[redis]\nurl = "redis://127.0.0.1:6379"\nprefix = "authgate-compare-%s:"\n' "$$"; } >"$WORK/p/limited-global.toml"
  $PROXY $BIN serve --config "$WORK/p/limited-global.toml" 2>"$WORK/limited-global.log" & AG4=$!; PIDS+=($AG4)
  wait_port 8084
fi

HA=""
if command -v haproxy >/dev/null; then
  HS_SECRET=$(cat "$WORK/p/jwt-hs256.secret")
  cat > "$WORK/haproxy.cfg" <<CFG
global
  nbthread 1
  cpu-map 1/1 0
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend pass
  bind 127.0.0.1:8400
  default_backend echo
frontend hs256
  bind 127.0.0.1:8401
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str HS256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$HS_SECRET") -m int 1 }
  default_backend echo
frontend rs256
  bind 127.0.0.1:8402
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str RS256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$WORK/p/jwt-rs256.pub.pem") -m int 1 }
  default_backend echo
frontend es256
  bind 127.0.0.1:8403
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str ES256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$WORK/p/jwt-es256.pub.pem") -m int 1 }
  default_backend echo
backend echo
  server s1 127.0.0.1:3000
CFG
  $PROXY haproxy -db -f "$WORK/haproxy.cfg" 2>"$WORK/haproxy.log" & HA=$!; PIDS+=($HA)
  wait_port 8400
fi

CREDS="$WORK/p/credentials.jsonl"
RUNS="/api/v1/workspaces/ws-000/agent-runs"

# pingap (the other gateway on pingora), when installed
# (`apt-get install protobuf-compiler; cargo install pingap@0.13.1 --locked`):
# passthrough, key_auth with the same 1,000 API keys in `X-API-Key`, and its
# jwt plugin with the same HS256 secret; one worker thread each (pingap's
# default), access logs off, pinned like the others.
PG_PID=""
if command -v pingap >/dev/null; then
  mkdir -p "$WORK/pingap"
  pingap_config "$CREDS" "$WORK/p/jwt-hs256.secret" "$WORK" 127.0.0.1:3000 8500 >"$WORK/pingap/pingap.toml"
  $PROXY pingap -c "$WORK/pingap/pingap.toml" 2>"$WORK/pingap.log" >&2 & PG_PID=$!; PIDS+=($PG_PID)
  wait_port 8500; wait_port 8501; wait_port 8502
fi
# name | pid | url | loadtest args
TARGETS=(
  "upstream direct|0|http://127.0.0.1:3000|--path $RUNS"
  "bare pingora passthrough|$PT|http://127.0.0.1:8081|--path $RUNS"
  "bare pingora passthrough, no work stealing|$PT2|http://127.0.0.1:8086|--path $RUNS"
  "authgate api_key (cached)|$AG|http://127.0.0.1:8080|--credentials $CREDS --mix api_key=1"
  "authgate jwt HS256 (cached)|$AG|http://127.0.0.1:8080|--credentials $CREDS --mix jwt_hs256=1"
  "authgate jwt RS256 (cached)|$AG|http://127.0.0.1:8080|--credentials $CREDS --mix jwt_rs256=1"
  "authgate jwt ES256 (cached)|$AG|http://127.0.0.1:8080|--credentials $CREDS --mix jwt_es256=1"
  "authgate jwt EdDSA (cached)|$AG|http://127.0.0.1:8080|--credentials $CREDS --mix jwt_eddsa=1"
  "authgate ed25519 stamps|$AG|http://127.0.0.1:8080|--credentials $CREDS --mix stamp_ed25519=1"
  "authgate ed25519 RFC 9421|$AG|http://127.0.0.1:8080|--credentials $CREDS --mix httpsig_ed25519=1"
  "authgate 100% invalid keys|$AG|http://127.0.0.1:8080|--credentials $CREDS --mix api_key=1 --invalid 1.0"
)
TARGETS+=("authgate api_key over a local limit (429)|$AG3|http://127.0.0.1:8083|--credentials $CREDS --mix api_key=1")
if [ -n "$AG4" ]; then
  TARGETS+=("authgate api_key over a global limit (429)|$AG4|http://127.0.0.1:8084|--credentials $CREDS --mix api_key=1")
fi
if [ -n "$AG2" ]; then
  TARGETS+=("authgate ed25519 RFC 9421, shared replay (PostgreSQL)|$AG2|http://127.0.0.1:8082|--credentials $CREDS --mix httpsig_ed25519=1")
fi
if [ -n "$HA" ]; then
  TARGETS+=(
    "haproxy passthrough|$HA|http://127.0.0.1:8400|--path $RUNS"
    "haproxy jwt_verify HS256|$HA|http://127.0.0.1:8401|--credentials $CREDS --mix jwt_hs256=1"
    "haproxy jwt_verify RS256|$HA|http://127.0.0.1:8402|--credentials $CREDS --mix jwt_rs256=1"
    "haproxy jwt_verify ES256|$HA|http://127.0.0.1:8403|--credentials $CREDS --mix jwt_es256=1"
  )
fi

# The same targets driven by wrk (Debian's package) as an outside
# instrument, each request rotating through the kind's 1,000 credentials
# (a Lua script made from credentials.jsonl): so the load tool cannot
# flatter the table.
WRK_TARGETS=()
if command -v wrk >/dev/null; then
  for k in none api_key jwt_hs256 jwt_es256; do wrk_script "$CREDS" "$k" "$RUNS" >"$WORK/wrk-$k.lua"; done
  # The API keys in X-API-Key (pingap's key_auth reads one header).
  wrk_script "$CREDS" api_key "$RUNS" x-api-key >"$WORK/wrk-api_key_x.lua"
  WRK_TARGETS=(
    "bare pingora passthrough (wrk)|$PT|http://127.0.0.1:8081|none"
    "bare pingora passthrough, no work stealing (wrk)|$PT2|http://127.0.0.1:8086|none"
    "authgate api_key (cached) (wrk)|$AG|http://127.0.0.1:8080|api_key"
    "authgate jwt HS256 (cached) (wrk)|$AG|http://127.0.0.1:8080|jwt_hs256"
    "authgate jwt ES256 (cached) (wrk)|$AG|http://127.0.0.1:8080|jwt_es256"
  )
  if [ -n "$PG_PID" ]; then
    WRK_TARGETS+=("authgate api_key in X-API-Key (cached) (wrk)|$AG|http://127.0.0.1:8080|api_key_x"
                  "pingap passthrough (wrk)|$PG_PID|http://127.0.0.1:8500|none"
                  "pingap key_auth (wrk)|$PG_PID|http://127.0.0.1:8501|api_key_x"
                  "pingap jwt HS256 (wrk)|$PG_PID|http://127.0.0.1:8502|jwt_hs256")
  fi
  if [ -n "$HA" ]; then
    WRK_TARGETS+=("haproxy passthrough (wrk)|$HA|http://127.0.0.1:8400|none"
                  "haproxy jwt_verify HS256 (wrk)|$HA|http://127.0.0.1:8401|jwt_hs256")
  fi
fi

# ONLY=REGEX keeps the rows whose name matches (e.g. ONLY='wrk|passthrough$').
if [ -n "${ONLY:-}" ]; then
  keep() { local t out=(); for t in "$@"; do [[ "${t%%|*}" =~ $ONLY ]] && out+=("$t"); done; [ ${#out[@]} -eq 0 ] || printf '%s\n' "${out[@]}"; }
  mapfile -t TARGETS < <(keep "${TARGETS[@]}")
  mapfile -t WRK_TARGETS < <(keep "${WRK_TARGETS[@]}")
fi

ticks() { if [ "$1" = 0 ]; then echo 0; else awk '{print $14+$15}' "/proc/$1/stat"; fi; }
# CPU of this script's finished children (the load generator just run).
child_ticks() { awk '{print $16+$17}' "/proc/$$/stat"; }
now() { date +%s.%N; }
RESULTS="$WORK/results.jsonl"
# record NAME JSON PROXY_TICKS LOAD_TICKS ECHO_TICKS WALL_SECONDS (in round $round)
record() {
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["name"]=sys.argv[2]; d["ticks"]=int(sys.argv[3]); d["load_ticks"]=int(sys.argv[4]); d["echo_ticks"]=int(sys.argv[5]); d["wall"]=float(sys.argv[6]); d["round"]=int(sys.argv[7]); print(json.dumps(d))' \
    "$2" "$1" "$3" "$4" "$5" "$6" "$round" >>"$RESULTS"
}
# rotated LIST...: the list starting at entry (round - 1) mod its length, so
# no target always runs first or right after the same neighbour.
rotated() { local n=$# k; [ "$n" -gt 0 ] || return 0; for ((k = 0; k < n; k++)); do
  local i=$(((k + round - 1) % n + 1)); printf '%s\n' "${!i}"; done; }
for round in $(seq "$ROUNDS"); do
  mapfile -t ROUND_TARGETS < <(rotated "${TARGETS[@]}")
  mapfile -t ROUND_WRK < <(rotated "${WRK_TARGETS[@]}")
  for t in "${ROUND_TARGETS[@]}"; do
    IFS='|' read -r name pid url args <<<"$t"
    # shellcheck disable=SC2086
    $LOAD $BIN loadtest run --url "$url" $args --duration 1s --warmup 0s --concurrency "$CONC" --quiet >/dev/null
    before=$(ticks "$pid"); eb=$(ticks "$ECHO"); lb=$(child_ticks); t0=$(now)
    # shellcheck disable=SC2086
    json=$($LOAD $BIN loadtest run --url "$url" $args --duration "$DUR" --warmup 0s --concurrency "$CONC" --quiet --json)
    t1=$(now); la=$(child_ticks); ea=$(ticks "$ECHO"); after=$(ticks "$pid")
    record "$name" "$json" "$((after - before))" "$((la - lb))" "$((ea - eb))" "$(awk "BEGIN {print $t1 - $t0}")"
    echo "round $round: $name done" >&2
  done
  for t in "${ROUND_WRK[@]}"; do
    IFS='|' read -r name pid url kind <<<"$t"
    $LOAD wrk -t1 -c"$CONC" -d1s -s "$WORK/wrk-$kind.lua" "$url" >/dev/null
    before=$(ticks "$pid"); eb=$(ticks "$ECHO"); lb=$(child_ticks); t0=$(now)
    out=$($LOAD wrk -t1 -c"$CONC" -d"$DUR" --latency -s "$WORK/wrk-$kind.lua" "$url")
    t1=$(now); la=$(child_ticks); ea=$(ticks "$ECHO"); after=$(ticks "$pid")
    json=$(wrk_json "$out")
    record "$name" "$json" "$((after - before))" "$((la - lb))" "$((ea - eb))" "$(awk "BEGIN {print $t1 - $t0}")"
    echo "round $round: $name done" >&2
  done
done

python3 - "$RESULTS" "$PIN" "$DUR" "$ROUNDS" "$CONC" "$(getconf CLK_TCK)" <<'PY' | tee ${OUT:+"$OUT"}
import json, statistics, sys
path, pin, dur, rounds, conc, hz = sys.argv[1:7]
hz = int(hz)
rows = {}
# Per round, for the paired ratios below: name -> {round: (rps, cpu µs/req)}.
by_round = {}
for line in open(path):
    d = json.loads(line)
    r = rows.setdefault(d["name"], {"rps": [], "p99": [], "cpu": [], "ok": [], "req": [], "load": []})
    n = max(d["requests"], 1)
    cpu = d["ticks"] * 1e6 / hz / n
    by_round.setdefault(d["name"], {})[d["round"]] = (d["rps"], cpu)
    r["rps"].append(d["rps"]); r["p99"].append(d["latency_us"]["p99"])
    r["cpu"].append(cpu)
    r["req"].append(d["requests"])
    r["ok"].append(sum(v for k, v in d["status"].items() if k.startswith("2")) / n)
    # The load core's busy share: the load generator and the upstream.
    r["load"].append((d["load_ticks"] + d["echo_ticks"]) / hz / max(d["wall"], 1e-9))
med = {k: {m: statistics.median(v) for m, v in r.items()} for k, r in rows.items()}
bare = med.get("bare pingora passthrough")
print(f"Loopback, 2 cores, {pin}; {rounds} alternating rounds of {dur} at concurrency {conc}; medians.\n")
print("| target | req/s | p99 µs | proxy CPU µs/req | 2xx share | req/s ÷ bare | CPU − bare µs | load core busy |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
flagged = []
for name, m in med.items():
    cpu = "-" if name == "upstream direct" else f"{m['cpu']:.1f}"
    base = med.get("bare pingora passthrough (wrk)") if name.endswith("(wrk)") else bare
    ratio = f"{m['rps'] / base['rps']:.2f}" if base else "-"
    extra = f"{m['cpu'] - base['cpu']:+.1f}" if base and name != "upstream direct" else "-"
    busy = f"{m['load']:.0%}" + (" ⚠" if m["load"] > 0.9 else "")
    if m["load"] > 0.9 and name != "upstream direct":
        flagged.append(name)
    print(f"| {name} | {m['rps']:.0f} | {m['p99']:.0f} | {cpu} | {m['ok']:.0%} | {ratio} | {extra} | {busy} |")
print("\nRows named (wrk) are driven by wrk and compared with the bare hop under wrk. "
      "Load core busy: the load generator's and the upstream's CPU over the run, on their shared core.")
if flagged:
    print("⚠ The load core was more than 90 % busy for: " + "; ".join(flagged)
          + ". Their req/s measures the load side as much as the proxy; read their CPU column.")
pairs = [("authgate jwt HS256 (cached)", "haproxy jwt_verify HS256"),
         ("authgate jwt RS256 (cached)", "haproxy jwt_verify RS256"),
         ("authgate jwt ES256 (cached)", "haproxy jwt_verify ES256"),
         ("bare pingora passthrough", "haproxy passthrough"),
         ("authgate api_key (cached) (wrk)", "pingap key_auth (wrk)"),
         ("authgate api_key in X-API-Key (cached) (wrk)", "pingap key_auth (wrk)"),
         ("authgate jwt HS256 (cached) (wrk)", "pingap jwt HS256 (wrk)"),
         ("bare pingora passthrough (wrk)", "pingap passthrough (wrk)")]
lines = [f"| {a} ÷ {b} | {med[a]['rps'] / med[b]['rps']:.2f} | {med[b]['cpu'] / med[a]['cpu']:.2f} |" for a, b in pairs if a in med and b in med]
if lines:
    print("\n| authgate vs HAProxy / pingap | req/s ratio | CPU efficiency ratio |\n|---|---:|---:|")
    print("\n".join(lines))
# Paired by round: each round runs every target back to back, so a target
# and its reference share most of that round's noise. The ratio is taken
# per round, then its median and range over the rounds; and the lowest CPU
# per request either reached in any round (noise from neighbours only adds).
paired = [(n, "bare pingora passthrough (wrk)") for n in by_round
          if n.endswith("(wrk)") and n != "bare pingora passthrough (wrk)"]
paired += [(a, b) for a, b in pairs if a.startswith("authgate") and "pingap" in b]
plines = []
for a, b in paired:
    common = sorted(set(by_round.get(a, {})) & set(by_round.get(b, {})))
    if len(common) < 2:
        continue
    eff = [by_round[b][k][1] / by_round[a][k][1] for k in common]
    rps = [by_round[a][k][0] / by_round[b][k][0] for k in common]
    low_a = min(by_round[a][k][1] for k in common)
    low_b = min(by_round[b][k][1] for k in common)
    plines.append(f"| {a} ÷ {b} | {statistics.median(rps):.2f} | {statistics.median(eff):.2f} "
                  f"({min(eff):.2f}–{max(eff):.2f}) | {low_b / low_a:.2f} ({low_a:.1f} / {low_b:.1f}) |")
if plines:
    print("\nPaired by round (a target and its reference measured back to back in each round):\n")
    print("| target ÷ reference | req/s ratio, median of rounds | CPU efficiency, median of rounds (range) "
          "| CPU efficiency at each one's lowest CPU (µs/req) |\n|---|---:|---:|---:|")
    print("\n".join(plines))
stamp, eddsa = "authgate ed25519 stamps", "authgate jwt EdDSA (cached)"
if stamp in med and eddsa in med:
    s, e = med[stamp], med[eddsa]
    print(f"\n{stamp} ÷ {eddsa}: req/s {s['rps'] / e['rps']:.2f}, "
          f"CPU {s['cpu'] - e['cpu']:+.1f} µs/req (a POST body read, an ed25519 verify and a replay check per request)")
sig = "authgate ed25519 RFC 9421"
if sig in med and stamp in med:
    g, s = med[sig], med[stamp]
    print(f"\n{sig} ÷ {stamp}: req/s {g['rps'] / s['rps']:.2f}, "
          f"CPU {g['cpu'] - s['cpu']:+.1f} µs/req (structured fields, signature base, Content-Digest)")
invalid = "authgate 100% invalid keys"
for over in ["authgate api_key over a local limit (429)", "authgate api_key over a global limit (429)"]:
    if over in med and invalid in med:
        o, i = med[over], med[invalid]
        print(f"\n{over} ÷ {invalid}: req/s {o['rps'] / i['rps']:.2f}, CPU {o['cpu'] - i['cpu']:+.1f} µs/req")
shared = "authgate ed25519 RFC 9421, shared replay (PostgreSQL)"
if shared in med and sig in med:
    h, g = med[shared], med[sig]
    print(f"\n{shared} ÷ {sig}: req/s {h['rps'] / g['rps']:.2f}, "
          f"CPU {h['cpu'] - g['cpu']:+.1f} µs/req, p99 {h['p99'] - g['p99']:+.0f} µs "
          f"(one INSERT … ON CONFLICT per request; PostgreSQL's own CPU not counted)")
PY
