-- usage: lua5.4 bench/echo/echo_file.lua PORT
-- Line echo on netsock.serve through a file object: one task per
-- client reading lines with f:lines("L") (the receive buffer's path,
-- as a line protocol such as Redis's reads), each sent back at once.
local ns = require "netsock"
local port = tonumber(arg[1]) or 9000
local TIMEOUT = tonumber(os.getenv("BENCH_SOCK_TIMEOUT"))  -- the timed variant

ns.serve("127.0.0.1", port, function(conn)
  conn:setoption("nodelay", true)
  if TIMEOUT then conn:settimeout(TIMEOUT) end
  local f = conn:makefile("r")
  for line in f:lines("L") do
    if not conn:sendall(line) then return end
  end
end, { backlog = 4096, grace = 1 })
ns.run()
