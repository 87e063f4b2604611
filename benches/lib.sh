# Sourced by the bench scripts (run from the repository root): builds the
# release binary, makes a scratch directory, and stops every server whose
# pid is in PIDS when the script exits (SIGTERM, then SIGKILL: background
# jobs of a script ignore SIGINT); and the wrk helpers `wrk_script` and
# `wrk_json` below.
# BIN=/path/to/authgate uses that binary as is (no build).
if [ -z "${BIN:-}" ]; then
  BIN=$PWD/target/release/authgate
  cargo build --release --bin authgate >&2
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  exec 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -9 "$p" || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# wait_port PORT [TENTHS]: until 127.0.0.1:PORT accepts (default 10 s).
wait_port() {
  for _ in $(seq "${2:-100}"); do
    (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 never opened" >&2
  exit 1
}

# wrk_script CREDS KIND PATH [HEADER]: a wrk Lua script on stdout that sends
# KIND's credentials from CREDS (credentials.jsonl of `loadtest prepare`) in
# turn, each on its own path and in its own header (or in HEADER; the
# `authorization` header as a Bearer token); a KIND with no credentials
# (`none`) sends GET PATH without one.
wrk_script() {
  python3 - "$@" <<'PY'
import json, sys
creds, kind, runs = sys.argv[1:4]
header = sys.argv[4] if len(sys.argv) > 4 else None
reqs = []
for c in map(json.loads, open(creds)):
    if c["kind"] == kind:
        h = header or c["header"]
        v = "Bearer " + c["credential"] if h == "authorization" else c["credential"]
        reqs.append((c["path"], h, v))
print("local reqs = {")
for p, h, v in reqs or [(runs, None, None)]:
    hdr = "{}" if h is None else "{[%s] = %s}" % (json.dumps(h), json.dumps(v))
    print("  wrk.format('GET', %s, %s)," % (json.dumps(p), hdr))
print("}\nlocal i = 0\nrequest = function()\n  i = i % #reqs + 1\n  return reqs[i]\nend")
PY
}

# wrk_json OUTPUT: what `wrk --latency` printed, as the JSON fields of
# `authgate loadtest run --json` the scripts read: rps, requests,
# latency_us.p50/p99, status ("200": the 2xx/3xx, "other": the rest).
wrk_json() {
  python3 - "$1" <<'PY'
import json, re, sys
out = sys.argv[1]
def us(q):
    n, unit = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % q, out, re.M).groups()
    return float(n) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
reqs = int(re.search(r"(\d+) requests in", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
bad = int(bad.group(1)) if bad else 0
print(json.dumps({"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                  "requests": reqs, "latency_us": {"p50": us(50), "p99": us(99)},
                  "status": {"200": reqs - bad, "other": bad}}))
PY
}
