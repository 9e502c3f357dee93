#!/usr/bin/env bash
# Issue 6 point 4's table: accepted/s and latency of payhookd for signed YooMoney avisos and for Standard
# Webhooks, next to nginx `return 200` (the HTTP floor) and adnanh/webhook (Debian's `webhook`, a hook with
# a payload-hmac-sha256 trigger rule running /bin/true), all measured in this one run on loopback. payhookd
# stores every event in Redis (AOF, fsync everysec) before its answer; its delivery target is an nginx
# worker held stopped, so the figures are ingest alone. Usage: bench/compare.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
out=$(mktemp -d /tmp/payhook-compare.XXXXXX)
# shellcheck source=bench/lib.sh
source bench/lib.sh
# A stopped nginx worker could not quit.
# shellcheck disable=SC2016  # evaluated at exit, when sink_worker is known
bench_on_exit 'if [[ -n "${sink_worker:-}" ]]; then kill -CONT "$sink_worker" 2>/dev/null; fi'
command -v webhook >/dev/null || { echo "compare: adnanh/webhook missing (apt install webhook)" >&2; exit 2; }

http_port=$(free_port); admin_port=$(free_port); nginx_port=$(free_port)
sink_port=$(free_port); webhook_port=$(free_port)
password='s<kY23653f,{9fcnshwq'
hmac_secret=$(head -c 24 /dev/urandom | base64 -w0)
start_redis everysec
write_secrets
start_nginx nginx "$nginx_port" 200
# The delivery sink: its own nginx, stopped once it runs, so payhookd's deliveries wait and ingest is measured.
start_nginx sink "$sink_port" 204
sink_pid=$nginx_pid
cat >"$out/hooks.json" <<JSON
[{"id": "bench", "execute-command": "/bin/true", "response-message": "ok",
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "$hmac_secret",
                             "parameter": {"source": "header", "name": "X-Signature"}}}}]
JSON
webhook -hooks "$out/hooks.json" -ip 127.0.0.1 -port "$webhook_port" >"$out/webhook.log" 2>&1 &
pids+=("$!")
wait_port "$webhook_port"
sink_worker=$(pgrep -P "$sink_pid" | head -1)
kill -STOP "$sink_worker"

printf '%s' "$password" >"$out/secrets/yoomoney.pass"
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
pids+=("$!")
wait_port "$http_port"
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null && break; sleep 0.05; done

"$build/bench/bench_gen_requests" 300000 "$secret" "$out/swh.tsv"
"$build/bench/bench_gen_requests" --format yoomoney 300000 "$password" "$out/yoomoney.tsv"
"$build/bench/bench_gen_requests" --format hmac 20000 "$hmac_secret" "$out/hmac.tsv"

wrk_run() {  # label url script mode requests
  PAYHOOK_BENCH_MODE="$4" PAYHOOK_BENCH_REQUESTS="$5" PAYHOOK_BENCH_PATH="$(sed 's#^http://[^/]*##' <<<"$2")" \
    wrk -t1 -c"$connections" -d"$duration" --latency -s "$3" "$2" >"$out/$1.wrk" 2>&1
}
rps() { awk '/^Requests\/sec:/ {print $2}' "$out/$1.wrk"; }
lat() { awk -v p="$2" '$1 == p {print $2}' "$out/$1.wrk"; }
non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out/$1.wrk"; }

wrk_run nginx "http://127.0.0.1:$nginx_port/hooks/bench" bench/swh.lua swh "$out/swh.tsv"
wrk_run webhook "http://127.0.0.1:$webhook_port/hooks/bench" bench/form.lua hmac "$out/hmac.tsv"
wrk_run swh "http://127.0.0.1:$http_port/hooks/bench" bench/swh.lua swh "$out/swh.tsv"
wrk_run yoomoney "http://127.0.0.1:$http_port/yoomoney/aviso" bench/form.lua yoomoney "$out/yoomoney.tsv"

# Every acknowledged callback is an event: the ingest counters against Redis.
stored=$(rcli ZCARD '{payhook}:events')
metrics=$(curl -fs "http://127.0.0.1:$admin_port/metrics")
acked=$(awk '/^payhook_callbacks_total\{.*outcome="stored"\}/ {s += $2} END {print s + 0}' <<<"$metrics")
forged=$(awk '/^payhook_callbacks_total\{.*outcome="forged"\}/ {s += $2} END {print s + 0}' <<<"$metrics")
rss=$(awk '/VmHWM/ {print $2}' "/proc/$(pgrep -f "payhookd --config $out/payhook.toml" | head -1)/status")

echo "payhook compare: $duration per run, $connections connections, 1 wrk thread, loopback; $(nproc) cores"
printf '%-46s %10s %9s %9s %8s %10s %8s\n' target req/s p50 p99 "vs nginx" "vs webhook" non-2xx
n=$(rps nginx); w=$(rps webhook)
for run in nginx webhook swh yoomoney; do
  case $run in
    nginx) label="nginx return 200 (1 worker)" ;;
    webhook) label="adnanh/webhook, HMAC rule, /bin/true" ;;
    swh) label="payhookd Standard Webhooks (stored, 204)" ;;
    yoomoney) label="payhookd YooMoney paymentAviso (stored, 200)" ;;
  esac
  r=$(rps $run)
  printf '%-46s %10s %9s %9s %8.2f %10.1f %8s\n' "$label" "$r" "$(lat $run 50%)" "$(lat $run 99%)" \
    "$(echo "$r / $n" | bc -l)" "$(echo "$r / $w" | bc -l)" "$(non2xx $run)"
done
echo "payhookd: $acked callbacks acknowledged as stored, $stored events in Redis, $forged refused as forged; peak RSS $((rss / 1024)) MiB"
