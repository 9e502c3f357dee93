#!/usr/bin/env bash
# Runs lintian on the .deb in DIR (default build-deb). Tags listed in packaging/lintian-overrides are
# explained there. Exit 1 on any error or warning lintian reports; skipped when lintian is missing.
set -euo pipefail
dir=${1:-build-deb}
root=$(cd "$(dirname "$0")/.." && pwd)
deb=$(ls -t "$dir"/payhook_*.deb | head -n1)
command -v lintian >/dev/null || { echo "lint-deb: lintian not installed: skipped"; exit 0; }
suppress=$( (grep -v "^#" "$root/packaging/lintian-overrides" || true) | awk "NF {print \$1}" | paste -sd, -)
echo "lint-deb: lintian $deb${suppress:+ (suppressed, see packaging/lintian-overrides: $suppress)}"
lintian --fail-on error,warning --display-info --info ${suppress:+--suppress-tags "$suppress"} "$deb"
echo "lint-deb: clean"
