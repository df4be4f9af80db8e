#!/usr/bin/env bash
# 20-fuzz.sh - libFuzzer harnesses (tests/fuzz) over every parser of
# untrusted input, each for a bounded time; any crash, leak, UB report or
# timeout fails its harness.
#
# Builds its own clang-14 build (-Dfuzz=true, ASan+UBSan) in $DN_FUZZ_BUILD_DIR
# (default build-fuzz, ignored by git), then runs every harness from a scratch
# copy of its committed seed corpus (tests/fuzz/corpus/<name>, which libFuzzer
# replays first: every crash ever found stays a regression input there) with
# its dictionary. Time per harness: DN_SUITE_MODE=short 15 s, long 300 s, or
# FUZZ_SECONDS; FUZZ_JOBS harnesses at once (default 2). A crashing input is
# kept in <build>/fuzz-artifacts/<name>/ and the log tail is printed.
# Prints per harness the executions (libFuzzer's stat::number_of_executed_units)
# and ends with "P passed, F failed".
set -uo pipefail

mode=${DN_SUITE_MODE:-short}
if [ -n "${FUZZ_SECONDS:-}" ]; then
  secs=$FUZZ_SECONDS
elif [ "$mode" = long ]; then
  secs=300
else
  secs=15
fi
jobs=${FUZZ_JOBS:-2}
build=${DN_FUZZ_BUILD_DIR:-build-fuzz}
harnesses=(api_json csv_import query_router jwt files validators)
passed=0 failed=0

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if ! command -v clang-14 >/dev/null 2>&1; then
  echo "20-fuzz: clang-14 is missing (scripts/install-deps.sh test installs it)"
  failed=${#harnesses[@]}
  finish
fi

echo "20-fuzz: building the harnesses in $build (clang-14, ASan+UBSan, libFuzzer)"
# werror off here only: the gcc normal and ASan builds enforce -Werror; clang-only
# warnings in code being edited must not hide the fuzzing result.
if [ ! -f "$build/build.ninja" ]; then
  setup_log=$(mktemp /tmp/dn-fuzz-setup.XXXXXX)
  if ! CC=clang-14 meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined -Dwerror=false >"$setup_log" 2>&1; then
    tail -30 "$setup_log"
    rm -f "$setup_log"
    failed=${#harnesses[@]}
    finish
  fi
  rm -f "$setup_log"
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/fuzz_$h"); done
if ! ninja -C "$build" "${targets[@]}" >"$build/fuzz-build.log" 2>&1; then
  grep -E 'error|FAILED' "$build/fuzz-build.log" | head -30
  failed=${#harnesses[@]}
  finish
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
scratch=$(mktemp -d /tmp/dn-fuzz-suite.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

# run_one NAME: fuzz NAME for $secs seconds; writes $scratch/NAME.{log,rc}
run_one() {
  local h=$1 work=$scratch/$1.corpus art=$build/fuzz-artifacts/$1 dict=()
  mkdir -p "$work" "$art"
  [ -f "tests/fuzz/$h.dict" ] && dict=("-dict=tests/fuzz/$h.dict")
  local rc=0
  # -timeout: one input over 10 s is a hang; -max_len: request-sized inputs
  timeout -k 10 $((secs + 120)) "$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -max_len=8192 -artifact_prefix="$art/" "${dict[@]}" \
    "$work" "tests/fuzz/corpus/$h" >"$scratch/$h.log" 2>&1 || rc=$?
  echo "$rc" >"$scratch/$h.rc"
}

echo "20-fuzz: ${#harnesses[@]} harnesses, $secs s each, $jobs at a time"
running=0
for h in "${harnesses[@]}"; do
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

for h in "${harnesses[@]}"; do
  log=$scratch/$h.log
  rc=$(cat "$scratch/$h.rc" 2>/dev/null || echo 99)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  cov=$(grep -oE '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+' | grep -o '[0-9]*')
  newin=$(find "$scratch/$h.corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ] && [ -n "$execs" ] && ! grep -qE '^==[0-9]+==ERROR|runtime error:' "$log"; then
    echo "ok   fuzz_$h: ${execs} executions in ${secs} s, coverage ${cov:-?} edges, ${newin} new corpus inputs"
    grep -E 'answers >= 500' "$log" | sed 's/^/    /' # api_json: server errors per route (not failures)
    passed=$((passed + 1))
  else
    echo "FAIL fuzz_$h: exit $rc after ${execs:-?} executions; inputs kept in $build/fuzz-artifacts/$h/"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -12
    tail -40 "$log" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
done
finish
