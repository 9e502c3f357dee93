#!/usr/bin/env bash
# Installs what payhook needs to build, test and benchmark, from Debian's packages.
# Idempotent and quiet when everything is present. llhttp is not in Debian 12, so its two
# packages come from Debian 13 through a private apt state that reuses the archive address
# already configured on this machine (no host name is written here).
set -euo pipefail

pkgs=(build-essential cmake pkg-config libuv1-dev libhiredis-dev libsodium-dev libssl-dev
      libcurl4-openssl-dev libtomlplusplus-dev nlohmann-json3-dev libsystemd-dev
      libgtest-dev libgmock-dev redis-server curl wrk nginx-light systemd
      libxmlsec1-dev xmlsec1 prometheus webhook clang-format)
if [[ "${PAYHOOK_DEPS_MINIMAL:-}" == 1 ]]; then
  pkgs=("${pkgs[@]/wrk}"); pkgs=("${pkgs[@]/nginx-light}"); pkgs=("${pkgs[@]/webhook}")
fi
# `make fuzz` (or --fuzz): libFuzzer comes with clang; its runtime is a separate package on Debian 12.
if [[ "${PAYHOOK_DEPS_FUZZ:-}" == 1 || "${1:-}" == --fuzz ]]; then
  pkgs+=(clang libclang-rt-14-dev)
fi
# `make deb` / `make test-deb` (or --deb): lintian checks the package, debootstrap makes the clean
# Debian 12 root it is installed into.
if [[ "${1:-}" == --deb ]]; then
  pkgs+=(lintian debootstrap dpkg-dev)
fi
# `make test-systemd` (or --systemd): systemd-nspawn boots the Debian 12 root that mmdebstrap makes.
if [[ "${1:-}" == --systemd ]]; then
  pkgs+=(systemd-container mmdebstrap)
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo

missing=()
for p in "${pkgs[@]}"; do
  [[ -z "$p" ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's redis-server and prometheus packages start system instances; payhook's tests need neither
  # (prometheus is there for promtool, which checks the /metrics exposition).
  $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || $SUDO pkill -x prometheus || true
  # adnanh/webhook is only the benchmark's point of comparison (bench/run.sh).
  $SUDO systemctl disable --now webhook >/dev/null 2>&1 || true
fi

llhttp_ok() {
  dpkg-query -W -f='${Status} ${Version}' libllhttp-dev 2>/dev/null | grep -q 'install ok installed 9\.'
}
if ! llhttp_ok; then
  echo "install-deps: installing llhttp 9.2 from Debian 13" >&2
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
  [[ -n "$uri" ]] || { echo "install-deps: no Debian archive address found in /etc/apt" >&2; exit 1; }
  state=$(mktemp -d /tmp/payhook-apt.XXXXXX)
  trap 'rm -rf "$state"' EXIT
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/debs"
  : >"$state/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" >"$state/sources.list"
  aptopts=(-o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
           -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status"
           -o "Dir::Cache=$state" -o "Dir::Cache::archives=$state/archives"
           -o "APT::Architecture=$(dpkg --print-architecture)" -o "Debug::NoLocking=1"
           -o "APT::Sandbox::User=root")
  apt-get "${aptopts[@]}" update -qq >/dev/null
  # The runtime package's name carries the soname (libllhttp9.2): ask the archive rather than guess it.
  runtime=$(apt-cache "${aptopts[@]}" depends libllhttp-dev 2>/dev/null |
            awk '$1 == "Depends:" && $2 ~ /^libllhttp[0-9]/ {print $2; exit}')
  [[ -n "$runtime" ]] || { echo "install-deps: libllhttp-dev not found in Debian 13's archive" >&2; exit 1; }
  (cd "$state/debs" && apt-get "${aptopts[@]}" download -qq libllhttp-dev "$runtime" >/dev/null)
  $SUDO dpkg -i "$state"/debs/*.deb >/dev/null
  llhttp_ok || { echo "install-deps: llhttp 9 did not install (Debian 13 now has another version?)" >&2; exit 1; }
fi

# Node test dependencies: tests/node pins the official Standard Webhooks library, which the integration
# tests use to check what payhookd sends (tests/node/verify_sink.mjs). `npm ci` from the committed lock
# file; a stamp holding the lock file's hash makes the next run a no-op until the lock file changes.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: installing nodejs and npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/node"
node_stamp="$node_dir/node_modules/.payhook-lock.sha256"
node_want="$(cat "$node_dir/package.json" "$node_dir/package-lock.json" | sha256sum | cut -d' ' -f1) $(node --version)"
if [[ ! -f "$node_stamp" || "$(cat "$node_stamp")" != "$node_want" ]]; then
  echo "install-deps: npm ci in tests/node" >&2
  npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error >/dev/null
  echo "$node_want" >"$node_stamp"
fi

# The queue page's browser test (tests/node/ui_browser.mjs) drives Debian's Chromium through playwright-core,
# which never downloads a browser of its own; DejaVu gives its screenshots readable text.
if [[ ! -x /usr/bin/chromium ]]; then
  echo "install-deps: installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
