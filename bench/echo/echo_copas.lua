-- usage: lua5.4 bench/echo/echo_copas.lua PORT
-- The same line echo on copas over LuaSocket. Debian packages copas only
-- for Lua 5.1/5.2; its copas.lua (1.1.7) loads and runs on 5.4 with the
-- 5.4 LuaSocket, so we add its directory to the path.
package.path = package.path .. ";/usr/share/lua/5.2/?.lua"
local copas = require "copas"
local socket = require "socket"
local port = tonumber(arg[1]) or 9000
local TIMEOUT = tonumber(os.getenv("BENCH_SOCK_TIMEOUT"))  -- the timed variant

local srv = assert(socket.bind("127.0.0.1", port, 4096))
copas.addserver(srv, function(raw)
  local conn = copas.wrap(raw)
  raw:setoption("tcp-nodelay", true)
  if TIMEOUT then conn:settimeout(TIMEOUT) end
  while true do
    local line = conn:receive("*l")
    if not line then return end
    conn:send(line .. "\n")
  end
end)
copas.loop()
