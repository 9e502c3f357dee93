# shellcheck shell=bash
# Shared by the bench scripts (sourced): a scratch folder, processes stopped on exit, free loopback ports,
# and a Redis with AOF like the one payhook runs against. Each script sets `build` and `out` first.

# shellcheck disable=SC2154  # out is the sourcing script's scratch folder
pids=()
# Runs on exit: extra clean-up a script registered (bench_on_exit), every process started, the folder.
bench_extra_cleanup=()
bench_on_exit() { bench_extra_cleanup+=("$1"); }
bench_cleanup() {
  for c in "${bench_extra_cleanup[@]}"; do eval "$c" || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "${BENCH_KEEP:-}" ]]; then echo "bench: kept $out"; else rm -rf "$out"; fi
}
trap bench_cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# start_redis [FSYNC]: a redis-server on a free port (redis_port, redis_pid), AOF with everysec by default.
start_redis() {
  redis_port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$redis_port" --appendonly yes --appendfsync "${1:-everysec}" \
    --dir "$out" --save "" --logfile "$out/redis.log" &
  redis_pid=$!
  pids+=("$redis_pid")
  wait_port "$redis_port"
}
rcli() { redis-cli -p "$redis_port" "$@"; }

# The ingest route's secret ($secret, secrets/bench.whsec) and the target's (secrets/orders.whsec).
write_secrets() {
  secret=whsec_$(head -c 32 /dev/urandom | base64 -w0)
  mkdir -p "$out/secrets"
  echo "$secret" >"$out/secrets/bench.whsec"
  echo "whsec_$(head -c 32 /dev/urandom | base64 -w0)" >"$out/secrets/orders.whsec"
}

# start_nginx NAME PORT STATUS [log]: one nginx worker on 127.0.0.1:PORT answering every request with STATUS
# (config and logs $out/NAME.*); its master's pid is nginx_pid, its worker's nginx_worker. Waits until it
# listens. With `log`, it writes one line per answer to $out/NAME.log, "$msec $status $connection",
# unbuffered, so a count read at any moment is exact ($connection tells how many connections a client used).
start_nginx() {
  local log="access_log off;"
  if [[ "${4:-}" == log ]]; then log="access_log $out/$1.log answers;"; fi
  cat >"$out/$1.conf" <<NGINX
daemon off;
worker_processes 1;
pid $out/$1.pid;
error_log $out/$1.error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $out/$1-body;
  log_format answers '\$msec \$status \$connection';
  server { listen 127.0.0.1:$2; $log location / { return $3; } }
}
NGINX
  nginx -c "$out/$1.conf" -p "$out" 2>/dev/null &
  nginx_pid=$!
  pids+=("$nginx_pid")
  wait_port "$2"
  nginx_worker=
  for _ in $(seq 100); do  # the master forks its worker after it listens
    nginx_worker=$(pgrep -P "$nginx_pid" | head -1) || true
    [[ -z "$nginx_worker" ]] || return 0
    sleep 0.05
  done
  return 1
}
