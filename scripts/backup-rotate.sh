#!/usr/bin/env bash
# backup-rotate.sh - one scheduled backup of the embedded store plus retention.
#
# Takes `dnevnik backup` into ROOT/daily/DATE, then keeps it also as
# ROOT/weekly/DATE on Sundays and ROOT/monthly/DATE on the 1st of a month (hard
# links: a finished backup is never modified, so the copies share their bytes),
# and prunes each tier to its newest N (default 7 daily, 4 weekly, 12 monthly).
# A failed backup prunes nothing; leftovers of a killed one are removed. See docs/backup.md.
#
#   scripts/backup-rotate.sh --root /var/backups/dnevnik [--daily 7] [--weekly 4] [--monthly 12] \
#       [--date YYYY-MM-DD] -- --config /etc/dnevnik/dnevnik.conf      (options after -- go to dnevnik backup)
# Env: DNEVNIK_BIN (default: dnevnik on PATH).
set -euo pipefail

root="" daily=7 weekly=4 monthly=12 date=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --daily) daily=$2; shift 2 ;;
    --weekly) weekly=$2; shift 2 ;;
    --monthly) monthly=$2; shift 2 ;;
    --date) date=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "backup-rotate: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$root" ] || { echo "backup-rotate: --root DIR is required" >&2; exit 2; }
date=${date:-$(date -u +%F)}
bin=${DNEVNIK_BIN:-dnevnik}
umask 077
mkdir -p "$root/daily" "$root/weekly" "$root/monthly"

# a backup killed half-way leaves DATE.partial-PID: remove those whose process is gone
for part in "$root"/daily/*.partial-*; do
  [ -e "$part" ] || continue
  kill -0 "${part##*.partial-}" 2>/dev/null || rm -rf -- "$part"
done

out="$root/daily/$date"
if [ -e "$out" ]; then
  echo "backup-rotate: $out exists (already backed up today)" >&2
  exit 1
fi
"$bin" backup --out "$out" "$@"

if [ "$(date -u -d "$date" +%u)" = 7 ] && [ ! -e "$root/weekly/$date" ]; then cp -al "$out" "$root/weekly/$date"; fi
if [ "$(date -u -d "$date" +%d)" = 01 ] && [ ! -e "$root/monthly/$date" ]; then cp -al "$out" "$root/monthly/$date"; fi

# keep the newest N of a tier (names are dates, so name order is age order)
prune() {
  local dir=$1 keep=$2
  ls -1 "$dir" | { grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' || true; } | sort | head -n "-$keep" | while read -r old; do
    rm -rf -- "${dir:?}/$old"
  done
}
prune "$root/daily" "$daily"
prune "$root/weekly" "$weekly"
prune "$root/monthly" "$monthly"
