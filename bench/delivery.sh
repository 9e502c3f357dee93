#!/usr/bin/env bash
# `make bench-delivery`: what one delivery costs, alone. wrk sends signed Standard Webhooks callbacks
# (bench/swh.lua, BENCH_CONNECTIONS connections, BENCH_DURATION) while the sink (one nginx worker answering
# 204) is stopped, so payhookd only stores; then the sink resumes and payhookd delivers the whole backlog
# with nothing else running. Prints the drain's deliveries per second, the CPU per delivery of payhookd,
# redis-server and the sink (from /proc/<pid>/stat), and Redis' script calls per delivery; BENCH_ROUNDS
# (default 2) repeats store-then-drain; BENCH_PERF=1 records the first drain with `perf record` and prints
# where payhookd and redis-server spent it. Fails if an event stored did not end delivered.
#   bench/delivery.sh [BUILD_DIR]
set -euo pipefail
build=$(realpath "${1:-build}")
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-5s}
connections=${BENCH_CONNECTIONS:-32}
count=${BENCH_REQUESTS:-200000}
rounds=${BENCH_ROUNDS:-2}
out=$(mktemp -d "${TMPDIR:-/tmp}/payhook-delivery.XXXXXX")
# shellcheck source=bench/lib.sh
source bench/lib.sh
# shellcheck disable=SC2016  # evaluated at exit
bench_on_exit 'if [[ -n "${sink_worker:-}" ]]; then kill -CONT "$sink_worker" 2>/dev/null; fi'

http_port=$(free_port); admin_port=$(free_port); sink_port=$(free_port)
start_redis everysec
if [[ -n "${BENCH_NO_REWRITE:-}" ]]; then rcli config set auto-aof-rewrite-percentage 0 >/dev/null; fi
write_secrets
start_nginx sink "$sink_port" 204 log
sink_worker=$nginx_worker
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
lease_timeout = "90s"
[[targets]]
name = "orders"
url = "http://127.0.0.1:$sink_port/payhook"
secret_file = "secrets/orders.whsec"
timeout = "60s"
breaker_failures = 0
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

hz=$(getconf CLK_TCK)
evalsha() { rcli info commandstats | tr -d '\r' | awk -F'[:,=]' '$1 == "cmdstat_evalsha" {print $3}'; }
# Redis' commands during the drain (those its scripts ran included): calls per delivery, time per call, and
# time per delivery, the most costly first.
commands() {
  rcli info commandstats | tr -d '\r' | awk -F'[:,=]' -v n="$1" '/^cmdstat_/ {
    printf "  %-16s %6.2f calls %6.2f us/call %6.2f us per delivery\n", substr($1, 9), $3 / n, $7, $5 / n }' |
    sort -k6 -rn | head -14
}
state_count() { rcli eval "$count_states" 1 '{payhook}:events' 0 100000000 '{payhook}:ev:'; }
echo "payhook delivery bench: $duration of ingest with the sink paused, then the drain alone;" \
  "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for round in $(seq "$rounds"); do
  "$build/bench/bench_gen_requests" "$count" "$secret" "$out/round$round.tsv"
  kill -STOP "$sink_worker"
  wrk_run "round$round" "$http_port" /hooks/bench swh.lua
  # Attempts already sent to the stopped sink are answered at once when it resumes: counted in the drain.
  stored=$(rcli zcard '{payhook}:events')
  d0=$(sink_count)
  p0=$(cpu_ticks "$payhookd_pid"); r0=$(cpu_ticks "$redis_pid"); s0=$(cpu_ticks "$sink_worker")
  rcli config resetstat >/dev/null  # Redis' per-command figures are for the drain alone
  perf_pids=()
  if [[ -n "${BENCH_PERF:-}" ]] && ((round == 1)); then
    for who in payhookd redis; do
      pid_var="${who}_pid"
      perf record -q -F 1999 -g -p "${!pid_var}" -o "$out/perf-$who.data" 2>/dev/null &
      perf_pids+=("$!")
    done
    sleep 0.3
  fi
  start=$EPOCHREALTIME
  kill -CONT "$sink_worker"
  # Every delivered event joins the retention index: counting it costs Redis next to nothing, unlike
  # reading each event's state.
  deadline=$((SECONDS + 120))
  while :; do
    done_n=$(rcli zcard '{payhook}:events:done')
    ((done_n < stored)) || break
    if ((SECONDS > deadline)); then
      echo "error: round $round: the backlog was not delivered in 120 s ($done_n of $stored)" >&2
      exit 1
    fi
    sleep 0.05
  done
  t=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')
  n=$(($(sink_count) - d0))
  for pp in "${perf_pids[@]}"; do kill -INT "$pp"; wait "$pp" || true; done
  cmds=$(commands "$n")
  p=$(($(cpu_ticks "$payhookd_pid") - p0)) r=$(($(cpu_ticks "$redis_pid") - r0))
  s=$(($(cpu_ticks "$sink_worker") - s0)) e=$(evalsha)
  awk -v round="$round" -v n="$n" -v t="$t" -v p="$p" -v r="$r" -v s="$s" -v e="$e" -v hz="$hz" \
    -v acc="$(rps "round$round")" 'BEGIN {
    printf "round %d: %s callbacks/s stored; %d delivered in %.2f s = %.0f deliveries/s;", round, acc, n, t, n / t
    printf " per delivery: payhookd %.1f us, redis-server %.1f us, sink %.1f us; %.2f Redis scripts\n",
      p / hz / n * 1e6, r / hz / n * 1e6, s / hz / n * 1e6, e / n }'
  echo "$cmds"
done
if [[ -n "${BENCH_PERF:-}" ]]; then
  for who in payhookd redis; do
    echo "--- where $who spent the first drain (perf, self time by library and symbol)"
    perf report -q -i "$out/perf-$who.data" --no-children -g none --percent-limit 0.7 --sort dso,sym 2>/dev/null | grep -v '^$' | head -40
  done
fi
read -r events delivered dead other < <(state_count | tr '\n' ' ')
echo "events stored: $events; delivered: $delivered, dead: $dead, not yet: $other"
if ((delivered != events)); then
  echo "error: not every stored event was delivered" >&2
  exit 1
fi
