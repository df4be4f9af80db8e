# Shared helpers for bench workloads; source it from a workload script.
#
# Provides: process bookkeeping (every started process is registered by PID
# and stopped on exit), free ports, server start-up (dnevnik, nginx), wrk
# runs with exact percentiles, /proc CPU and peak-RSS readings, and machine
# facts for reports. Expects the environment bench/run.sh sets up:
#   BENCH_ROOT BENCH_LIB BENCH_TMP BENCH_OUT BENCH_DURATION BENCH_WARMUP
#   BENCH_CONNECTIONS BENCH_THREADS DN_BIN

: "${BENCH_ROOT:?run workloads through bench/run.sh}"
: "${BENCH_TMP:?}" "${BENCH_OUT:?}" "${BENCH_LIB:?}"
BENCH_DURATION=${BENCH_DURATION:-10}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
BENCH_THREADS=${BENCH_THREADS:-2}
DN_BIN=${DN_BIN:-$BENCH_ROOT/build/dnevnik}
CLK_TCK=$(getconf CLK_TCK)

log() { echo "[$(date +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------ processes

BENCH_PIDS=()
bench_register_pid() { BENCH_PIDS+=("$1"); }

# Stop every registered process: SIGTERM, up to 10 s, then SIGKILL.
bench_cleanup() {
  local pid i
  for pid in "${BENCH_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for pid in "${BENCH_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${BENCH_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  BENCH_PIDS=()
}
trap bench_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# PID and all its descendants.
tree_pids() {
  local root=$1 f pid ppid rest
  declare -A children=()
  for f in /proc/[0-9]*/stat; do
    read -r rest <"$f" 2>/dev/null || continue
    pid=${rest%% *}
    rest=${rest##*) }   # fields after "(comm)": state ppid ...
    read -r _ ppid _ <<<"$rest"
    children[$ppid]+="$pid "
  done
  local queue=("$root") out=()
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    [ -d "/proc/$pid" ] || continue
    out+=("$pid")
    for c in ${children[$pid]:-}; do queue+=("$c"); done
  done
  echo "${out[*]}"
}

# Sum of utime+stime (clock ticks) over PIDs.
cpu_ticks() {
  local pid rest total=0
  for pid in "$@"; do
    read -r rest <"/proc/$pid/stat" 2>/dev/null || continue
    rest=${rest##*) }
    set -- $rest
    # after comm: state(3) ... utime is field 14, stime 15 → $12 and $13 here
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

# Sum of VmHWM (peak resident set, kB) over PIDs.
hwm_kb() {
  local pid v total=0
  for pid in "$@"; do
    v=$(awk '/^VmHWM:/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [TIMEOUT_S]: until URL answers at all (any HTTP status).
wait_http() {
  local url=$1 deadline=$((SECONDS + ${2:-20}))
  until curl -sS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# ------------------------------------------------------------ servers

# start_dnevnik NAME [serve args...]: starts `dnevnik serve` on a free port
# with a fresh SQLite database (or BENCH_DB_URL when set), no access log and
# no per-address connection limit (every wrk connection comes from 127.0.0.1);
# sets DN_PID and DN_PORT.
# Its stderr goes to $BENCH_TMP/NAME.stderr.
start_dnevnik() {
  local name=$1
  shift
  [ -x "$DN_BIN" ] || die "no dnevnik binary at $DN_BIN (make build)"
  local dir=$BENCH_TMP/$name
  mkdir -p "$dir/data"
  local err=$dir/stderr
  "$DN_BIN" serve --listen 127.0.0.1:0 --threads 2 --db "${BENCH_DB_URL:-sqlite:$dir/dnevnik.db}" \
    --data-dir "$dir/data" --access-log "" --max-connections-per-address 0 "$@" >"$dir/stdout" 2>"$err" </dev/null &
  DN_PID=$!
  bench_register_pid "$DN_PID"
  DN_PORT=
  local deadline=$((SECONDS + 30))
  while [ -z "$DN_PORT" ]; do
    DN_PORT=$(grep -oE 'listening on http:\\?/\\?/127\.0\.0\.1:[0-9]+' "$err" 2>/dev/null | head -n1 | grep -oE '[0-9]+$' || true)
    [ -n "$DN_PORT" ] && break
    kill -0 "$DN_PID" 2>/dev/null || { tail -n 20 "$err" >&2; die "dnevnik exited during start-up"; }
    [ $SECONDS -lt $deadline ] || { tail -n 20 "$err" >&2; die "dnevnik did not print its listening line within 30 s"; }
    sleep 0.1
  done
  log "dnevnik pid $DN_PID on 127.0.0.1:$DN_PORT"
}

# start_nginx NAME ROOT_DIR: nginx (2 workers, no access log, daemon off,
# runs as root, every path under $BENCH_TMP/NAME) serving ROOT_DIR on a free
# port; sets NGINX_PID (master) and NGINX_PORT.
start_nginx() {
  local name=$1 root=$2 dir=$BENCH_TMP/$1 attempt
  command -v nginx >/dev/null || die "nginx not installed (scripts/install-deps.sh bench)"
  mkdir -p "$dir"
  local v temp_paths="client_body_temp_path $dir/client_body;"
  v=$(nginx -V 2>&1)
  for m in proxy fastcgi uwsgi scgi; do
    [[ "$v" == *"--without-http_${m}_module"* ]] || temp_paths+=" ${m}_temp_path $dir/$m;"
  done
  for attempt in 1 2 3; do
    NGINX_PORT=$(free_port)
    cat >"$dir/nginx.conf" <<EOF
# generated by bench/lib/common.sh
daemon off;
master_process on;
user root;
worker_processes ${BENCH_NGINX_WORKERS:-2};
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    sendfile on;
    tcp_nodelay on;
    open_file_cache max=64 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    server_tokens off;
    $temp_paths
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $root;
        location / { }
    }
}
EOF
    nginx -t -q -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" || die "nginx config test failed"
    nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" >"$dir/stdout" 2>&1 </dev/null &
    NGINX_PID=$!
    bench_register_pid "$NGINX_PID"
    if wait_http "http://127.0.0.1:$NGINX_PORT/" 10 && kill -0 "$NGINX_PID" 2>/dev/null; then
      log "nginx pid $NGINX_PID on 127.0.0.1:$NGINX_PORT"
      return 0
    fi
    kill -0 "$NGINX_PID" 2>/dev/null && kill "$NGINX_PID"
    log "nginx did not come up (attempt $attempt): $(tail -n 3 "$dir/error.log" 2>/dev/null)"
  done
  die "nginx failed to start"
}

# ------------------------------------------------------------ load

# wrk_run NAME URL: warm-up, then the measured run; the raw output goes to
# $BENCH_OUT/NAME.wrk.txt and the exact command to $BENCH_OUT/NAME.cmd.
wrk_run() {
  local name=$1 url=$2
  command -v wrk >/dev/null || die "wrk not installed (scripts/install-deps.sh bench)"
  local common=(-t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" --timeout 5s)
  if [ "$BENCH_WARMUP" -gt 0 ]; then
    timeout -k 5 $((BENCH_WARMUP + 30)) wrk "${common[@]}" -d"${BENCH_WARMUP}s" "$url" >/dev/null
  fi
  local cmd=(wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_DURATION}s" --timeout 5s --latency -s bench/lib/report.lua "$url")
  echo "${cmd[*]}" >"$BENCH_OUT/$name.cmd"
  (cd "$BENCH_ROOT" && timeout -k 5 $((BENCH_DURATION + 60)) "${cmd[@]}") >"$BENCH_OUT/$name.wrk.txt"
}

# wrk_get NAME KEY: a value from the BENCH_RESULT line of NAME's run.
wrk_get() {
  grep -m1 '^BENCH_RESULT ' "$BENCH_OUT/$1.wrk.txt" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'
}

# measure NAME URL "PIDS for CPU" "PIDS for RSS": runs wrk_run and records
# CPU seconds and peak RSS in $BENCH_OUT/NAME.env (shell assignments).
measure() {
  local name=$1 url=$2 cpu_pids=$3 rss_pids=$4
  log "load: $name ($url, ${BENCH_DURATION}s after ${BENCH_WARMUP}s warm-up)"
  local c0 c1
  # shellcheck disable=SC2086
  c0=$(cpu_ticks $cpu_pids)
  wrk_run "$name" "$url"
  # shellcheck disable=SC2086
  c1=$(cpu_ticks $cpu_pids)
  local requests duration
  requests=$(wrk_get "$name" requests)
  duration=$(wrk_get "$name" duration_us)
  [ -n "$requests" ] || die "no BENCH_RESULT from wrk for $name: $(head -c 2000 "$BENCH_OUT/$name.wrk.txt")"
  local errors=0 k
  for k in err_connect err_read err_write err_status err_timeout; do
    errors=$((errors + $(wrk_get "$name" $k)))
  done
  {
    echo "requests=$requests"
    echo "rps=$(awk -v r="$requests" -v d="$duration" 'BEGIN{printf "%.0f", r / (d / 1e6)}')"
    echo "p50_ms=$(awk -v v="$(wrk_get "$name" p50_us)" 'BEGIN{printf "%.2f", v / 1000}')"
    echo "p99_ms=$(awk -v v="$(wrk_get "$name" p99_us)" 'BEGIN{printf "%.2f", v / 1000}')"
    echo "errors=$errors"
    echo "cpu_s=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN{printf "%.1f", t / hz}')"
    echo "cpu_us_per_req=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v r="$requests" 'BEGIN{printf "%.1f", r ? t / hz * 1e6 / r : 0}')"
    # shellcheck disable=SC2086
    echo "rss_mib=$(awk -v k="$(hwm_kb $rss_pids)" 'BEGIN{printf "%.1f", k / 1024}')"
  } >"$BENCH_OUT/$name.env"
}

# ------------------------------------------------------------ reporting

machine_facts() {
  local cpu
  cpu=$(awk -F: '/^model name/{sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
  [ -n "$cpu" ] || cpu=$(lscpu 2>/dev/null | awk -F: '/Model name/{sub(/^[ \t]+/, "", $2); print $2; exit}')
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); \`nproc\` = $(nproc); kernel \`$(uname -r)\`; CPU: ${cpu:-unknown}; load average before the run: ${BENCH_LOADAVG:-$(cut -d' ' -f1-3 /proc/loadavg)}"
}

# emit_section SECTION FILE: ask bench/run.sh to put FILE into BENCHMARKS.md.
emit_section() {
  cp "$2" "$BENCH_OUT/section-$1.md"
}
