-- wrk script for the REST benchmark: rotates users (tokens) and their
-- conversations, one endpoint per run (ENDPOINT: messages | unread | post),
-- and prints one JSON line with the rate and latency percentiles.
local endpoint = os.getenv("ENDPOINT") or "messages"
local users = {}
local counter = 0

local function load()
  local f = assert(io.open(os.getenv("BENCH_USERS") or "users.txt"))
  for line in f:lines() do
    local tok, conv = line:match("^(%S+) (%d+)$")
    if tok then users[#users + 1] = { tok = tok, conv = conv } end
  end
  f:close()
end

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  load()
  n = id * 7919
end

function request()
  n = n + 1
  local u = users[(n % #users) + 1]
  local headers = { ["Authorization"] = "Bearer " .. u.tok }
  if endpoint == "messages" then
    return wrk.format("GET", "/api/messaging/conversations/" .. u.conv .. "/messages?limit=50", headers)
  elseif endpoint == "unread" then
    return wrk.format("GET", "/api/messaging/unread-count", headers)
  elseif endpoint == "conversations" then
    return wrk.format("GET", "/api/messaging/conversations", headers)
  else
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/messaging/conversations/" .. u.conv .. "/messages", headers,
      '{"content":"benchmark message: the quick brown fox jumps over the lazy dog"}')
  end
end

local errors = 0
function response(status, headers, body)
  if status >= 300 then errors = errors + 1 end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local non2xx = (summary.errors.status or 0)
  io.write(string.format(
    '{"endpoint":"%s","requests":%d,"rps":%.1f,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"non2xx":%d,"socket_errors":%d}\n',
    endpoint, summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
