#!/usr/bin/env bash
# Checks the systemd files: payhookd.service and payhookd.socket with `systemd-analyze verify` (ExecStart
# pointed at a built binary), the service's exposure with `systemd-analyze security --offline=true` (at
# most 1.0), and the sysusers.d and tmpfiles.d snippets applied to a scratch root.
# Usage: scripts/verify-unit.sh PATH/TO/payhookd. Exit 77 (skipped) where systemd-analyze is missing.
set -euo pipefail
binary=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
max_exposure=1.0
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/bin/payhookd#$binary#g" "$root/systemd/payhookd.service" >"$dir/payhookd.service"
cp "$root/systemd/payhookd.socket" "$dir/payhookd.socket"
# --man=no: the man pages named in Documentation= are installed by the package, not here.
(cd "$dir" && systemd-analyze verify --man=no payhookd.socket payhookd.service)

unit="$dir/payhookd.service"
grep -q '^Type=notify$' "$unit"
grep -q '^ExecReload=' "$unit"
grep -q '^Restart=on-failure$' "$unit"
grep -q '^WatchdogSec=' "$unit"
grep -q '^LoadCredential=' "$unit"
grep -q '^Requires=payhookd.socket$' "$unit"
grep -q '^ListenStream=' "$dir/payhookd.socket"
grep -q '^Service=payhookd.service$' "$dir/payhookd.socket"

report=$(systemd-analyze security --offline=true "$root/systemd/payhookd.service" 2>&1)
exposure=$(sed -n 's/.*Overall exposure level for payhookd.service: \([0-9.]*\).*/\1/p' <<<"$report")
[[ -n "$exposure" ]] || { echo "$report"; echo "no exposure level in the report"; exit 1; }
if ! awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
  grep '✗' <<<"$report" || true
  echo "payhookd.service exposure $exposure is above $max_exposure"
  exit 1
fi

# The snippets, applied as the package's postinst applies them, to a scratch root.
scratch="$dir/root"
mkdir -p "$scratch/etc" "$scratch/usr/lib/sysusers.d" "$scratch/usr/lib/tmpfiles.d"
cp "$root/systemd/payhook.sysusers" "$scratch/usr/lib/sysusers.d/payhook.conf"
cp "$root/systemd/payhook.tmpfiles" "$scratch/usr/lib/tmpfiles.d/payhook.conf"
systemd-sysusers --root="$scratch" >/dev/null 2>&1
grep -q '^payhook:x:[0-9]*:[0-9]*:.*:/nonexistent:/usr/sbin/nologin$' "$scratch/etc/passwd"
systemd-tmpfiles --root="$scratch" --create >/dev/null
[[ $(stat -c %a "$scratch/etc/payhook/secrets") == 700 ]]
[[ -d "$scratch/run/payhook" ]]

echo "payhookd.service and payhookd.socket verify; exposure $exposure (at most $max_exposure); sysusers and tmpfiles apply"
