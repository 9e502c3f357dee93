#!/usr/bin/env bash
# Sizing (docs/operations.md, "What Redis holds"): the Redis memory one delivered event holds until
# [redis] retention removes it, for two callback sizes, and what is left once the sweep has run.
#   bench/retention.sh [BUILD_DIR] [EVENTS]      (default: build, 20000)
# Each size: a fresh Redis (AOF everysec), payhookd delivering to an nginx answering 204, EVENTS signed
# Standard Webhooks callbacks; used_memory is read before, once every event is delivered, and after a
# restart with a retention of 2 s has removed them (their idempotency keys, with an hour's TTL, remain).
set -euo pipefail
build=$(realpath "${1:-build}")
events=${2:-20000}
out=$(mktemp -d "${TMPDIR:-/tmp}/payhook-retention.XXXXXX")
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

used() { rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
zcard() { rcli zcard "{payhook}:$1"; }
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local until=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < until)) || return 1
    sleep 0.2
  done
}

count_is() { [[ $(zcard "$1") -eq $2 ]]; }

sink_port=$(free_port)
start_nginx sink "$sink_port" 204
write_secrets

run_payhookd() {  # run_payhookd RETENTION IDEMPOTENCY_TTL
  port=$(free_port)
  cat >"$out/payhook.toml" <<TOML
[server]
listen = ["127.0.0.1:$port"]
[admin]
listen = ""
[redis]
url = "redis://127.0.0.1:$redis_port/0"
retention = "$1"
[log]
level = "warn"
[delivery]
sweep_interval = "200ms"
[[targets]]
name = "orders"
url = "http://127.0.0.1:$sink_port/"
secret_file = "secrets/orders.whsec"
[[routes]]
name = "bench"
provider = "standard-webhooks"
path = "/hooks/bench"
secret_file = "secrets/bench.whsec"
forward = ["orders"]
idempotency_ttl = "$2"
TOML
  "$build/payhookd" --config "$out/payhook.toml" 2>>"$out/payhookd.log" &
  payhookd_pid=$!
  pids+=("$payhookd_pid")
  wait_port "$port"
}

post_events() {  # post_events BODY_BYTES: signed callbacks over one keep-alive connection
  python3 - "$port" "$secret" "$events" "$1" <<'PY'
import base64, hashlib, hmac, http.client, json, sys, time
port, secret, n, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
key = base64.b64decode(secret[len("whsec_"):])
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    msg = f"msg_{size}_{i:08d}"
    body = json.dumps({"type": "invoice.paid", "data": {"invoice": msg, "amount": "1250.00", "note": ""}})
    body = json.dumps({"type": "invoice.paid",
                       "data": {"invoice": msg, "amount": "1250.00", "note": "x" * (size - len(body))}})
    ts = str(int(time.time()))
    sig = base64.b64encode(hmac.new(key, f"{msg}.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
    conn.request("POST", "/hooks/bench", body, {"content-type": "application/json", "webhook-id": msg,
                                                "webhook-timestamp": ts, "webhook-signature": "v1," + sig})
    r = conn.getresponse()
    r.read()
    if r.status != 204:
        sys.exit(f"callback {i}: HTTP {r.status}")
PY
}

printf '%-12s %-10s %-26s %-22s %-18s %s\n' "body bytes" events "held per delivered event" "left per event after" \
  "of which ev hash" "sweep scripts (up to 100 events each)"
for size in 210 538; do
  start_redis
  run_payhookd 1h 1h
  before=$(used)
  post_events "$size"
  wait_for 300 count_is events:done "$events"
  held=$(used)
  one=$(rcli zrange "{payhook}:events" 0 0)
  hash_bytes=$(rcli memory usage "{payhook}:ev:$one" samples 0)
  kill "$payhookd_pid"
  wait "$payhookd_pid" || true
  # The same events, now past a 2 s retention; the idempotency keys keep their hour. The slow log times
  # every command meanwhile, the sweep scripts among them (the only ones with five keys).
  rcli config set slowlog-log-slower-than 0 >/dev/null
  rcli config set slowlog-max-len 1000000 >/dev/null
  rcli slowlog reset >/dev/null
  run_payhookd 2s 1s
  wait_for 300 count_is events 0
  sweeps=$(rcli --json slowlog get -1 | python3 -c '
import json, sys
d = [e[2] for e in json.load(sys.stdin) if len(e[3]) > 3 and e[3][2] == "5" and e[3][3].endswith(":events:done")]
print(f"{len(d)} sweeps, mean {sum(d) / max(len(d), 1) / 1000:.2f} ms, max {max(d + [0]) / 1000:.2f} ms")')
  rcli slowlog reset >/dev/null
  rcli config set slowlog-log-slower-than 10000 >/dev/null
  left=$(used)
  printf '%-12s %-10s %-26s %-22s %-18s %s\n' "$size" "$events" "$(((held - before) / events)) B" \
    "$(((left - before) / events)) B" "$hash_bytes B" "$sweeps"
  kill "$payhookd_pid" "$redis_pid"
  wait "$payhookd_pid" "$redis_pid" 2>/dev/null || true
  rm -rf "$out/appendonlydir"
done
