#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for tests.
#
#   scripts/pg-test-cluster.sh start DIR     init (if needed) + start; prints the URL
#   scripts/pg-test-cluster.sh stop DIR      stop (fast, then immediate); keeps files
#   scripts/pg-test-cluster.sh destroy DIR   stop + delete DIR (only a DIR we created)
#   scripts/pg-test-cluster.sh status DIR    exit 0 when running
#   scripts/pg-test-cluster.sh url DIR       print the URL of a started cluster
#
# Layout: DIR/data (PGDATA), DIR/sock (unix socket), DIR/postgres.log,
# DIR/url. The server listens on 127.0.0.1 only, on a free port, with trust
# auth (loopback + its private socket dir), fsync on, and has a database
# `dnevnik_test`. URL: postgresql://postgres@127.0.0.1:PORT/dnevnik_test
# As root, everything runs as the `postgres` user (initdb refuses root) and
# DIR is chowned to it; as another user, the cluster runs as that user with
# a superuser role still named `postgres`.
# Env: PG_BINDIR (default /usr/lib/postgresql/15/bin), PG_TEST_DB.
set -euo pipefail

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
DBNAME=${PG_TEST_DB:-dnevnik_test}
MARKER=.dnevnik-pg-test-cluster

die() { echo "pg-test-cluster: $*" >&2; exit 1; }

[ $# -ge 2 ] || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
cmd=$1
dir=$2

if [ "$cmd" = start ]; then
  mkdir -p "$dir"
elif [ ! -d "$dir" ]; then
  [ "$cmd" = stop ] && exit 0
  die "no such directory: $dir"
fi
dir=$(cd "$dir" && pwd -P)
data=$dir/data
sock=$dir/sock

if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (is postgresql-15 installed?)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

pg_running() {
  [ -f "$data/PG_VERSION" ] && as_pg "$PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

print_url() {
  [ -f "$dir/url" ] || die "no URL in $dir (not started?)"
  cat "$dir/url"
}

start() {
  [ -x "$PG_BINDIR/initdb" ] || die "$PG_BINDIR/initdb not found (install postgresql-15)"
  if pg_running; then
    print_url
    return
  fi
  # Unix socket paths are limited to 107 bytes.
  [ ${#sock} -le 80 ] || die "DIR path too long for a unix socket dir: $dir"
  touch "$dir/$MARKER"
  mkdir -p "$sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$dir"
    as_pg test -w "$dir" ||
      die "$dir is not reachable by user postgres (a parent directory is not traversable); use e.g. a mktemp -d dir under /tmp"
  fi
  chmod 700 "$dir" "$sock"

  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$PG_BINDIR/initdb" -D "$data" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    cat >"$dir/pg_hba.conf.tmp" <<'EOF'
# throwaway test cluster: trust on its private unix socket and 127.0.0.1 only
local   all all              trust
host    all all 127.0.0.1/32 trust
EOF
    as_pg cp "$dir/pg_hba.conf.tmp" "$data/pg_hba.conf"
    rm -f "$dir/pg_hba.conf.tmp"
    echo "include_if_exists = 'dnevnik-test.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
  fi

  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    as_pg tee "$data/dnevnik-test.conf" >/dev/null <<EOF
# written by scripts/pg-test-cluster.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
fsync = on
max_connections = 300
shared_buffers = '64MB'
logging_collector = off
log_min_messages = warning
log_connections = off
EOF
    if as_pg "$PG_BINDIR/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 -s start >/dev/null 2>&1; then
      break
    fi
    if [ "$attempt" = 5 ] || ! grep -qi "address already in use\|could not bind" "$dir/postgres.log" 2>/dev/null; then
      tail -n 30 "$dir/postgres.log" >&2 2>/dev/null || true
      die "pg_ctl start failed"
    fi
  done

  local psql=("$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
  if [ "$("${psql[@]}" -d postgres -Atc "select 1 from pg_database where datname = '$DBNAME'")" != 1 ]; then
    "${psql[@]}" -d postgres -c "CREATE DATABASE \"$DBNAME\"" >/dev/null
  fi
  echo "postgresql://postgres@127.0.0.1:$port/$DBNAME" >"$dir/url"
  echo "$port" >"$dir/port"
  print_url
}

stop() {
  [ -f "$data/PG_VERSION" ] || return 0
  if pg_running; then
    as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 30 -s stop >/dev/null 2>&1 ||
      as_pg "$PG_BINDIR/pg_ctl" -D "$data" -m immediate -w -t 30 -s stop >/dev/null 2>&1 ||
      die "could not stop the cluster in $dir"
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  destroy)
    stop
    if [ -f "$dir/$MARKER" ]; then
      rm -rf "$dir"
    else
      die "$dir was not created by this script; not deleting it"
    fi ;;
  status) pg_running ;;
  url) print_url ;;
  *) die "unknown command '$cmd' (start|stop|destroy|status|url)" ;;
esac
