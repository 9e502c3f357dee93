#!/usr/bin/env bash
# Runs the libFuzzer drivers built in BUILD (cmake -DPAYHOOK_BUILD_FUZZERS=ON), one after the other.
#
#   tests/fuzz/run.sh BUILD SECONDS [TARGET...]   fuzz each target for SECONDS (all targets by default)
#   tests/fuzz/run.sh --merge BUILD [TARGET...]   fold what the runs found into the committed corpora
#
# Each run works on a scratch corpus, BUILD/fuzz-corpus/TARGET, seeded from tests/fuzz/corpus/TARGET, so
# fuzzing never dirties the repository; inputs found in earlier runs are kept there and reused. Crashes go
# to BUILD/fuzz-artifacts/TARGET/, logs to BUILD/fuzz-logs/TARGET.log. Exits non-zero when any target
# crashed, leaked, tripped a sanitizer or timed out. --merge adds to the committed corpus at most MERGE_CAP
# (default 20) inputs per target that bring coverage it lacks; keep all corpora under 200 files and 1 MB.
#
# FUZZ_RUNS=N stops each target after N executions (SECONDS still bounds it): the long run of
# docs/reliability.md is FUZZ_RUNS=10000000 with SECONDS large enough. FUZZ_TIMEOUT (default 10) is the
# per-input limit; raise it when the fuzzers share the machine with other work at a lower priority.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# Every driver listed in CMakeLists.txt, so a new provider's fuzzer runs without touching this script.
mapfile -t all_targets < <(sed -n 's/^payhook_fuzzer(\([a-z_]*\) .*/\1/p' "$here/CMakeLists.txt")

dict_for() {
  case "$1" in
    request_decoder | router) echo "$here/http.dict" ;;
    config) echo "$here/toml.dict" ;;
    *) [[ -f "$here/$1.dict" ]] && echo "$here/$1.dict" || true ;;
  esac
}

merge=0
if [[ "${1:-}" == --merge ]]; then
  merge=1
  shift
fi
build=${1:?usage: run.sh BUILD SECONDS [TARGET...] | run.sh --merge BUILD [TARGET...]}
shift
if ((!merge)); then
  seconds=${1:?usage: run.sh BUILD SECONDS [TARGET...]}
  shift
fi
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")

failed=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/${t}_fuzz"
  [[ -x "$bin" ]] || { echo "fuzz: $bin is not built" >&2; exit 2; }
  committed="$here/corpus/$t"
  scratch="$build/fuzz-corpus/$t"
  if ((merge)); then
    [[ -d "$scratch" ]] || { echo "fuzz: no scratch corpus for $t; run the fuzzers first" >&2; continue; }
    # libFuzzer's merge takes inputs smallest first and keeps each that adds an edge (-use_counters=0: hit
    # counts would keep hundreds). Of what it adds, only the MERGE_CAP smallest are committed: a prefix of
    # that greedy order, so each kept input still adds coverage and the corpus stays small in the repo.
    work=$(mktemp -d)
    cp "$committed"/* "$work"/
    "$bin" -merge=1 -use_counters=0 "$work" "$scratch" >"$build/fuzz-logs/$t.merge.log" 2>&1
    before=$(find "$committed" -type f | wc -l)
    comm -13 <(ls "$committed" | sort) <(ls "$work" | sort) | while read -r f; do
      echo "$(stat -c %s "$work/$f") $f"
    done | sort -n | head -n "${MERGE_CAP:-20}" | while read -r _ f; do cp "$work/$f" "$committed/"; done
    rm -rf "$work"
    echo "fuzz: $t: committed corpus $before -> $(find "$committed" -type f | wc -l) files"
    continue
  fi
  mkdir -p "$scratch" "$build/fuzz-artifacts/$t" "$build/fuzz-logs"
  cp -n "$committed"/* "$scratch"/ 2>/dev/null || true
  args=(-max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$build/fuzz-artifacts/$t/")
  [[ -n "${FUZZ_RUNS:-}" ]] && args+=(-runs="$FUZZ_RUNS")
  dict=$(dict_for "$t")
  [[ -n "$dict" ]] && args+=(-dict="$dict")
  log="$build/fuzz-logs/$t.log"
  echo "fuzz: $t for ${seconds}s${FUZZ_RUNS:+ or $FUZZ_RUNS executions}"
  rc=0
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$bin" "${args[@]}" "$scratch" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n1 || true)
  if ((rc != 0)); then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc) after ${execs:-?} executions; see $log" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*fuzz invariant failed|.*runtime error)' "$log" | head -n5 >&2 || true
    ls "$build/fuzz-artifacts/$t/" >&2 || true
  else
    echo "fuzz: $t ok: ${execs:-?} executions, $cov"
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
