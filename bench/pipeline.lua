-- wrk script for bench/peers.sh: every write carries 16 pipelined
-- `GET <path>` requests (path from the URL given to wrk; default /hello).
-- wrk counts the requests in the string request() returns and expects that
-- many responses before the next write, so its "requests" total and
-- Requests/sec already count each of the 16 (no further multiplying).
-- Usage: wrk -t1 -c50 -d10s -s bench/pipeline.lua http://127.0.0.1:PORT/hello
local depth = 16
local req

init = function(args)
  local path = wrk.path
  if path == nil or path == "" or path == "/" then path = "/hello" end
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format("GET", path)
  end
  req = table.concat(r)
end

request = function()
  return req
end
