-- usage: lua5.4 bench/echo/echo_netsock.lua PORT
-- Line echo on netsock.serve: one task per client, straight-line code.
local ns = require "netsock"
local port = tonumber(arg[1]) or 9000
local find, sub = string.find, string.sub
local TIMEOUT = tonumber(os.getenv("BENCH_SOCK_TIMEOUT"))  -- the timed variant
local WORKERS = tonumber(os.getenv("BENCH_WORKERS"))       -- serve's workers

ns.serve("127.0.0.1", port, function(conn)
  conn:setoption("nodelay", true)
  if TIMEOUT then conn:settimeout(TIMEOUT) end
  local pend = ""
  while true do
    local data = conn:recv(4096)
    if not data then return end
    if pend ~= "" then data = pend .. data end
    -- echo every complete line; keep a partial one for the next recv
    local last = find(data, "\n[^\n]*$")
    if last then
      if not conn:sendall(data, 1, last) then return end
      pend = sub(data, last + 1)
    else
      pend = data
    end
  end
end, { backlog = 4096, workers = WORKERS, grace = 1 })
ns.run()
