#!/usr/bin/env bash
# Fails when a C++ file of the checkout is not as the repo's .clang-format writes it (`make format` fixes
# it). Debian 12's clang-format 14, which scripts/install-deps.sh installs, is the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "check-format: not a git checkout, nothing to check" >&2
  exit 0
fi
mapfile -t files < <(git ls-files '*.h' '*.cpp')
if ! out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
  grep -o '^[^:]*:[0-9]*' <<<"$out" | sort -u | head -n 20 | sed 's/^/check-format: not formatted: /' >&2
  echo "check-format: run 'make format' and commit the result" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files as .clang-format writes them"
