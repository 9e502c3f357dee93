-- wrk script: cycles through pre-signed Standard Webhooks requests (bench/gen_requests writes them).
local requests = dofile(os.getenv("PAYHOOK_BENCH_REQUESTS"))
local path = os.getenv("PAYHOOK_BENCH_PATH") or "/hooks/bench"
local n = #requests
local i = 0

function setup(thread)
  thread:set("offset", math.random(0, n - 1))
end

function request()
  i = i + 1
  local r = requests[((i + (offset or 0)) % n) + 1]
  return wrk.format("POST", path, {
    ["content-type"] = "application/json",
    ["webhook-id"] = r.id,
    ["webhook-timestamp"] = r.ts,
    ["webhook-signature"] = r.sig,
  }, r.body)
end
