-- LuaSocket receive("*l"): usage: lua5.4 luasocket.lua HOST PORT
local socket = require "socket"
local c = assert(socket.connect(arg[1], tonumber(arg[2])))
if os.getenv("BENCH_SOCK_TIMEOUT") then  -- the timed variant
  c:settimeout(tonumber(os.getenv("BENCH_SOCK_TIMEOUT")))
end
local t0, n = socket.gettime(), 0
while c:receive("*l") do n = n + 1 end
print(n, socket.gettime() - t0)
