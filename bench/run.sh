#!/usr/bin/env bash
# `make bench`: accepted/s, latency and RSS of payhookd for validly signed Standard Webhooks callbacks, each
# stored in Redis before its 204, next to nginx `return 200` measured in the same run as the HTTP floor; and
# delivered/s: payhookd forwards every event to a sink (nginx `return 204` on a second port). Deliveries are
# counted while wrk runs and while the backlog it left drains afterwards, until every stored event is
# delivered; one run holds the sink paused, so it measures ingest alone and leaves a large backlog to drain.
# Loopback only, bounded in time. Usage: bench/run.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
count=${BENCH_REQUESTS:-300000}
drain_timeout=${BENCH_DRAIN_TIMEOUT:-60}  # seconds the backlog of a run may take to be delivered
out=$(mktemp -d /tmp/payhook-bench.XXXXXX)
pids=()
cleanup() {
  # A stopped nginx worker could not quit.
  if [[ -n "${nginx_worker:-}" ]]; then kill -CONT "$nginx_worker" 2>/dev/null || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "${BENCH_KEEP:-}" ]]; then echo "bench: kept $out"; else rm -rf "$out"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

redis_port=$(free_port); http_port=$(free_port); admin_port=$(free_port); nginx_port=$(free_port)
sink_port=$(free_port)
secret=whsec_$(head -c 32 /dev/urandom | base64 -w0)

redis-server --bind 127.0.0.1 --port "$redis_port" --appendonly yes --appendfsync everysec --dir "$out" \
  --save "" --logfile "$out/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
wait_port "$redis_port"

# nginx, one worker: the HTTP floor on one port, and the delivery sink on another, which logs one line per
# delivery it answered (unbuffered, so a count read at any moment is exact; $connection tells how many
# connections payhookd opened).
cat >"$out/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $out/nginx.pid;
error_log $out/nginx.error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $out/nginx-body;
  log_format sink '\$msec \$status \$connection';
  server { listen 127.0.0.1:$nginx_port; location / { return 200; } }
  server { listen 127.0.0.1:$sink_port; access_log $out/sink.log sink; location / { return 204; } }
}
NGINX
nginx -c "$out/nginx.conf" -p "$out" 2>/dev/null &
nginx_pid=$!
pids+=("$nginx_pid")
wait_port "$nginx_port"
wait_port "$sink_port"

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
[delivery]
lease_timeout = "90s"  # more than the target's timeout
[[targets]]
name = "orders"
url = "http://127.0.0.1:$sink_port/payhook"
secret_file = "secrets/orders.whsec"
timeout = "60s"  # outlasts a run with the sink paused, so no attempt fails and is retried 5 s later
[[routes]]
name = "bench"
provider = "standard-webhooks"
path = "/hooks/bench"
secret_file = "secrets/bench.whsec"
forward = ["orders"]
TOML
"$build/payhookd" --config "$out/payhook.toml" 2>"$out/payhookd.log" &
payhookd_pid=$!
pids+=("$payhookd_pid")
wait_port "$http_port"
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null && break; sleep 0.05; done

# Each payhookd run gets its own ids, so every request is a new event, never the cheaper duplicate path.
for run in 1 2 3; do "$build/bench/bench_gen_requests" "$count" "$secret" "$out/requests-$run.tsv"; done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_wrk() {  # url label requests
  PAYHOOK_BENCH_REQUESTS="$3" wrk -t1 -c"$connections" -d"$duration" --latency \
    -s bench/swh.lua "$1" >"$out/$2.wrk" 2>&1
}
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF}' "$1"; }
total() { awk '/requests in/ {print $1}' "$1"; }
seconds() { awk '/requests in/ {gsub(/[^0-9.]/, "", $4); print $4}' "$1"; }  # wrk's measured window

rcli() { redis-cli -p "$redis_port" "$@"; }
sink_count() { wc -l <"$out/sink.log"; }  # deliveries the sink answered (204), retries included
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)
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

cursor=0  # every event ranked below it is delivered
timed_out=()
declare -A load_rate drain_rate drain_note
# The delivery figures of one wrk run; call it right after wrk. delivered/s: the sink's answers during wrk's
# window. Then waits (at most $drain_timeout s) until every stored event is delivered: drain/s.
measure_delivery() {  # label sink_count_before_wrk sink_count_after_wrk wrk_file
  local label=$1 start=$EPOCHREALTIME s0=$3 t stored dead=0 drained=0 n
  load_rate[$label]=$(awk -v n=$(($3 - $2)) -v s="$(seconds "$4")" 'BEGIN {printf "%.0f", n / s}')
  stored=$(rcli zcard '{payhook}:events')
  while :; do
    cursor=$(rcli eval "$delivered_upto" 1 '{payhook}:events' "$cursor" 20000 '{payhook}:ev:')
    if ((cursor >= stored)); then drained=1; break; fi
    dead=$(rcli zcard '{payhook}:dead')
    ((dead == 0)) || break
    t=$(awk -v a="$start" -v b="$EPOCHREALTIME" -v max="$drain_timeout" 'BEGIN {print (b - a > max)}')
    ((t == 0)) || break
    sleep 0.1
  done
  t=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')
  n=$(($(sink_count) - s0))
  if ((drained && n < 1000)); then
    drain_rate[$label]="kept up"
    drain_note[$label]="$n events left when wrk stopped, delivered in $t s"
  elif ((drained)); then
    drain_rate[$label]=$(awk -v n="$n" -v t="$t" 'BEGIN {printf "%.0f", n / t}')
    drain_note[$label]="$n events left when wrk stopped, all delivered in $t s"
  else
    drain_rate[$label]="no drain"
    timed_out+=("$label")
    drain_note[$label]="NOT drained: $n delivered in $t s; of $stored events, $((stored - cursor)) or fewer"
    drain_note[$label]+=" not yet delivered, $dead dead"
  fi
}

echo "payhook bench: $duration per run, $connections connections, 1 wrk thread, loopback; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
run_wrk "http://127.0.0.1:$nginx_port/hooks/bench" nginx "$out/requests-1.tsv"

# Run 1: ingest with delivery to the sink going on, as in production.
p0=$(cpu_ticks "$payhookd_pid"); r0=$(cpu_ticks "$redis_pid"); d0=$(sink_count)
run_wrk "http://127.0.0.1:$http_port/hooks/bench" payhook "$out/requests-1.tsv"
d1=$(sink_count); p1=$(cpu_ticks "$payhookd_pid"); r1=$(cpu_ticks "$redis_pid")
measure_delivery live "$d0" "$d1" "$out/payhook.wrk"
stored_1=$(rcli zcard '{payhook}:events')

# Run 2: the sink's worker stopped, so its max_in_flight attempts hang and the rest stays due: ingest alone
# (comparable with the figures from before the bench had a sink). Then the sink resumes and the backlog
# drains with no ingest.
kill -STOP "$nginx_worker"
rcli config resetstat >/dev/null  # Redis' per-command figures below are for this run alone
p2=$(cpu_ticks "$payhookd_pid"); r2=$(cpu_ticks "$redis_pid")
run_wrk "http://127.0.0.1:$http_port/hooks/bench" payhook-paused "$out/requests-2.tsv"
d2=$(sink_count)
p3=$(cpu_ticks "$payhookd_pid"); r3=$(cpu_ticks "$redis_pid"); n3=$(cpu_ticks "$nginx_worker")
evalsha_stats=$(rcli info commandstats | tr -d '\r' | awk -F'[:,=]' '$1 == "cmdstat_evalsha" {print $3, $7}')
kill -CONT "$nginx_worker"
measure_delivery paused "$d2" "$d2" "$out/payhook-paused.wrk"
d4=$(sink_count)
p4=$(cpu_ticks "$payhookd_pid"); r4=$(cpu_ticks "$redis_pid"); n4=$(cpu_ticks "$nginx_worker")
load_rate[paused]=paused
stored_2=$(rcli zcard '{payhook}:events')

# Run 3: the same as run 1 with every Redis write on disk before its answer (and so before payhook's 204).
rcli config set appendfsync always >/dev/null
d0=$(sink_count)
run_wrk "http://127.0.0.1:$http_port/hooks/bench" payhook-fsync "$out/requests-3.tsv"
d1=$(sink_count)
measure_delivery always "$d0" "$d1" "$out/payhook-fsync.wrk"

stored=$(rcli zcard '{payhook}:events')
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$payhookd_pid/status")
n_rps=$(rps "$out/nginx.wrk")
ok=()
row() {  # label file [delivery label: this run's 2xx answers are compared with Redis]
  local r bad total delivered=- drain=-
  r=$(rps "$2"); bad=$(non2xx "$2"); bad=${bad:-0}; total=$(total "$2")
  if [[ -n "${3:-}" ]]; then
    ok+=($((total - bad)))
    delivered=${load_rate[$3]} drain=${drain_rate[$3]}
  fi
  printf '%-40s %9s %9s %9s %8s %7s %11s %9s\n' "$1" "$r" "$(field 50% "$2")" "$(field 99% "$2")" \
    "$(awk -v a="$r" -v b="$n_rps" 'BEGIN {printf "%.2f", a / b}')" "$bad" "$delivered" "$drain"
}

printf '\n%-40s %9s %9s %9s %8s %7s %11s %9s\n' "target" "req/s" "p50" "p99" "vs nginx" "non-2xx" \
  "delivered/s" "drain/s"
row "nginx return 200 (1 worker)" "$out/nginx.wrk"
row "payhookd 204, AOF fsync everysec" "$out/payhook.wrk" live
row "payhookd 204, everysec, sink paused" "$out/payhook-paused.wrk" paused
row "payhookd 204, AOF fsync always" "$out/payhook-fsync.wrk" always
echo "delivered/s: the sink's 2xx answers during wrk's window / the window. drain/s: once wrk stopped, the"
echo "  events not yet delivered / the time until every stored event was (polled every 0.1 s, at most" \
  "${drain_timeout} s)."
echo
echo "drain after the everysec run:               ${drain_note[live]}"
echo "drain after the everysec run, sink resumed: ${drain_note[paused]}"
echo "drain after the always run:                 ${drain_note[always]}"
echo "payhookd peak RSS: $((rss_kib / 1024)) MiB"
hz=$(getconf CLK_TCK)
per() {  # label payhookd_ticks redis_ticks count [sink_ticks]
  awk -v l="$1" -v p="$2" -v r="$3" -v n="$4" -v s="${5:-}" -v hz="$hz" 'BEGIN {
    printf "%s: payhookd %.1f us, redis-server %.1f us", l, p / hz / n * 1e6, r / hz / n * 1e6
    if (s != "") printf ", sink %.1f us", s / hz / n * 1e6
    printf "\n" }'
}
per "CPU per callback (everysec run, the deliveries made meanwhile included)" $((p1 - p0)) $((r1 - r0)) \
  "$(total "$out/payhook.wrk")"
per "CPU per callback (everysec run, sink paused: ingest alone)" $((p3 - p2)) $((r3 - r2)) \
  "$(total "$out/payhook-paused.wrk")"
read -r es_calls es_usec <<<"${evalsha_stats:-0 0}"
echo "Redis EVALSHA during the sink-paused run: $es_calls calls, $es_usec us per call," \
  "$(awk -v c="$es_calls" -v u="$es_usec" -v n="$(total "$out/payhook-paused.wrk")" \
    'BEGIN {printf "%.1f us per callback (%.1f callbacks per call)", c * u / n, n / (c ? c : 1)}')"
if ((d4 - d2 >= 1000)); then  # a backlog large enough to be measured
  per "CPU per delivery (drain after the sink resumed)" $((p4 - p3)) $((r4 - r3)) $((d4 - d2)) $((n4 - n3))
fi
sink_conns=$(awk '{print $3}' "$out/sink.log" | sort -u | wc -l)
echo "sink: $(sink_count) answers on $sink_conns connections from payhookd"
new_events=("$stored_1" $((stored_2 - stored_1)) $((stored - stored_2)))
echo "payhookd 2xx answers per run: ${ok[*]}; new events in Redis per run: ${new_events[*]}"
# Every 2xx is a stored event. Past $count requests a run's ids repeat, and repeats are rightly answered
# 204 without a new event, so only the first $count answers of a run must each be a new event.
for i in 0 1 2; do
  expected=$((ok[i] < count ? ok[i] : count))
  if ((new_events[i] < expected)); then
    echo "error: run $((i + 1)): $expected answers that must be new events, only ${new_events[i]} stored" >&2
    exit 1
  fi
done
# And every stored event ended delivered: the state of each event hash, read in chunks.
events=0 delivered=0 dead=0 other=0
while ((events < stored)); do
  mapfile -t c < <(rcli eval "$count_states" 1 '{payhook}:events' "$events" 50000 '{payhook}:ev:')
  ((c[0] > 0)) || break
  events=$((events + c[0])) delivered=$((delivered + c[1])) dead=$((dead + c[2])) other=$((other + c[3]))
done
echo "events stored: $events; delivered: $delivered, dead: $dead, not yet: $other;" \
  "{payhook}:leased $(rcli zcard '{payhook}:leased'), {payhook}:dead $(rcli zcard '{payhook}:dead')"
if ((dead != 0 || (delivered != events && ${#timed_out[@]} == 0))); then
  echo "error: not every stored event was delivered (see the drain lines above)" >&2
  exit 1
elif ((delivered != events)); then
  echo "NOT verified that every 2xx ended delivered: drains that took more than ${drain_timeout} s" \
    "(BENCH_DRAIN_TIMEOUT): ${timed_out[*]}"
  exit 0
fi
echo "every 2xx answer of the three runs ended delivered (0 dead)"
