#!/usr/bin/env bash
# Workload "mix" (issue 6, "the national peak on one box"): the everyday
# request mix of a generated region against dnevnik, on SQLite and
# optionally PostgreSQL, in four scenarios, plus a generator check against
# nginx and EXPLAIN QUERY PLAN of the everyday pages' statements. Rewrites
# the `mix` section of BENCHMARKS.md.
#
# Scenarios (each: fresh server, BENCH_WARMUP s warm-up, BENCH_DURATION s):
#   max     the mix at maximum throughput (wrk closed loop, BENCH_CONNECTIONS)
#   rate    the mix paced open-loop at BENCH_MIX_RATE req/s (default 15444)
#   storm   the mix paced at half of `max` alone, then again with a login
#           storm (POST /auth/login of random users, 16 connections) beside it
#   writes  the write kinds of the mix only, maximum throughput; fsyncs counted
#   marks   the student marks page alone (the deck's `marks` lines), maximum
#           throughput: target 6 of the issue
#   markpost  mark POSTs alone (the deck's `mark_post` lines, then the same
#           lines with every value changed, so each request really changes a
#           mark), maximum throughput: durable marks/s, target 4
#
# Env: BENCH_STUDENTS (10000), BENCH_SCHOOLS (students/1000, at least 1),
# BENCH_SEED (1), BENCH_MIX_DB ("sqlite pg"), BENCH_MIX_PG_STUDENTS (as
# BENCH_STUDENTS), BENCH_MIX_PG_URL + BENCH_MIX_PG_LOGINS (+ BENCH_MIX_PG_PIDFILE, its
# postmaster.pid) to use a loaded database instead, BENCH_MIX_RATE (15444), BENCH_MIX_SCENARIOS ("max rate storm
# writes marks markpost"), BENCH_MIX_GENCHECK (1: measure the generator against nginx),
# BENCH_MIX_PROFILE (1: perf record -g of the server under the max mix, SQLite),
# BENCH_MIX_USERS (3000 sampled users per role), BENCH_MIX_REQUESTS (40000 in the deck),
# BENCH_MIX_RETRIES (2: runs of a scenario whose server crashed), BENCH_MIX_PAGE_SAMPLES (1000
# requests of each kind, one at a time, for the per-page latencies).
# SQLite data sets are cached in bench/data/ (keyed by size and seed) and
# copied per run, so the benchmark's writes never touch the cache; PostgreSQL
# runs in a throwaway cluster loaded by `dnevnik gen` each time.
# The section is `mix` at the default size, `mix-<students>` otherwise, so the
# scaling curve (10k / 100k / 1M) keeps one section per size.
# bench-timeout: 30 * BENCH_DURATION + 900
set -euo pipefail
source "$BENCH_LIB/common.sh"
source "$BENCH_LIB/mix.sh"

STUDENTS=${BENCH_STUDENTS:-10000}
SCHOOLS=${BENCH_SCHOOLS:-$(( STUDENTS / 1000 > 0 ? STUDENTS / 1000 : 1 ))}
SEED=${BENCH_SEED:-1}
DBS=${BENCH_MIX_DB:-sqlite pg}
# gen on PostgreSQL loads 10,000 students in ~20-30 s (since its speed-up), so
# PostgreSQL runs at the same size unless BENCH_MIX_PG_STUDENTS says otherwise.
PG_STUDENTS=${BENCH_MIX_PG_STUDENTS:-$STUDENTS}
PG_SCHOOLS=$(( PG_STUDENTS / 1000 > 0 ? PG_STUDENTS / 1000 : 1 ))
RATE=${BENCH_MIX_RATE:-15444}
SCENARIOS=${BENCH_MIX_SCENARIOS:-max rate storm writes marks markpost}
CONNS=$BENCH_CONNECTIONS
RATE_CONNS=${BENCH_MIX_RATE_CONNECTIONS:-256}

DNEVNIK_JWT_KEY=$(python3 -c 'import os; print(os.urandom(32).hex())')
export DNEVNIK_JWT_KEY DNEVNIK_RATE_LIMIT=0
PG_DIR=
mix_cleanup() {
  bench_cleanup
  [ -z "$PG_DIR" ] || "$BENCH_ROOT/scripts/pg-test-cluster.sh" destroy "$PG_DIR" >/dev/null 2>&1 || true
  mix_perf_teardown
}
trap mix_cleanup EXIT

has() { [[ " $SCENARIOS " == *" $1 "* ]]; }
declare -A TIMING=()
stamp() { echo "$EPOCHREALTIME"; }
took() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b - a}'; }

mix_perf_setup

# ------------------------------------------------------------ per backend
run_backend() { # run_backend sqlite|pg
  local db=$1 dir=$BENCH_TMP/$1 t
  mkdir -p "$dir"
  if [ "$db" = sqlite ]; then
    t=$(stamp)
    mix_dataset "$STUDENTS" "$SCHOOLS" "$SEED"
    TIMING[sqlite_gen]=$(head -c 200 "$MIX_DATA/ready")
    cp "$MIX_DATA/dnevnik.db" "$dir/dnevnik.db"
    # Read the copy once so the page cache holds it, as on a server that has
    # been up a while: this VM's host takes unused page cache back over
    # minutes, and at 1,000,000 students (20 GB of the 24) the first requests
    # would otherwise measure the disk.
    cat "$dir/dnevnik.db" >/dev/null
    export BENCH_DB_URL=sqlite:$dir/dnevnik.db MIX_PG_PIDFILE=
    LOGINS=$MIX_DATA/logins.csv
    SIZE[sqlite]="$STUDENTS students, $SCHOOLS schools (seed $SEED)"
  elif [ -n "${BENCH_MIX_PG_URL:-}" ]; then
    # an already loaded database (its gen logins CSV in BENCH_MIX_PG_LOGINS); the benchmark writes into it
    export BENCH_DB_URL=$BENCH_MIX_PG_URL
    LOGINS=${BENCH_MIX_PG_LOGINS:?BENCH_MIX_PG_LOGINS: the logins CSV of the data set in BENCH_MIX_PG_URL}
    TIMING[pg_gen]="loaded beforehand (BENCH_MIX_PG_URL)"
    export MIX_PG_PIDFILE=${BENCH_MIX_PG_PIDFILE:-}
    SIZE[pg]="$(($(grep -c ',student,' "$LOGINS"))) students, $(psql -X -At "$BENCH_DB_URL" -c 'SELECT count(*) FROM schools') schools"
    psql -X -q "$BENCH_DB_URL" -c "VACUUM ANALYZE" >/dev/null
  else
    # the cluster runs as `postgres`, which cannot enter $BENCH_TMP (mode 700)
    PG_DIR=$(mktemp -d /tmp/dnevnik-mixpg.XXXXXX)
    BENCH_DB_URL=$("$BENCH_ROOT/scripts/pg-test-cluster.sh" start "$PG_DIR")
    export BENCH_DB_URL
    t=$(stamp)
    log "data set: dnevnik gen --schools $PG_SCHOOLS --students $PG_STUDENTS --seed $SEED (PostgreSQL)"
    "$DN_BIN" gen --schools "$PG_SCHOOLS" --students "$PG_STUDENTS" --seed "$SEED" --logins-out "$dir/logins.csv" \
      --db "$BENCH_DB_URL" --log-level warn >"$dir/gen.log" 2>&1 || { tail -n 5 "$dir/gen.log" >&2; die "gen on PostgreSQL failed"; }
    TIMING[pg_gen]="generated in $(took "$t") s"
    export MIX_PG_PIDFILE=$PG_DIR/data/postmaster.pid
    psql -X -q "$BENCH_DB_URL" -c "VACUUM ANALYZE" >/dev/null
    LOGINS=$dir/logins.csv
    SIZE[pg]="$PG_STUDENTS students, $PG_SCHOOLS schools (seed $SEED)"
  fi
  t=$(stamp)
  mix_deck "$BENCH_DB_URL" "$LOGINS" "$dir/deck"
  single_kind_decks "$dir/deck"
  TIMING[${db}_deck]=$(took "$t")
  cp "$dir/deck.json.log" "$BENCH_OUT/$db-deck.json"
  log "deck: $(cat "$dir/deck.json.log")"
  # every kind must mostly succeed before its numbers mean anything
  start_dnevnik "$db-check"
  python3 "$BENCH_LIB/mixcheck.py" "http://127.0.0.1:$DN_PORT" "$dir/deck/mix.deck" "$dir/deck/tokens.txt" \
    "${BENCH_MIX_PAGE_SAMPLES:-1000}" \
    >"$BENCH_OUT/$db-check.txt" || { cat "$BENCH_OUT/$db-check.txt" >&2; die "the $db deck does not pass mixcheck"; }
  kill -TERM "$DN_PID"; wait "$DN_PID" 2>/dev/null || true

  local s
  for s in $SCENARIOS; do
    t=$(stamp)
    case $s in
      max) scenario "$db-max" "$dir/deck" mix 0 "$CONNS" ;;
      rate) scenario "$db-rate" "$dir/deck" mix "$RATE" "$RATE_CONNS" ;;
      storm)
        local base
        base=$( [ -f "$BENCH_OUT/$db-max.env" ] && (source "$BENCH_OUT/$db-max.env"; echo $((rps / 2))) || echo 500)
        [ "$base" -ge 50 ] || base=50
        scenario "$db-calm" "$dir/deck" mix "$base" "$CONNS"
        scenario "$db-storm" "$dir/deck" mix "$base" "$CONNS" login 16 ;;
      writes) scenario "$db-writes" "$dir/deck" writes 0 "$CONNS" ;;
      marks) scenario "$db-marks" "$dir/deck" marks 0 "$CONNS" ;;
      markpost) scenario "$db-markpost" "$dir/deck" markpost 0 "$CONNS" ;;
      *) die "unknown scenario '$s'" ;;
    esac
    TIMING[$db-$s]=$(took "$t")
  done
  if [ "${BENCH_MIX_PROFILE:-0}" = 1 ] && [ "$db" = sqlite ]; then
    mix_profile "$db" "$dir/deck"
  fi
}

# single_kind_decks DECK_DIR: marks.deck (the student marks page) and
# markpost.deck (mark POSTs; the second half sets every value to the next one
# 1..5, so replaying the deck in a loop changes a mark with every request).
single_kind_decks() {
  awk -F'\t' '$5 == "marks"' "$1/mix.deck" >"$1/marks.deck"
  awk -F'\t' '$5 == "mark_post"' "$1/mix.deck" >"$1/markpost.deck"
  awk -F'\t' '$5 == "mark_post" && match($0, /"value": [1-5]/) {
    v = substr($0, RSTART + 9, 1); print substr($0, 1, RSTART + 8) (v % 5 + 1) substr($0, RSTART + 10) }' \
    "$1/mix.deck" >>"$1/markpost.deck"
  [ -s "$1/marks.deck" ] && [ -s "$1/markpost.deck" ] || die "the deck has no marks or mark_post lines"
}

# mix_profile DB DECK_DIR: perf record -g of a fresh server under the max mix;
# keeps the per-library and per-symbol self-time tops in $BENCH_OUT/DB-profile-*.txt.
mix_profile() {
  local db=$1 dir=$2 data=$BENCH_TMP/$1-perf.data try ok=0
  command -v perf >/dev/null || { log "no perf: profile skipped"; return 0; }
  for try in 1 2 3; do
    start_dnevnik "$db-profile"
    MIX_PORT=$DN_PORT
    mix_wrk "$BENCH_TMP/$db-profile-warmup" "$dir" mix 0 "$CONNS" "$BENCH_WARMUP" || true
    perf record -q -g -F 999 -o "$data" -p "$DN_PID" >/dev/null 2>&1 &
    local perf_pid=$!
    bench_register_pid "$perf_pid"
    sleep 0.3
    mix_wrk "$BENCH_OUT/$db-profile" "$dir" mix 0 "$CONNS" "$BENCH_DURATION" || true
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    if kill -0 "$DN_PID" 2>/dev/null; then
      kill -TERM "$DN_PID"; wait "$DN_PID" 2>/dev/null || true
      ok=1
      break
    fi
    wait "$DN_PID" 2>/dev/null || true
    CRASHES+=("$db-profile: server exited during the run")
  done
  [ "$ok" = 1 ] || { log "profile: the server died in every try"; return 0; }
  perf report -i "$data" --stdio --no-children --sort dso -g none 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -n 12 >"$BENCH_OUT/$db-profile-dso.txt" || true
  perf report -i "$data" --stdio --no-children --sort dso,sym -g none 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -n 25 >"$BENCH_OUT/$db-profile-sym.txt" || true
}

# scenario NAME ...: mix_scenario, repeated (up to BENCH_MIX_RETRIES times, default 2)
# when the server died during the run; every death is counted in CRASHES and
# its stderr kept in $BENCH_OUT, so the report shows it instead of hiding it.
CRASHES=()
scenario() {
  local name=$1 try
  for ((try = 0; try <= ${BENCH_MIX_RETRIES:-2}; try++)); do
    mix_scenario "$@"
    grep -q '^died=' "$BENCH_OUT/$name.env" || return 0
    CRASHES+=("$name: $(sed -n "s/^died='\(.*\)'/\1/p" "$BENCH_OUT/$name.env")")
    [ ! -f "$BENCH_OUT/$name.server-stderr" ] || mv "$BENCH_OUT/$name.server-stderr" "$BENCH_OUT/$name.server-stderr.$try"
  done
}

declare -A SIZE=()
for db in $DBS; do
  case $db in sqlite | pg) run_backend "$db" ;; *) die "BENCH_MIX_DB: unknown backend '$db'" ;; esac
done

# ------------------------------------------------------------ generator check
GEN_NOTE=
if [ "${BENCH_MIX_GENCHECK:-1}" = 1 ]; then
  www=$BENCH_TMP/www
  mkdir -p "$www"
  start_nginx nginx "$www"
  first=${DBS%% *}
  MIX_TARGET=nginx mix_scenario gen-max "$BENCH_TMP/$first/deck" mix 0 "$CONNS"
  MIX_TARGET=nginx mix_scenario gen-rate "$BENCH_TMP/$first/deck" mix "$RATE" "$RATE_CONNS"
fi

# ------------------------------------------------------------ report
row() { # row NAME LABEL
  [ -f "$BENCH_OUT/$1.env" ] || return 0
  (
    source "$BENCH_OUT/$1.env"
    printf '| %s | %s | **%s** | %s | %s | %s | %s | %s | %s s | %s µs | %s MiB | %s | %s | %s |\n' \
      "$2${died:+ — **${died}**}" "$offered" "$rps" "$p50" "$p90" "$p99" "$p999" "$errors" "$cpu_s" "$cpu_us_per_req" "$rss_mib" \
      "$stmts_per_req" "$fsyncs ($fsyncs_per_req/req)" "$load"
  )
}
header() {
  echo "| scenario | offered req/s | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | server CPU | CPU/req | peak RSS | statements/req | fsyncs | load avg at start |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
}
section=$BENCH_TMP/section.md
{
  echo "## Mix: the national peak on one box (issue 6)"
  echo
  echo "Measured $(machine_facts). wrk (-t$BENCH_THREADS) runs on the same 2 cores as the server;"
  echo "other engineers' builds were running too, so the load average is recorded per scenario."
  echo "Server: \`dnevnik serve --threads 2 --access-log \"\"\`, release build, \`DNEVNIK_RATE_LIMIT=0\`."
  echo
  echo "Command: \`make bench\` (or \`make bench-region\` for 100,000 students, \`make bench-1m\`), here with"
  echo "\`BENCH_STUDENTS=$STUDENTS BENCH_MIX_DB=\"$DBS\" BENCH_DURATION=$BENCH_DURATION BENCH_WARMUP=$BENCH_WARMUP BENCH_CONNECTIONS=$CONNS\`."
  echo "Per scenario a fresh server, ${BENCH_WARMUP} s warm-up with the same load, ${BENCH_DURATION} s measured."
  echo "Columns: latency percentiles from wrk (exact, from the send of each request); errors = non-2xx/3xx"
  echo "+ socket errors + timeouts; server CPU = user+system time of dnevnik (for PostgreSQL plus the cluster's"
  echo "processes) in the measured window; peak RSS = VmHWM of dnevnik; statements/req = calls of"
  echo "dn_db_prepare + dn_db_exec (perf uprobes on the server binary, outside the server) per"
  echo "request; fsyncs = fsync + fdatasync syscalls of the same processes (perf stat tracepoints)."
  echo "wrk commands:"
  echo
  echo '```'
  for f in "$BENCH_OUT"/*-max.cmd "$BENCH_OUT"/*-rate.cmd "$BENCH_OUT"/*-storm.cmd "$BENCH_OUT"/*-storm-companion.cmd "$BENCH_OUT"/*-writes.cmd "$BENCH_OUT"/*-markpost.cmd "$BENCH_OUT"/*-marks.cmd; do
    [ -f "$f" ] && echo "$(basename "$f" .cmd): $(cat "$f")"
  done
  echo '```'
  echo
  echo "The request deck ($(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%d requests, %d tokens of sampled users; roles %s; writes %.0f %%" % (d["requests"], d["tokens"], ", ".join("%s %.0f %%" % (k, v*100) for k, v in sorted(d["role_share"].items())), d["writes_share"]*100))' "$BENCH_OUT/${DBS%% *}-deck.json")):"
  echo "every request carries an HS256 token of a real user of the data set (minted offline with the"
  echo "server's key by bench/lib/mixdeck.py; the server verifies each one and runs the access check)."
  echo "Kinds: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join("%s %d" % kv for kv in d["kinds"].items()))' "$BENCH_OUT/${DBS%% *}-deck.json")."
  echo
  for db in $DBS; do
    echo "### $([ "$db" = sqlite ] && echo SQLite || echo PostgreSQL 15): ${SIZE[$db]}"
    echo
    if [ "$db" = sqlite ]; then
      echo "Data set: ${TIMING[sqlite_gen]} (cached in bench/data/); deck + tokens in ${TIMING[sqlite_deck]} s."
    else
      echo "Data set: ${TIMING[pg_gen]} into a throwaway cluster (scripts/pg-test-cluster.sh: fsync on, shared_buffers 64MB); deck + tokens in ${TIMING[pg_deck]} s."
    fi
    echo
    header
    row "$db-max" "1 mix, max throughput (c$CONNS)"
    row "$db-rate" "2 mix at $RATE req/s (c$RATE_CONNS)"
    row "$db-calm" "3a mix paced, no storm"
    row "$db-storm" "3b same + login storm"
    row "$db-writes" "4 writes only, max (c$CONNS)"
    row "$db-markpost" "4b mark POSTs only, max (c$CONNS)"
    row "$db-marks" "6 student marks page alone, max (c$CONNS)"
    echo
    if [ -f "$BENCH_OUT/$db-max.env" ]; then
      (source "$BENCH_OUT/$db-max.env"; echo "Against the issue's target of $RATE req/s of this mix on one box: **$rps req/s** at maximum throughput, $(awk -v a="$rps" -v b="$RATE" 'BEGIN{printf "%.1f", 100 * a / b}') % of it (with wrk sharing the 2 cores).")
      echo
    fi
    if [ -f "$BENCH_OUT/$db-rate.env" ]; then
      (source "$BENCH_OUT/$db-rate.env"; echo "Scenario 2: offered $offered req/s, achieved $rps req/s; $late sends were late (the server fell behind the schedule, worst lag ${max_lag_ms} ms): latencies are measured from the actual send, so they leave that queueing out.")
      echo
    fi
    if [ -f "$BENCH_OUT/$db-storm.env" ]; then
      (source "$BENCH_OUT/$db-storm.env"; echo "Scenario 3 login storm beside the mix: $comp_requests logins in ${BENCH_DURATION} s ($comp_rps/s, p50 $comp_p50 ms, p99 $comp_p99 ms, errors $comp_errors); non-login p99 $(source "$BENCH_OUT/$db-calm.env"; echo "$p99") ms without → $p99 ms with the storm.")
      echo
    fi
    if [ -f "$BENCH_OUT/$db-check.txt" ]; then
      echo "Every kind of request on its own, one at a time on a fresh connection (${BENCH_MIX_PAGE_SAMPLES:-1000} each, bench/lib/mixcheck.py;"
      echo "statuses, then single-request latency), for the scaling curve of target 3:"
      echo
      echo '```'
      grep -v '^  e.g.' "$BENCH_OUT/$db-check.txt"
      echo '```'
      echo
    fi
    if [ -f "$BENCH_OUT/$db-markpost.env" ]; then
      (source "$BENCH_OUT/$db-markpost.env"; echo "Scenario 4b: **$rps acknowledged mark POSTs/s** (each answered after its commit was on disk; the issue's target is 5,000), $fsyncs_per_req fsyncs per mark (group commit).")
      echo
    fi
    if [ -f "$BENCH_OUT/$db-marks.env" ]; then
      (source "$BENCH_OUT/$db-marks.env"; echo "Scenario 6: the student marks page alone at **$rps req/s** (the issue's target is 16,000: 500× a PHP school system's 32 req/s), $cpu_us_per_req µs of server CPU and $stmts_per_req statements per request.")
      echo
    fi
    local_t=""
    for s in $SCENARIOS; do local_t+="$s ${TIMING[$db-$s]:-?} s, "; done
    echo "Wall time per scenario (incl. start and warm-up): ${local_t%, }."
    echo
  done
  if [ ${#CRASHES[@]} -gt 0 ]; then
    echo "### ⚠ The server crashed ${#CRASHES[@]} time(s) in this run"
    echo
    echo "Each crashed scenario was run again on a fresh server (the row above is the run that survived, or the"
    echo "last one, marked). Crashes: $(printf '%s; ' "${CRASHES[@]}" | sed 's/; $//')."
    echo "Server stderr of each is in bench/results/<run>/mix/*.server-stderr.*."
    echo
  fi
  if [ -f "$BENCH_OUT/gen-max.env" ]; then
    echo "### What the load generator can produce here"
    echo
    echo "The same wrk + mix.lua with the same deck against nginx serving an empty directory (every answer a"
    echo "small 404/405), i.e. the generator's own ceiling on this machine while it shares the cores with the server:"
    echo
    header
    row gen-max "wrk → nginx, max (c$CONNS)"
    row gen-rate "wrk → nginx at $RATE req/s (c$RATE_CONNS)"
    echo
    (source "$BENCH_OUT/gen-rate.env"; echo "Paced at $RATE req/s against nginx the generator achieved $rps req/s ($late late sends).")
    echo
  fi
  if [ -s "$BENCH_OUT/sqlite-profile-dso.txt" ]; then
    echo "### Where the server's CPU goes (SQLite, the mix at max throughput)"
    echo
    echo "\`perf record -g -F 999 -p PID\` for ${BENCH_DURATION} s of scenario 1 ($(res "$BENCH_OUT/sqlite-profile.wrk.txt" requests) requests); self time by library, then the top symbols:"
    echo
    echo '```'
    sed 's/[[:space:]]*$//' "$BENCH_OUT/sqlite-profile-dso.txt"
    echo
    sed 's/[[:space:]]*$//' "$BENCH_OUT/sqlite-profile-sym.txt"
    echo '```'
    echo
  fi
  if [[ " $DBS " == *" sqlite "* ]]; then
    echo "### EXPLAIN QUERY PLAN (SQLite, $STUDENTS students) of the everyday pages' statements"
    echo
    echo "From bench/lib/mixexplain.py over the \`static dn_query_t\` SELECTs of the files below;"
    echo "⚠ marks a full scan or a temporary B-tree (sort)."
    python3 "$BENCH_LIB/mixexplain.py" "$BENCH_TMP/sqlite/dnevnik.db" "$BENCH_ROOT"/src/domain/diary.c \
      "$BENCH_ROOT"/src/domain/journal.c "$BENCH_ROOT"/src/domain/works.c "$BENCH_ROOT"/src/domain/access.c
    echo
  fi
} >"$section"
cat "$section"
emit_section "${BENCH_MIX_SECTION:-$([ "$STUDENTS" = 10000 ] && echo mix || echo "mix-$STUDENTS")}" "$section"
