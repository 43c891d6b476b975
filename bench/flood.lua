-- A login flood from many addresses behind a trusted proxy: every request
-- names the next client address in X-Forwarded-For, so no per-address limit
-- stops it and every address is new to the limiter. BODY is the login body.
-- START (default 0) offsets the addresses, so repeated runs stay distinct.
local counter = 0
local threads = {}

-- Runs in the main Lua state; sets the global `thread_offset` in each thread's.
function setup(thread)
  thread:set("thread_offset", #threads)
  table.insert(threads, thread)
end

-- Per thread: responses by status, summed and printed by done().
statuses = {}
function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function done()
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d: %d\n", status, count))
  end
end

wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
local start = tonumber(os.getenv("START") or "0")

request = function()
  -- Threads interleave: thread t uses t, t + 16, t + 32, ...
  local n = start + (thread_offset or 0) + counter * 16
  counter = counter + 1
  local address = string.format("10.%d.%d.%d", 64 + math.floor(n / 65536) % 64, math.floor(n / 256) % 256, n % 256)
  -- Headers given here replace wrk.headers, so the content type goes too.
  return wrk.format(nil, nil, { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = address })
end
