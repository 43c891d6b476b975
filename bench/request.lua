-- The request every wrk connection repeats, from the environment: METHOD
-- (default GET), BODY (sent as JSON when set) and AUTHORIZATION. All plain
-- endpoints go through this script, so the load generator works the same way
-- for each and only the server's cost differs between them.
wrk.method = os.getenv("METHOD") or "GET"
local body = os.getenv("BODY")
if body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local authorization = os.getenv("AUTHORIZATION")
if authorization then
  wrk.headers["Authorization"] = authorization
end
