#!/usr/bin/env bash
# What [redis] min_replicas = 1 costs at ingest (docs/reliability.md, "What Redis promises"): the same signed
# Standard Webhooks load (bench/swh.lua, wrk -t1, BENCH_CONNECTIONS connections, BENCH_DURATION) sent to
#   single   payhookd on one Redis (AOF everysec), min_replicas = 0;
#   replica  payhookd on a master (AOF everysec) with one local replica, min_replicas = 1: every callback is
#            answered only after a WAIT counted the replica.
# in one run on this machine. Both deliver to an nginx that is stopped (SIGSTOP) during the load, so the
# figures are ingest alone, as in `make bench`'s sink-paused rows. Prints req/s, p50, p99 and the ratio, and
# fails if a 2xx answer has no stored event behind it or if a WAIT came back short.
#   bench/replicas.sh [BUILD_DIR]
set -euo pipefail
build=$(realpath "${1:-build}")
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
count=${BENCH_REQUESTS:-300000}
out=$(mktemp -d "${TMPDIR:-/tmp}/payhook-replicas.XXXXXX")
# shellcheck source=bench/lib.sh
source bench/lib.sh
# shellcheck disable=SC2016  # evaluated at exit
bench_on_exit 'if [[ -n "${sink_worker:-}" ]]; then kill -CONT "$sink_worker" 2>/dev/null; fi'

write_secrets
sink_port=$(free_port)
start_nginx sink "$sink_port" 204
sink_worker=$nginx_worker

start_pair() {  # start_pair NAME MIN_REPLICAS: Redis (and its replica), then payhookd; sets port_NAME, redis_NAME
  local name=$1 min=$2 rport http admin
  rport=$(free_port)
  mkdir -p "$out/$name"
  redis-server --bind 127.0.0.1 --port "$rport" --appendonly yes --appendfsync everysec --dir "$out/$name" \
    --save "" --logfile "$out/$name/redis.log" &
  pids+=("$!")
  wait_port "$rport"
  if ((min > 0)); then
    local rep
    rep=$(free_port)
    mkdir -p "$out/$name/replica"
    redis-server --bind 127.0.0.1 --port "$rep" --replicaof 127.0.0.1 "$rport" --appendonly no --save "" \
      --dir "$out/$name/replica" --logfile "$out/$name/replica/redis.log" &
    pids+=("$!")
    wait_port "$rep"
    for _ in $(seq 100); do
      redis-cli -p "$rport" info replication | grep -q 'state=online' && break
      sleep 0.05
    done
  fi
  http=$(free_port)
  admin=$(free_port)
  cat >"$out/$name/payhook.toml" <<TOML
[server]
listen = ["127.0.0.1:$http"]
[admin]
listen = "127.0.0.1:$admin"
[redis]
url = "redis://127.0.0.1:$rport/0"
min_replicas = $min
[log]
level = "warn"
[delivery]
lease_timeout = "90s"
[[targets]]
name = "orders"
url = "http://127.0.0.1:$sink_port/payhook"
secret_file = "$out/secrets/orders.whsec"
timeout = "60s"
breaker_failures = 0
[[routes]]
name = "bench"
provider = "standard-webhooks"
path = "/hooks/bench"
secret_file = "$out/secrets/bench.whsec"
forward = ["orders"]
TOML
  "$build/payhookd" --config "$out/$name/payhook.toml" 2>"$out/$name/payhookd.log" &
  pids+=("$!")
  wait_port "$http"
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null && break; sleep 0.05; done
  curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null || { cat "$out/$name/payhookd.log" >&2; exit 1; }
  declare -g "port_$name=$http" "admin_$name=$admin" "redis_$name=$rport"
}

run() {  # run NAME: wrk with the sink stopped
  local name=$1 port_var="port_$1"
  "$build/bench/bench_gen_requests" "$count" "$secret" "$out/$name.tsv"
  kill -STOP "$sink_worker"
  PAYHOOK_BENCH_REQUESTS="$out/$name.tsv" PAYHOOK_BENCH_PATH=/hooks/bench \
    wrk -t1 -c"$connections" -d"$duration" --latency -s bench/swh.lua "http://127.0.0.1:${!port_var}/hooks/bench" \
    >"$out/$name.wrk" 2>&1
  kill -CONT "$sink_worker"
}

field() { awk -v k="$1" '$1 == k {print $2}' "$out/$2.wrk"; }
rps() { awk '/^Requests\/sec:/ {print $2}' "$out/$1.wrk"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ {n = $NF} END {print n + 0}' "$out/$1.wrk"; }
total() { awk '/requests in/ {print $1}' "$out/$1.wrk"; }

start_pair single 0
start_pair replica 1
echo "payhook bench, min_replicas: $duration per run, $connections connections, 1 wrk thread, loopback;" \
  "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
run single
run replica

printf '\n%-62s %9s %9s %9s %8s %7s\n' "target" "req/s" "p50" "p99" "ratio" "non-2xx"
base=$(rps single)
for name in single replica; do
  case $name in
    single) label="payhookd, one Redis (AOF everysec), min_replicas 0" ;;
    replica) label="payhookd, master + 1 local replica, min_replicas 1 (WAIT)" ;;
  esac
  printf '%-62s %9s %9s %9s %8s %7s\n' "$label" "$(rps $name)" "$(field 50% $name)" "$(field 99% $name)" \
    "$(awk -v a="$(rps $name)" -v b="$base" 'BEGIN {printf "%.2f", a / b}')" "$(non2xx $name)"
done

waits=$(curl -fs "http://127.0.0.1:$admin_replica/metrics" | awk '/^payhook_redis_replica_waits_total\{/ {
  match($0, /outcome="[^"]*"/); printf "%s%s %d", sep, substr($0, RSTART + 9, RLENGTH - 10), $NF; sep = ", " }')
calls=$(redis-cli -p "$redis_replica" info commandstats | tr -d '\r' | awk -F'[:,=]' '$1 == "cmdstat_wait" {print $3}')
echo
echo "replica run: stores confirmed by WAIT: $waits; WAIT calls: ${calls:-0}" \
  "($(awk -v n="$(total replica)" -v c="${calls:-0}" 'BEGIN {printf "%.1f", n / (c ? c : 1)}') callbacks per WAIT)"
for name in single replica; do
  ok=$(($(total $name) - $(non2xx $name)))
  rp="redis_$name"
  stored=$(redis-cli -p "${!rp}" zcard '{payhook}:events')
  expected=$((ok < count ? ok : count))
  if ((stored < expected)); then
    echo "error: $name: $expected answers that must be new events, only $stored stored" >&2
    exit 1
  fi
done
echo "every 2xx answer is a stored event"
short=$(curl -fs "http://127.0.0.1:$admin_replica/metrics" |
  awk '/^payhook_redis_replica_waits_total\{outcome="(short|failed)"\}/ {n += $NF} END {print n + 0}')
if ((short > 0)); then
  echo "error: $short stores were not confirmed by the replica in time" >&2
  exit 1
fi
