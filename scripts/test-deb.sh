#!/usr/bin/env bash
# `make test-deb`: proves the .deb installs and runs on a clean Debian 12. debootstrap makes a minimal
# bookworm root (cached as a tarball under var/ after the first run); inside it, as root via chroot:
#   apt-get install ./payhook_*.deb        (Depends and Recommends from the archive, redis-server too)
#   checks: the payhook user, the 0700 secrets folder with random secrets, units and man pages in place
#   payhookd --version, payhookctl --version, payhookd --config /etc/payhook/payhook.toml --check
#   payhookd run as the payhook user the way the unit runs it (secrets only through a
#   $CREDENTIALS_DIRECTORY named as LoadCredential=secrets:/etc/payhook/secrets names them), against the
#   chroot's redis-server; a signed callback answered 204 and found in Redis; SIGTERM exits 0
#   reinstall (the upgrade path), then purge: the generated secrets go with it
# And from the host: `systemd-analyze security --offline=true --root` on the installed unit.
# There is no systemd (PID 1) in the chroot, so `systemctl start payhookd` itself is not exercised.
# Usage: scripts/test-deb.sh [BUILD_DIR]. Needs root, debootstrap, and the Debian archive over the network.
set -euo pipefail
dir=${1:-build-deb}
root=$(cd "$(dirname "$0")/.." && pwd)
deb=$(realpath "$(ls -t "$dir"/payhook_*.deb | head -n1)")
[[ $(id -u) -eq 0 ]] || { echo "test-deb: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "test-deb: debootstrap missing (scripts/install-deps.sh --deb)" >&2; exit 1; }

# The archive address already configured on this machine, as scripts/install-deps.sh finds it.
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f "$f" ]] || continue
  uri=$(awk '/^URIs:/ {print $2}' "$f" | grep -v -- '-security' | grep '/debian/\?$' | head -n1 || true)
  [[ -n "$uri" ]] && break
done
if [[ -z "$uri" ]]; then
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' |
        grep -v -- '-security' | head -n1 || true)
fi
[[ -n "$uri" ]] || { echo "test-deb: no Debian archive address found in /etc/apt" >&2; exit 1; }

cache="$root/var/debootstrap/bookworm-minbase.tar"
target=$(mktemp -d /tmp/payhook-deb.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for m in dev/pts dev proc; do mountpoint -q "$target/$m" && umount -l "$target/$m"; done
  rm -rf "$target"
}
trap cleanup EXIT
in_root() { chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
step() { echo "test-deb: $*"; }

if [[ -f "$cache" ]]; then
  step "clean Debian 12 root from $cache"
  tar -C "$target" -xf "$cache"
else
  step "debootstrap --variant=minbase bookworm (once; cached as $cache)"
  debootstrap --variant=minbase bookworm "$target" "$uri" >"$target.debootstrap.log" 2>&1 ||
    { tail -20 "$target.debootstrap.log"; rm -f "$target.debootstrap.log"; exit 1; }
  rm -f "$target.debootstrap.log"
  mkdir -p "$(dirname "$cache")"
  tar -C "$target" -cf "$cache" .
fi
chmod 0755 "$target"  # it is the root directory in there: every user must traverse it
mount -t proc proc "$target/proc"
mount --bind /dev "$target/dev"
cp /etc/resolv.conf "$target/etc/resolv.conf" 2>/dev/null || true
# As in any chroot or container: packages must not start their services (redis-server would).
printf '#!/bin/sh\nexit 101\n' >"$target/usr/sbin/policy-rc.d"
chmod 0755 "$target/usr/sbin/policy-rc.d"
grep -q "$uri" "$target/etc/apt/sources.list" 2>/dev/null || echo "deb $uri bookworm main" >"$target/etc/apt/sources.list"

step "apt-get install ./$(basename "$deb")"
cp "$deb" "$target/tmp/"
in_root apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq "/tmp/$(basename "$deb")" >"$target/tmp/apt.log" 2>&1 ||
  { tail -30 "$target/tmp/apt.log"; exit 1; }

step "what the package installed"
in_root getent passwd payhook | grep -q ':/nonexistent:/usr/sbin/nologin$'
[[ $(stat -c '%a %U' "$target/etc/payhook/secrets") == "700 root" ]]
for s in admin.token demo.whsec orders.whsec; do
  [[ $(stat -c '%a %U' "$target/etc/payhook/secrets/$s") == "600 root" ]]
done
grep -q '^whsec_' "$target/etc/payhook/secrets/demo.whsec"
! cmp -s "$target/etc/payhook/secrets/demo.whsec" "$root/config/secrets/demo.whsec"  # not the demo value
for f in lib/systemd/system/payhookd.service lib/systemd/system/payhookd.socket usr/lib/sysusers.d/payhook.conf \
         usr/lib/tmpfiles.d/payhook.conf usr/share/man/man8/payhookd.8.gz usr/share/man/man8/payhookctl.8.gz \
         usr/share/doc/payhook/copyright etc/payhook/payhook.toml; do
  [[ -f "$target/$f" ]] || { echo "test-deb: missing /$f" >&2; exit 1; }
done
in_root dpkg-query -W -f='${Conffiles}\n' payhook | grep -q /etc/payhook/payhook.toml
in_root payhookd --version
in_root payhookctl --version
in_root payhookd --config /etc/payhook/payhook.toml --check
step "--check passed"

step "exposure of the installed unit"
systemd-analyze security --offline=true --root="$target" payhookd.service 2>&1 | tail -1

step "payhookd as the payhook user, secrets only as credentials, against the chroot's Redis"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port); http_port=$(free_port); admin_port=$(free_port)
in_root redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$target/tmp/redis.log" 2>&1 &
pids+=($!)
sed -e "s/127.0.0.1:8080/127.0.0.1:$http_port/; s/127.0.0.1:9464/127.0.0.1:$admin_port/" \
    -e "s#redis://127.0.0.1:6379/0#redis://127.0.0.1:$redis_port/0#" \
    "$target/etc/payhook/payhook.toml" >"$target/run/payhook-test.toml"
creds="$target/run/credentials-payhook"
install -d -m 0500 -o "$(in_root id -u payhook)" "$creds"
for s in "$target"/etc/payhook/secrets/*; do
  install -m 0400 -o "$(in_root id -u payhook)" "$s" "$creds/secrets_$(basename "$s")"
done
chroot "$target" /usr/bin/env -i PATH=/usr/bin:/bin CREDENTIALS_DIRECTORY=/run/credentials-payhook \
  setpriv --reuid=payhook --regid=payhook --clear-groups --no-new-privs \
  payhookd --config /run/payhook-test.toml >"$target/tmp/payhookd.log" 2>&1 &
pids+=($!)
payhookd_pid=$!
ready=""
for _ in $(seq 100); do
  if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz") == 200 ]]; then ready=1; break; fi
  sleep 0.1
done
[[ -n "$ready" ]] || { cat "$target/tmp/payhookd.log"; echo "test-deb: payhookd never became ready" >&2; exit 1; }
# chroot, env and setpriv exec one another, so this pid is payhookd's.
[[ $(ps -o uid= -p "$payhookd_pid" | tr -d ' ') == "$(in_root id -u payhook)" ]] ||
  { echo "test-deb: payhookd does not run as payhook" >&2; exit 1; }
cmd=$(in_root payhookctl sign --secret-file /etc/payhook/secrets/demo.whsec --id msg_test_deb \
        --body '{"type":"test.deb"}' --curl "http://127.0.0.1:$http_port/hooks/demo")
status=$(eval "$cmd -s -o /dev/null -w '%{http_code}'")
[[ "$status" == 204 ]] || { cat "$target/tmp/payhookd.log"; echo "test-deb: callback answered $status" >&2; exit 1; }
stored=$(in_root redis-cli -p "$redis_port" --scan --pattern '{payhook}:ev:*' | wc -l)
[[ "$stored" -ge 1 ]] || { echo "test-deb: the event is not in Redis" >&2; exit 1; }
step "signed callback answered 204 and stored ($stored event key(s))"
kill -TERM "$payhookd_pid"
rc=0; wait "$payhookd_pid" || rc=$?
[[ $rc -eq 0 ]] || { cat "$target/tmp/payhookd.log"; echo "test-deb: payhookd exited $rc on SIGTERM" >&2; exit 1; }
step "SIGTERM: payhookd exited 0"

step "reinstall (the upgrade path), then purge"
cp "$target/etc/payhook/secrets/admin.token" "$target/tmp/admin.token.before"
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq --reinstall "/tmp/$(basename "$deb")" >/dev/null 2>&1
cmp -s "$target/etc/payhook/secrets/admin.token" "$target/tmp/admin.token.before"  # secrets kept
DEBIAN_FRONTEND=noninteractive in_root apt-get purge -y -qq payhook >/dev/null 2>&1
[[ ! -e "$target/etc/payhook" ]] || { ls -lR "$target/etc/payhook"; echo "test-deb: /etc/payhook left after purge" >&2; exit 1; }
echo "test-deb: passed: the .deb installs on a clean Debian 12, checks its config, runs as payhook, stores a callback, upgrades and purges"
