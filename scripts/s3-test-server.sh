#!/usr/bin/env bash
# Throwaway S3-compatible server (npm s3rver) for the file-store tests.
#
#   scripts/s3-test-server.sh start DIR   start on a free loopback port; prints the endpoint URL
#   scripts/s3-test-server.sh stop DIR    stop it (and remove DIR/data)
#
# Layout: DIR/data (objects), DIR/pid, DIR/url, DIR/s3rver.log. The bucket is
# $S3_TEST_BUCKET (default dnevnik-test); credentials are s3rver's defaults
# S3RVER/S3RVER. s3rver checks that requests are signed but does not verify
# the secret, so passing tests here do not prove the signatures are right.
set -euo pipefail

BUCKET=${S3_TEST_BUCKET:-dnevnik-test}
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
BIN=$ROOT/node_modules/.bin/s3rver

die() { echo "s3-test-server: $*" >&2; exit 1; }

[ $# -ge 2 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
cmd=$1
dir=$2

case "$cmd" in
  start)
    [ -x "$BIN" ] || die "s3rver is not installed (npm install)"
    mkdir -p "$dir/data"
    dir=$(cd "$dir" && pwd -P)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    setsid "$BIN" -d "$dir/data" -a 127.0.0.1 -p "$port" --configure-bucket "$BUCKET" \
      >"$dir/s3rver.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
      if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        echo "http://127.0.0.1:$port" | tee "$dir/url"
        exit 0
      fi
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || die "s3rver exited: $(tail -5 "$dir/s3rver.log")"
      sleep 0.1
    done
    die "s3rver did not start listening on port $port"
    ;;
  stop)
    [ -d "$dir" ] || exit 0
    if [ -f "$dir/pid" ]; then
      pid=$(cat "$dir/pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/pid"
    fi
    rm -rf "$dir/data"
    ;;
  *) die "unknown command $cmd (start|stop)" ;;
esac
