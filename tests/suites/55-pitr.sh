#!/usr/bin/env bash
# 55-pitr.sh - PostgreSQL backup and point-in-time recovery, as docs/operations.md
# describes it (see tests/suites/README.md for the suite contract).
#
# A throwaway PostgreSQL (scripts/pg-test-cluster.sh) with WAL archiving on; dnevnik's
# schema and a small generated school; a base backup with the shipped
# deploy/backup/dnevnik-pg-backup (pg_basebackup + pg_verifybackup); then through a
# running dnevnik: marks set A, note the time T, marks set B; restore with
# deploy/backup/dnevnik-pg-restore-pitr to T beside the original, start it and check
# that exactly set A is there (all of A, none of B), that it was promoted (writable)
# and that dnevnik serves from it.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
DN_BIN=${DN_BIN:-$ROOT/build/dnevnik}
PGBIN=/usr/lib/postgresql/15/bin
N=${PITR_MARKS:-20}
W=$(mktemp -d /tmp/dnevnik-pitr.XXXXXX)
chmod 711 "$W"
SRV_PID=
passed=0 failed=0
T_START=$SECONDS

verdict() { if [ "$2" = 1 ]; then passed=$((passed + 1)); echo "pitr: PASS $1: $3"; else failed=$((failed + 1)); echo "pitr: FAIL $1: $3"; fi; }
finish() {
  echo "pitr: suite time $((SECONDS - T_START)) s"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]; exit $?
}
cleanup() {
  if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
  scripts/pg-test-cluster.sh destroy "$W/src" >/dev/null 2>&1
  scripts/pg-test-cluster.sh destroy "$W/dst" >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" = 0 ]; then as_pg() { (cd "$W" && runuser -u postgres -- "$@"); }; else as_pg() { (cd "$W" && "$@"); }; fi
# The backup scripts run as postgres, which may not be able to enter the
# checkout (a clone under a 0700 directory such as `mktemp -d`): run copies.
mkdir -p "$W/bin"
cp deploy/backup/dnevnik-pg-backup deploy/backup/dnevnik-pg-restore-pitr "$W/bin/"
chmod 755 "$W/bin" "$W/bin/"*
[ -x "$PGBIN/pg_basebackup" ] || { verdict "setup" 0 "PostgreSQL 15 missing"; finish; }
[ -x "$DN_BIN" ] || { verdict "setup" 0 "no dnevnik binary at $DN_BIN"; finish; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
q() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$1" -c "$2"; }
serve() { # serve URL: a dnevnik node on the database; sets SRV_PID and BASE
  local port; port=$(free_port)
  mkdir -p "$W/app"
  DNEVNIK_RATE_LIMIT=0 "$DN_BIN" serve --listen "127.0.0.1:$port" --db "$1" --data-dir "$W/app" \
    --threads 1 --access-log "" --log-file "$W/app.log" &
  SRV_PID=$!
  BASE=http://127.0.0.1:$port
  for _ in $(seq 100); do curl -sf -m 1 "$BASE/readyz" >/dev/null && return 0; sleep 0.2; done
  return 1
}
stop_serve() { kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=; }

# ---- the source cluster, with WAL archiving ----------------------------------------
mkdir -p "$W/archive" "$W/backups"
[ "$(id -u)" = 0 ] && chown postgres: "$W/archive" "$W/backups"
url=$(scripts/pg-test-cluster.sh start "$W/src") || { verdict "setup" 0 "could not start PostgreSQL"; finish; }
q "$url" "ALTER SYSTEM SET archive_mode = 'on'" &&
  q "$url" "ALTER SYSTEM SET archive_command = 'test ! -f $W/archive/%f && cp %p $W/archive/%f'" &&
  q "$url" "ALTER SYSTEM SET archive_timeout = 0" || { verdict "setup" 0 "ALTER SYSTEM failed"; finish; }
# pg_basebackup uses a replication connection: allow it on the private socket
echo "local replication all trust" | as_pg tee -a "$W/src/data/pg_hba.conf" >/dev/null
scripts/pg-test-cluster.sh stop "$W/src" && url=$(scripts/pg-test-cluster.sh start "$W/src") ||
  { verdict "setup" 0 "restart with archiving failed"; finish; }
port=$(cat "$W/src/port")
"$DN_BIN" migrate --db "$url" >"$W/migrate.log" 2>&1 &&
  "$DN_BIN" gen --db "$url" --schools 1 --students 60 >"$W/gen.log" 2>&1 ||
  { tail -5 "$W/migrate.log" "$W/gen.log"; verdict "setup" 0 "migrate/gen failed"; finish; }
"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$url" -f scripts/cluster/plan.sql >"$W/plan.json" ||
  { verdict "setup" 0 "plan.sql failed"; finish; }

# ---- base backup -----------------------------------------------------------------------
t=$SECONDS
bk=$(as_pg env ARCHIVE="$W/archive" "$W/bin/dnevnik-pg-backup" "$W/backups" \
  "host=$W/src/sock port=$port user=postgres" 2>"$W/backup.log"); rc=$?
verdict "base backup (dnevnik-pg-backup: pg_basebackup + pg_verifybackup)" $((rc == 0)) \
  "$bk in $((SECONDS - t)) s, $(du -sh "$bk" 2>/dev/null | cut -f1)"
[ "$rc" = 0 ] || { cat "$W/backup.log"; finish; }

# ---- writes: set A, the moment T, set B ------------------------------------------------
serve "$url" || { verdict "dnevnik on the source" 0 "no /readyz"; finish; }
a=$(node scripts/cluster/marks.mjs "$BASE" "$W/plan.json" pitrA "$N"); rca=$?
sleep 1.2
T=$(q "$url" "SELECT now()::text")
sleep 1.2
b=$(node scripts/cluster/marks.mjs "$BASE" "$W/plan.json" pitrB "$N"); rcb=$?
stop_serve
verdict "writes acknowledged" $((rca == 0 && rcb == 0)) "set A $a/$N before $T, set B $b/$N after"
# close the WAL segment holding set B and wait until it is archived
seg=$(q "$url" "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 100); do
  [ -f "$W/archive/$seg" ] && break; sleep 0.2
done
verdict "WAL archived" "$([ -f "$W/archive/$seg" ] && echo 1 || echo 0)" \
  "$(ls "$W/archive" | grep -c '^[0-9A-F]\{24\}$') segments, up to $seg"
scripts/pg-test-cluster.sh stop "$W/src"

# ---- restore beside it to T --------------------------------------------------------------
mkdir -p "$W/dst"
[ "$(id -u)" = 0 ] && chown postgres: "$W/dst"
t=$SECONDS
as_pg "$W/bin/dnevnik-pg-restore-pitr" "$bk" "$W/dst/data" "$W/archive" "$T" 2>"$W/restore.log" ||
  { cat "$W/restore.log"; verdict "restore" 0 "dnevnik-pg-restore-pitr failed"; finish; }
rurl=$(scripts/pg-test-cluster.sh start "$W/dst" 2>"$W/dst-start.log") ||
  { cat "$W/dst-start.log"; tail -20 "$W/dst/postgres.log"; verdict "restore" 0 "the restored server did not start"; finish; }
for _ in $(seq 150); do
  [ "$(q "$rurl" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break; sleep 0.2
done
promoted=$(q "$rurl" "SELECT NOT pg_is_in_recovery()")
verdict "restored to T and promoted" "$([ "$promoted" = t ] && echo 1 || echo 0)" \
  "recovery to $T took $((SECONDS - t)) s; $(grep -m1 -o 'recovery stopping before commit[^,]*' "$W/dst/postgres.log" || echo 'no stop message')"
ca=$(q "$rurl" "SELECT count(*) FROM marks WHERE comment LIKE 'pitrA-%'")
cb=$(q "$rurl" "SELECT count(*) FROM marks WHERE comment LIKE 'pitrB-%'")
verdict "exactly the first set present" "$([ "$ca" = "$N" ] && [ "$cb" = 0 ] && echo 1 || echo 0)" \
  "set A $ca/$N present, set B $cb/$N present (expected $N and 0)"
serve "$rurl" && c=$(node scripts/cluster/marks.mjs "$BASE" "$W/plan.json" pitrC 1); rc=$?
stop_serve
verdict "dnevnik serves and writes on the restored database" $((rc == 0)) "one more mark acknowledged: ${c:-0}"
finish
