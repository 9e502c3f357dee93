#!/usr/bin/env bash
# `make bench`: one table, every figure from this one run on loopback. accepted/s and p50/p99
# latency of payhookd for validly signed Standard Webhooks callbacks and YooMoney paymentAvisos, each stored
# in Redis (AOF) before its answer, with the ratios to nginx `return 200` (one worker, the HTTP floor) and to
# adnanh/webhook (Debian's `webhook`, a hook with a payload-hmac-sha256 trigger rule running /bin/true), both
# measured first; payhookd's peak RSS and CPU per callback; and delivered/s: payhookd forwards every event to
# a sink (a second nginx answering `return 204`). Deliveries are counted while wrk runs and while the backlog
# it left drains afterwards, until every stored event is delivered; two runs (Standard Webhooks, YooMoney)
# hold the sink paused, so they measure ingest alone and leave a large backlog to drain. Every run sends new
# ids; the script fails if a 2xx answer has no stored event behind it, or if a stored event did not end
# delivered (a drain longer than BENCH_DRAIN_TIMEOUT is reported instead). Bounded in time.
# Usage: bench/run.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-64}
count=${BENCH_REQUESTS:-300000}
drain_timeout=${BENCH_DRAIN_TIMEOUT:-60}  # seconds the backlog of a run may take to be delivered
command -v webhook >/dev/null || { echo "bench: adnanh/webhook missing (apt install webhook)" >&2; exit 2; }
out=$(mktemp -d /tmp/payhook-bench.XXXXXX)
# shellcheck source=bench/lib.sh
source bench/lib.sh
# A stopped nginx worker could not quit.
# shellcheck disable=SC2016  # evaluated at exit, when sink_worker is known
bench_on_exit 'if [[ -n "${sink_worker:-}" ]]; then kill -CONT "$sink_worker" 2>/dev/null; fi'

http_port=$(free_port); admin_port=$(free_port); nginx_port=$(free_port)
sink_port=$(free_port); webhook_port=$(free_port)
password='s<kY23653f,{9fcnshwq'  # the YooMoney shop's
hmac_secret=$(head -c 24 /dev/urandom | base64 -w0)
start_redis everysec
write_secrets
printf '%s' "$password" >"$out/secrets/yoomoney.pass"

# The HTTP floor, and the delivery sink: its own nginx worker, which logs one line per delivery it answered
# ($out/sink.log), and is stopped (SIGSTOP) during the sink-paused runs.
start_nginx nginx "$nginx_port" 200
floor_worker=$nginx_worker
start_nginx sink "$sink_port" 204 log
sink_worker=$nginx_worker

# adnanh/webhook answers a callback whose HMAC does not match with a 500, so it would show as non-2xx.
cat >"$out/hooks.json" <<JSON
[{"id": "bench", "execute-command": "/bin/true", "response-message": "ok",
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "$hmac_secret",
                             "parameter": {"source": "header", "name": "X-Signature"}}}}]
JSON
webhook -hooks "$out/hooks.json" -ip 127.0.0.1 -port "$webhook_port" >"$out/webhook.log" 2>&1 &
webhook_pid=$!
pids+=("$webhook_pid")
wait_port "$webhook_port"

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
breaker_failures = 0  # and should one time out anyway, the backlog is not held back by an open breaker
[[routes]]
name = "bench"
provider = "standard-webhooks"
path = "/hooks/bench"
secret_file = "secrets/bench.whsec"
forward = ["orders"]
[[routes]]
name = "shop"
provider = "yoomoney"
path = "/yoomoney"
shop_id = "13"
shop_password_file = "secrets/yoomoney.pass"
decision = "orders"  # asked by checkOrder only; avisos are stored and forwarded
forward = ["orders"]
TOML
"$build/payhookd" --config "$out/payhook.toml" 2>"$out/payhookd.log" &
payhookd_pid=$!
pids+=("$payhookd_pid")
wait_port "$http_port"
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null && break; sleep 0.05; done

# Each payhookd run gets its own file, and each file its own ids (bench_gen_requests draws a run number), so
# every request is a new event, never the cheaper duplicate path. adnanh/webhook stores nothing: its requests
# may repeat.
for run in live paused always; do "$build/bench/bench_gen_requests" "$count" "$secret" "$out/$run.tsv"; done
# The sustained runs' files are made when their rate is known (new ids for each try).
"$build/bench/bench_gen_requests" --format yoomoney "$count" "$password" "$out/yoomoney.tsv"
"$build/bench/bench_gen_requests" --format hmac 20000 "$hmac_secret" "$out/webhook.tsv"

cursor=0  # every event ranked below it is delivered
timed_out=()
# Per payhookd run: delivered/s and drain/s (table), the drain's note, the events stored once it drained,
# CPU ticks of payhookd / redis-server during wrk, and for the sink-paused runs Redis' EVALSHA figures during
# wrk and the drain's CPU ticks (payhookd, redis-server, sink) and deliveries.
declare -A load_rate drain_rate drain_note stored_after cpu_p cpu_r evalsha drain_p drain_r drain_s drain_n
# The delivery figures of one wrk run; call it right after wrk. delivered/s: the sink's answers during wrk's
# window. Then waits (at most $drain_timeout s) until every stored event is delivered: drain/s.
measure_delivery() {  # label sink_count_before_wrk sink_count_after_wrk
  local label=$1 start=$EPOCHREALTIME s0=$3 t stored dead=0 drained=0 n
  load_rate[$label]=$(awk -v n=$(($3 - $2)) -v s="$(seconds "$label")" 'BEGIN {printf "%.0f", n / s}')
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
  stored_after[$label]=$(rcli zcard '{payhook}:events')
}
# A run with delivery live, as in production.
live_run() {  # label port path script [mode]
  local d0 d1 p0 r0
  p0=$(cpu_ticks "$payhookd_pid"); r0=$(cpu_ticks "$redis_pid"); d0=$(sink_count)
  wrk_run "$@"
  d1=$(sink_count)
  cpu_p[$1]=$(($(cpu_ticks "$payhookd_pid") - p0)) cpu_r[$1]=$(($(cpu_ticks "$redis_pid") - r0))
  measure_delivery "$1" "$d0" "$d1"
}
# Jobs waiting or in flight: the backlog the sustained row must keep flat.
count_backlog='
local n = redis.call("ZCARD", KEYS[1])
for _, t in ipairs(redis.call("SMEMBERS", KEYS[2])) do n = n + redis.call("ZCARD", ARGV[1] .. t) end
return n'
backlog() { rcli eval "$count_backlog" 2 '{payhook}:leased' '{payhook}:targets' '{payhook}:due:'; }
# End to end, sustained: wrk paced (swh.lua's delay: each connection waits a whole number of milliseconds
# before its next request) so that ingest and delivery keep up alike and the backlog stays flat. The first
# pace offers the rate at which delivery alone drained the paused run's backlog; a try whose backlog grew by
# more than 5 % of what it sent is too fast, and the pace is lengthened, otherwise shortened, until the
# shortest pace that held sits next to one that did not, or is 1 ms (at most eight tries). The row shows the
# try that held with the most accepted per second: accepted/s, delivered/s, the backlog before and after, the CPU of payhookd, redis-server and the
# sink per accepted callback. The script fails when no pace held: payhookd then cannot deliver what it takes.
declare -A sus
sustained_try() {  # pace: one paced run, labelled sustained-PACE, then its backlog drained
  local pace=$1 label="sustained-$1" b0 b1 d0 d1 p0 r0 s0 offered
  offered=$(awk -v c="$connections" -v p="$pace" -v d="${duration%s}" 'BEGIN {printf "%d", c * 1000 / p * d * 1.2 + 1000}')
  "$build/bench/bench_gen_requests" "$offered" "$secret" "$out/$label.tsv"
  b0=$(backlog); d0=$(sink_count)
  p0=$(cpu_ticks "$payhookd_pid"); r0=$(cpu_ticks "$redis_pid"); s0=$(cpu_ticks "$sink_worker")
  PAYHOOK_BENCH_PACE_MS=$pace wrk_run "$label" "$http_port" /hooks/bench swh.lua
  b1=$(backlog); d1=$(sink_count)
  cpu_p[$label]=$(($(cpu_ticks "$payhookd_pid") - p0)) cpu_r[$label]=$(($(cpu_ticks "$redis_pid") - r0))
  sus[sink_$pace]=$(($(cpu_ticks "$sink_worker") - s0))
  sus[b0_$pace]=$b0 sus[b1_$pace]=$b1
  sus[delivered_$pace]=$(awk -v n=$((d1 - d0)) -v s="$(seconds "$label")" 'BEGIN {printf "%.0f", n / s}')
  if (((b1 - b0) * 100 <= $(total "$label") * 5)); then sus[held_$pace]=1; else sus[held_$pace]=0; fi
  echo "sustained: pace ${pace} ms: $(rps "$label") req/s accepted, ${sus[delivered_$pace]}/s delivered," \
    "backlog $b0 -> $b1 ($(total "$label") sent): $( ((sus[held_$pace])) && echo held || echo "not flat")"
  measure_delivery "$label" "$d1" "$d1" >/dev/null
}
sustained_run() {  # start_rate
  local rate=$1 pace best="" fastest="" try
  [[ "$rate" =~ ^[0-9]+$ ]] || rate=5000  # the drain timed out: a guess, corrected by the tries
  pace=$(awk -v c="$connections" -v r="$rate" 'BEGIN {p = c * 1000 / r; q = int(p); if (q < p) q++; printf "%d", (q < 1 ? 1 : q)}')
  for try in 1 2 3 4 5 6 7 8; do
    [[ -n "${sus[held_$pace]:-}" ]] || sustained_try "$pace"
    if ((sus[held_$pace])); then
      fastest=$pace
      # Done when one millisecond less did not hold, or there is none.
      if ((pace == 1)) || [[ "${sus[held_$((pace - 1))]:-}" == 0 ]]; then break; fi
      pace=$((pace - 1))
    else
      [[ -n "$fastest" ]] && break
      pace=$((pace + 1 + pace / 4))
    fi
  done
  # Shorter paces offer more, but past the knee latency rises and a try may accept less: the row is the
  # try that held with the most accepted per second.
  local p
  for p in $(seq 1 200); do
    [[ "${sus[held_$p]:-}" == 1 ]] || continue
    if [[ -z "$best" ]] || awk -v a="$(rps "sustained-$p")" -v b="$(rps "sustained-$best")" 'BEGIN {exit !(a > b)}'; then
      best=$p
    fi
  done
  if [[ -z "$best" ]]; then
    echo "error: end to end: no pace kept the backlog within 5 % of the events sent" >&2
    exit 1
  fi
  sus[pace]=$best sus[b0]=${sus[b0_$best]} sus[b1]=${sus[b1_$best]}
  sus[delivered]=${sus[delivered_$best]} sus[sink_ticks]=${sus[sink_$best]}
  # The table's row and the checks below read the run "sustained": the fastest try that held.
  cp "$out/sustained-$best.wrk" "$out/sustained.wrk"
  cpu_p[sustained]=${cpu_p[sustained-$best]} cpu_r[sustained]=${cpu_r[sustained-$best]}
  load_rate[sustained]=${sus[delivered]} drain_rate[sustained]="kept up"
  drain_note[sustained]=${drain_note[sustained-$best]}
  stored_after[sustained]=$(rcli zcard '{payhook}:events')
}

# A run with the sink's worker stopped, so its max_in_flight attempts hang and the rest stays due: ingest
# alone (comparable with the figures from before the bench had a sink). Then the sink resumes and the backlog
# drains with no ingest.
paused_run() {  # label port path script [mode]
  local d p0 r0 p1 r1 n1
  kill -STOP "$sink_worker"
  rcli config resetstat >/dev/null  # Redis' per-command figures are for this run alone
  p0=$(cpu_ticks "$payhookd_pid"); r0=$(cpu_ticks "$redis_pid")
  wrk_run "$@"
  d=$(sink_count)
  p1=$(cpu_ticks "$payhookd_pid"); r1=$(cpu_ticks "$redis_pid"); n1=$(cpu_ticks "$sink_worker")
  cpu_p[$1]=$((p1 - p0)) cpu_r[$1]=$((r1 - r0))
  evalsha[$1]=$(rcli info commandstats | tr -d '\r' | awk -F'[:,=]' '$1 == "cmdstat_evalsha" {print $3, $7}')
  kill -CONT "$sink_worker"
  measure_delivery "$1" "$d" "$d"
  load_rate[$1]=paused
  drain_n[$1]=$(($(sink_count) - d))
  drain_p[$1]=$(($(cpu_ticks "$payhookd_pid") - p1)) drain_r[$1]=$(($(cpu_ticks "$redis_pid") - r1))
  drain_s[$1]=$(($(cpu_ticks "$sink_worker") - n1))
}

echo "payhook bench: $duration per run, $connections connections, 1 wrk thread, loopback; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# The two points of comparison first, while payhookd is idle and holds no event.
f0=$(cpu_ticks "$floor_worker")
wrk_run nginx "$nginx_port" /hooks/bench swh.lua
floor_ticks=$(($(cpu_ticks "$floor_worker") - f0))
wrk_run webhook "$webhook_port" /hooks/bench form.lua hmac
# adnanh/webhook answers before its command has run and queues the commands: once wrk stops it goes on
# starting /bin/true for many seconds, a third of a core and more, which would be charged to the runs that
# follow. It has served its purpose: stop it and its children.
pkill -P "$webhook_pid" 2>/dev/null || true
kill "$webhook_pid" 2>/dev/null || true
wait "$webhook_pid" 2>/dev/null || true
# Then payhookd: the runs in the order of the table, each drained before the next.
live_run live "$http_port" /hooks/bench swh.lua
paused_run paused "$http_port" /hooks/bench swh.lua
# Delivery alone drained the paused run's backlog at drain/s: with ingest beside it, the sustained rate is
# below that.
sustained_run "${drain_rate[paused]}"
paused_run yoomoney "$http_port" /yoomoney/aviso form.lua yoomoney
# The same as the first with every Redis write on disk before its answer (and so before payhook's 204).
rcli config set appendfsync always >/dev/null
live_run always "$http_port" /hooks/bench swh.lua

runs=(live paused sustained yoomoney always)  # payhookd's, in order
stored=$(rcli zcard '{payhook}:events')
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$payhookd_pid/status")
metrics=$(curl -fs "http://127.0.0.1:$admin_port/metrics")
n_rps=$(rps nginx) w_rps=$(rps webhook)
declare -A ok  # per payhookd run: its 2xx answers, compared with Redis below
row() {  # run label
  local r bad delivered=- drain=-
  r=$(rps "$1"); bad=$(non2xx "$1")
  if [[ -n "${load_rate[$1]:-}" ]]; then
    ok[$1]=$(($(total "$1") - bad))
    delivered=${load_rate[$1]} drain=${drain_rate[$1]}
  fi
  printf '%-59s %9s %9s %9s %8s %10s %7s %11s %9s\n' "$2" "$r" "$(field 50% "$1")" "$(field 99% "$1")" \
    "$(awk -v a="$r" -v b="$n_rps" 'BEGIN {printf "%.2f", a / b}')" \
    "$(awk -v a="$r" -v b="$w_rps" 'BEGIN {printf "%.1f", a / b}')" "$bad" "$delivered" "$drain"
}

printf '\n%-59s %9s %9s %9s %8s %10s %7s %11s %9s\n' "target" "req/s" "p50" "p99" "vs nginx" "vs webhook" \
  "non-2xx" "delivered/s" "drain/s"
row nginx "nginx return 200 (1 worker)"
row webhook "adnanh/webhook, HMAC rule, /bin/true"
row live "payhookd Standard Webhooks, AOF everysec, delivery live"
row paused "payhookd Standard Webhooks, everysec, sink paused"
row sustained "payhookd end to end, sustained (paced), everysec"
row yoomoney "payhookd YooMoney paymentAviso, everysec, sink paused"
row always "payhookd Standard Webhooks, AOF fsync always, delivery live"
echo "payhookd answers 204 (Standard Webhooks) or 200 (YooMoney) once the event is stored in Redis; a run with"
echo "  the sink paused is ingest alone. delivered/s: the sink's 2xx answers during wrk's window / the window."
echo "  drain/s: once wrk stopped, the events not yet delivered / the time until every stored event was (polled"
echo "  every 0.1 s, at most ${drain_timeout} s)."
echo
echo "end to end, sustained: each connection paced ${sus[pace]} ms; backlog ${sus[b0]} at the start," \
  "${sus[b1]} at the end ($(total sustained) sent); accepted $(rps sustained)/s, delivered ${sus[delivered]}/s"
echo "drain after the everysec run:                        ${drain_note[live]}"
echo "drain after the everysec run, sink resumed:          ${drain_note[paused]}"
echo "drain after the YooMoney everysec run, sink resumed: ${drain_note[yoomoney]}"
echo "drain after the always run:                          ${drain_note[always]}"
echo "payhookd peak RSS: $((rss_kib / 1024)) MiB"
hz=$(getconf CLK_TCK)
per() {  # label payhookd_ticks redis_ticks count [sink_ticks]
  awk -v l="$1" -v p="$2" -v r="$3" -v n="$4" -v s="${5:-}" -v hz="$hz" 'BEGIN {
    printf "%s: payhookd %.1f us, redis-server %.1f us", l, p / hz / n * 1e6, r / hz / n * 1e6
    if (s != "") printf ", sink %.1f us", s / hz / n * 1e6
    printf "\n" }'
}
per "CPU per callback, end to end sustained (its delivery included)" "${cpu_p[sustained]}" \
  "${cpu_r[sustained]}" "$(total sustained)" "${sus[sink_ticks]}"
per "CPU per callback (everysec run, the deliveries made meanwhile included)" "${cpu_p[live]}" "${cpu_r[live]}" \
  "$(total live)"
for run in paused yoomoney; do
  case $run in
    paused) what="everysec run" ;;
    yoomoney) what="YooMoney everysec run" ;;
  esac
  per "CPU per callback ($what, sink paused: ingest alone)" "${cpu_p[$run]}" "${cpu_r[$run]}" "$(total "$run")"
  read -r es_calls es_usec <<<"${evalsha[$run]:-0 0}"
  echo "Redis EVALSHA during the $what, sink paused: $es_calls calls, $es_usec us per call," \
    "$(awk -v c="$es_calls" -v u="$es_usec" -v n="$(total "$run")" \
      'BEGIN {printf "%.1f us per callback (%.1f callbacks per call)", c * u / n, n / (c ? c : 1)}')"
  if ((drain_n[$run] >= 1000)); then  # a backlog large enough to be measured
    per "CPU per delivery (drain after the $what, sink resumed)" "${drain_p[$run]}" "${drain_r[$run]}" \
      "${drain_n[$run]}" "${drain_s[$run]}"
  fi
done
# Where the two cores go: every process of a run, per request. Their sum bounds req/s from above (cores /
# sum), whatever the scheduling; payhookd's ingest cannot reach half of nginx's figure unless the sum of its
# run is at most twice the floor's.
echo "CPU per request, every process of the run (wrk included; ceiling = $(nproc) cores / sum):"
awk -v w="$(wrk_us nginx)" -v x="$floor_ticks" -v n="$(total nginx)" -v hz="$hz" -v c="$(nproc)" 'BEGIN {
  s = w + x / hz / n * 1e6
  printf "  nginx return 200:              wrk %.1f + nginx %.1f = %.1f us, ceiling %.0f req/s\n", w, x / hz / n * 1e6, s, c / s * 1e6 }'
for run in paused yoomoney; do
  awk -v l="$run" -v w="$(wrk_us "$run")" -v p="${cpu_p[$run]}" -v r="${cpu_r[$run]}" -v n="$(total "$run")" \
    -v hz="$hz" -v c="$(nproc)" 'BEGIN {
    pu = p / hz / n * 1e6; ru = r / hz / n * 1e6; s = w + pu + ru
    printf "  payhookd %-21s wrk %.1f + payhookd %.1f + redis-server %.1f = %.1f us, ceiling %.0f req/s\n",
      (l == "paused" ? "Standard Webhooks:" : "YooMoney:"), w, pu, ru, s, c / s * 1e6 }'
done
sink_conns=$(awk '{print $3}' "$out/sink.log" | sort -u | wc -l)
echo "sink: $(sink_count) answers on $sink_conns connections from payhookd"
outcomes=$(awk '/^payhook_callbacks_total\{/ {
    match($0, /outcome="[^"]*"/); n[substr($0, RSTART + 9, RLENGTH - 10)] += $NF }
  END {for (o in n) {printf "%s%s %d", sep, o, n[o]; sep = ", "}}' <<<"$metrics")
echo "payhookd /metrics, callbacks by outcome: ${outcomes:-none}"
new_events=() answers=() prev=0
for run in "${runs[@]}"; do
  new_events+=("$((stored_after[$run] - prev))") answers+=("${ok[$run]}")
  prev=${stored_after[$run]}
done
echo "payhookd 2xx answers per run: ${answers[*]}; new events in Redis per run: ${new_events[*]}"
# Every 2xx is a stored event. Past $count requests a run's ids repeat, and repeats are rightly answered
# with a 2xx without a new event, so only the first $count answers of a run must each be a new event.
for i in "${!runs[@]}"; do
  expected=$((answers[i] < count ? answers[i] : count))
  if ((new_events[i] < expected)); then
    echo "error: run ${runs[i]}: $expected answers that must be new events, only ${new_events[i]} stored" >&2
    exit 1
  fi
done
echo "every 2xx answer is a stored event (the first $count of each run each a new one)"
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
echo "every 2xx answer of the ${#runs[@]} payhookd runs ended delivered (0 dead)"
