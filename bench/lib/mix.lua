-- mix.lua - wrk script of the "mix" benchmark: replays a request deck
-- written by bench/lib/mixdeck.py (METHOD, PATH, TOKEN#, BODY, KIND per line)
-- with the tokens file beside it. Every thread loads the deck, pre-formats
-- the raw requests once (so per-request Lua work is one table lookup) and
-- starts at its own offset so threads do not send the same request together.
--
-- Args (after --): DECK TOKENS. Env: MIX_THREADS (wrk -t), MIX_RATE:
--   MIX_RATE > 0: open-loop pacing at RATE requests/s in total. Each thread owns
--   RATE/threads of the schedule; delay() hands out the next slot of the
--   thread, so the offered rate does not depend on how fast the server
--   answers (as long as there are enough connections). A send that happens
--   after its slot (the server or wrk fell behind) is counted as late, and
--   the worst lag is reported: wrk measures latency from the actual send, so
--   lateness is the coordinated-omission part the latency figures leave out.
-- done() prints the BENCH_RESULT line of report.lua plus the pacing counters.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } dn_timespec;
  int clock_gettime(int clk, dn_timespec *ts);
]]
local ts = ffi.new("dn_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("tno", nthreads)
  table.insert(threads, thread)
end

local reqs, n, i = {}, 0, 0
local interval, next_slot = nil, nil
late, max_lag, sent = 0, 0, 0

function init(args)
  local deck, tokfile = args[1], args[2]
  local rate = tonumber(os.getenv("MIX_RATE") or "0") or 0
  -- tokens are numbered from 0 in the deck
  local tk, k = {}, 0
  for line in io.lines(tokfile) do tk[k] = line; k = k + 1 end
  for line in io.lines(deck) do
    local m, path, t, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t")
    local headers = { ["Accept"] = "application/json" }
    t = tonumber(t)
    if t >= 0 then headers["Authorization"] = "Bearer " .. tk[t] end
    if body ~= "" then headers["Content-Type"] = "application/json" else body = nil end
    n = n + 1
    reqs[n] = wrk.format(m, path, headers, body)
  end
  local tno = tonumber(wrk.thread:get("tno")) or 1
  i = math.floor((tno - 1) * n / 8) % n
  if rate > 0 then
    local per_thread = rate / nthreads_total()
    interval = 1000 / per_thread
  end
end

-- nthreads is only known in the main state; wrk passes -t to every thread
-- through the environment variable set by the caller (MIX_THREADS).
function nthreads_total()
  return tonumber(os.getenv("MIX_THREADS") or "1")
end

function request()
  i = i + 1
  if i > n then i = 1 end
  sent = sent + 1
  return reqs[i]
end

if os.getenv("MIX_RATE") and tonumber(os.getenv("MIX_RATE")) > 0 then
  function delay()
    local t = now_ms()
    if next_slot == nil then next_slot = t end
    next_slot = next_slot + interval
    local d = next_slot - t
    if d < 0 then
      late = late + 1
      if -d > max_lag then max_lag = -d end
      return 0
    end
    return math.floor(d)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local l, lag = 0, 0
  for _, t in ipairs(threads) do
    l = l + (tonumber(t:get("late")) or 0)
    local m = tonumber(t:get("max_lag")) or 0
    if m > lag then lag = m end
  end
  io.write(string.format(
    "BENCH_RESULT requests=%.0f duration_us=%.0f bytes=%.0f " ..
    "err_connect=%.0f err_read=%.0f err_write=%.0f err_status=%.0f err_timeout=%.0f " ..
    "p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f mean_us=%.1f late=%.0f max_lag_ms=%.0f\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, l, lag))
end
