# Sourced by the bench scripts that compare with pingap, the other gateway
# built on pingora (`apt-get install protobuf-compiler`, then
# `cargo install pingap@0.13.1 --locked`, ~15 min on 2 cores).
#
# pingap_config CREDS SECRET_FILE WORK UPSTREAM BASE_PORT: a pingap config
# on stdout with three servers, one worker thread each (pingap's default),
# log level warn, no access log:
#   BASE_PORT     passthrough to UPSTREAM
#   BASE_PORT+1   key_auth with the API keys of CREDS (credentials.jsonl
#                 from `authgate loadtest prepare`) read from X-API-Key,
#                 hidden from the upstream
#   BASE_PORT+2   jwt, HS256 with the secret in SECRET_FILE (the one the
#                 prepared authgate verifies), read from Authorization
pingap_config() {
  python3 - "$1" "$(cat "$2")" "$3" "$4" "$5" <<'PY'
import json, sys
creds, secret, work, upstream, base = sys.argv[1:6]
base = int(base)
keys = [c["credential"] for c in map(json.loads, open(creds)) if c["kind"] == "api_key"]
print(f"""[basic]
threads = 1
log_level = "warn"
pid_file = "{work}/pingap.pid"
upgrade_sock = "{work}/pingap_upgrade.sock"

[upstreams.echo]
addrs = ["{upstream}"]

[plugins.keyAuth]
category = "key_auth"
header = "X-API-Key"
keys = {json.dumps(keys)}
hide_credentials = true

[plugins.jwtAuth]
category = "jwt"
header = "Authorization"
secret = {json.dumps(secret)}
algorithm = "HS256"

""")
for i, (name, plugin) in enumerate([("pass", None), ("key", "keyAuth"), ("jwt", "jwtAuth")]):
    plugins = f"\nplugins = [{json.dumps(plugin)}]" if plugin else ""
    print(f"""[locations.{name}]
upstream = "echo"{plugins}

[servers.{name}]
addr = "127.0.0.1:{base + i}"
locations = ["{name}"]
""")
PY
}
