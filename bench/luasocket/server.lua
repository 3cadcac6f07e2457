-- bench/luasocket/server.lua: the peers of bench/luasocket/cpu.lua, on
-- plain netsock (one process, tasks). usage: lua5.4 server.lua MODE
-- Prints "port N" once listening; runs until killed.
local ns = require "netsock"
local mode = arg[1]
local LINE = ("l"):rep(63) .. "\n"
if mode == "udp" then
  local u = assert(ns.udp())
  assert(u:bind("127.0.0.1", 0))
  print("port " .. select(2, u:getsockname())) io.stdout:flush()
  while true do
    local d, h, p = u:recvfrom(2048)
    if d then u:sendto(d, h, p) end
  end
end
local handlers = {
  http = function(c)
    local f = c:makefile("r")
    while true do
      local l = f:read("l")
      if not l or l == "" or l == "\r" then break end
    end
    c:sendall("HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
  end,
  redis = function(c)
    c:setoption("nodelay", true)
    local f = c:makefile("r")
    for _ in f:lines() do c:sendall("+PONG\r\n") end
  end,
  lines = function(c)
    local f = c:makefile("rw")
    local n = tonumber(f:read("l"))
    local chunk = LINE:rep(1024)
    for _ = 1, n // 1024 do f:write(chunk) end
    f:write(LINE:rep(n % 1024))
    f:flush()
  end,
  bulk = function(c)
    while true do
      local d = c:recv(65536)
      if not d then break end
      c:sendall(d)
    end
  end,
}
local srv = ns.serve("127.0.0.1", 0, handlers[mode])
print("port " .. select(2, srv:getsockname())) io.stdout:flush()
ns.run()
