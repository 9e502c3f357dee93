-- wrk script: cycles through pre-signed Standard Webhooks requests, one per line of the file that
-- bench/gen_requests writes ("id TAB timestamp TAB signature TAB body").
local path = os.getenv("PAYHOOK_BENCH_PATH") or "/hooks/bench"
local requests = {}
for line in io.lines(os.getenv("PAYHOOK_BENCH_REQUESTS")) do
  local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  requests[#requests + 1] = wrk.format("POST", path, {
    ["Host"] = "127.0.0.1",
    ["content-type"] = "application/json",
    ["webhook-id"] = id,
    ["webhook-timestamp"] = ts,
    ["webhook-signature"] = sig,
  }, body)
end
local n = #requests
local i = 0

-- A paced run (bench/run.sh's sustained row): each connection waits this long before its next request, so
-- the connections together offer about connections / pace requests a second.
local pace = tonumber(os.getenv("PAYHOOK_BENCH_PACE_MS") or "")
if pace and pace > 0 then
  function delay()
    return pace
  end
end

-- wrk's own CPU while it sends (loading the requests above is left out): the process' CPU clock at the first
-- request and at the end, printed for bench/run.sh, since the load generator shares the cores.
local started = false

function request()
  if not started then
    started = true
    io.write(string.format("wrk cpu at first request: %.6f\n", os.clock()))
  end
  i = i + 1
  return requests[(i % n) + 1]
end

function done()
  io.write(string.format("wrk cpu at end: %.6f\n", os.clock()))
end
