#!/usr/bin/env bash
# `make bench`: accepted/s, latency and RSS of payhookd for validly signed Standard Webhooks callbacks, each
# stored in Redis before its 204, next to nginx `return 200` measured in the same run as the HTTP floor.
# Loopback only, bounded in time. Usage: bench/run.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
count=${BENCH_REQUESTS:-300000}
out=$(mktemp -d /tmp/payhook-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "${BENCH_KEEP:-}" ]] && echo "bench: kept $out" || rm -rf "$out"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

redis_port=$(free_port); http_port=$(free_port); admin_port=$(free_port); nginx_port=$(free_port)
secret=whsec_$(head -c 32 /dev/urandom | base64 -w0)

redis-server --bind 127.0.0.1 --port "$redis_port" --appendonly yes --appendfsync everysec --dir "$out" \
  --save "" --logfile "$out/redis.log" &
redis_pid=$!
pids+=($redis_pid)
wait_port "$redis_port"

mkdir -p "$out/secrets"
echo "$secret" >"$out/secrets/bench.whsec"
echo "whsec_$(head -c 32 /dev/urandom | base64 -w0)" >"$out/secrets/orders.whsec"
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
url = "http://127.0.0.1:9/payhook"
secret_file = "secrets/orders.whsec"
[[routes]]
name = "bench"
provider = "standard-webhooks"
path = "/hooks/bench"
secret_file = "secrets/bench.whsec"
forward = ["orders"]
TOML
"$build/payhookd" --config "$out/payhook.toml" 2>"$out/payhookd.log" &
payhookd_pid=$!
pids+=($payhookd_pid)
wait_port "$http_port"
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null && break; sleep 0.05; done

cat >"$out/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $out/nginx.pid;
error_log $out/nginx.error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $out/nginx-body;
  server { listen 127.0.0.1:$nginx_port; location / { return 200; } }
}
NGINX
nginx -c "$out/nginx.conf" -p "$out" 2>/dev/null &
pids+=($!)
wait_port "$nginx_port"

# Each payhookd run gets its own ids, so every request is a new event, never the cheaper duplicate path.
for run in 1 2; do "$build/bench/bench_gen_requests" "$count" "$secret" "$out/requests-$run.tsv"; done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_wrk() {  # url label requests
  PAYHOOK_BENCH_REQUESTS="$3" wrk -t1 -c"$connections" -d"$duration" --latency \
    -s bench/swh.lua "$1" >"$out/$2.wrk" 2>&1
}
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF}' "$1"; }
total() { awk '/requests in/ {print $1}' "$1"; }

echo "payhook bench: $duration per run, $connections connections, 1 wrk thread, loopback; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
run_wrk "http://127.0.0.1:$nginx_port/hooks/bench" nginx "$out/requests-1.tsv"
p0=$(cpu_ticks "$payhookd_pid"); r0=$(cpu_ticks "$redis_pid")
run_wrk "http://127.0.0.1:$http_port/hooks/bench" payhook "$out/requests-1.tsv"
p1=$(cpu_ticks "$payhookd_pid"); r1=$(cpu_ticks "$redis_pid")
stored_everysec=$(redis-cli -p "$redis_port" zcard '{payhook}:events')
# The same run with every Redis write on disk before its answer (and so before payhook's 204).
redis-cli -p "$redis_port" config set appendfsync always >/dev/null
run_wrk "http://127.0.0.1:$http_port/hooks/bench" payhook-fsync "$out/requests-2.tsv"

stored=$(redis-cli -p "$redis_port" zcard '{payhook}:events')
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$payhookd_pid/status")
n_rps=$(rps "$out/nginx.wrk")
ok=()
row() {  # label file [check: this run's 2xx answers are compared with Redis]
  local r bad total
  r=$(rps "$2"); bad=$(non2xx "$2"); bad=${bad:-0}; total=$(total "$2")
  [[ -n "${3:-}" ]] && ok+=($((total - bad)))
  printf '%-40s %12s %10s %10s %8s %9s\n' "$1" "$r" "$(field 50% "$2")" "$(field 99% "$2")" \
    "$(awk -v a="$r" -v b="$n_rps" 'BEGIN {printf "%.2f", a / b}')" "$bad"
}

printf '\n%-40s %12s %10s %10s %8s %9s\n' "target" "req/s" "p50" "p99" "vs nginx" "non-2xx"
row "nginx return 200 (1 worker)" "$out/nginx.wrk"
row "payhookd 204, AOF fsync everysec" "$out/payhook.wrk" check
row "payhookd 204, AOF fsync always" "$out/payhook-fsync.wrk" check
echo
echo "payhookd peak RSS: $((rss_kib / 1024)) MiB"
hz=$(getconf CLK_TCK)
awk -v p=$((p1 - p0)) -v r=$((r1 - r0)) -v hz="$hz" -v n="$(total "$out/payhook.wrk")" 'BEGIN {
  printf "CPU per callback (everysec run): payhookd %.1f us, redis-server %.1f us\n", p / hz / n * 1e6, r / hz / n * 1e6 }'
new_events=("$stored_everysec" $((stored - stored_everysec)))
echo "payhookd 2xx answers per run: ${ok[*]}; new events in Redis per run: ${new_events[*]}"
# Every 2xx is a stored event. Past $count requests a run's ids repeat, and repeats are rightly answered
# 204 without a new event, so only the first $count answers of a run must each be a new event.
for i in 0 1; do
  expected=$((ok[i] < count ? ok[i] : count))
  if ((new_events[i] < expected)); then
    echo "error: run $((i + 1)): $expected answers that must be new events, only ${new_events[i]} stored" >&2
    exit 1
  fi
done
