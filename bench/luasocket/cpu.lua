-- bench/luasocket/cpu.lua: CPU per operation of one client side, for
-- bench/luasocket/run.sh. usage: lua5.4 cpu.lua IMPL MODE PORT N
--   IMPL  real (Debian's lua-socket), layer (netsock.luasocket), netsock
--         (plain netsock: makefile's reads, sendall, recv)
--   MODE  http (socket.http, a new connection per GET), redis (one
--         connection, "PING\r\n" / "+PONG\r\n" request and response),
--         lines (receive("*l") / f:read("l") of a stream of 64-byte
--         lines), udp (send a datagram, receive its echo), accept (the
--         server side of connect/accept/close), bulk (send and receive
--         256 KiB blocks on one connection, echoed)
-- Prints "IMPL MODE n cpu_us_per_op wall_us_per_op" (os.clock: user +
-- system CPU of this process).
local impl, mode, port, n = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local socket
if impl == "layer" then socket = require("netsock.luasocket").install()
elseif impl == "real" then socket = require "socket" end
local ns = impl ~= "real" and require "netsock" or nil
local gettime = socket and socket.gettime or ns.gettime

local c0, w0
local function start() c0, w0 = os.clock(), gettime() end
local function done(count)
  local c, w = os.clock() - c0, gettime() - w0
  print(("%s %s %d %.4f %.4f"):format(impl, mode, count, c / count * 1e6, w / count * 1e6))
end

if mode == "http" then
  if socket then
    local http = require "socket.http"
    local url = ("http://127.0.0.1:%d/x"):format(port)
    start()
    for _ = 1, n do
      local body, code = http.request(url)
      assert(code == 200 and #body > 0, tostring(code))
    end
    done(n)
  else
    -- plain netsock: the same request and the reading of its answer
    local req = ("GET /x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"):format(port)
    start()
    for _ = 1, n do
      local c = assert(ns.create_connection("127.0.0.1", port))
      assert(c:sendall(req))
      local f = c:makefile("r")
      local status, len = f:read("l"), 0
      assert(status:find(" 200 "))
      while true do
        local l = f:read("l")
        if l == "" or l == "\r" then break end
        len = tonumber(l:match("^[Cc]ontent%-[Ll]ength: *(%d+)")) or len
      end
      assert(#f:read(len) > 0)
      c:close()
    end
    done(n)
  end
elseif mode == "redis" then
  if socket then
    local c = assert(socket.connect("127.0.0.1", port))
    c:setoption("tcp-nodelay", true)
    start()
    for _ = 1, n do
      assert(c:send("PING\r\n"))
      assert(c:receive("*l") == "+PONG")
    end
    done(n)
  else
    local c = assert(ns.create_connection("127.0.0.1", port))
    c:setoption("nodelay", true)
    local f = c:makefile("r")
    start()
    for _ = 1, n do
      assert(c:sendall("PING\r\n"))
      assert(f:read("l") == "+PONG")
    end
    done(n)
  end
elseif mode == "lines" then
  -- the server at port sends n lines of 64 bytes and closes
  if socket then
    local c = assert(socket.connect("127.0.0.1", port))
    assert(c:send(n .. "\n"))
    start()
    local k = 0
    while true do
      local l = c:receive("*l")
      if not l then break end
      k = k + 1
    end
    done(k)
  else
    local c = assert(ns.create_connection("127.0.0.1", port))
    assert(c:sendall(n .. "\n"))
    local f = c:makefile("r")
    start()
    local k = 0
    -- (f:read("l") per line, as the layer's receive is called)
    while true do
      local l = f:read("l")
      if not l then break end
      k = k + 1
    end
    done(k)
  end
elseif mode == "udp" then
  local msg = ("u"):rep(64)
  if socket then
    local u = assert(socket.udp())
    assert(u:setpeername("127.0.0.1", port))
    start()
    for _ = 1, n do
      assert(u:send(msg))
      assert(u:receive())
    end
    done(n)
  else
    local u = assert(ns.udp())
    assert(u:connect("127.0.0.1", port))
    start()
    for _ = 1, n do
      assert(u:send(msg))
      assert(u:recv(2048))
    end
    done(n)
  end
elseif mode == "accept" then
  -- we are the server: a child connects n times (port: unused)
  local srv, p
  if socket then
    srv = assert(socket.bind("127.0.0.1", 0, 1024))
    p = select(2, srv:getsockname())
  else
    srv = assert(ns.create_server("127.0.0.1", 0, { backlog = 1024 }))
    p = select(2, srv:getsockname())
  end
  local pr = io.popen(("python3 -c %s %s %d"):format(
    "'import socket,sys\nfor i in range(int(sys.argv[2])):\n  s=socket.create_connection((\"127.0.0.1\",int(sys.argv[1])))\n  s.recv(1)\n  s.close()'",
    p, n))
  start()
  for _ = 1, n do
    local c = assert(srv:accept())
    if socket then c:send("x") else c:send("x") end
    c:close()
  end
  done(n)
  pr:close()
elseif mode == "bulk" then
  -- the server at port echoes everything
  local block = ("b"):rep(256 * 1024)
  if socket then
    local c = assert(socket.connect("127.0.0.1", port))
    start()
    for _ = 1, n do
      assert(c:send(block))
      assert(#c:receive(#block) == #block)
    end
    done(n)
  else
    local c = assert(ns.create_connection("127.0.0.1", port))
    local f = c:makefile("r")
    start()
    for _ = 1, n do
      assert(c:sendall(block))
      assert(#f:read(#block) == #block)
    end
    done(n)
  end
end
