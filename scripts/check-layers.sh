#!/usr/bin/env bash
# The dependency rule of the layers (README "Architecture"), checked on every #include "..." of the project's own headers:
# handlers/ are pure (common/ and the plain config structs only), redis/ is the Redis connection and knows
# no events, queue/ knows Redis (through redis/) but no provider, delivery/ sends events and follow-up calls
# over http/ and queue/ but names no provider, config/ knows no sockets, uv/ and http/ know nothing of
# payments or Redis, common/ is the bottom. daemon/ (the composition root), cli/, bench/ and tests/ may
# include anything.
# The build enforces the same rule (each target sees only the folders it links; tests/layers proves it);
# this is the quick answer from the sources alone, before a build.
set -euo pipefail
cd "$(dirname "$0")/.."
allowed() {  # layer -> allowed include prefixes (regex)
  case "$1" in
    common) echo '^common/' ;;
    uv) echo '^(common|uv)/' ;;
    http) echo '^(common|uv|http)/' ;;
    config) echo '^(common|config)/' ;;
    handlers) echo '^(common|handlers)/|^config/config\.h$|^config/address\.h$|^config/provider\.h$' ;;
    redis) echo '^(common|uv|redis)/' ;;
    queue) echo '^(common|uv|redis|queue)/' ;;
    delivery) echo '^(common|uv|http|config|handlers|redis|queue|delivery)/' ;;
  esac
}
bad=0
for layer in common uv redis http config handlers queue delivery; do
  pattern=$(allowed "$layer")
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -n 's/.*#include "\([^"]*\)".*/\1/p' <<<"${line#*:}")
    [[ -z "$inc" ]] && continue
    if ! grep -Eq "$pattern" <<<"$inc"; then
      echo "layer rule: $file includes \"$inc\", which $layer/ must not depend on" >&2
      bad=1
    fi
  done < <(grep -n '#include "' $(find "$layer" -name '*.h' -o -name '*.cpp') | sed 's/:[0-9]*:/:/')
done
((bad == 0)) && echo "layer rule holds"
exit "$bad"
