-- spec/udp_spec.lua: datagrams over IPv4 and IPv6 with real peers
-- (python3, nc -u): sendto, recvfrom, cut datagrams, connected UDP,
-- broadcast, multicast on loopback, and waits inside a task.

local H = require "helpers"
-- service names ("http") come from /etc/services
H.needs { { file = "/etc/services", pkg = "netbase" } }
local ns = H.netsock
local core = require "netsock.core"

-- a UDP socket bound to host (default 127.0.0.1) on an ephemeral port
local function bound(family, host)
  local s = assert(ns.udp(family))
  assert(s:bind(host or (family == "inet6" and "::1" or "127.0.0.1"), 0))
  local _, port = s:getsockname()
  s:settimeout(5)
  return s, port
end

local task = H.task  -- a coroutine the loop's protocol treats as a task

-- a python sender: one datagram of H.pattern(size) from host to host:port
local PY_SENDER = [[
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1], flush=True)
n = int(sys.argv[3])
s.sendto(]] .. H.PY_PATTERN .. [[, (sys.argv[1], int(sys.argv[2])))
]]

-- a python UDP socket 's' on 127.0.0.1 (or ::1 for "inet6", a 1 MiB
-- receive buffer, a 5 s timeout) that prints its port and runs 'code';
-- the process and that port
local function pyreceiver(code, family)
  local p = H.python(([[
import hashlib, socket
s = socket.socket(socket.%s, socket.SOCK_DGRAM)
s.bind((%q, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.settimeout(5)
print(s.getsockname()[1], flush=True)
]]):format(family == "inet6" and "AF_INET6" or "AF_INET",
           family == "inet6" and "::1" or "127.0.0.1") .. code)
  return p, assert(tonumber((p:line(5))), p:output())
end

-- a socket bound on 127.0.0.1 (or ::1 for "inet6") and a python sender
-- that sends it one datagram of H.pattern(size); both end with the test
local function from_python(size, family)
  local s, port = bound(family)
  finally(function() s:close() end)
  local p = H.python(PY_SENDER, family == "inet6" and "::1" or "127.0.0.1", port, size)
  finally(function() p:kill() end)
  return s, p
end

describe("UDP", function()
  it("receives a python datagram with the sender's address", function()
    local s, p = from_python(100)
    local data, host, from, cut = s:recvfrom(1024)
    assert.are.equal(H.pattern(100), data)
    assert.are.equal("127.0.0.1", host)
    assert.are.equal(tonumber(p:line(5)), from)
    assert.is_nil(cut)
    assert.are.equal(0, p:wait(5))
  end)

  -- recvfrom keeps the last sender's host text (dgram.c's pushsender)
  -- and gives it again while the address is the same: a change of host
  -- alone, of port alone, or back, from netsock and python senders, on
  -- IPv4 and on an IPv6 socket's v4-mapped and native senders, must
  -- each be seen
  it("names every sender when senders change (host, port, and back)", function()
    local r, port = bound()
    local a = assert(ns.udp())
    local b = assert(ns.udp())
    local c = assert(ns.udp())
    finally(function() r:close(); a:close(); b:close(); c:close() end)
    assert(a:bind("127.0.0.1", 0))
    local _, pa = a:getsockname()
    assert(b:bind("127.0.0.2", pa))
    assert(c:bind("127.0.0.1", 0))
    local _, pc = c:getsockname()
    local want = { { a, "127.0.0.1", pa }, { b, "127.0.0.2", pa }, { a, "127.0.0.1", pa },
                   { c, "127.0.0.1", pc }, { c, "127.0.0.1", pc }, { b, "127.0.0.2", pa } }
    for i, w in ipairs(want) do
      assert(w[1]:sendto("x" .. i, "127.0.0.1", port))
      local data, host, from = assert(r:recvfrom(64))
      assert.same({ "x" .. i, w[2], w[3] }, { data, host, from })
    end
  end)

  H.ipv6_it("names v4-mapped and IPv6 senders apart on one inet6 socket", function()
    local r = assert(ns.udp("inet6"))
    local a4 = assert(ns.udp())
    local a6 = assert(ns.udp("inet6"))
    finally(function() r:close(); a4:close(); a6:close() end)
    r:settimeout(5)
    assert(r:setoption("ipv6only", false))
    assert(r:bind("::", 0))
    local _, port = r:getsockname()
    assert(a4:bind("127.0.0.1", 0))
    assert(a6:bind("::1", 0))
    local _, p4 = a4:getsockname()
    local _, p6 = a6:getsockname()
    for i, w in ipairs({ { a4, "127.0.0.1", "::ffff:127.0.0.1", p4 }, { a6, "::1", "::1", p6 },
                         { a4, "127.0.0.1", "::ffff:127.0.0.1", p4 } }) do
      assert(w[1]:sendto("y" .. i, w[2], port))
      local data, host, from = assert(r:recvfrom(64))
      assert.same({ "y" .. i, w[3], w[4] }, { data, host, from })
    end
  end)

  it("sends to a python receiver, which sees our port", function()
    local p, port = pyreceiver([[
data, addr = s.recvfrom(65535)
print(data.decode(), addr[1], flush=True)
]])
    finally(function() p:kill() end)
    local s, myport = bound()
    finally(function() s:close() end)
    assert.are.equal(11, s:sendto("hello there", "127.0.0.1", port))
    assert.are.equal("hello there " .. myport, p:line(5, 2))
  end)

  it("receives from nc -u", function()
    local s, port = bound()
    finally(function() s:close() end)
    local p = H.spawn(("printf 'from nc' | nc -u -w1 127.0.0.1 %d"):format(port))
    finally(function() p:kill() end)
    local data, host, from = s:recvfrom(100)
    assert.are.equal("from nc", data)
    assert.are.equal("127.0.0.1", host)
    assert.is_true(from > 0)
  end)

  it("carries a 65507-byte datagram both ways", function()
    local s, p = from_python(65507)
    local data = assert(s:recvfrom(65535))
    assert.are.equal(65507, #data)
    assert.are.equal(H.pattern(65507), data)
    local q, qport = pyreceiver([[
data = s.recv(65535)
print(len(data), hashlib.sha256(data).hexdigest(), flush=True)
]])
    finally(function() q:kill() end)
    assert.are.equal(65507, s:sendto(data, "127.0.0.1", qport))
    local sha = H.python([[
import hashlib
n = 65507
print(hashlib.sha256(]] .. H.PY_PATTERN .. [[).hexdigest())
]])
    assert.are.equal("65507 " .. assert(sha:line(5)), q:line(5, 2))
  end)

  it("refuses a datagram over the IPv4 limit with EMSGSIZE", function()
    local s = bound()
    finally(function() s:close() end)
    local r, msg, code = s:sendto(("x"):rep(65508), "127.0.0.1", 9)
    assert.is_nil(r)
    assert.are.equal("EMSGSIZE", code)
    assert.is_string(msg)
  end)

  it("cuts a long datagram and says so with a fourth value", function()
    local s, p = from_python(100)
    local data, host, from, cut = s:recvfrom(10)
    assert.are.equal(H.pattern(10), data)
    assert.are.equal("127.0.0.1", host)
    assert.are.equal(tonumber(p:line(5)), from)
    assert.is_true(cut)
    -- the rest of the datagram is gone: nothing more to read
    s:settimeout(0)
    assert.are.same({ nil, "timeout", "timeout" }, { s:recvfrom(100) })
  end)

  it("never returns more than bufsize, even with MSG_TRUNC as a flag", function()
    local a, port = bound()
    local b = bound()
    finally(function() a:close() b:close() end)
    assert.are.equal(3000, b:sendto(("q"):rep(3000), "127.0.0.1", port))
    local data, _, _, cut = a:recvfrom(10, ns.MSG_TRUNC)
    assert.are.same({ ("q"):rep(10), true }, { data, cut })
  end)

  it("receives an empty datagram as an empty string", function()
    local a, port = bound()
    local b = bound()
    finally(function() a:close() b:close() end)
    assert.are.equal(0, b:sendto("", "127.0.0.1", port))
    local data, host = a:recvfrom(10)
    assert.are.equal("", data)
    assert.are.equal("127.0.0.1", host)
  end)

  it("times out in recvfrom within its bound", function()
    local s = bound()
    finally(function() s:close() end)
    s:settimeout(0.2)
    local t0 = ns.monotime()
    assert.are.same({ nil, "timeout", "timeout" }, { s:recvfrom(10) })
    local dt = ns.monotime() - t0
    assert.is_true(dt >= 0.15 and dt < 2, "took " .. dt)
  end)

  it("talks to a python echo peer over connected UDP (send, recv)", function()
    local p, port = pyreceiver([[
for _ in range(2):
    data, addr = s.recvfrom(100)
    s.sendto(data.upper(), addr)
]])
    finally(function() p:kill() end)
    local s = assert(ns.udp())
    finally(function() s:close() end)
    s:settimeout(5)
    assert.is_true(s:connect("127.0.0.1", port))
    local host, pport = s:getpeername()
    assert.are.equal("127.0.0.1", host)
    assert.are.equal(port, pport)
    assert.are.equal(3, s:send("abc"))
    assert.are.equal("ABC", s:recv(100))
    assert.are.equal(3, s:send("xyz"))
    local data, h, fp = s:recvfrom(100)
    assert.are.same({ "XYZ", "127.0.0.1", port }, { data, h, fp })
  end)

  it("reports ECONNREFUSED on connected UDP when the peer port is closed", function()
    local x, port = bound()
    x:close()
    local s = assert(ns.udp())
    finally(function() s:close() end)
    s:settimeout(2)
    assert.is_true(s:connect("127.0.0.1", port))
    assert.are.equal(1, s:send("a"))
    local r, msg, code = s:recvfrom(10)
    assert.is_nil(r)
    assert.is_string(msg)
    assert.are.equal("ECONNREFUSED", code)
  end)

  it("recvfrom on a TCP stream gives data and no sender", function()
    local srv, port = H.listen_local()
    finally(function() srv:close() end)
    local c, a = H.pair_tcp(srv, port)
    finally(function() c:close() a:close() end)
    assert.is_true(c:sendall("stream"))
    a:settimeout(5)
    assert.are.same({ n = 3, "stream", nil, nil }, table.pack(a:recvfrom(100)))
    c:close()
    assert.are.same({ nil, "closed", "closed" }, { a:recvfrom(100) })
  end)

  it("accepts host names and service names in sendto", function()
    local a, port = bound()
    local b = bound()
    finally(function() a:close() b:close() end)
    for i = 1, 3 do  -- repeated: the second and third use the cache
      assert.are.equal(2, b:sendto("n" .. i, "localhost", port))
      assert.are.equal("n" .. i, (a:recvfrom(10)))
    end
    assert.are.equal(2, b:sendto("st", "localhost", tostring(port)))
    assert.are.equal("st", (a:recvfrom(10)))
    -- a service name as the port (nothing listens there: UDP does not care)
    assert.are.equal(1, b:sendto("x", "127.0.0.1", "domain"))
  end)

  it("fails on an unresolvable name with an EAI code, quickly", function()
    local s = bound()
    finally(function() s:close() end)
    local t0 = ns.monotime()
    local r, msg, code = s:sendto("x", "no-such-host..invalid", 9)
    assert.is_nil(r)
    assert.is_string(msg)
    assert.matches("^EAI_", code)
    assert.is_true(ns.monotime() - t0 < 10)
  end)

  it("raises on misuse (bad port, bad bufsize); a closed socket says closed", function()
    local s = bound()
    assert.has_error(function() s:sendto("x", "127.0.0.1", 70000) end,
      "bad argument #3 to 'sendto' (port out of range)")
    assert.has_error(function() s:recvfrom(-1) end)
    assert.has_error(function() s:sendto({}, "127.0.0.1", 9) end)
    s:close()
    assert.same({ nil, "closed", "closed" }, { s:recvfrom(10) })
    assert.same({ nil, "closed", "closed" }, { s:sendto("x", "127.0.0.1", 9) })
  end)

  it("maps <broadcast> to the broadcast address (EACCES without the option)", function()
    local s = bound()
    finally(function() s:close() end)
    assert.is_false(s:getoption("broadcast"))
    local r, msg, code = s:sendto("x", "<broadcast>", 9)
    assert.is_nil(r)
    assert.are.equal("EACCES", code)
    assert.is_string(msg)
    local s6 = assert(ns.udp("inet6"))
    finally(function() s6:close() end)
    assert.has_error(function() s6:sendto("x", "<broadcast>", 9) end,
      "bad argument #2 to 'sendto' (<broadcast> needs an inet socket)")
  end)

  it("delivers a loopback broadcast with the broadcast option", function()
    local r = assert(ns.udp())
    assert(r:bind("", 0))
    local _, port = r:getsockname()
    r:settimeout(5)
    local s = bound()
    finally(function() r:close() s:close() end)
    assert.is_true(s:setoption("broadcast", true))
    assert.is_true(s:getoption("broadcast"))
    assert.are.equal(5, s:sendto("bcast", "127.255.255.255", port))
    local data, host = r:recvfrom(100)
    assert.are.equal("bcast", data)
    assert.are.equal("127.0.0.1", host)
  end)

  it("joins a multicast group on loopback, receives, and leaves", function()
    local r = assert(ns.udp())
    assert(r:setoption("reuseaddr", true))
    assert(r:bind("", 0))
    local _, port = r:getsockname()
    r:settimeout(5)
    local s = bound()
    finally(function() r:close() s:close() end)
    assert.is_true(r:setoption("add_membership", "239.255.77.1", "127.0.0.1"))
    assert.is_true(s:setoption("multicast_if", "127.0.0.1"))
    assert.is_true(s:setoption("multicast_ttl", 1))
    assert.is_true(s:setoption("multicast_loop", true))
    assert.are.equal(5, s:sendto("group", "239.255.77.1", port))
    local data, host = r:recvfrom(100)
    assert.are.equal("group", data)
    assert.are.equal("127.0.0.1", host)
    assert.is_true(r:setoption("drop_membership", { group = "239.255.77.1", interface = "127.0.0.1" }))
    -- leaving twice is the kernel's EADDRNOTAVAIL
    local ok, _, code = r:setoption("drop_membership", "239.255.77.1", "127.0.0.1")
    assert.is_nil(ok)
    assert.are.equal("EADDRNOTAVAIL", code)
  end)

  H.ipv6_it("carries datagrams on ::1 both ways with python", function()
    local s, p = from_python(300, "inet6")
    local data, host, from = s:recvfrom(1000)
    assert.are.equal(H.pattern(300), data)
    assert.are.equal("::1", host)
    assert.are.equal(tonumber(p:line(5)), from)
    local q, qport = pyreceiver([[
data, addr = s.recvfrom(100)
print(data.decode(), addr[0], flush=True)
]], "inet6")
    finally(function() q:kill() end)
    assert.are.equal(4, s:sendto("six!", "::1", qport))
    assert.are.equal("six! ::1", q:line(5, 2))
  end)

  H.ipv6_it("reports a cut datagram on IPv6 too", function()
    local a, port = bound("inet6")
    local b = bound("inet6")
    finally(function() a:close() b:close() end)
    assert.are.equal(20, b:sendto(("z"):rep(20), "::1", port))
    local data, host, _, cut = a:recvfrom(5)
    assert.are.same({ "zzzzz", "::1", true }, { data, host, cut })
  end)

  describe("inside a task", function()
    it("recvfrom yields to the loop and resumes with the datagram", function()
      local s, port = bound()
      local b = bound()
      finally(function() s:close() b:close() end)
      local co = task(function() return s:recvfrom(100) end)
      local ok, token, fd, events = coroutine.resume(co)
      assert.is_true(ok)
      assert.are.equal(core._waittoken(), token)
      assert.are.equal(s:fileno(), fd)
      assert.are.equal(1, events)
      assert.are.equal("suspended", coroutine.status(co))
      assert.are.equal(4, b:sendto("late", "127.0.0.1", port))
      local ok2, data, host = coroutine.resume(co)
      assert.is_true(ok2)
      assert.are.same({ "late", "127.0.0.1" }, { data, host })
      assert.are.equal("dead", coroutine.status(co))
    end)

    it("a socket closed while a task waits ends recvfrom with closed", function()
      local s = bound()
      local co = task(function() return s:recvfrom(100) end)
      assert.is_true((coroutine.resume(co)))
      s:close()
      assert.are.same({ true, nil, "closed", "closed" }, { coroutine.resume(co) })
    end)

    it("sendto yields while the peer's buffer is full", function()
      local a, b = assert(ns.socketpair("unix", "dgram"))
      finally(function() a:close() b:close() end)
      local path = H.tmpname(".sock")
      local r = assert(ns.socket("unix", "dgram"))
      assert(r:bind(path))
      finally(function() r:close() os.remove(path) end)
      -- fill the receiver's queue without a task first
      a:settimeout(0)
      local n = 0
      while a:sendto("fill", path) do n = n + 1 end
      assert.is_true(n > 0)
      a:settimeout(5)
      local co = task(function() return a:sendto("last", path) end)
      -- the sender polls writable while the receiver is full, so the
      -- task pauses (a timer: fd -1, no events) instead of waiting for
      -- "writable", which came at once, for ever (issue 11, #12)
      local ok, token, fd, events = coroutine.resume(co)
      assert.is_true(ok)
      assert.are.equal(core._waittoken(), token)
      assert.are.equal(-1, fd)
      assert.are.equal(0, events)
      r:settimeout(5)
      for _ = 1, n do assert.are.equal("fill", (r:recvfrom(10))) end
      assert.are.same({ true, 4 }, { coroutine.resume(co) })
      assert.are.equal("last", (r:recvfrom(10)))
    end)
  end)
end)
