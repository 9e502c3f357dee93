#!/usr/bin/env bash
# Checks systemd/payhookd.service with `systemd-analyze verify`, its ExecStart pointed at a built binary.
# Usage: scripts/verify-unit.sh PATH/TO/payhookd. Exit 77 (skipped) where systemd-analyze is missing.
set -euo pipefail
binary=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/bin/payhookd#$binary#g" "$root/systemd/payhookd.service" >"$dir/payhookd.service"
systemd-analyze verify "$dir/payhookd.service"
grep -q '^Type=notify$' "$dir/payhookd.service"
grep -q '^ExecReload=' "$dir/payhookd.service"
grep -q '^Restart=on-failure$' "$dir/payhookd.service"
echo "payhookd.service verifies"
