#!/usr/bin/env bash
# Benchmark runner (`make bench`). Runs every workload in bench/workloads/
# in name order (NN-name.sh), each in its own process with its own temp dir
# and time limit; a workload registers the processes it starts and stops
# them by PID on exit. Workloads that call emit_section get their marked
# section of BENCHMARKS.md rewritten (<!-- bench:NAME:start/end -->); raw
# outputs are kept under bench/results/<timestamp>/ (git-ignored).
#
# Env: DN_BIN (default build/dnevnik), BENCH_DURATION (s, default 10),
# BENCH_WARMUP (s, default 2), BENCH_CONNECTIONS (64), BENCH_THREADS (2),
# BENCH_WORKLOADS (e.g. "http"; default all), BENCH_MD (default BENCHMARKS.md),
# BENCH_WORKLOAD_TIMEOUT (s per workload; default 6×duration + 120, or the
# workload's own "# bench-timeout: EXPR" line).
#
# Adding a workload: create bench/workloads/NN-name.sh that sources
# "$BENCH_LIB/common.sh", starts servers with start_dnevnik/start_nginx,
# measures with `measure`, and calls `emit_section NAME FILE`.
set -euo pipefail
exec </dev/null

export BENCH_ROOT
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BENCH_LIB=$BENCH_ROOT/bench/lib
export DN_BIN=${DN_BIN:-$BENCH_ROOT/build/dnevnik}
export BENCH_DURATION=${BENCH_DURATION:-10}
export BENCH_WARMUP=${BENCH_WARMUP:-2}
export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
export BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_MD=${BENCH_MD:-$BENCH_ROOT/BENCHMARKS.md}
workload_timeout=${BENCH_WORKLOAD_TIMEOUT:-$((BENCH_DURATION * 6 + 120))}

for tool in curl python3 wrk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not installed (scripts/install-deps.sh bench)" >&2; exit 1; }
done

export BENCH_LOADAVG
BENCH_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${BENCH_LOADAVG%% *}" -v n="$(nproc)" 'BEGIN{exit !(l > n / 2)}'; then
  echo "bench: warning: load average is $BENCH_LOADAVG on $(nproc) cores; other work will skew the numbers" >&2
fi

results=$BENCH_ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$results"
tmp=$(mktemp -d /tmp/dnevnik-bench.XXXXXX)
child=
cleanup() {
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

shopt -s nullglob
workloads=("$BENCH_ROOT"/bench/workloads/*.sh)
[ ${#workloads[@]} -gt 0 ] || { echo "bench: no workloads in bench/workloads/" >&2; exit 1; }

failed=()
ran=0
for w in "${workloads[@]}"; do
  name=$(basename "$w" .sh)
  short=${name#[0-9][0-9]-}
  if [ -n "${BENCH_WORKLOADS:-}" ] && [[ " $BENCH_WORKLOADS " != *" $short "* ]]; then
    continue
  fi
  # A workload may state its own budget in a "# bench-timeout: EXPR" line
  # (shell arithmetic, may use BENCH_DURATION); BENCH_WORKLOAD_TIMEOUT wins.
  limit=$workload_timeout
  expr=$(sed -n 's/^# bench-timeout: *//p' "$w" | head -n1)
  if [ -z "${BENCH_WORKLOAD_TIMEOUT:-}" ] && [ -n "$expr" ]; then
    limit=$((expr))
  fi
  echo "==> workload $short (limit ${limit}s)"
  export BENCH_TMP=$tmp/$short BENCH_OUT=$results/$short
  mkdir -p "$BENCH_TMP" "$BENCH_OUT"
  rc=0
  timeout -k 15 "$limit" bash "$w" &
  child=$!
  wait "$child" || rc=$?
  child=
  ran=$((ran + 1))
  if [ "$rc" -ne 0 ]; then
    echo "bench: workload $short failed (exit $rc)" >&2
    failed+=("$short")
  fi
  for s in "$BENCH_OUT"/section-*.md; do
    section=$(basename "$s" .md)
    section=${section#section-}
    if [ "$rc" -eq 0 ]; then
      python3 "$BENCH_LIB/mdsection.py" "$BENCH_MD" "$section" "$s"
      echo "bench: updated section '$section' of $(basename "$BENCH_MD")"
    fi
  done
done

echo "bench: raw results in ${results#$BENCH_ROOT/}"
[ "$ran" -gt 0 ] || { echo "bench: no workload matched BENCH_WORKLOADS='${BENCH_WORKLOADS:-}'" >&2; exit 1; }
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: failed workloads: ${failed[*]}" >&2
  exit 1
fi
