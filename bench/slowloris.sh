#!/usr/bin/env bash
# Hostile-traffic figure: p50/p99 of validly signed Standard Webhooks callbacks measured with
# wrk on a quiet payhookd, then again while bench/slowloris.py holds SLOWLORIS_CONNECTIONS (1000) incomplete
# requests (slow headers and slow bodies) open on the same listener (reopening any the daemon closes), and
# the ratio of the two. payhookd runs with its default [server] limits (header_timeout 10s, body_timeout 30s,
# min_body_rate 1KiB/s, max_connections 10000) and forwards to an nginx sink, as in bench/run.sh. Loopback
# only; each wrk run lasts BENCH_DURATION (5s). Usage: bench/slowloris.sh [BUILD]
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-5s}
connections=${BENCH_CONNECTIONS:-32}
slow=${SLOWLORIS_CONNECTIONS:-1000}
count=${BENCH_REQUESTS:-200000}
out=$(mktemp -d /tmp/payhook-slowloris.XXXXXX)
# shellcheck source=bench/lib.sh
source bench/lib.sh
ulimit -n "$(ulimit -Hn)"  # payhookd and the helper each hold a thousand sockets

http_port=$(free_port); admin_port=$(free_port); sink_port=$(free_port)
start_redis everysec

start_nginx sink "$sink_port" 204

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
url = "http://127.0.0.1:$sink_port/payhook"
secret_file = "secrets/orders.whsec"
timeout = "10s"
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

for run in quiet slowloris; do "$build/bench/bench_gen_requests" "$count" "$secret" "$out/requests-$run.tsv"; done

run_wrk() {  # label
  PAYHOOK_BENCH_REQUESTS="$out/requests-$1.tsv" wrk -t1 -c"$connections" -d"$duration" --latency \
    -s bench/swh.lua "http://127.0.0.1:$http_port/hooks/bench" >"$out/$1.wrk" 2>&1
}
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
non2xx() { local n; n=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$1"); echo "${n:-0}"; }
errors() { local n; n=$(awk '/Socket errors:/ {print}' "$1"); echo "${n:-none}"; }
to_ms() {  # wrk latency ("812.00us", "1.23ms", "1.02s") in ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000;
    printf "%.3f", n }'
}

echo "payhook slowloris bench: $duration per run, $connections wrk connections, 1 wrk thread, $slow slowloris" \
  "connections, loopback; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
total() { awk '/requests in/ {print $1}' "$1"; }
c0=$(cpu_ticks "$payhookd_pid")
run_wrk quiet
c1=$(cpu_ticks "$payhookd_pid")
rss_quiet=$(awk '/VmRSS/ {print $2}' "/proc/$payhookd_pid/status")

python3 bench/slowloris.py 127.0.0.1 "$http_port" "$slow" >"$out/slowloris.out" 2>&1 &
slow_pid=$!
pids+=("$slow_pid")
for _ in $(seq 200); do grep -q '^held' "$out/slowloris.out" && break; sleep 0.05; done
grep -q '^held' "$out/slowloris.out" || { echo "error: slowloris helper did not open its connections" >&2;
  cat "$out/slowloris.out" >&2; exit 1; }
sleep 0.5  # let the daemon accept them all
conns_before=$(find "/proc/$payhookd_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
c2=$(cpu_ticks "$payhookd_pid"); h2=$(cpu_ticks "$slow_pid")
run_wrk slowloris
c3=$(cpu_ticks "$payhookd_pid"); h3=$(cpu_ticks "$slow_pid")
conns_after=$(find "/proc/$payhookd_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
rss_slow=$(awk '/VmRSS/ {print $2}' "/proc/$payhookd_pid/status")
kill -TERM "$slow_pid"
wait "$slow_pid" || true

printf '\n%-34s %9s %10s %10s %8s\n' "run" "req/s" "p50" "p99" "non-2xx"
for run in quiet slowloris; do
  label="quiet"
  [[ $run == slowloris ]] && label="with $slow slowloris held"
  printf '%-34s %9s %10s %10s %8s\n' "$label" "$(rps "$out/$run.wrk")" "$(field 50% "$out/$run.wrk")" \
    "$(field 99% "$out/$run.wrk")" "$(non2xx "$out/$run.wrk")"
done
q50=$(to_ms "$(field 50% "$out/quiet.wrk")"); q99=$(to_ms "$(field 99% "$out/quiet.wrk")")
s50=$(to_ms "$(field 50% "$out/slowloris.wrk")"); s99=$(to_ms "$(field 99% "$out/slowloris.wrk")")
awk -v a="$s50" -v b="$q50" -v c="$s99" -v d="$q99" -v r1="$(rps "$out/slowloris.wrk")" -v r0="$(rps "$out/quiet.wrk")" \
  'BEGIN { printf "ratio under slowloris / quiet: p50 %.2fx, p99 %.2fx, req/s %.2fx\n", a / b, c / d, r1 / r0 }'
hz=$(getconf CLK_TCK)
awk -v q=$((c1 - c0)) -v s=$((c3 - c2)) -v h=$((h3 - h2)) -v nq="$(total "$out/quiet.wrk")" \
  -v ns="$(total "$out/slowloris.wrk")" -v hz="$hz" -v d="$duration" 'BEGIN {
  printf "payhookd CPU per callback: quiet %.1f us, with slowloris %.1f us; the slowloris helper used %.2f s" \
    " of CPU during the run (it shares the cores)\n", q / hz / nq * 1e6, s / hz / ns * 1e6, h / hz }'
echo "wrk socket errors: quiet: $(errors "$out/quiet.wrk"); slowloris: $(errors "$out/slowloris.wrk")"
echo "payhookd open fds: $conns_before before the slowloris run, $conns_after after it;" \
  "RSS $((rss_quiet / 1024)) MiB quiet, $((rss_slow / 1024)) MiB with the slowloris connections held"
tail -1 "$out/slowloris.out"
