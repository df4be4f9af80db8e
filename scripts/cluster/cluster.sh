#!/usr/bin/env bash
# Two-site dnevnik topology on one machine, from Debian packages (issue 7).
#
#   scripts/cluster/cluster.sh start DIR     build it; DIR/env describes it (sourceable)
#   scripts/cluster/cluster.sh stop DIR      stop every process it started (by PID), delete
#                                            its namespaces, bridge and DIR
#   scripts/cluster/cluster.sh status DIR    patronictl list + HAProxy backends
#   also: kill-app NODE | stop-app NODE | kill-primary [SITE] | start-pg SITE | cut SITE | heal SITE |
#         stop-redis SITE | start-redis SITE | switchover SITE | primary | psql [ARGS]
#
# Layout: a bridge in the root namespace (10.R.S.1: HAProxy, the load, psql) and three
# network namespaces joined to it by veth pairs: site a (10.R.S.11) and site b (.12),
# each with an etcd member, a PostgreSQL member under Patroni (as the postgres user),
# a Redis and two `dnevnik serve` nodes (--services auth,diary and diary,works; the
# balancer routes by path); site c (.13) holds only the third etcd
# member, the tie-breaker without which neither site alone has a majority.
# Cutting a site = setting its veth down: the site keeps running but nothing
# reaches it, exactly as a lost data-centre link.
# Env: DN_BIN (dnevnik binary, default build/dnevnik), CL_STUDENTS (500), CL_SCHOOLS (2).
# Invariant: every process started here has its PID in DIR/pids/; stop kills only those
# (and the postmasters whose postmaster.pid lives in our own data directories).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
SITES=(a b c)

die() { echo "cluster: $*" >&2; exit 1; }
log() { echo "cluster: $(date +%T) $*" >&2; }

# ---- state -----------------------------------------------------------------
load_state() {
  CL=$(cd "$1" && pwd)
  [ -f "$CL/env" ] || die "$CL/env missing (not a cluster dir)"
  # shellcheck disable=SC1091
  source "$CL/env"
}

ns_of() { echo "${CL_TAG}-$1"; }                 # netns name of a site
ip_of() { case "$1" in a) echo "$CL_NET.11" ;; b) echo "$CL_NET.12" ;; c) echo "$CL_NET.13" ;; esac; }
veth_of() { echo "${CL_TAG}$1"; }                # root-side veth of a site (<= 15 chars)

# run_bg NAME CMD...: start CMD in the background with its output in DIR/log/NAME.log
# and its PID in DIR/pids/NAME.pid. `ip netns exec` and setpriv exec, so $! is the PID
# of the service itself.
# Services start from $CL: PostgreSQL's programs (run by Patroni as postgres)
# fail with "could not identify current directory" when the caller's
# directory is a checkout postgres cannot enter (a clone under `mktemp -d`).
run_bg() {
  local name=$1; shift
  (cd "$CL" && exec "$@") >>"$CL/log/$name.log" 2>&1 </dev/null &
  echo $! >"$CL/pids/$name.pid"
}
in_ns() { local s=$1; shift; ip netns exec "$(ns_of "$s")" "$@"; }
as_pg() { (cd "$CL" && exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"); }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
kill_name() { # kill_name NAME [SIG]
  local f="$CL/pids/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  pid_alive "$pid" && kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  if [ "${2:-TERM}" = TERM ]; then
    for _ in $(seq 50); do pid_alive "$pid" || break; sleep 0.1; done
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
kill_group() { # kill_group PIDFILE...: SIGTERM all, wait up to 5 s for all, SIGKILL the rest
  local f pids=() p
  for f in "$@"; do [ -e "$f" ] && pids+=("$(cat "$f")") && rm -f "$f"; done
  [ ${#pids[@]} -gt 0 ] || return 0
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do pid_alive "$p" && alive=1; done
    [ "$alive" = 1 ] || return 0
    sleep 0.1
  done
  for p in "${pids[@]}"; do pid_alive "$p" && kill -KILL "$p" 2>/dev/null; done
  return 0
}
postmaster_pid() { head -1 "$CL/$1/pgdata/postmaster.pid" 2>/dev/null || true; }

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local t=$1 what=$2; shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { log "timed out waiting for $what"; return 1; }
    sleep 0.3
  done
}

# ---- network ---------------------------------------------------------------
net_up() {
  ip link add "$CL_BR" type bridge
  ip addr add "$CL_NET.1/24" dev "$CL_BR"
  ip link set "$CL_BR" up
  for s in "${SITES[@]}"; do
    ip netns add "$(ns_of "$s")"
    ip link add "$(veth_of "$s")" type veth peer name eth0 netns "$(ns_of "$s")"
    ip link set "$(veth_of "$s")" master "$CL_BR" up
    in_ns "$s" ip addr add "$(ip_of "$s")/24" dev eth0
    in_ns "$s" ip link set eth0 up
    in_ns "$s" ip link set lo up
    in_ns "$s" ip route add default via "$CL_NET.1"
  done
}

# ---- services --------------------------------------------------------------
start_etcd() {
  local s=$1 ip; ip=$(ip_of "$s")
  mkdir -p "$CL/$s/etcd"
  run_bg "etcd-$s" ip netns exec "$(ns_of "$s")" /usr/bin/etcd --name "$s" --data-dir "$CL/$s/etcd" \
    --listen-client-urls "http://$ip:2379" --advertise-client-urls "http://$ip:2379" \
    --listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
    --initial-cluster "a=http://$(ip_of a):2380,b=http://$(ip_of b):2380,c=http://$(ip_of c):2380" \
    --initial-cluster-token "$CL_TAG" --initial-cluster-state new \
    --heartbeat-interval 200 --election-timeout 2000 --pre-vote --logger zap --log-level warn
}

write_patroni_cfg() {
  local s=$1 ip; ip=$(ip_of "$s")
  mkdir -p "$CL/$s/sock"
  cat >"$CL/$s/patroni.yml" <<EOF
# generated by scripts/cluster/cluster.sh; production shape: deploy/patroni/patroni.yml
scope: dnevnik
namespace: /dnevnik/
name: pg-$s
log: {level: INFO}
restapi:
  listen: $ip:8008
  connect_address: $ip:8008
etcd3:
  hosts: [$(ip_of a):2379, $(ip_of b):2379, $(ip_of c):2379]
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    failsafe_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        max_connections: 200
  initdb: [{encoding: UTF8}, {locale: C.UTF-8}]
postgresql:
  listen: $ip:5432
  connect_address: $ip:5432
  data_dir: $CL/$s/pgdata
  bin_dir: $PGBIN
  pgpass: $CL/$s/pgpass
  authentication:
    superuser: {username: postgres, password: "$CL_PG_SUPER_PW"}
    replication: {username: replicator, password: "$CL_PG_REPL_PW"}
    rewind: {username: rewinder, password: "$CL_PG_REWIND_PW"}
  parameters:
    unix_socket_directories: $CL/$s/sock
    shared_buffers: 64MB
  pg_hba:
    - local all all trust
    - host replication replicator $CL_NET.0/24 scram-sha-256
    - host all all $CL_NET.0/24 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
tags: {nofailover: false, noloadbalance: false, clonefrom: false, nosync: false}
EOF
  chown -R postgres:postgres "$CL/$s"
  chmod 600 "$CL/$s/patroni.yml"
}

start_pg() {
  local s=$1
  run_bg "patroni-$s" ip netns exec "$(ns_of "$s")" setpriv --reuid=postgres --regid=postgres --init-groups \
    /usr/bin/patroni "$CL/$s/patroni.yml"
}

start_redis() {
  local s=$1 ip; ip=$(ip_of "$s")
  mkdir -p "$CL/$s/redis"
  run_bg "redis-$s" ip netns exec "$(ns_of "$s")" /usr/bin/redis-server --bind "$ip 127.0.0.1" --port 6379 \
    --dir "$CL/$s/redis" --save "" --appendonly no --protected-mode no --daemonize no --maxmemory 64mb \
    --maxmemory-policy allkeys-lru
}

write_haproxy_cfg() {
  local n
  cat >"$CL/haproxy.cfg" <<EOF
# generated by scripts/cluster/cluster.sh; production shape: deploy/haproxy/haproxy.cfg
global
    maxconn 4000
    stats socket $CL/haproxy.sock mode 600 level admin
defaults
    log global
    timeout connect 1s
    timeout client 30s
    timeout server 15s
    timeout check 1s
    retries 2
    option redispatch
frontend web
    mode http
    bind $CL_NET.1:8080
    # routing by path to the service roles, as deploy/haproxy/haproxy.cfg does
    acl is_auth  path_beg /api/v1/auth/ /api/v1/invites/
    acl is_auth  path /api/v1/me
    acl is_works path_beg /api/v1/works /api/v1/files
    acl is_works path_end /attachments
    acl is_works path_reg ^/api/v1/checkpoints/[^/]+/works\$
    use_backend auth_live  if is_auth  { nbsrv(auth) eq 0 }
    use_backend auth       if is_auth
    use_backend works_live if is_works { nbsrv(works) eq 0 }
    use_backend works      if is_works
    use_backend diary_live if { nbsrv(diary) eq 0 }
    default_backend diary
frontend stats
    mode http
    bind $CL_NET.1:8404
    http-request use-service prometheus-exporter if { path /metrics }
    stats enable
    stats uri /stats
EOF
  # Each role's backend holds the nodes serving it (node_services); its *_live twin
  # holds the same nodes checked for liveness (/healthz) and takes the traffic only
  # when every node fails /readyz (the primary is moving, so the store ping fails):
  # reads can still be answered from replicas instead of a blanket 503.
  # No shutdown-sessions on app nodes: a node failing /readyz finishes its requests.
  local role chk sfx
  for role in auth diary works; do
    for sfx in "" _live; do
      chk=/readyz; [ -z "$sfx" ] || chk=/healthz
      cat >>"$CL/haproxy.cfg" <<EOF
backend $role$sfx
    mode http
    balance roundrobin
    option httpchk GET $chk
    http-check expect status 200
    # a connection refused / reset before any answer is safe to retry on another node
    retry-on conn-failure empty-response
    default-server inter 1s fall 2 rise 1
EOF
      for s in a b; do for n in 1 2; do
        case ",$(node_services "$n")," in *",$role,"*)
          echo "    server $s$n $(ip_of "$s"):808$n check" >>"$CL/haproxy.cfg" ;;
        esac
      done; done
    done
  done
  cat >>"$CL/haproxy.cfg" <<EOF
frontend pg_primary_port
    mode tcp
    bind $CL_NET.1:5000
    timeout client 30m
    default_backend pg_primary
# Reads that tolerate staleness: the replicas, or the primary while there is no
# replica at all (right after a failover of a two-member cluster the only replica
# has just become the primary); no client sees an empty pool.
frontend pg_replica_port
    mode tcp
    bind $CL_NET.1:5001
    timeout client 30m
    use_backend pg_replicas if { nbsrv(pg_replicas) gt 0 }
    default_backend pg_primary
backend pg_primary
    mode tcp
    option httpchk OPTIONS /primary
    http-check expect status 200
    timeout server 30m
    # a session whose server vanished with its site (no RST ever comes) is closed
    # within seconds instead of holding the client for timeout server: keepalive when
    # idle, tcp-ut (TCP_USER_TIMEOUT) when a query is unacknowledged. Seen in the
    # topology test: sessions opened just before the cut outlived on-marked-down and
    # stalled every store worker of the surviving site.
    option srvtcpka
    srvtcpka-idle 5s
    srvtcpka-intvl 1s
    srvtcpka-cnt 3
    # a session whose server vanished with its site (no RST ever comes) is closed
    # within seconds instead of holding the client for timeout server: keepalive when
    # idle, tcp-ut (TCP_USER_TIMEOUT) when a query is unacknowledged. Seen in the
    # topology test: sessions opened just before the cut outlived on-marked-down and
    # stalled every store worker of the surviving site.
    option srvtcpka
    srvtcpka-idle 5s
    srvtcpka-intvl 1s
    srvtcpka-cnt 3
    # no shutdown-sessions: a replica marked down because it was just promoted keeps
    # serving its open read sessions (a dead one breaks them by itself); cutting them
    # made every replica read fail at the moment of promotion
    default-server inter 1s fall 2 rise 1 tcp-ut 5s
    server pg-a $(ip_of a):5432 check port 8008
    server pg-b $(ip_of b):5432 check port 8008
backend pg_replicas
    mode tcp
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
    timeout server 30m
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions tcp-ut 5s
    server pg-a $(ip_of a):5432 check port 8008
    server pg-b $(ip_of b):5432 check port 8008
EOF
}

start_haproxy() {
  write_haproxy_cfg
  haproxy -c -f "$CL/haproxy.cfg" >/dev/null
  run_bg haproxy haproxy -Ws -db -f "$CL/haproxy.cfg"
}

# Node n of each site: 1 = auth,diary and 2 = diary,works (every role on two nodes in
# each site; the balancer routes by path). A binary without --services serves all.
node_services() { [ "$1" = 1 ] && echo auth,diary || echo diary,works; }

# dnevnik's HA options appear as issue 7's app half lands; use whichever this binary has.
app_has() { grep -q -- "$1" "$CL/serve-help.txt"; }

start_app() {
  local s=$1 n=$2 ip args=(); ip=$(ip_of "$s")
  mkdir -p "$CL/$s/app$n"
  # the URLs hold passwords: environment, never the command line (ps shows it)
  # Behind HAProxy every connection comes from the balancer's address: a per-address
  # cap there would cap the whole site (HAProxy limits clients itself).
  local envs=(DNEVNIK_DB="$CL_DB_URL" DNEVNIK_MAX_CONNECTIONS_PER_ADDRESS=0)
  args=(--listen "$ip:808$n" --data-dir "$CL/$s/app$n" --threads 1 --workers 4
    --access-log "" --log-file "$CL/log/app-$s$n.json" --shutdown-timeout 3000)
  if app_has "--db-replica"; then envs+=(DNEVNIK_DB_REPLICA="$CL_DB_REPLICA_URL"); fi
  if app_has "--redis "; then envs+=(DNEVNIK_REDIS="redis://$ip:6379"); fi
  if app_has "--services "; then args+=(--services "$(node_services "$n")"); fi
  run_bg "app-$s$n" ip netns exec "$(ns_of "$s")" env DNEVNIK_JWT_KEY="$CL_JWT_KEY" DNEVNIK_RATE_LIMIT=0 "${envs[@]}" \
    "$DN_BIN" serve "${args[@]}"
}

primary_site() { # which site's Patroni says it is the primary (REST /primary = 200)
  local s
  for s in a b; do
    if curl -sf -m 1 -X OPTIONS "http://$(ip_of "$s"):8008/primary" >/dev/null 2>&1; then echo "$s"; return 0; fi
  done
  return 1
}
is_replica() { curl -sf -m 1 -X OPTIONS "http://$(ip_of "$1"):8008/replica" >/dev/null 2>&1; }
is_sync_standby() { curl -sf -m 1 "http://$(ip_of "$1"):8008/sync" >/dev/null 2>&1; }
psql_cl() { PGPASSWORD=$CL_PG_SUPER_PW "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$CL_NET.1" -p 5000 -U postgres "$@"; }
app_ready() { curl -sf -m 1 "http://$(ip_of "$1"):808$2/readyz" >/dev/null; }

cmd_start() {
  local dir=$1
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, the postgres user)"
  for b in /usr/bin/patroni /usr/bin/etcd /usr/sbin/haproxy /usr/bin/redis-server "$PGBIN/postgres"; do
    [ -x "$b" ] || die "$b missing: scripts/install-deps.sh test"
  done
  mkdir -p "$dir"
  CL=$(cd "$dir" && pwd)
  [ ! -e "$CL/env" ] || die "$CL already holds a cluster"
  mkdir -p "$CL/pids" "$CL/log"
  chmod 755 "$CL"
  DN_BIN=${DN_BIN:-$ROOT/build/dnevnik}
  DN_BIN=$(readlink -f "$DN_BIN")
  local tag rnd net
  # a random tag and /24 so that several topologies (other test runs) can coexist
  for _ in $(seq 20); do
    rnd=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    tag=dnc$(printf '%04x' "$rnd")
    net="10.$((200 + rnd % 50)).$((rnd / 50 % 250 + 1))"
    ip -4 addr show | grep -q "inet $net\." || ip netns list | grep -q "^$tag-" || break
  done
  cat >"$CL/env" <<EOF
CL_TAG=$tag
CL_BR=${tag}br
CL_NET=$net
DN_BIN=$DN_BIN
CL_PG_SUPER_PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
CL_PG_REPL_PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
CL_PG_REWIND_PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
CL_APP_PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
CL_JWT_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
EOF
  # shellcheck disable=SC1091
  source "$CL/env"
  cat >>"$CL/env" <<EOF
CL_DB_URL=postgresql://dnevnik:$CL_APP_PW@$CL_NET.1:5000/dnevnik?connect_timeout=2
CL_DB_REPLICA_URL=postgresql://dnevnik:$CL_APP_PW@$CL_NET.1:5001/dnevnik?connect_timeout=2
CL_HTTP=http://$CL_NET.1:8080
CL_HAPROXY_METRICS=http://$CL_NET.1:8404/metrics
EOF
  source "$CL/env"
  "$DN_BIN" serve --help >"$CL/serve-help.txt" 2>&1 || true
  local t0=$SECONDS
  log "network $CL_NET.0/24, namespaces $(ns_of a) $(ns_of b) $(ns_of c)"
  net_up
  for s in "${SITES[@]}"; do start_etcd "$s"; done
  wait_for 30 "etcd quorum" env ETCDCTL_API=3 etcdctl --endpoints "http://$(ip_of a):2379,http://$(ip_of b):2379" \
    --dial-timeout 1s endpoint health
  write_patroni_cfg a; write_patroni_cfg b
  as_pg test -r "$CL/a/patroni.yml" || die "the postgres user cannot read $CL/a (a parent directory is private)"
  start_pg a
  wait_for 60 "the first PostgreSQL primary" primary_site
  start_pg b
  for s in a b; do start_redis "$s"; done
  start_haproxy
  wait_for 60 "pg-b streaming as the synchronous standby" is_sync_standby b
  wait_for 20 "HAProxy primary port" psql_cl -c "SELECT 1"
  log "PostgreSQL up ($((SECONDS - t0)) s): primary $(primary_site), sync standby b"
  psql_cl -c "CREATE ROLE dnevnik LOGIN PASSWORD '$CL_APP_PW'" -c "CREATE DATABASE dnevnik OWNER dnevnik"
  DNEVNIK_DB=$CL_DB_URL "$DN_BIN" migrate >"$CL/log/migrate.log" 2>&1 || die "migrate failed: $(tail -3 "$CL/log/migrate.log")"
  DNEVNIK_DB=$CL_DB_URL "$DN_BIN" gen --schools "${CL_SCHOOLS:-2}" --students "${CL_STUDENTS:-500}" \
    --logins-out "$CL/logins.csv" >"$CL/log/gen.log" 2>&1 || die "gen failed: $(tail -3 "$CL/log/gen.log")"
  log "data: ${CL_STUDENTS:-500} students in ${CL_SCHOOLS:-2} schools ($((SECONDS - t0)) s)"
  for s in a b; do for n in 1 2; do start_app "$s" "$n"; done; done
  for s in a b; do for n in 1 2; do wait_for 30 "app $s$n /readyz" app_ready "$s" "$n"; done; done
  wait_for 10 "HAProxy app frontend" curl -sf -m 1 "$CL_HTTP/readyz"
  log "topology up in $((SECONDS - t0)) s: $CL_HTTP"
}

cmd_stop() {
  local dir=$1
  [ -f "$dir/env" ] || { echo "cluster: nothing at $dir"; return 0; }
  load_state "$dir"
  local pms=() s
  # app nodes and HAProxy first, then Patroni (it stops its PostgreSQL), then the rest;
  # each group is signalled at once and waited for together (5 s, then SIGKILL)
  kill_group "$CL"/pids/app-*.pid "$CL"/pids/haproxy.pid
  for s in a b; do pms+=("$(postmaster_pid "$s")"); done
  kill_group "$CL"/pids/patroni-*.pid
  # Patroni stops PostgreSQL on SIGTERM; a postmaster left behind (Patroni was killed
  # earlier) is ours by its data directory: stop it fast.
  for s in 0 1; do
    local pm=${pms[$s]} site; site=$([ "$s" = 0 ] && echo a || echo b)
    if pid_alive "$pm" && grep -q "$CL/$site/pgdata" "/proc/$pm/cmdline" 2>/dev/null; then
      kill -QUIT "$pm" 2>/dev/null || true
      for _ in $(seq 50); do pid_alive "$pm" || break; sleep 0.1; done
      pid_alive "$pm" && kill -KILL "$pm" 2>/dev/null || true
    fi
  done
  kill_group "$CL"/pids/*.pid
  for s in "${SITES[@]}"; do
    ip netns del "$(ns_of "$s")" 2>/dev/null || true
    ip link del "$(veth_of "$s")" 2>/dev/null || true
  done
  ip link del "$CL_BR" 2>/dev/null || true
  rm -rf "$CL"
}

cmd_kill_primary() { # kill -9 Patroni and the postmaster of site $1 (default: the primary's)
  local s=${1:-} pm
  [ -n "$s" ] || s=$(primary_site) || die "no primary"
  pm=$(postmaster_pid "$s")
  kill -KILL "$(cat "$CL/pids/patroni-$s.pid")" 2>/dev/null || true
  [ -n "$pm" ] && kill -KILL "$pm" 2>/dev/null || true
  rm -f "$CL/pids/patroni-$s.pid"
  echo "$s"
}

main() {
  local cmd=${1:-}; shift || true
  case "$cmd" in
    start) [ $# -ge 1 ] || die "usage: start DIR"; cmd_start "$1" ;;
    stop) [ $# -ge 1 ] || die "usage: stop DIR"; cmd_stop "$1" ;;
    status) load_state "$1"; PATRONICTL_CONFIG_FILE=$CL/a/patroni.yml patronictl -c "$CL/a/patroni.yml" list || true
      curl -s "http://$CL_NET.1:8404/stats;csv" | cut -d, -f1,2,18 || true ;;
    primary) load_state "$1"; primary_site ;;
    kill-primary) load_state "$1"; cmd_kill_primary "${2:-}" ;;
    kill-app) load_state "$1"; kill_name "app-$2" KILL ;;
    stop-app) load_state "$1" # SIGTERM: the node drains (readiness fails first), then exits
      pid=$(cat "$CL/pids/app-$2.pid"); kill -TERM "$pid"
      for _ in $(seq 150); do pid_alive "$pid" || break; sleep 0.1; done
      pid_alive "$pid" && die "app-$2 still running 15 s after SIGTERM"
      rm -f "$CL/pids/app-$2.pid" ;;
    start-app) load_state "$1"; start_app "${2:0:1}" "${2:1:1}" ;;
    start-pg) load_state "$1"; start_pg "$2" ;;
    cut) load_state "$1"; ip link set "$(veth_of "$2")" down ;;
    heal) load_state "$1"; ip link set "$(veth_of "$2")" up ;;
    stop-redis) load_state "$1"; kill_name "redis-$2" ;;
    start-redis) load_state "$1"; start_redis "$2" ;;
    is-replica) load_state "$1"; is_replica "$2" ;;
    is-sync) load_state "$1"; is_sync_standby "$2" ;;
    switchover) load_state "$1"
      patronictl -c "$CL/a/patroni.yml" switchover --candidate "pg-$2" --force dnevnik ;;
    psql) load_state "$1"; shift; psql_cl "$@" ;;
    *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; [ -z "$cmd" ] || exit 2 ;;
  esac
}

# Sourced by the test suite for its helpers; executed as a command otherwise.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
