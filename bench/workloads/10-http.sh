#!/usr/bin/env bash
# Workload "http": GET /api/v1/ping on dnevnik vs the same bytes as a static
# file on nginx, same machine, same wrk settings. Rewrites the `http` section
# of BENCHMARKS.md when both servers were measured.
# BENCH_HTTP_SERVERS="dnevnik nginx" (default) selects the servers; with
# nginx alone the body is BENCH_PING_BODY (default {"pong":true}).
set -euo pipefail
source "$BENCH_LIB/common.sh"

PING=/api/v1/ping
servers=${BENCH_HTTP_SERVERS:-dnevnik nginx}
www=$BENCH_TMP/www
mkdir -p "$www$(dirname "$PING")"
body=$www$PING

has() { [[ " $servers " == *" $1 "* ]]; }

if has dnevnik; then
  start_dnevnik dnevnik
  curl -fsS --max-time 5 -D "$BENCH_TMP/ping.headers" -o "$body" "http://127.0.0.1:$DN_PORT$PING" ||
    die "GET $PING on dnevnik failed: $(cat "$BENCH_TMP/ping.headers" 2>/dev/null)"
  DN_VERSION=$("$DN_BIN" version 2>/dev/null | head -n1 || true)
else
  printf '%s' "${BENCH_PING_BODY:-{\"pong\":true}}" >"$body"
fi
BODY_BYTES=$(stat -c %s "$body")
log "ping body: $BODY_BYTES bytes: $(head -c 200 "$body")"

if has nginx; then
  start_nginx nginx "$www"
  curl -fsS --max-time 5 -o "$BENCH_TMP/nginx.body" "http://127.0.0.1:$NGINX_PORT$PING" || die "GET $PING on nginx failed"
  cmp -s "$body" "$BENCH_TMP/nginx.body" || die "nginx serves different bytes than dnevnik"
  NGINX_VERSION=$(nginx -v 2>&1 | sed 's/^nginx version: //')
fi

for s in $servers; do
  case "$s" in
    dnevnik)
      pids=$(tree_pids "$DN_PID")
      measure dnevnik "http://127.0.0.1:$DN_PORT$PING" "$pids" "$pids" ;;
    nginx)
      all=$(tree_pids "$NGINX_PID")
      workers=$(tr ' ' '\n' <<<"$all" | grep -vx "$NGINX_PID" | tr '\n' ' ')
      measure nginx "http://127.0.0.1:$NGINX_PORT$PING" "$all" "$workers" ;;
    *) die "unknown server '$s' in BENCH_HTTP_SERVERS" ;;
  esac
done

# ------------------------------------------------------------ report
row() { # name label
  (
    source "$BENCH_OUT/$1.env"
    printf '| %s | %s | %s ms | %s ms | %s | %s s | %s µs | %s MiB |\n' \
      "$2" "$rps" "$p50_ms" "$p99_ms" "$errors" "$cpu_s" "$cpu_us_per_req" "$rss_mib"
  )
}
table=$BENCH_TMP/table.md
{
  echo "| server | req/s | p50 | p99 | errors | server CPU | CPU/request | peak RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  has dnevnik && row dnevnik "dnevnik"
  has nginx && row nginx "nginx (static file)"
} >"$table"
ratio=
if has dnevnik && has nginx; then
  ratio=$(awk -v a="$(source "$BENCH_OUT/dnevnik.env"; echo "$rps")" -v b="$(source "$BENCH_OUT/nginx.env"; echo "$rps")" \
    'BEGIN{printf "%.2f", b ? a / b : 0}')
fi

echo
echo "HTTP GET $PING ($BODY_BYTES-byte body), wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_DURATION}s:"
echo
cat "$table"
[ -n "$ratio" ] && echo && echo "dnevnik/nginx req/s: $ratio"
echo

if [ -n "$ratio" ]; then
  section=$BENCH_TMP/section.md
  {
    echo "## HTTP: \`GET $PING\` — dnevnik vs nginx"
    echo
    echo "Measured $(machine_facts)."
    echo "wrk runs on the same machine as the server and competes with it for the same cores."
    echo
    echo "Command: \`make bench\` (\`BENCH_DURATION=$BENCH_DURATION\`), which runs for each server, after a ${BENCH_WARMUP} s warm-up:"
    echo
    echo '```'
    cat "$BENCH_OUT/dnevnik.cmd"
    cat "$BENCH_OUT/nginx.cmd"
    echo '```'
    echo
    echo "- dnevnik${DN_VERSION:+ ($DN_VERSION)}: \`serve --threads 2 --access-log \"\"\`, SQLite; the $BODY_BYTES-byte JSON body of \`GET $PING\`."
    echo "- nginx${NGINX_VERSION:+ $NGINX_VERSION}: ${BENCH_NGINX_WORKERS:-2} workers, \`access_log off\`, the same bytes as a static file."
    echo "- errors: non-2xx/3xx responses plus connect/read/write errors and timeouts; server CPU: user+system time of"
    echo "  the server's processes during the measured run; peak RSS: VmHWM (dnevnik's process; nginx: sum over workers)."
    echo
    cat "$table"
    echo
    echo "dnevnik/nginx throughput: **${ratio}×**."
  } >"$section"
  emit_section http "$section"
else
  log "only '$servers' measured: BENCHMARKS.md is left alone"
fi
