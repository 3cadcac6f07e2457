-- spec/meta/guarantees_spec.lua: the promises of docs/guarantees.md that no
-- other spec proves on its own: no SIGPIPE, no lost or reordered bytes
-- across timeouts, CLOEXEC everywhere, close idempotent and GC-safe,
-- I/O failures returned and never thrown.

local H = require "helpers"
local ns = H.netsock

describe("guarantees", function()

  describe("no SIGPIPE", function()
    it("send to a closed peer returns EPIPE in a process where SIGPIPE kills", function()
      -- python's subprocess gives the child SIGPIPE's default action
      -- back (whatever make or busted did), so a raised SIGPIPE would
      -- kill it (returncode -13: exit status 243 here)
      local p = H.lua_with(H.SIGPIPE_DEFAULT, [[
local f = io.open("/proc/self/status"); local st = f:read("a"); f:close()
local before = st:match("SigIgn:%s*(%x+)")
local ns = require "netsock"
f = io.open("/proc/self/status"); st = f:read("a"); f:close()
assert(st:match("SigIgn:%s*(%x+)") == before, "require changed the ignored signals")
assert(tonumber(before:sub(-4), 16) & (1 << 12) == 0, "SIGPIPE is ignored here")
local a, b = assert(ns.socketpair())
b:close()
local n, msg, code = a:send("x")
assert(n == nil and code == "EPIPE", tostring(code))
local ok, _, code2, sent = a:sendall(("y"):rep(100000))
assert(ok == nil and code2 == "EPIPE" and sent == 0, tostring(code2))
local srv = assert(ns.create_server("127.0.0.1", 0))
local c = assert(ns.create_connection("127.0.0.1", select(2, srv:getsockname()), 5))
srv:settimeout(5)
local s = assert(srv:accept())
s:close()
local codes = {}
for i = 1, 50 do
  local r, _, e = c:send(("z"):rep(1000))
  if not r then codes[e] = true end
end
assert(codes.EPIPE or codes.ECONNRESET, "no error from a closed TCP peer")
print("alive")
]])
      finally(function() p:kill() end)
      -- exit status 0, and nothing on stderr
      assert.are.equal(0, p:wait(60), p:output())
      assert.are.equal("alive\n", p:output())
    end)
  end)

  describe("no lost or reordered bytes across timeouts", function()
    it("recv with random short deadlines against a bursty peer gets every byte in order", function()
      local N = 2 * 1024 * 1024
      local a, p = H.python_client([[
n = int(sys.argv[2])
data = ]] .. H.PY_PATTERN .. [[

random.seed(7)
i = 0
while i < len(data):
    k = random.choice([1, 7, 100, 4096, 65536])
    c.sendall(data[i:i + k])
    i += k
    if random.random() < 0.02:
        time.sleep(0.01)
c.close()
]], N)
      finally(function() a:close() p:kill() end)
      local got, timeouts, n = {}, 0, 0
      local sizes = { 1, 5, 8, 100, 4096, 70000 }
      local deadline = ns.monotime() + 60
      local i = 0
      while ns.monotime() < deadline do
        i = i + 1
        a:settimeout(({ 0, 0.001, 0.005 })[i % 3 + 1])
        local d, msg, code = a:recv(sizes[i % #sizes + 1])
        if d then
          got[#got + 1] = d
          n = n + #d
        elseif code == "timeout" then
          timeouts = timeouts + 1
        else
          assert.are.equal("closed", code, msg)
          break
        end
      end
      assert.are.equal(N, n)
      assert.is_true(table.concat(got) == H.pattern(N), "the bytes differ")
      assert.is_true(timeouts > 0, "no timeout happened: the test proved nothing")
    end)

    it("sendall resumed after each timeout delivers every byte once, in order", function()
      local N = 4 * 1024 * 1024
      local data = H.pattern(N)
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local p = H.python([[
import socket, sys, time
n = int(sys.argv[2])
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
c.connect(("127.0.0.1", int(sys.argv[1])))
buf = bytearray()
while len(buf) < n:
    d = c.recv(8192)
    if not d: break
    buf += d
    time.sleep(0.0005)  # a slow reader
want = ]] .. H.PY_PATTERN .. [[

print("ok" if bytes(buf) == want else "differ", len(buf), flush=True)
]], port, N)
      finally(function() p:kill() end)
      srv:settimeout(5)
      local a = assert(srv:accept())
      finally(function() a:close() end)
      assert.is_true(a:setoption("sndbuf", 32768))
      a:settimeout(0.02)
      local pos, timeouts = 1, 0
      local deadline = ns.monotime() + 60
      while pos <= N and ns.monotime() < deadline do
        local ok, msg, code, sent = a:sendall(data, pos)
        if ok then break end
        assert.are.equal("timeout", code, msg)
        timeouts = timeouts + 1
        pos = pos + sent
      end
      assert.is_true(timeouts > 0, "no timeout happened: the test proved nothing")
      assert.are.equal("ok " .. N, p:line(60), p:output())
    end)
  end)

  describe("close-on-exec", function()
    it("every descriptor netsock makes has FD_CLOEXEC", function()
      local socks = {}
      local function keep(...)
        for i = 1, select("#", ...) do
          local s = select(i, ...)
          if type(s) == "userdata" then socks[#socks + 1] = s end
        end
        return ...
      end
      finally(function() for _, s in ipairs(socks) do s:close() end end)
      keep(ns.socket("inet")); keep(ns.socket("unix", "dgram")); keep(ns.tcp()); keep(ns.udp())
      keep(ns.socketpair()); keep(ns.socketpair("unix", "dgram"))
      local srv = keep(ns.create_server("127.0.0.1", 0))
      local c = keep(ns.create_connection("127.0.0.1", select(2, srv:getsockname()), 5))
      srv:settimeout(5)
      keep(srv:accept())
      keep(ns.fromfd(c:fileno(), "inet", "stream"))
      if H.has_ipv6 then keep(ns.tcp("inet6")) end
      assert.is_true(#socks >= 11)
      for _, s in ipairs(socks) do
        local flags = H.fdflags(s:fileno())
        assert.is_number(flags)
        assert.is_true(flags & H.O_CLOEXEC ~= 0, tostring(s) .. " lacks O_CLOEXEC")
      end
      -- and so a program we start inherits none of them
      local p = H.spawn("ls -l /proc/self/fd/ | grep -c socket: ; true")
      finally(function() p:kill() end)
      assert.are.equal("0", p:line(10))
    end)
  end)

  describe("close is idempotent and GC-safe", function()
    it("close twice, then configuration raises and the data path says closed", function()
      local s = ns.tcp()
      assert.is_true(s:close())
      assert.is_true(s:close())
      assert.are.equal(-1, s:fileno())
      assert.matches("closed", tostring(s))
      assert.has_error(function() s:bind("127.0.0.1", 0) end)
      assert.has_error(function() s:settimeout(1) end)
      assert.are.same({ nil, "closed", "closed" }, { s:recv(1) })
      assert.are.same({ nil, "closed", "closed" }, { s:sendall("x") })
    end)

    it("unreferenced sockets are closed by the collector, detached ones are not", function()
      collectgarbage(); collectgarbage()
      local base = H.fdcount()
      for _ = 1, 300 do
        local a, b = ns.socketpair()
        local t = ns.tcp()
        a:close()  -- some closed by hand first: the collector must not close again
        _ = b; _ = t
      end
      collectgarbage(); collectgarbage()
      assert.are.equal(base, H.fdcount_settled(base))
      -- a detached descriptor belongs to the caller: the collector leaves it
      local s = ns.tcp()
      local fd = s:detach()
      s = nil
      collectgarbage(); collectgarbage()
      assert.are.equal(base + 1, H.fdcount_settled(base + 1))
      local owner = assert(ns.fromfd(fd, "inet", "stream"))
      owner:close()
      assert.are.equal(base + 1, H.fdcount_settled(base + 1))  -- fromfd made a duplicate: fd is still open
      do
        local again <close> = ns.fromfd(fd, "inet", "stream")
        assert.is_true(again:fileno() >= 0)
      end
      assert.are.equal(base + 1, H.fdcount())
    end)

    it("<close> and __gc close once, after a close by hand too", function()
      collectgarbage(); collectgarbage()
      local base = H.fdcount()
      do
        local s <close> = ns.tcp()
        assert.is_true(s:fileno() >= 0)
        s:close()
      end
      do
        local s <close> = ns.tcp()
        assert.are.equal(base + 1, H.fdcount())
      end
      assert.are.equal(base, H.fdcount())
      -- a descriptor number reused after close is not closed by the
      -- old object's collection
      local old = ns.tcp()
      local n = old:fileno()
      old:close()
      local new = ns.tcp()
      assert.are.equal(n, new:fileno())
      old = nil
      collectgarbage(); collectgarbage()
      assert.are.equal(n, new:fileno())
      assert.is_true(new:bind("127.0.0.1", 0))
      new:close()
    end)
  end)

  describe("I/O failures are returned, never thrown", function()
    it("each failure is nil, message, code", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local closedport
      do
        local t = ns.tcp(); assert(t:bind("127.0.0.1", 0))
        closedport = select(2, t:getsockname())
        t:close()
      end
      local cases = {
        { "connect refused", "ECONNREFUSED", function()
          local s = ns.tcp(); s:settimeout(5)
          return s:connect("127.0.0.1", closedport)
        end },
        { "create_connection refused", "ECONNREFUSED", function()
          return ns.create_connection("127.0.0.1", closedport, 5)
        end },
        { "bind in use", "EADDRINUSE", function()
          return ns.tcp():bind("127.0.0.1", port)
        end },
        { "create_server in use", "EADDRINUSE", function()
          return ns.create_server("127.0.0.1", port)
        end },
        { "accept timeout", "timeout", function()
          srv:settimeout(0.01); return srv:accept()
        end },
        { "recv timeout", "timeout", function()
          local a = ns.socketpair(); a:settimeout(0.01); return a:recv(1)
        end },
        { "recv at end of stream", "closed", function()
          local a, b = ns.socketpair(); b:close(); return a:recv(1)
        end },
        { "send to a closed peer", "EPIPE", function()
          local a, b = ns.socketpair(); b:close(); return a:send("x")
        end },
        { "recv unconnected", "ENOTCONN", function() return ns.tcp():recv(1) end },
        { "getpeername unconnected", "ENOTCONN", function() return ns.tcp():getpeername() end },
        { "shutdown unconnected", "ENOTCONN", function() return ns.tcp():shutdown() end },
        { "connect to a missing path", "ENOENT", function()
          return ns.socket("unix"):connect(H.tmpname(".nothing"))
        end },
        { "unknown service", "EAI_SERVICE", function()
          return ns.tcp():connect("127.0.0.1", "no-such-service-here")
        end },
        { "getaddrinfo unknown service", "EAI_SERVICE", function()
          return ns.getaddrinfo("127.0.0.1", "no-such-service-here", nil, nil, nil, ns.AI_NUMERICHOST)
        end },
        { "listen on UDP", "EOPNOTSUPP", function() return ns.udp():listen() end },
        { "non-blocking connect", "EINPROGRESS", function()
          local s = ns.tcp(); s:settimeout(0); return s:connect("127.0.0.1", port)
        end },
      }
      for _, case in ipairs(cases) do
        local r = table.pack(pcall(case[3]))
        assert.is_true(r[1], case[1] .. " raised: " .. tostring(r[2]))
        assert.is_nil(r[2], case[1] .. " succeeded")
        assert.is_string(r[3], case[1])
        assert.are.equal(case[2], r[4], case[1] .. ": " .. tostring(r[3]))
        if case[2] == "timeout" or case[2] == "closed" then
          assert.are.equal(case[2], r[3])  -- the message is exactly the code
        end
      end
      collectgarbage()
    end)
  end)
end)
