-- wrk script for bench/run.sh: cycles through pre-built requests, one per line of the file that
-- bench/gen_requests writes. PAYHOOK_BENCH_MODE=yoomoney: "invoiceId TAB form body" (POST, form);
-- hmac: "signature TAB JSON body" (POST, JSON, the signature in X-Signature).
local path = os.getenv("PAYHOOK_BENCH_PATH")
local mode = os.getenv("PAYHOOK_BENCH_MODE")
local requests = {}
for line in io.lines(os.getenv("PAYHOOK_BENCH_REQUESTS")) do
  local first, body = line:match("^([^\t]*)\t(.*)$")
  local headers = { ["Host"] = "127.0.0.1" }
  if mode == "yoomoney" then
    headers["content-type"] = "application/x-www-form-urlencoded"
  else
    headers["content-type"] = "application/json"
    headers["X-Signature"] = first
  end
  requests[#requests + 1] = wrk.format("POST", path, headers, body)
end
local n = #requests
local i = 0

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
