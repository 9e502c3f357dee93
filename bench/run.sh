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
pids+=($!)
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

"$build/bench/bench_gen_requests" "$count" "$secret" "$out/requests.tsv"

run_wrk() {  # url label
  PAYHOOK_BENCH_REQUESTS="$out/requests.tsv" wrk -t1 -c"$connections" -d"$duration" --latency \
    -s bench/swh.lua "$1" >"$out/$2.wrk" 2>&1
}
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF}' "$1"; }
total() { awk '/requests in/ {print $1}' "$1"; }

echo "payhook bench: $duration per run, $connections connections, 1 wrk thread, loopback; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
run_wrk "http://127.0.0.1:$nginx_port/hooks/bench" nginx
run_wrk "http://127.0.0.1:$http_port/hooks/bench" payhook

stored=$(redis-cli -p "$redis_port" zcard '{payhook}:events')
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$payhookd_pid/status")
p_rps=$(rps "$out/payhook.wrk"); n_rps=$(rps "$out/nginx.wrk")
p_total=$(total "$out/payhook.wrk"); p_bad=$(non2xx "$out/payhook.wrk"); p_bad=${p_bad:-0}
ratio=$(awk -v a="$p_rps" -v b="$n_rps" 'BEGIN {printf "%.2f", a / b}')

printf '\n%-34s %12s %10s %10s %12s\n' "target" "req/s" "p50" "p99" "peak RSS"
printf '%-34s %12s %10s %10s %12s\n' "nginx return 200 (1 worker)" "$n_rps" "$(field 50% "$out/nginx.wrk")" \
  "$(field 99% "$out/nginx.wrk")" "-"
printf '%-34s %12s %10s %10s %9s MiB\n' "payhookd standard-webhooks 204" "$p_rps" "$(field 50% "$out/payhook.wrk")" \
  "$(field 99% "$out/payhook.wrk")" "$((rss_kib / 1024))"
echo
echo "ratio payhookd / nginx: $ratio"
echo "payhookd answers: $p_total, non-2xx: $p_bad; distinct events stored in Redis: $stored (ids wrap after $count)"
if [[ "$p_bad" != 0 ]]; then echo "warning: payhookd answered non-2xx; see $out/payhookd.log" >&2; fi
