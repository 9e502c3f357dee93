#!/usr/bin/env bash
# `make test-systemd`: the Debian package under a real systemd. A Debian 12 root (mmdebstrap, cached as a
# tarball in the build folder) is booted with systemd-nspawn on a private network, up to multi-user.target
# with Debian's own redis-server.service; the .deb is installed with apt inside it, and each check below
# is run against the real units, PID 1 and journald. The provider and the app are tests/systemd/client.py,
# run from the host inside the container's network namespace.
#
# Every check prints one line; a summary line ends the run, and on any failure the container's journal is
# left in the work folder. Where the container cannot be made or booted, the run fails (it never skips).
# Usage: scripts/test-systemd.sh [BUILD_DIR]   (the folder `make deb` built the .deb in). Needs root.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(realpath "${1:-build-deb}")
client="$src/tests/systemd/client.py"
work="$dir/systemd"
root="$work/root"
cache="$work/bookworm-root.tar"
machine=payhook-test
started=$(date +%s)

die() { echo "test-systemd: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (systemd-nspawn, nsenter)"
for c in systemd-nspawn mmdebstrap nsenter python3; do
  command -v "$c" >/dev/null || die "$c missing (scripts/install-deps.sh --systemd installs it)"
done
deb=$(ls -t "$dir"/payhook_*.deb 2>/dev/null | head -n1)
[[ -n "$deb" ]] || die "no payhook_*.deb in $dir (make deb)"
mkdir -p "$work"

# --- the root ------------------------------------------------------------------------------------------
# The container has no network, so the root carries the package lists and every .deb that payhook's
# Depends and Recommends pull in: with no network in there, the install proves nothing else is needed.
# The cache is rebuilt when missing or when the package's dependencies change.
recipe="bookworm apt systemd systemd-sysv dbus updates security recommends nolocal; $(dpkg-deb -f "$deb" Depends Recommends | tr '\n' ' ')"
key=$(printf '%s' "$recipe" | sha256sum | cut -d' ' -f1)
# The archive this machine already uses, as scripts/install-deps.sh finds it, with bookworm's updates and
# security suites as on any installed Debian 12 (mmdebstrap's default mirror otherwise).
mirrors=()
uris=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
main_uri=$(grep -v -- '-security' <<<"$uris" | grep '/debian/\?$' | head -n1)
sec_uri=$(grep -- '-security' <<<"$uris" | head -n1)
[[ -n "$main_uri" ]] && mirrors+=("deb $main_uri bookworm main" "deb $main_uri bookworm-updates main")
[[ -n "$main_uri" && -n "$sec_uri" ]] && mirrors+=("deb $sec_uri bookworm-security main")
if [[ ! -f "$cache" || "$(cat "$cache.key" 2>/dev/null)" != "$key" ]]; then
  echo "test-systemd: making the Debian 12 root (mmdebstrap, once; cached as $cache)"
  rm -f "$cache" "$cache.key"
  mmdebstrap --variant=apt --format=tar --include=systemd,systemd-sysv,dbus \
    --skip=cleanup/apt/lists --skip=cleanup/apt/cache \
    --customize-hook="copy-in $deb /tmp" \
    --customize-hook="chroot \"\$1\" apt-get install --download-only -o APT::Install-Recommends=true -y -qq /tmp/$(basename "$deb")" \
    --customize-hook="rm -f \"\$1/tmp/$(basename "$deb")\" \"\$1\"/var/cache/apt/archives/payhook_*.deb" \
    bookworm "$cache.new" "${mirrors[@]}" >"$work/mmdebstrap.log" 2>&1 ||
    { tail -30 "$work/mmdebstrap.log"; die "mmdebstrap failed (log: $work/mmdebstrap.log)"; }
  mv "$cache.new" "$cache"
  echo "$key" >"$cache.key"
fi

nspawn_pid=""
init=""
sink_pid=""
cleanup() {
  [[ -n "$sink_pid" ]] && kill "$sink_pid" 2>/dev/null
  if [[ -n "$nspawn_pid" ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
    [[ -n "$init" ]] && kill -RTMIN+4 "$init" 2>/dev/null  # systemd's "poweroff" signal
    for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
  fi
}
trap cleanup EXIT

rm -rf "$root" "$work/failed"
mkdir -p "$root"
tar -C "$root" -xf "$cache" || die "cannot unpack $cache"

# --- boot ----------------------------------------------------------------------------------------------
systemd-nspawn --boot --register=no --keep-unit --private-network --console=passive -q \
  -M "$machine" -D "$root" >"$work/nspawn.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 200); do
  init=$(pgrep -P "$nspawn_pid" -x systemd | head -n1)
  [[ -n "$init" ]] && break
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$init" ]] || { cat "$work/nspawn.log"; die "systemd-nspawn did not boot the container"; }

ct() { nsenter --target "$init" --all /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
net() { nsenter --target "$init" --net "$@"; }
cli() { net python3 "$client" "$@"; }
state=""
for _ in $(seq 120); do  # systemctl needs PID 1's private bus, which appears a moment after boot begins
  state=$(timeout 90 nsenter --target "$init" --all systemctl is-system-running --wait 2>&1)
  [[ "$state" == *"connect to bus"* ]] || break
  sleep 0.5
done
[[ "$state" == running || "$state" == degraded ]] ||
  { cat "$work/nspawn.log"; die "the container did not reach multi-user.target (state: ${state:-none})"; }
echo "test-systemd: booted Debian 12 under systemd-nspawn ($(ct systemctl --version | head -n1)), $state"

# --- install -------------------------------------------------------------------------------------------
cp "$deb" "$root/var/tmp/"
ct env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/var/tmp/$(basename "$deb")" \
  >"$work/apt-install.log" 2>&1 || { tail -30 "$work/apt-install.log"; die "apt-get install of the .deb failed"; }
echo "test-systemd: apt-get install ./$(basename "$deb") (dependencies from Debian 12 only)"
ct systemctl is-active --quiet redis-server || die "Debian's redis-server.service is not running"

# The config an operator would write: the packaged one, the app (client.py sink) on 127.0.0.1:9000, and a
# YooMoney route whose shop password, like every secret, reaches payhookd only through LoadCredential=.
secrets="$root/etc/payhook/secrets"
(umask 077 && head -c 18 /dev/urandom | base64 >"$secrets/yoomoney.pass")
cat >>"$root/etc/payhook/payhook.toml" <<'EOF'

[[routes]]
name = "shop-yoomoney"
provider = "yoomoney"
path = "/yoomoney"
shop_id = "13"
shop_password_file = "secrets/yoomoney.pass"
decision = "orders"
forward = ["orders"]
EOF
# A lease shorter than the packaged 60 s lets the deliveries cut off by kill -9 and the watchdog come back
# within the run (it must still exceed the target's 10 s timeout plus 5 s).
sed -i 's/^lease_timeout = "60s"/lease_timeout = "16s"/' "$root/etc/payhook/payhook.toml"
grep -q '^lease_timeout = "16s"' "$root/etc/payhook/payhook.toml" || die "the packaged config has no lease_timeout line"
: >"$work/delivered"
nsenter --target "$init" --net python3 "$client" sink --port 9000 --out "$work/delivered" \
  --secret-file "$secrets/orders.whsec" >"$work/sink.log" 2>&1 &
sink_pid=$!

passed=0
failed=0
ok() { echo "ok     $1"; passed=$((passed + 1)); }
fail() { echo "FAILED $1: $2"; failed=$((failed + 1)); }
prop() { ct systemctl show -P "$2" "$1"; }
main_pid() { prop payhookd.service MainPID; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$1" "$2"; }
hook=http://127.0.0.1:8080/hooks/demo
demo_secret="$secrets/demo.whsec"
stored() { ct payhookctl find "$1" >/dev/null 2>&1; }
wait_active() {  # until payhookd.service is active with a MainPID other than $1, at most $2 seconds
  local end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    local pid
    pid=$(main_pid)
    [[ $(prop payhookd.service ActiveState) == active && "$pid" != 0 && "$pid" != "$1" ]] && return 0
    sleep 0.1
  done
  return 1
}

# --- checks --------------------------------------------------------------------------------------------
check_start() {
  local name="start: returns after READY=1, active (running) as payhook"
  # As docs/operations.md says: both enabled (the service must run after a boot even with no callback
  # arriving, to deliver what waits), the socket started first.
  ct systemctl enable -q payhookd.socket payhookd.service || { fail "$name" "systemctl enable failed"; return; }
  ct systemctl start payhookd.socket || { fail "$name" "payhookd.socket did not start"; return; }
  ct systemctl start payhookd.service || { fail "$name" "systemctl start failed"; return; }
  # Type=notify: the unit is "activating" until READY=1, so "active" the moment start returns proves it
  # waited; /readyz answering at once says payhookd meant it.
  local st sub ready pid
  st=$(prop payhookd.service ActiveState) sub=$(prop payhookd.service SubState)
  ready=$(net curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9464/readyz)
  pid=$(main_pid)
  [[ $(prop payhookd.service Type) == notify ]] || { fail "$name" "the unit is not Type=notify"; return; }
  [[ "$st/$sub" == active/running ]] || { fail "$name" "after start the unit is $st/$sub"; return; }
  [[ "$ready" == 200 ]] || { fail "$name" "/readyz answered $ready right after start returned"; return; }
  local uid
  uid=$(ct sh -c "sed -n 's/^Uid:[[:space:]]*\\([0-9]*\\).*/\\1/p' /proc/$pid/status")
  [[ "$uid" == "$(ct id -u payhook)" ]] || { fail "$name" "payhookd runs as uid ${uid:-?}, not payhook"; return; }
  ok "$name"
}

check_credentials() {
  local name="credentials: secrets folder 0700 root, credentials the service's alone"
  local mode creds bad=""
  mode=$(stat -c '%a %U' "$secrets")
  [[ "$mode" == "700 root" ]] || { fail "$name" "/etc/payhook/secrets is $mode"; return; }
  creds=$(ct sh -c "tr '\0' '\n' </proc/$(main_pid)/environ | sed -n 's/^CREDENTIALS_DIRECTORY=//p'")
  [[ -n "$creds" ]] || { fail "$name" "payhookd has no \$CREDENTIALS_DIRECTORY"; return; }
  local f
  for f in admin.token demo.whsec orders.whsec yoomoney.pass; do
    local m
    m=$(ct stat -c '%a %U' "$creds/secrets_$f" 2>&1) || { bad+=" secrets_$f missing"; continue; }
    [[ "$m" == "400 payhook" || "$m" == "400 root" ]] || bad+=" secrets_$f is $m"
    ct setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$creds/secrets_$f" >/dev/null 2>&1 &&
      bad+=" secrets_$f readable by nobody"
  done
  [[ -z "$bad" ]] || { fail "$name" "${bad# }"; return; }
  local aviso
  aviso=$(cli aviso --url http://127.0.0.1:8080/yoomoney/aviso --password-file "$secrets/yoomoney.pass" \
    --shop-id 13 --invoice 2000001 --order systemd-order-1)
  [[ $(field "$aviso" answer) == *'code="0"'* ]] ||
    { fail "$name" "the YooMoney route, signed with the credential's password, answered $aviso"; return; }
  ok "$name (mode $(ct stat -c '%a %U' "$creds/secrets_demo.whsec"), YooMoney aviso code 0)"
}

check_socket_activation() {
  local name="socket activation: a connection to payhookd.socket starts the stopped service"
  ct systemctl stop payhookd.service 2>/dev/null
  [[ $(prop payhookd.service ActiveState) == inactive ]] || { fail "$name" "payhookd did not stop"; return; }
  [[ $(prop payhookd.socket ActiveState) == active ]] || { fail "$name" "payhookd.socket is not listening"; return; }
  local r
  r=$(cli send --url "$hook" --secret-file "$demo_secret" --id msg_socket_activation)
  [[ $(field "$r" status) == 204 ]] || { fail "$name" "the callback was answered $r"; return; }
  [[ $(prop payhookd.service ActiveState) == active ]] || { fail "$name" "payhookd.service is not active"; return; }
  stored msg_socket_activation || { fail "$name" "answered 204 but payhookctl find does not find it"; return; }
  ok "$name (204, stored)"
}

check_reload() {
  local name="reload: a new route, on a connection kept open through the reload"
  local pid r
  pid=$(main_pid)
  cat >>"$root/etc/payhook/payhook.toml" <<'EOF'

[[routes]]
name = "added"
provider = "standard-webhooks"
path = "/hooks/added"
secret_file = "secrets/demo.whsec"
forward = ["orders"]
EOF
  r=$(net python3 "$client" reload --base http://127.0.0.1:8080 --secret-file "$demo_secret" \
    --old-path /hooks/demo --new-path /hooks/added --prefix msg_reload -- \
    nsenter --target "$init" --all systemctl reload payhookd.service)
  [[ $(field "$r" before) == 204 && $(field "$r" reload_rc) == 0 ]] || { fail "$name" "$r"; return; }
  [[ $(field "$r" after) == 204 && $(field "$r" same_connection) == True ]] || { fail "$name" "$r"; return; }
  [[ $(main_pid) == "$pid" ]] || { fail "$name" "the reload restarted payhookd"; return; }
  ok "$name (204 after $(field "$r" tries) request(s), same connection, same pid)"

  name="reload: a broken config is refused, the old one keeps running, status says why"
  cp "$root/etc/payhook/payhook.toml" "$work/payhook.toml.good"
  printf '\n[[routes]]\nname = "broken"\nprovider = "standard-webhooks"\npath = "/hooks/broken"\nsecret_file = "secrets/demo.whsec"\nforward = ["orders"]\nretry = { schedule = ["soon"] }\n' \
    >>"$root/etc/payhook/payhook.toml"
  local line rc status
  line=$(grep -n 'schedule = \["soon"\]' "$root/etc/payhook/payhook.toml" | cut -d: -f1)
  ct systemctl reload payhookd.service >/dev/null 2>&1
  rc=$?
  local end=$((SECONDS + 5))
  while ((SECONDS < end)); do  # SIGHUP is handled on payhookd's loop, a moment after reload returns
    status=$(ct systemctl status --no-pager -n 20 payhookd.service 2>&1)
    grep -q "Status: \"reload refused.*payhook.toml:$line" <<<"$status" && break
    sleep 0.1
  done
  cp "$work/payhook.toml.good" "$root/etc/payhook/payhook.toml"
  [[ $rc == 0 ]] || { fail "$name" "systemctl reload itself failed ($rc)"; return; }
  [[ $(prop payhookd.service ActiveState) == active && $(main_pid) == "$pid" ]] ||
    { fail "$name" "payhookd is not running the old config any more"; return; }
  grep -q "Status: \"reload refused.*payhook.toml:$line" <<<"$status" ||
    { echo "$status"; fail "$name" "systemctl status does not name payhook.toml:$line as the reason"; return; }
  r=$(cli send --url http://127.0.0.1:8080/hooks/added --secret-file "$demo_secret" --id msg_after_refusal)
  [[ $(field "$r" status) == 204 ]] || { fail "$name" "the running config answered $r after the refusal"; return; }
  ok "$name (status: $(sed -n 's/^ *Status: "\(.\{0,60\}\).*/\1/p' <<<"$status")…)"
}

check_kill9() {
  local name="kill -9 under load: restarted by systemd, every 2xx stored"
  local pid restarts load_pid r missing
  pid=$(main_pid)
  restarts=$(prop payhookd.service NRestarts)
  net python3 "$client" load --url "$hook" --secret-file "$demo_secret" --acked "$work/ledger-acked" \
    --prefix ledger --seconds 6 --rate 150 >"$work/ledger-load.json" &
  load_pid=$!
  sleep 2
  ct sh -c "kill -9 $pid"
  wait_active "$pid" 15 || { wait "$load_pid"; fail "$name" "payhookd was not restarted within 15 s"; return; }
  wait "$load_pid"
  r=$(cat "$work/ledger-load.json")
  [[ $(prop payhookd.service NRestarts) -gt "$restarts" ]] || { fail "$name" "NRestarts did not grow"; return; }
  cp "$work/ledger-acked" "$root/var/tmp/ledger-acked"
  missing=$(ct sh -c 'while read -r id; do payhookctl find "$id" >/dev/null 2>&1 || echo "$id"; done </var/tmp/ledger-acked')
  [[ $(field "$r" acked) -gt 100 ]] || { fail "$name" "too few callbacks acknowledged: $r"; return; }
  [[ -z "$missing" ]] || { fail "$name" "acknowledged but not stored: $(echo $missing | head -c 300)"; return; }
  ok "$name (sent $(field "$r" sent), 2xx $(field "$r" acked), unanswered $(field "$r" failed), 0 lost)"
}

check_watchdog() {
  local name="watchdog: a stopped loop is killed and restarted within 2 x WatchdogSec"
  local dropin="$root/etc/systemd/system/payhookd.service.d"
  local wd=5
  # A shorter watchdog than the unit's 30 s keeps the run short; the mechanism is the same.
  mkdir -p "$dropin"
  printf '[Service]\nWatchdogSec=%ss\n' "$wd" >"$dropin/watchdog.conf"
  ct systemctl daemon-reload
  ct systemctl restart payhookd.service || { fail "$name" "restart with WatchdogSec=${wd}s failed"; return; }
  local pid t0 t1
  pid=$(main_pid)
  t0=$(date +%s.%N)
  ct sh -c "kill -STOP $pid"
  if ! wait_active "$pid" $((2 * wd + 5)); then
    fail "$name" "payhookd was not restarted within $((2 * wd + 5)) s of SIGSTOP"
  else
    t1=$(date +%s.%N)
    local took
    took=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
    local log
    log=$(ct journalctl -u payhookd.service --no-pager -q)
    if ! grep -qi 'watchdog timeout' <<<"$log"; then
      fail "$name" "restarted, but the journal shows no watchdog timeout"
    elif python3 -c "import sys; sys.exit(0 if $t1 - $t0 <= 2 * $wd else 1)"; then
      ok "$name (WatchdogSec=${wd}s, running again after ${took} s)"
    else
      fail "$name" "running again only after ${took} s"
    fi
  fi
  rm -rf "$dropin"
  ct systemctl daemon-reload
  ct systemctl restart payhookd.service
}

check_stop_in_flight() {
  local name="stop: a request in flight is finished, then payhookd exits 0"
  local r
  r=$(net python3 "$client" inflight --url "$hook" --secret-file "$demo_secret" --id msg_in_flight -- \
    nsenter --target "$init" --all systemctl stop payhookd.service)
  [[ $(field "$r" stop_returned_early) == False ]] || { fail "$name" "systemctl stop returned before the request ended: $r"; return; }
  [[ $(field "$r" status) == 204 && $(field "$r" stop_rc) == 0 ]] || { fail "$name" "$r"; return; }
  local result status
  result=$(prop payhookd.service Result) status=$(prop payhookd.service ExecMainStatus)
  [[ "$result" == success && "$status" == 0 ]] || { fail "$name" "Result=$result ExecMainStatus=$status"; return; }
  stored msg_in_flight || { fail "$name" "the in-flight request is not stored"; return; }
  ok "$name (204, Result=success, exit status 0)"
  ct systemctl start payhookd.service
}

check_journal() {
  local name="journal: each line's fields, PRIORITY from the level, no secret anywhere"
  ct journalctl -u payhookd.service -o json --no-pager >"$work/journal.json"
  local r
  r=$(python3 - "$work/journal.json" <<'EOF'
import json, sys
prio = {"debug": "7", "info": "6", "warn": "4", "error": "3"}
own = bad = refused = reloaded = 0
fields = set()
problems = []
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if e.get("SYSLOG_IDENTIFIER") != "payhookd":
        continue
    msg = e.get("MESSAGE")
    if e.get("_TRANSPORT") == "stdout":
        # --check under ExecStartPre=/ExecReload= writes "<N>text" lines to its stderr stream; a JSON
        # line here would mean the daemon logged past the journal.
        if not isinstance(msg, str) or msg.startswith("{"):
            bad += 1
            problems.append({"MESSAGE": msg, "_TRANSPORT": "stdout"})
        if e.get("PRIORITY") == "3" and isinstance(msg, str) and "payhook.toml:" in msg:
            refused += 1
        continue
    own += 1
    if e.get("PRIORITY") == "3" and isinstance(msg, str) and "payhook.toml:" in msg:
        refused += 1
    level = e.get("LEVEL")
    if not isinstance(msg, str) or msg.startswith("{") or level not in prio or e.get("PRIORITY") != prio[level]:
        bad += 1
        if len(problems) < 3:
            problems.append({k: e.get(k) for k in ("MESSAGE", "PRIORITY", "LEVEL")})
    fields.update(k for k in e if not k.startswith("_") and k not in
                  ("MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "LEVEL", "CODE_FILE", "CODE_LINE",
                   "CODE_FUNC", "__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP"))
    if e.get("PRIORITY") == "6" and e.get("ROUTES") is not None:
        reloaded += 1
print(json.dumps({"own": own, "bad": bad, "refused": refused, "reloaded": reloaded, "fields": sorted(fields)[:12], "problems": problems}))
EOF
)
  [[ $(field "$r" own) -gt 5 ]] || { fail "$name" "payhookd wrote no native journal entries: $r"; return; }
  [[ $(field "$r" bad) == 0 ]] || { fail "$name" "entries without fields or with the wrong PRIORITY: $r"; return; }
  [[ $(field "$r" refused) -gt 0 ]] ||
    { fail "$name" "no PRIORITY=3 entry names payhook.toml:LINE for the refused reload: $r"; return; }
  [[ $(field "$r" reloaded) -gt 0 ]] || { fail "$name" "no PRIORITY=6 \"reloaded\" entry with its ROUTES field: $r"; return; }
  ct journalctl -o export --no-pager >"$work/journal.export" 2>/dev/null
  local s leaked=""
  for s in "$secrets"/*; do
    local v
    v=$(tr -d '\n' <"$s")
    grep -qF -- "$v" "$work/journal.export" && leaked+=" $(basename "$s")"
    [[ "$v" == whsec_* ]] && grep -qF -- "${v#whsec_}" "$work/journal.export" && leaked+=" $(basename "$s")(key)"
  done
  rm -f "$work/journal.export"
  [[ -z "$leaked" ]] || { fail "$name" "secrets in the journal:$leaked"; return; }
  ok "$name ($(field "$r" own) entries, fields such as $(field "$r" fields | tr -d "[]'" | cut -c1-60))"
}

check_security() {
  local name="security: systemd-analyze security in the booted system, exposure <= 1.0"
  local inside offline
  inside=$(ct systemd-analyze security payhookd.service --no-pager 2>&1 | sed -n 's/.*exposure level for payhookd.service: \([0-9.]*\).*/\1/p')
  offline=$(systemd-analyze security --offline=true --root="$root" payhookd.service 2>&1 |
    sed -n 's/.*exposure level for payhookd.service: \([0-9.]*\).*/\1/p')
  [[ -n "$inside" ]] || { fail "$name" "no exposure figure inside the container"; return; }
  python3 -c "import sys; sys.exit(0 if $inside <= 1.0 else 1)" || { fail "$name" "exposure $inside"; return; }
  [[ "$inside" == "$offline" ]] || { fail "$name" "booted $inside, offline ${offline:-none}"; return; }
  ok "$name ($inside, the same offline)"
}

check_delivered() {
  local name="delivery: every stored callback reached the app, signed"
  local end=$((SECONDS + 40)) missing
  cp "$work/ledger-acked" "$work/expected"
  echo msg_socket_activation >>"$work/expected"
  while ((SECONDS < end)); do
    missing=$(sort -u "$work/delivered" | comm -23 <(sort -u "$work/expected") -)
    [[ -z "$missing" ]] && break
    sleep 0.5
  done
  [[ -z "$missing" ]] || { fail "$name" "$(wc -l <<<"$missing") not delivered, e.g. $(head -n1 <<<"$missing")"; return; }
  local bad
  bad=$(grep -c '^BAD-SIGNATURE' "$work/delivered")
  [[ "$bad" == 0 ]] || { fail "$name" "$bad deliveries failed the app's signature check"; return; }
  ok "$name ($(sort -u "$work/delivered" | wc -l) distinct events at the app)"
}

check_purge() {
  local name="purge: unit, user and files gone, nothing running"
  local files
  files=$(ct dpkg-query -L payhook | while read -r f; do [[ -f "$root$f" ]] && echo "$f"; done)
  ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q payhook >"$work/apt-purge.log" 2>&1 ||
    { fail "$name" "apt-get purge failed (see $work/apt-purge.log)"; return; }
  local left="" f
  for f in $files; do [[ -e "$root$f" ]] && left+=" $f"; done
  [[ -z "$left" ]] || { fail "$name" "left behind:$left"; return; }
  # What the operator added (the YooMoney password) is theirs to remove; nothing else may stay.
  left=$(cd "$root" && find etc/payhook -type f 2>/dev/null | grep -vx 'etc/payhook/secrets/yoomoney.pass')
  [[ -z "$left" ]] || { fail "$name" "left in /etc/payhook: $left"; return; }
  ct getent passwd payhook >/dev/null && { fail "$name" "the payhook user remains"; return; }
  local comms
  comms=$(ct sh -c 'cat /proc/[0-9]*/comm 2>/dev/null')
  grep -qx payhookd <<<"$comms" && { fail "$name" "payhookd still runs"; return; }
  local units
  units=$(ct systemctl list-units --all --no-legend 'payhookd*' | grep -v 'not-found' || true)
  [[ -z "$units" ]] || { fail "$name" "units still loaded: $units"; return; }
  [[ $(net curl -s -o /dev/null -w '%{http_code}' "$hook") == 000 ]] ||
    { fail "$name" "something still answers on 127.0.0.1:8080"; return; }
  ok "$name ($(wc -w <<<"$files") files removed)"
}

check_start
check_credentials
check_socket_activation
check_reload
check_kill9
check_watchdog
check_stop_in_flight
check_delivered
check_journal
check_security
check_purge

took=$(($(date +%s) - started))
echo "test-systemd: $passed passed, $failed failed (${took} s)"
if ((failed)); then
  mkdir -p "$work/failed"
  ct journalctl --no-pager -o short-precise >"$work/failed/journal.txt" 2>&1
  cp "$work/nspawn.log" "$work"/*.log "$work/failed/" 2>/dev/null
  echo "test-systemd: the container's journal is in $work/failed/journal.txt" >&2
  exit 1
fi
