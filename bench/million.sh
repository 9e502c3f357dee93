#!/usr/bin/env bash
# With a million events waiting in Redis, payhookd's start-up stays under 100 ms and ingest
# stays at least 0.9x the empty-queue figure. Two runs of the same payhookd and Redis: first on an empty
# Redis, then after a million events (as RedisStore::store() writes them, all due for one target) were
# loaded. The target refuses connections, so the engine's breaker opens and the jobs stay waiting; the
# figure is ingest with a large queue behind it. Start-up is the time from exec to the first /readyz 200.
# Loopback only, bounded in time. Usage: bench/million.sh [BUILD_DIR]   (BENCH_EVENTS=1000000)
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
events=${BENCH_EVENTS:-1000000}
out=$(mktemp -d /tmp/payhook-million.XXXXXX)
# shellcheck source=bench/lib.sh
source bench/lib.sh
http_port=$(free_port); admin_port=$(free_port); dead_port=$(free_port)
start_redis everysec
write_secrets
cat >"$out/payhook.toml" <<TOML
[server]
listen = ["127.0.0.1:$http_port"]
[admin]
listen = "127.0.0.1:$admin_port"
[redis]
url = "redis://127.0.0.1:$redis_port/0"
[log]
level = "warn"
[[targets]]
name = "orders"
url = "http://127.0.0.1:$dead_port/refused"
secret_file = "secrets/orders.whsec"
timeout = "2s"
[[routes]]
name = "bench"
provider = "standard-webhooks"
path = "/hooks/bench"
secret_file = "secrets/bench.whsec"
forward = ["orders"]
TOML

# Start-up: exec to the first /readyz 200, polled every millisecond over one connection per try.
start_payhookd() {  # label
  python3 - "$build/payhookd" "$out/payhook.toml" "$admin_port" "$out/$1.log" "$out/$1.pid" <<'PY'
import socket, subprocess, sys, time
binary, config, port, log, pidfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
t0 = time.monotonic()
p = subprocess.Popen([binary, "--config", config], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                     start_new_session=True)
open(pidfile, "w").write(str(p.pid))
while time.monotonic() - t0 < 10:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        s.sendall(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        if s.recv(64).startswith(b"HTTP/1.1 200"):
            print(f"{(time.monotonic() - t0) * 1000:.1f}")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.001)
print("timeout")
sys.exit(1)
PY
}

for run in 1 2; do "$build/bench/bench_gen_requests" 300000 "$secret" "$out/requests-$run.tsv"; done
run_wrk() {  # label requests
  PAYHOOK_BENCH_REQUESTS="$2" wrk -t1 -c"$connections" -d"$duration" --latency \
    -s bench/swh.lua "http://127.0.0.1:$http_port/hooks/bench" >"$out/$1.wrk" 2>&1
}
rps() { awk '/Requests\/sec/ {print $2}' "$out/$1.wrk"; }
p99() { awk '$1 == "99%" {print $2}' "$out/$1.wrk"; }
stop_payhookd() { kill "$(cat "$out/$1.pid")"; while kill -0 "$(cat "$out/$1.pid")" 2>/dev/null; do sleep 0.05; done; }

echo "payhook million-events bench: $duration per run, $connections connections; $(nproc) cores"
startup_empty=$(start_payhookd empty)
run_wrk empty "$out/requests-1.tsv"
stop_payhookd empty
rcli FLUSHALL >/dev/null

# A million events, the hash (queue/event_record.h's packed layout), due set, index and target set as the
# store writes them, in chunks.
t0=$(date +%s.%N)
chunk=50000
for ((i = 0; i < events; i += chunk)); do
  rcli EVAL "
    local from, n = tonumber(ARGV[1]), tonumber(ARGV[2])
    for i = from, from + n - 1 do
      local id = string.format('0190a000-0000-7000-8000-%012d', i)
      local at = 1790000000000 + i
      local body = '{\"type\":\"invoice.paid\",\"data\":{\"amount\":\"10.50\"}}'
      local parts = {tostring(at), 'standard-webhooks.invoice.paid', 'bench', 'standard-webhooks', '1', body, id,
        'POST', '/hooks/bench', '', 'application/json', body}
      local packed = {}
      for k = 1, #parts do packed[k] = #parts[k] .. ':' .. parts[k] end
      redis.call('HSET', '{payhook}:ev:' .. id, 'e', table.concat(packed), 'state', 'pending', 'targets', 'orders')
      redis.call('SET', '{payhook}:idem:bench:' .. id, id, 'EX', 86400)
      redis.call('ZADD', '{payhook}:due:orders', at, id .. '|orders')
      redis.call('ZADD', '{payhook}:events', at, id)
    end
    redis.call('SADD', '{payhook}:targets', 'orders')
    return n" 0 "$i" "$((events - i < chunk ? events - i : chunk))" >/dev/null
done
loaded=$(rcli ZCARD '{payhook}:due:orders')
load_s=$(echo "$(date +%s.%N) - $t0" | bc)
startup_full=$(start_payhookd full)
run_wrk full "$out/requests-2.tsv"
waiting=$(rcli ZCARD '{payhook}:due:orders')
stop_payhookd full

printf '\n%-40s %12s %12s %10s\n' "run" "start-up ms" "req/s" "p99"
printf '%-40s %12s %12s %10s\n' "empty Redis" "$startup_empty" "$(rps empty)" "$(p99 empty)"
printf '%-40s %12s %12s %10s\n' "$loaded events waiting" "$startup_full" "$(rps full)" "$(p99 full)"
echo "loaded in ${load_s}s; still waiting after the run: $waiting; Redis used $(rcli INFO memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r')"
awk -v a="$(rps full)" -v b="$(rps empty)" 'BEGIN { printf "ingest with the queue full / empty: %.2f (goal >= 0.90)\n", a / b }'
