# Sourced by the bench scripts (run from the repository root): builds the
# release binary, makes a scratch directory, and stops every server whose
# pid is in PIDS when the script exits (SIGTERM, then SIGKILL: background
# jobs of a script ignore SIGINT).
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
