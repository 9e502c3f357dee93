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

function request()
  i = i + 1
  return requests[(i % n) + 1]
end
