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

# The runs of a script that drives wrk and reads Redis (bench/run.sh, bench/delivery.sh); each sets
# `connections` and `duration`, and names its sink nginx "sink".
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wrk_run() {  # label port path script [mode]: sends $out/label.tsv (nginx: live.tsv), output $out/label.wrk
  local requests="$out/$1.tsv"
  [[ "$1" != nginx ]] || requests="$out/live.tsv"
  PAYHOOK_BENCH_REQUESTS="$requests" PAYHOOK_BENCH_PATH="$3" PAYHOOK_BENCH_MODE="${5:-}" \
    wrk -t1 -c"$connections" -d"$duration" --latency -s "bench/$4" "http://127.0.0.1:$2$3" >"$out/$1.wrk" 2>&1
}
# wrk's CPU per request while it sent (its scripts print the process' CPU clock at the first request and at
# the end; loading the pre-signed requests before is left out).
wrk_us() {
  awk -v n="$(total "$1")" '/^wrk cpu at first request:/ {a = $NF} /^wrk cpu at end:/ {b = $NF}
    END {printf "%.1f", (b - a) / n * 1e6}' "$out/$1.wrk"
}
field() { awk -v k="$1" '$1 == k {print $2}' "$out/$2.wrk"; }
rps() { awk '/^Requests\/sec:/ {print $2}' "$out/$1.wrk"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ {n = $NF} END {print n + 0}' "$out/$1.wrk"; }
total() { awk '/requests in/ {print $1}' "$out/$1.wrk"; }
seconds() { awk '/requests in/ {gsub(/[^0-9.]/, "", $4); print $4}' "$out/$1.wrk"; }  # wrk's measured window

sink_count() { wc -l <"$out/sink.log"; }  # deliveries the sink answered (204), retries included
# Events are ranked by receipt time in {payhook}:events. From rank ARGV[1] on, skips (at most ARGV[2]) events
# whose hash says state == delivered and returns the rank of the first one that is not (or the end): every
# event before that rank is delivered. The drain calls it again from there, so each event is read ~once.
delivered_upto='
local i, stop, ev = tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[3]
while i < stop do
  local ids = redis.call("ZRANGE", KEYS[1], i, i + 499)
  if #ids == 0 then return i end
  for k, id in ipairs(ids) do
    if redis.call("HGET", ev .. id, "state") ~= "delivered" then return i + k - 1 end
  end
  i = i + #ids
end
return i'
# Counts the states of the events ranked ARGV[1] .. ARGV[1] + ARGV[2] - 1: {events, delivered, dead, other}.
count_states='
local ids = redis.call("ZRANGE", KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
local d, dead, other = 0, 0, 0
for _, id in ipairs(ids) do
  local s = redis.call("HGET", ARGV[3] .. id, "state")
  if s == "delivered" then d = d + 1 elseif s == "dead" then dead = dead + 1 else other = other + 1 end
end
return {#ids, d, dead, other}'
