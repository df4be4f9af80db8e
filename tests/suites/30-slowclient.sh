#!/usr/bin/env bash
# 30-slowclient: hundreds of connections trickling headers/bodies a byte at a
# time (or idle) while a normal client keeps making requests: no normal
# request may fail, every slow connection must be cut within
# --request-timeout + margin, server RSS stays bounded. p50/p99 with and
# without the slow clients are printed (reported, not asserted).
# Driver: tests/slowclient/slowclient.mjs. Short (make test): 320 slow
# connections for 8 s on the normal build and 300 on the ASan build; long:
# 1000 for 30 s.
set -uo pipefail
cd "$(dirname "$0")/../.."

mode=${DN_SUITE_MODE:-short}
bin=${DN_BIN:-build/dnevnik}
asan=${DN_ASAN_BIN:-}
if [ "$mode" = long ]; then slow=1000 secs=30 addrs=8; else slow=320 secs=8 addrs=4; fi
out=${DN_SLOWCLIENT_OUT:-build/slowclient}
mkdir -p "$out"

passed=0 failed=0
run() { # NAME BIN SLOW SECONDS JSON MAX_RSS_MB
  echo "--- $1"
  if DN_BIN=$2 timeout -k 10 $(($4 * 2 + 90)) node tests/slowclient/slowclient.mjs --slow "$3" --seconds "$4" \
      --addresses "$addrs" --json "$5" --max-rss-mb "$6"; then
    passed=$((passed + 1)); echo "ok: $1"
  else
    failed=$((failed + 1)); echo "FAIL: $1"
  fi
}

run "slow clients ($slow, normal build)" "$bin" "$slow" "$secs" "$out/normal.json" 256
if [ -n "$asan" ] && [ -x "$asan" ]; then
  # ASan keeps freed memory in quarantine (256 MiB by default): its RSS says little about ours.
  run "slow clients (300, ASan build)" "$asan" 300 "$secs" "$out/asan.json" 1536
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
