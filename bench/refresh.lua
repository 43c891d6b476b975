-- Each wrk thread (one connection each) follows its own chain of rotating
-- refresh tokens: every answer's refresh token is the next request's.
-- The starting tokens come one per line from the file named in TOKENS.

local thread_count = 0
local tokens = {}

function setup(thread)
  if #tokens == 0 then
    for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
  end
  thread_count = thread_count + 1
  thread:set("token", tokens[thread_count])
end

function request()
  return wrk.format("POST", "/api/token/refresh/", {["Content-Type"] = "application/json"},
    '{"refresh":"' .. token .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    token = string.match(body, '"refresh":"([^"]+)"')
  else
    failures = (failures or 0) + 1
  end
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("refresh chains: %d non-2xx answers\n", non2xx))
end
