#!/usr/bin/env bash
# `make run`: a private Redis (appendonly, data under var/) unless the config's Redis already answers,
# then payhookd in the foreground with the given config. Ctrl-C stops both.
set -euo pipefail
build=${1:-build}
config=${2:-config/payhook.example.toml}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

url=$(sed -n 's/^[[:space:]]*url[[:space:]]*=[[:space:]]*"\(redis:[^"]*\)".*/\1/p' "$config" | head -n1)
hostport=${url#redis://}
hostport=${hostport#*@}
hostport=${hostport%%/*}
host=${hostport%:*}
port=${hostport##*:}
[[ "$port" == "$hostport" ]] && port=6379
listen=$(sed -n 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*\[*[[:space:]]*"\([^"]*\)".*/\1/p' "$config" | head -n1)

redis_pid=""
cleanup() {
  if [[ -n "$redis_pid" ]]; then
    redis-cli -h "$host" -p "$port" shutdown >/dev/null 2>&1 || kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
  echo "make run: using the Redis already answering on $host:$port"
else
  mkdir -p var/redis
  redis-server --bind "$host" --port "$port" --appendonly yes --appendfsync always --dir "$root/var/redis" \
    --save "" --logfile "$root/var/redis/redis.log" &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "make run: started a private Redis on $host:$port (data and log under var/redis/)"
fi

secret=config/secrets/demo.whsec
cat <<TXT
make run: payhookd listens on http://$listen (admin and probes on http://127.0.0.1:9464/healthz and /readyz)
make run: send a first signed test callback from another terminal:

  $build/payhookctl sign --secret-file $secret --body '{"type":"test.ping","data":{"hello":"payhook"}}' \\
      --curl http://$listen/hooks/demo | sh

  The answer is "HTTP/1.1 204 No Content" once the event is stored in Redis; see it with
  redis-cli -p $port --scan --pattern '{payhook}:ev:*'
make run: Ctrl-C stops payhookd and the private Redis.

TXT
# payhookd handles SIGINT itself (graceful stop); the trap then stops Redis.
set +e
# git checks the example's demo secrets out readable by everyone, and payhookd rightly warns about such files.
if [[ "$(realpath "$config")" == "$(realpath config/payhook.example.toml)" ]]; then
  chmod 600 config/secrets/* 2>/dev/null || true
fi
"$build/payhookd" --config "$config"
status=$?
exit $status
