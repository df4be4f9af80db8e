# Helpers of the "mix" workload (bench/workloads/30-mix.sh); source after
# common.sh. Data sets, request decks and one measured scenario run.
#
# A scenario always gets a fresh server process (so peak RSS and CPU belong
# to that scenario alone) on the workload's own copy of the data, a warm-up
# with the same load, then the measured wrk run. Around the measured run,
# `perf stat` counts, in the server process only: uprobes on dn_db_prepare
# and dn_db_exec (every statement the store runs goes through one of them;
# the /metrics store counter is not wired in this build) and the fsync /
# fdatasync syscall tracepoints (PostgreSQL's processes included when
# MIX_PG_PIDFILE is set: their CPU counts as server CPU). uprobes cost ~1–2 µs per hit; with ~10
# statements a request that is well under 5 % of the CPU per request.

MIX_PERF_EVENTS=
# mix_perf_setup: define the uprobes once (system-wide, removed by mix_perf_teardown).
mix_perf_setup() {
  command -v perf >/dev/null || { log "perf not installed: no statement/fsync counts"; return 0; }
  local ev=() f
  # A group of our own: perf names the default group after the binary, and
  # probes left by a run of another binary would make the add fail.
  mix_perf_teardown
  for f in dn_db_prepare dn_db_exec; do
    if perf probe -q -x "$DN_BIN" --add "mixbench:$f=$f" >/dev/null 2>&1; then
      ev+=("mixbench:$f")
    else
      log "perf probe on $f failed: no statement counts"
    fi
  done
  ev+=(syscalls:sys_enter_fsync syscalls:sys_enter_fdatasync)
  MIX_PERF_EVENTS=$(IFS=,; echo "${ev[*]}")
  perf stat -e "$MIX_PERF_EVENTS" -- true >/dev/null 2>&1 || { log "perf stat cannot count $MIX_PERF_EVENTS"; MIX_PERF_EVENTS=; }
}
mix_perf_teardown() {
  perf probe -q --del 'mixbench:*' >/dev/null 2>&1 || true
}

# mix_dataset STUDENTS SCHOOLS SEED: the cached SQLite data set (generated on
# first use); sets MIX_DATA (its directory).
mix_dataset() {
  local n=$1 s=$2 seed=$3
  MIX_DATA=$BENCH_ROOT/bench/data/sqlite-s$n-n$s-seed$seed
  if [ -f "$MIX_DATA/ready" ]; then
    log "data set: cached $MIX_DATA ($(cat "$MIX_DATA/ready"))"
    return 0
  fi
  rm -rf "$MIX_DATA"
  mkdir -p "$MIX_DATA"
  log "data set: dnevnik gen --schools $s --students $n --seed $seed (SQLite)"
  local t0=$EPOCHREALTIME
  "$DN_BIN" gen --schools "$s" --students "$n" --seed "$seed" --logins-out "$MIX_DATA/logins.csv" \
    --db "sqlite:$MIX_DATA/dnevnik.db" --log-level warn >"$MIX_DATA/gen.log" 2>&1 ||
    { tail -n 5 "$MIX_DATA/gen.log" >&2; die "dnevnik gen failed"; }
  local secs
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b - a}')
  echo "generated $(date -u +%F) in ${secs} s, $(du -m "$MIX_DATA/dnevnik.db" | cut -f1) MB" >"$MIX_DATA/ready"
  log "data set: $(cat "$MIX_DATA/ready")"
}

# mix_deck DB_URL LOGINS_CSV OUT_DIR: write the decks + tokens for DB_URL.
mix_deck() {
  python3 "$BENCH_LIB/mixdeck.py" --db "$1" --logins "$2" --key "$DNEVNIK_JWT_KEY" --out "$3" \
    --users "${BENCH_MIX_USERS:-3000}" --requests "${BENCH_MIX_REQUESTS:-40000}" --seed "${BENCH_SEED:-1}" \
    >"$3.json.log" || die "mixdeck failed"
}

# mix_wrk OUT DECK_DIR DECK RATE CONNS DURATION: one wrk run of a deck;
# fails (1) when wrk produced no result (e.g. nothing listens any more).
mix_wrk() {
  local out=$1 dir=$2 deck=$3 rate=$4 conns=$5 dur=$6
  local cmd=(wrk -t"$BENCH_THREADS" -c"$conns" -d"${dur}s" --timeout 10s -s "$BENCH_LIB/mix.lua"
    "http://127.0.0.1:$MIX_PORT" -- "$dir/$deck.deck" "$dir/tokens.txt")
  echo "MIX_RATE=$rate ${cmd[*]}" | sed "s|$BENCH_LIB/|bench/lib/|; s|$dir/|DECK/|g" >"$out.cmd"
  MIX_THREADS=$BENCH_THREADS MIX_RATE=$rate timeout -k 5 $((dur + 60)) "${cmd[@]}" >"$out.wrk.txt" 2>&1 || true
  grep -q '^BENCH_RESULT ' "$out.wrk.txt" || { log "wrk gave no result for $out: $(head -c 500 "$out.wrk.txt")"; return 1; }
}

res() { # res FILE KEY
  grep -m1 '^BENCH_RESULT ' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'
}

# mix_scenario NAME DECK_DIR DECK RATE CONNS [COMPANION_DECK COMPANION_CONNS]
# Starts a server (or uses nginx when MIX_TARGET=nginx), warms up, measures;
# writes $BENCH_OUT/NAME.env. A companion deck runs at full speed alongside
# the measured run (the login storm) and has its own NAME-companion result.
mix_scenario() {
  local name=$1 dir=$2 deck=$3 rate=$4 conns=$5 cdeck=${6:-} cconns=${7:-16}
  local load
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  local pid
  if [ "${MIX_TARGET:-dnevnik}" = nginx ]; then
    pid=$NGINX_PID
    MIX_PORT=$NGINX_PORT
  else
    start_dnevnik "$name"
    pid=$DN_PID
    MIX_PORT=$DN_PORT
  fi
  local pids
  pids=$(tree_pids "$pid")
  # PostgreSQL's own processes (MIX_PG_PIDFILE: its postmaster.pid) do the
  # database work and the fsyncs: count their CPU and syscalls too.
  if [ -n "${MIX_PG_PIDFILE:-}" ] && [ -f "$MIX_PG_PIDFILE" ] && [ "${MIX_TARGET:-dnevnik}" = dnevnik ]; then
    pids="$pids $(tree_pids "$(head -n1 "$MIX_PG_PIDFILE")")"
  fi
  if [ "$BENCH_WARMUP" -gt 0 ]; then
    # a warm-up that fails because the server died is reported as that crash below
    mix_wrk "$BENCH_TMP/$name-warmup" "$dir" "$deck" "$rate" "$conns" "$BENCH_WARMUP" ||
      ! kill -0 "$pid" 2>/dev/null || die "warm-up of $name failed"
  fi
  local perf_pid= perf_out=$BENCH_OUT/$name.perf.txt
  if [ -n "$MIX_PERF_EVENTS" ] && [ "${MIX_TARGET:-dnevnik}" = dnevnik ]; then
    perf stat -x, -o "$perf_out" -e "$MIX_PERF_EVENTS" -p "$(tr ' ' ',' <<<"$pids" | sed 's/,*$//; s/,,*/,/g')" >/dev/null 2>&1 &
    perf_pid=$!
    bench_register_pid "$perf_pid"
    sleep 0.3
  fi
  local c0 c1 comp_pid=
  # shellcheck disable=SC2086
  c0=$(cpu_ticks $pids)
  if [ -n "$cdeck" ]; then
    mix_wrk "$BENCH_OUT/$name-companion" "$dir" "$cdeck" 0 "$cconns" "$BENCH_DURATION" || true &
    comp_pid=$!
  fi
  local measured=1
  mix_wrk "$BENCH_OUT/$name" "$dir" "$deck" "$rate" "$conns" "$BENCH_DURATION" || measured=0
  [ -z "$comp_pid" ] || wait "$comp_pid" || true
  # shellcheck disable=SC2086
  c1=$(cpu_ticks $pids)
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
  fi
  local f=$BENCH_OUT/$name.wrk.txt requests dur errors=0 k
  if [ "$measured" = 0 ]; then
    kill -0 "$pid" 2>/dev/null && die "wrk gave no result for $name"
    # nothing listened for the whole run: the server died before it
    echo "BENCH_RESULT requests=0 duration_us=1 bytes=0 err_connect=0 err_read=0 err_write=0 err_status=0 err_timeout=0 p50_us=0 p90_us=0 p99_us=0 p999_us=0 max_us=0 mean_us=0 late=0 max_lag_ms=0" >>"$f"
  fi
  requests=$(res "$f" requests)
  dur=$(res "$f" duration_us)
  for k in err_connect err_read err_write err_status err_timeout; do
    errors=$((errors + $(res "$f" $k)))
  done
  local stmts fsyncs
  stmts=$( [ -f "$perf_out" ] && awk -F, '$3 ~ /mixbench:dn_db_/ {s += $1} END {print s + 0}' "$perf_out" || true)
  fsyncs=$( [ -f "$perf_out" ] && awk -F, '$3 ~ /sys_enter_f(data)?sync/ {s += $1} END {print s + 0}' "$perf_out" || true)
  ms() { awk -v v="$(res "$f" "$1")" 'BEGIN{printf "%.1f", v / 1000}'; }
  {
    echo "load='$load'"
    echo "offered='$([ "$rate" -gt 0 ] && echo "$rate" || echo max)'"
    echo "conns=$conns"
    echo "requests=$requests"
    echo "rps=$(awk -v r="$requests" -v d="$dur" 'BEGIN{printf "%.0f", r / (d / 1e6)}')"
    echo "p50=$(ms p50_us) p90=$(ms p90_us) p99=$(ms p99_us) p999=$(ms p999_us)"
    echo "errors=$errors"
    echo "late=$(res "$f" late) max_lag_ms=$(res "$f" max_lag_ms)"
    echo "cpu_s=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN{printf "%.1f", t / hz}')"
    echo "cpu_us_per_req=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v r="$requests" 'BEGIN{printf "%.0f", r ? t / hz * 1e6 / r : 0}')"
      echo "rss_mib=$(awk -v k="$(hwm_kb "$pid")" 'BEGIN{printf "%.0f", k / 1024}')"
    echo "stmts_per_req='$([ -n "$stmts" ] && awk -v s="$stmts" -v r="$requests" 'BEGIN{printf "%.1f", r ? s / r : 0}' || echo n/a)'"
    echo "fsyncs='${fsyncs:-n/a}'"
    echo "fsyncs_per_req='$([ -n "$fsyncs" ] && awk -v s="$fsyncs" -v r="$requests" 'BEGIN{printf "%.2f", r ? s / r : 0}' || echo n/a)'"
    if [ -n "$cdeck" ]; then
      local cf=$BENCH_OUT/$name-companion.wrk.txt
      echo "comp_requests=$(res "$cf" requests)"
      echo "comp_rps=$(awk -v r="$(res "$cf" requests)" -v d="$(res "$cf" duration_us)" 'BEGIN{printf "%.0f", r / (d / 1e6)}')"
      echo "comp_p50=$(awk -v v="$(res "$cf" p50_us)" 'BEGIN{printf "%.1f", v / 1000}') comp_p99=$(awk -v v="$(res "$cf" p99_us)" 'BEGIN{printf "%.1f", v / 1000}')"
      echo "comp_errors=$(( $(res "$cf" err_status) + $(res "$cf" err_timeout) + $(res "$cf" err_read) + $(res "$cf" err_connect) ))"
    fi
  } >"$BENCH_OUT/$name.env"
  if [ "${MIX_TARGET:-dnevnik}" = dnevnik ]; then
    local rc=0
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    else
      # The server died under load: keep the evidence and say so in the report.
      wait "$pid" 2>/dev/null || rc=$?
      cp "$BENCH_TMP/$name/stderr" "$BENCH_OUT/$name.server-stderr" 2>/dev/null || true
      echo "died='server exited during the run (status $rc)'" >>"$BENCH_OUT/$name.env"
      log "$name: SERVER DIED (status $rc): $(tail -n 3 "$BENCH_TMP/$name/stderr" 2>/dev/null)"
    fi
  fi
  log "$name: $(tr '\n' ' ' <"$BENCH_OUT/$name.env")"
}
