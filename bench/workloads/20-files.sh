#!/usr/bin/env bash
# Workload "files": upload and download throughput of 20 MB files, and the
# server's peak RSS while 50 clients upload 20 MB each at the same time.
# Local disk backend, SQLite. Each upload body is distinct (a counter in the
# first bytes), so every upload is hashed, written, fsynced and recorded.
# Clients that get 503 (the upload concurrency cap) retry after Retry-After.
# Env: BENCH_FILES_MB (20), BENCH_FILES_SEQ (10 sequential transfers),
# BENCH_FILES_CONC (50 concurrent uploads).
# bench-timeout: 900
set -euo pipefail
source "$BENCH_LIB/common.sh"

MB=${BENCH_FILES_MB:-20}
SEQ=${BENCH_FILES_SEQ:-10}
CONC=${BENCH_FILES_CONC:-50}
LOGIN=bench
PASSWORD=bench-password-1

DNEVNIK_BOOTSTRAP_ADMIN=$LOGIN:$PASSWORD start_dnevnik files --upload-quota 0 --file-max-size "${MB}m"
base=http://127.0.0.1:$DN_PORT
token=$(curl -fsS --max-time 10 -H 'content-type: application/json' \
  -d "{\"login\":\"$LOGIN\",\"password\":\"$PASSWORD\"}" "$base/api/v1/auth/login" |
  python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])') || die "login failed"

client=$BENCH_TMP/files-client.py
cat >"$client" <<'PY'
# files-client.py MODE N MB BASE TOKEN: MODE seq-up | seq-down ID | conc-up.
# Prints key=value lines: mb_s, ok, rejected_503, retries, seconds, id.
import http.client, os, sys, threading, time, json
mode, n, mb, base, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
host, port = base.split("//")[1].split(":")
size = mb * 1024 * 1024 - 1  # just under the limit, which is --file-max-size bytes
tail = os.urandom(size - 16)

def body(i):
    return b"%PDF-" + ("%011d" % i).encode() + tail

def upload(i, stats):
    data = body(i)
    for attempt in range(30):
        c = http.client.HTTPConnection(host, int(port), timeout=300)
        c.request("POST", "/api/v1/files?name=bench-%d.pdf" % i, body=data,
                  headers={"authorization": "Bearer " + token, "content-type": "application/pdf"})
        r = c.getresponse()
        payload = r.read()
        c.close()
        if r.status == 201:
            stats["ok"] += 1
            stats["id"] = json.loads(payload)["id"]
            return
        if r.status == 503:
            stats["rejected_503"] += 1
            time.sleep(float(r.getheader("retry-after") or 1))
            continue
        stats["errors"] += 1
        sys.stderr.write("upload %d: HTTP %d %s\n" % (i, r.status, payload[:200]))
        return

stats = {"ok": 0, "rejected_503": 0, "errors": 0, "id": 0}
t0 = time.monotonic()
if mode == "seq-up":
    for i in range(n):
        upload(i, stats)
elif mode == "conc-up":
    threads = [threading.Thread(target=upload, args=(1000 + i, stats)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
elif mode == "seq-down":
    fid = sys.argv[6]
    for i in range(n):
        c = http.client.HTTPConnection(host, int(port), timeout=300)
        c.request("GET", "/api/v1/files/" + fid, headers={"authorization": "Bearer " + token})
        r = c.getresponse()
        got = len(r.read())
        c.close()
        if r.status == 200 and got == size:
            stats["ok"] += 1
        else:
            stats["errors"] += 1
dt = time.monotonic() - t0
for k, v in stats.items():
    print("%s=%s" % (k, v))
print("seconds=%.2f" % dt)
print("mb_s=%.1f" % (stats["ok"] * size / 1048576 / dt if dt > 0 else 0))
PY

kv() { grep "^$2=" <<<"$1" | cut -d= -f2; }
log "sequential uploads: $SEQ x $MB MB"
up=$(python3 "$client" seq-up "$SEQ" "$MB" "$base" "$token")
fid=$(kv "$up" id)
log "sequential downloads: $SEQ x $MB MB of file $fid"
down=$(python3 "$client" seq-down "$SEQ" "$MB" "$base" "$token" "$fid")
rss_idle=$(hwm_kb $(tree_pids "$DN_PID"))
echo 5 >"/proc/$DN_PID/clear_refs" 2>/dev/null || log "cannot reset VmHWM; the peak below includes the sequential phase"
log "concurrent uploads: $CONC x $MB MB"
# peak anonymous memory, sampled: VmHWM also counts the mapped temp files that hold large request bodies
sampler_stop=$BENCH_TMP/sampler.stop
(
  max=0
  while [ ! -f "$sampler_stop" ]; do
    v=$(awk '/^RssAnon:/{print $2}' "/proc/$DN_PID/status" 2>/dev/null || echo 0)
    [ "${v:-0}" -gt "$max" ] && max=$v
    sleep 0.1
  done
  echo "$max" >"$BENCH_TMP/anon.kb"
) &
sampler=$!
bench_register_pid "$sampler"
conc=$(python3 "$client" conc-up "$CONC" "$MB" "$base" "$token")
touch "$sampler_stop"
wait "$sampler" 2>/dev/null || true
rss_peak=$(hwm_kb $(tree_pids "$DN_PID"))
anon_peak=$(cat "$BENCH_TMP/anon.kb" 2>/dev/null || echo 0)

mib() { awk -v k="$1" 'BEGIN{printf "%.0f", k / 1024}'; }
table=$BENCH_TMP/table.md
{
  echo "| measurement | result |"
  echo "|---|---:|"
  echo "| upload, one client, $SEQ × $MB MB | $(kv "$up" mb_s) MB/s ($(kv "$up" ok) ok, $(kv "$up" errors) errors) |"
  echo "| download, one client, $SEQ × $MB MB | $(kv "$down" mb_s) MB/s ($(kv "$down" ok) ok, $(kv "$down" errors) errors) |"
  echo "| $CONC concurrent uploads × $MB MB | $(kv "$conc" mb_s) MB/s, $(kv "$conc" seconds) s; $(kv "$conc" ok) stored, $(kv "$conc" rejected_503) × 503 retried, $(kv "$conc" errors) errors |"
  echo "| peak RSS after the sequential phase | $(mib "$rss_idle") MiB |"
  echo "| peak RSS during the $CONC concurrent uploads | $(mib "$rss_peak") MiB |"
  echo "| of which anonymous memory at its peak (sampled every 0.1 s) | $(mib "$anon_peak") MiB |"
} >"$table"
echo
cat "$table"
echo
section=$BENCH_TMP/section.md
{
  echo "## Files: 20 MB uploads and downloads"
  echo
  echo "Measured $(machine_facts)."
  echo "dnevnik \`serve --threads 2 --upload-quota 0 --file-max-size ${MB}m\`, SQLite, local disk backend (fsync per file);"
  echo "the Python client runs on the same machine. Uploads above \`--upload-concurrency\` (default 4) get 503 + Retry-After and are retried."
  echo "h2o 2.2.5 buffers each request body in full before the handler runs; bodies from 1 MiB on are held in a mapped"
  echo "temp file (page cache, counted in RSS but reclaimable), and only \`--upload-concurrency\` bodies are copied for handlers."
  echo
  cat "$table"
} >"$section"
emit_section files "$section"
