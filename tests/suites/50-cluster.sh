#!/usr/bin/env bash
# 50-cluster.sh - the two-site topology test of issue 7 (see tests/suites/README.md).
#
# Builds the topology with scripts/cluster/cluster.sh (network namespaces: site a and
# site b each with an etcd member, PostgreSQL under Patroni, Redis and two dnevnik
# nodes with --services auth,diary / diary,works; site c with the tie-breaking etcd
# member; HAProxy in front, routing by path to the roles), runs a bounded
# load through HAProxy (scripts/cluster/load.mjs: everyday pages + mark and comment
# writes with Idempotency-Key, every attempt recorded) and, under that load:
#   1 kill -9 one app node            -> failures <= requests in flight at the kill
#   1b SIGTERM one app node (a deploy) -> it drains: no request fails
#   2 kill -9 the primary + Patroni   -> writes back within 15 s, reads never fail,
#                                        0 acknowledged writes lost, none applied twice
#   3 restart the old primary         -> it rejoins as a (synchronous) replica by itself
#   4 cut off the primary's site      -> service from the other site within 30 s, nothing lost
#   5 stop Redis (both sites)         -> requests keep succeeding
# plus: the deploy/ configs pass promtool / haproxy -c / patroni --validate-config.
# Figures go to stdout and to $DN_CLUSTER_RESULTS (default <build dir>/cluster-results.txt);
# RELIABILITY.md quotes them. DN_SUITE_MODE=long repeats scenarios 2-3 three times.
# Everything started is stopped by PID and the namespaces deleted, on any exit.
set -uo pipefail

ROOT=${DN_SUITE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$ROOT"
MODE=${DN_SUITE_MODE:-short}
DN_BIN=${DN_BIN:-$ROOT/build/dnevnik}
RESULTS=${DN_CLUSTER_RESULTS:-${DN_BUILD_DIR:-$ROOT/build}/cluster-results.txt}
CLI=scripts/cluster/cluster.sh
WORK=$(mktemp -d /tmp/dnevnik-cluster.XXXXXX)
chmod 711 "$WORK" # Patroni runs as postgres and must reach its files below
CL=$WORK/cl
LOAD_PID=
passed=0 failed=0 skipped=0
T_START=$SECONDS

now_ms() { date +%s%3N; }
say() { echo "cluster-test: $*"; echo "$*" >>"$RESULTS"; }
verdict() { # verdict NAME OK(0|1) DETAILS
  if [ "$2" = 1 ]; then passed=$((passed + 1)); say "PASS $1: $3"; else failed=$((failed + 1)); say "FAIL $1: $3"; fi
}
skip() { skipped=$((skipped + 1)); say "SKIP $1: $2"; }
finish() {
  say "suite time: $((SECONDS - T_START)) s (mode $MODE)"
  echo "$passed passed, $failed failed, $skipped skipped" | tee -a "$RESULTS"
  [ "$failed" -eq 0 ]
  exit $?
}

cleanup() {
  if [ -n "$LOAD_PID" ] && kill -0 "$LOAD_PID" 2>/dev/null; then
    kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null
  fi
  if [ -f "$CL/env" ]; then
    [ "${DN_CLUSTER_KEEP_LOGS:-}" = "" ] || cp -r "$CL/log" "$DN_CLUSTER_KEEP_LOGS" 2>/dev/null
    "$CLI" stop "$CL" >/dev/null 2>&1
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$(dirname "$RESULTS")"
: >"$RESULTS"
say "# 50-cluster.sh $(date -u +%FT%TZ), mode $MODE, $(nproc) CPUs, binary $DN_BIN"

# ---- deploy/ configs ---------------------------------------------------------
check_deploy() {
  local out rc
  if command -v promtool >/dev/null; then
    out=$(promtool check config deploy/prometheus/prometheus.yml 2>&1); rc=$?
    verdict "deploy: promtool check config" $((rc == 0)) "$(echo "$out" | tail -1)"
    out=$(promtool check rules deploy/prometheus/alerts.yml 2>&1); rc=$?
    verdict "deploy: promtool check rules" $((rc == 0)) "$(echo "$out" | tail -1)"
  else
    skip "deploy: promtool" "promtool not installed"
  fi
  if command -v promtool >/dev/null; then
    # every PromQL expression of the Grafana dashboard must parse: as recording rules
    node -e '
      const d = JSON.parse(require("fs").readFileSync("deploy/grafana/dnevnik.json", "utf8"));
      const rules = d.panels.flatMap((p, i) => p.targets.map((t, j) => ({ record: `dashboard:panel${i}_${j}`, expr: t.expr })));
      console.log(JSON.stringify({ groups: [{ name: "dashboard", rules }] }));' >"$WORK/dash-rules.json"
    out=$(promtool check rules "$WORK/dash-rules.json" 2>&1); rc=$?
    verdict "deploy: Grafana dashboard queries parse" $((rc == 0)) "$(echo "$out" | tail -1 | sed 's/^ *//')"
  fi
  if command -v haproxy >/dev/null && command -v openssl >/dev/null; then
    # the production config points at /etc/haproxy/certs; check it against a throwaway cert
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=dnevnik.test -days 1 \
      -keyout "$WORK/k.pem" -out "$WORK/c.pem" >/dev/null 2>&1
    mkdir -p "$WORK/certs"; cat "$WORK/c.pem" "$WORK/k.pem" >"$WORK/certs/dnevnik.pem"
    sed "s|/etc/haproxy/certs|$WORK/certs|g" deploy/haproxy/haproxy.cfg >"$WORK/haproxy.cfg"
    out=$(haproxy -c -f "$WORK/haproxy.cfg" 2>&1); rc=$?
    verdict "deploy: haproxy -c" $((rc == 0)) "$(echo "$out" | grep -v '^\[NOTICE\]' | tail -1)"
  fi
  if command -v patroni >/dev/null && [ "$(id -u)" = 0 ]; then
    # --validate-config also probes this machine: ports in use (run it in an empty
    # namespace) and whether the etcd hosts answer (they are production addresses: those
    # lines are dropped); everything else it reports is a config error.
    local p ns=dnvc$$
    ip netns add "$ns"
    for p in deploy/patroni/patroni-*.yml; do
      sed -e "s|/var/lib/postgresql/15/main|$WORK/pgcheck|" "$p" >"$WORK/p.yml"
      out=$(ip netns exec "$ns" patroni --validate-config "$WORK/p.yml" 2>&1 | grep -v 'is not reachable')
      verdict "deploy: patroni --validate-config $(basename "$p")" "$([ -z "$out" ] && echo 1 || echo 0)" "${out:-ok}"
    done
    ip netns del "$ns"
  fi
  if command -v systemd-analyze >/dev/null && [ -d deploy/systemd ]; then
    out=$(cd deploy/systemd && SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no ./*.service 2>&1 |
      grep -v -E 'Command .* is not executable|not found|Failed to prepare filename|Unit .* not found' ); rc=0
    [ -z "$out" ] || rc=1
    verdict "deploy: systemd-analyze verify" $((rc == 0)) "${out:-ok}"
  fi
}
check_deploy

# ---- the topology ------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
  skip "topology" "needs root (network namespaces, the postgres user)"
  finish
fi
for b in /usr/bin/patroni /usr/bin/etcd /usr/sbin/haproxy /usr/bin/redis-server; do
  [ -x "$b" ] || { verdict "topology" 0 "$b missing: scripts/install-deps.sh test"; finish; }
done
[ -x "$DN_BIN" ] || { verdict "topology" 0 "no dnevnik binary at $DN_BIN"; finish; }

t=$SECONDS
if ! DN_BIN=$DN_BIN "$CLI" start "$CL" 2>"$WORK/start.log"; then
  cat "$WORK/start.log"; verdict "topology up" 0 "start failed"; finish
fi
cat "$WORK/start.log"
source "$CL/env"
say "topology up in $((SECONDS - t)) s; app options used:$(grep -q -- --db-replica "$CL/serve-help.txt" && echo ' --db-replica')$(grep -q -- '--redis ' "$CL/serve-help.txt" && echo ' --redis')$(grep -q -- '--services ' "$CL/serve-help.txt" && echo ' --services')"
HAS_REDIS=0; grep -q -- '--redis ' "$CL/serve-help.txt" && HAS_REDIS=1

# the dnevnik_* / process_* names the dashboard and the alerts use must be ones a node exports
curl -sf -m 5 "http://$CL_NET.11:8081/metrics" >"$WORK/metrics.txt"
missing=""
for m in $(grep -ohE '\b(dnevnik|process)_[a-z_]+' deploy/grafana/dnevnik.json deploy/prometheus/alerts.yml | sort -u); do
  grep -qE "^$m(\{| )" "$WORK/metrics.txt" || missing="$missing $m"
done
verdict "deploy: dashboard/alert metric names exported by dnevnik" "$([ -z "$missing" ] && echo 1 || echo 0)" \
  "${missing:+missing:$missing}${missing:-all present in /metrics}"

"$CLI" psql "$CL" -d dnevnik -At -f scripts/cluster/plan.sql >"$WORK/plan.json" || { verdict "load plan" 0 "plan.sql failed"; finish; }
RUN=$(date +%s)
EVENTS=$WORK/events.jsonl
: >"$EVENTS"
LOAD_SECS=$([ "$MODE" = long ] && echo 1500 || echo 480)
LOAD_URL=$CL_HTTP LOAD_SECONDS=$LOAD_SECS LOAD_STOP_FILE=$WORK/stop LOAD_RUN=$RUN \
  node scripts/cluster/load.mjs "$WORK/plan.json" "$EVENTS" >"$WORK/load.log" 2>&1 &
LOAD_PID=$!
for _ in $(seq 60); do grep -q '"op":"start"' "$EVENTS" 2>/dev/null && break; sleep 0.5; done
grep -q '"op":"start"' "$EVENTS" || { cat "$WORK/load.log"; verdict "load" 0 "the load did not start"; finish; }
sleep 5

win() { node scripts/cluster/analyze.mjs window "$EVENTS" "$1" "$2"; }
jget() { node -e 'const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(typeof v==="object"?JSON.stringify(v):v)' "$1" "$2"; }
dump_db() { # what the database holds of this run's keys, read through the primary port
  local d=$WORK/dump; mkdir -p "$d"
  for _ in 1 2 3 4 5; do
    "$CLI" psql "$CL" -d dnevnik -At -c "SELECT comment FROM marks WHERE comment LIKE 'cl-$RUN-%'" >"$d/marks.txt" &&
    "$CLI" psql "$CL" -d dnevnik -At -c "SELECT comments FROM works WHERE comments LIKE '%cl-$RUN-%'" >"$d/comments.txt" &&
    "$CLI" psql "$CL" -d dnevnik -At -c "SELECT new_value FROM audit_log WHERE entity = 'mark' AND new_value LIKE '%cl-$RUN-%'" >"$d/audit.txt" &&
      return 0
    sleep 2
  done
  return 1
}
verify_writes() { # verify_writes: JSON of acknowledged writes up to now vs the database
  local until; until=$(now_ms)
  sleep 1
  dump_db || { echo '{"acked":-1,"lost":-1,"duplicated":-1}'; return; }
  node scripts/cluster/analyze.mjs verify "$EVENTS" "$WORK/dump" "$until"
}
wait_until() { # wait_until SECONDS CMD... ; prints elapsed ms, returns 1 on timeout
  local t0 lim; t0=$(now_ms); lim=$(( $1 * 1000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ $(( $(now_ms) - t0 )) -lt "$lim" ] || { echo $(( $(now_ms) - t0 )); return 1; }
    sleep 0.2
  done
  echo $(( $(now_ms) - t0 ))
}
at() { date -u -d "@$(( $1 / 1000 ))" +%T; }
sec() { awk -v ms="$1" 'BEGIN { if (ms == "" || ms == "null") print "never"; else printf "%.1f", ms / 1000 }'; }

# ---- 1: kill -9 one app node ---------------------------------------------------
T=$(now_ms)
"$CLI" kill-app "$CL" a1
sleep 6
r=$(win "$T" "$(now_ms)")
f=$(( $(jget "$r" reads_failed) + $(jget "$r" ryw_reads_failed) + $(jget "$r" write_attempts_failed) ))
inflight=$(jget "$r" inflight_at_t0); late=$(jget "$r" late_failures)
verdict "1 kill -9 app node a1" $(( f <= inflight && late == 0 )) \
  "at $(at "$T"): failed requests $f (in flight at the kill: $inflight, failures later than 1 s: $late); errors $(jget "$r" errors)"
"$CLI" start-app "$CL" a1
wait_until 30 curl -sf -m 1 "http://$CL_NET.11:8081/readyz" >/dev/null

# ---- 1b: SIGTERM one app node (a deploy): it drains, nothing may fail ------------------
sleep 2
T=$(now_ms)
"$CLI" stop-app "$CL" b2; rc=$?
drain_ms=$(( $(now_ms) - T ))
sleep 3
r=$(win "$T" "$(now_ms)")
f=$(( $(jget "$r" reads_failed) + $(jget "$r" ryw_reads_failed) + $(jget "$r" write_attempts_failed) ))
verdict "1b SIGTERM app node b2 (graceful drain)" $(( rc == 0 && f == 0 )) \
  "at $(at "$T"): exited after $(sec "$drain_ms") s; failed requests $f of $(( $(jget "$r" reads) + $(jget "$r" ryw_reads) + $(jget "$r" write_attempts) )); errors $(jget "$r" errors)"
"$CLI" start-app "$CL" b2
wait_until 30 curl -sf -m 1 "http://$CL_NET.12:8082/readyz" >/dev/null
sleep 2

# ---- 2 + 3: kill -9 the primary, then restart it ---------------------------------
rounds=1; [ "$MODE" = long ] && rounds=3
for round in $(seq "$rounds"); do
  old=$("$CLI" primary "$CL")
  T=$(now_ms)
  "$CLI" kill-primary "$CL" "$old" >/dev/null
  # the figure comes from the load's own writes; the wait just bounds the scenario
  for _ in $(seq 120); do
    p=$("$CLI" primary "$CL" 2>/dev/null)
    if [ -n "$p" ] && [ "$p" != "$old" ]; then
      r=$(win "$T" "$(now_ms)"); [ "$(jget "$r" writes_back_ms)" != null ] && break
    fi
    sleep 0.5
  done
  sleep 3
  r=$(win "$T" "$(now_ms)")
  new=$("$CLI" primary "$CL" || echo none)
  v=$(verify_writes)
  wb=$(jget "$r" writes_back_ms); rf=$(jget "$r" reads_failed)
  lost=$(jget "$v" lost); dup=$(jget "$v" duplicated)
  ok=0
  [ "$wb" != null ] && [ "$wb" -le 15000 ] && [ "$lost" = 0 ] && [ "$dup" = 0 ] && [ "$rf" = 0 ] && ok=1
  verdict "2 kill -9 primary pg-$old (round $round)" "$ok" \
    "at $(at "$T"): new primary pg-$new; writes back after $(sec "$wb") s (limit 15); reads failed $rf of $(jget "$r" reads) (back after $(sec "$(jget "$r" reads_back_ms)") s); reads of users who had just written (read-your-own-writes: from the primary) failed $(jget "$r" ryw_reads_failed) of $(jget "$r" ryw_reads); write attempts failed $(jget "$r" write_attempts_failed); longest acknowledged write $(sec "$(jget "$r" max_write_ms)") s; acknowledged $(jget "$v" acked), present $(jget "$v" present), lost $lost, applied twice $dup$([ "$dup$lost" = 00 ] || echo " (lost $(jget "$v" lost_keys), twice $(jget "$v" dup_keys))"); errors $(jget "$r" errors)"
  T=$(now_ms)
  "$CLI" start-pg "$CL" "$old"
  rj=$(wait_until 90 "$CLI" is-replica "$CL" "$old"); rc=$?
  sy=$(wait_until 60 "$CLI" is-sync "$CL" "$old"); rc2=$?
  verdict "3 old primary pg-$old rejoins (round $round)" $(( rc == 0 && rc2 == 0 )) \
    "replica after $(sec "$rj") s, synchronous standby after $(sec "$(( rj + sy ))") s"
done

# planned switchover back to site a, so that scenario 4 cuts the site holding the primary
if [ "$("$CLI" primary "$CL")" != a ]; then
  T=$(now_ms)
  "$CLI" switchover "$CL" a >"$WORK/switchover.log" 2>&1
  wait_until 30 sh -c "[ \"\$($CLI primary $CL)\" = a ]" >/dev/null
  wait_until 60 "$CLI" is-sync "$CL" b >/dev/null
  sleep 2
  r=$(win "$T" "$(now_ms)")
  say "info: planned switchover to pg-a: write attempts failed $(jget "$r" write_attempts_failed), reads failed $(jget "$r" reads_failed), longest acknowledged write $(sec "$(jget "$r" max_write_ms)") s"
fi

# ---- 4: cut off the site holding the primary -------------------------------------
cut=$("$CLI" primary "$CL")
T=$(now_ms)
"$CLI" cut "$CL" "$cut"
for _ in $(seq 120); do
  p=$("$CLI" primary "$CL" 2>/dev/null)
  if [ -n "$p" ] && [ "$p" != "$cut" ]; then
    r=$(win "$T" "$(now_ms)"); [ "$(jget "$r" writes_back_ms)" != null ] && break
  fi
  sleep 0.5
done
sleep 5
r=$(win "$T" "$(now_ms)")
new=$("$CLI" primary "$CL" || echo none)
v=$(verify_writes)
wb=$(jget "$r" writes_back_ms); rb=$(jget "$r" reads_back_ms)
lost=$(jget "$v" lost); dup=$(jget "$v" duplicated)
ok=0
[ "$wb" != null ] && [ "$wb" -le 30000 ] && [ "$rb" -le 30000 ] && [ "$lost" = 0 ] && [ "$dup" = 0 ] && [ "$new" != "$cut" ] && ok=1
verdict "4 site $cut cut off" "$ok" \
  "at $(at "$T"): primary now pg-$new; writes back after $(sec "$wb") s, reads back after $(sec "$rb") s (limit 30); reads failed $(jget "$r" reads_failed) of $(jget "$r" reads), of users who had just written $(jget "$r" ryw_reads_failed) of $(jget "$r" ryw_reads); write attempts failed $(jget "$r" write_attempts_failed); acknowledged $(jget "$v" acked), present $(jget "$v" present), lost $lost, applied twice $dup$([ "$dup$lost" = 00 ] || echo " (lost $(jget "$v" lost_keys), twice $(jget "$v" dup_keys))"); errors $(jget "$r" errors)"
"$CLI" heal "$CL" "$cut"
rj=$(wait_until 90 "$CLI" is-replica "$CL" "$cut"); rc=$?
sy=$(wait_until 60 "$CLI" is-sync "$CL" "$cut"); rc2=$?
verdict "4b site $cut back: rejoins" $(( rc == 0 && rc2 == 0 )) \
  "pg-$cut replica after $(sec "$rj") s, synchronous standby after $(sec "$(( rj + sy ))") s"
for n in 1 2; do wait_until 30 curl -sf -m 1 "http://$CL_NET.1$([ "$cut" = a ] && echo 1 || echo 2):808$n/readyz" >/dev/null; done

# ---- 5: stop Redis -------------------------------------------------------------------
if [ "$HAS_REDIS" = 0 ]; then
  skip "5 Redis stopped" "this dnevnik binary has no --redis option: Redis is not on the request path"
else
  sleep 2
  T=$(now_ms)
  "$CLI" stop-redis "$CL" a; "$CLI" stop-redis "$CL" b
  sleep 10
  r=$(win "$T" "$(now_ms)")
  f=$(( $(jget "$r" reads_failed) + $(jget "$r" ryw_reads_failed) + $(jget "$r" write_attempts_failed) ))
  verdict "5 Redis stopped in both sites" $(( f == 0 && $(jget "$r" reads) > 0 )) \
    "at $(at "$T"): failed requests $f of $(( $(jget "$r" reads) + $(jget "$r" ryw_reads) + $(jget "$r" write_attempts) )) in 10 s; errors $(jget "$r" errors)"
  "$CLI" start-redis "$CL" a; "$CLI" start-redis "$CL" b
fi

# ---- the whole run -------------------------------------------------------------------
touch "$WORK/stop"
wait "$LOAD_PID"; LOAD_PID=
v=$(verify_writes)
r=$(win 0 "$(now_ms)")
verdict "whole run: acknowledged writes" $(( $(jget "$v" lost) == 0 && $(jget "$v" duplicated) == 0 && $(jget "$v" acked) > 0 )) \
  "acknowledged $(jget "$v" acked), present $(jget "$v" present), lost $(jget "$v" lost), applied twice $(jget "$v" duplicated) $(jget "$v" dup_keys), present though never acknowledged $(jget "$v" unacked_but_present), retries answered from the idempotency record $(jget "$v" replayed); requests $(( $(jget "$r" reads) + $(jget "$r" ryw_reads) + $(jget "$r" write_attempts) )), failed $(( $(jget "$r" reads_failed) + $(jget "$r" ryw_reads_failed) + $(jget "$r" write_attempts_failed) )), writes given up $(jget "$r" writes_gaveup)"
finish
