-- spec/mmsg_spec.lua: datagrams in batches, s:recvmany and s:sendmany
-- (issue 28), with real sockets and a python3 peer: what they return
-- (each datagram's sender included), cut datagrams, partial batches,
-- timeouts outside and inside tasks, closed sockets, bad arguments.
-- Every case runs twice: on recvmmsg/sendmmsg, and on the one-at-a-time
-- loop that stands in for them where the system lacks them
-- (core._mmsgloop, mmsg.c's seam).

local H = require "helpers"
local ns = H.netsock
local core = require "netsock.core"

local function bound(family)
  local s = assert(ns.udp(family))
  assert(s:bind(family == "inet6" and "::1" or "127.0.0.1", 0))
  local _, port = s:getsockname()
  s:settimeout(5)
  return s, port
end

for _, mode in ipairs({ "batch", "loop" }) do
  describe("datagrams in batches (" .. mode .. ")", function()
    local saved
    before_each(function()
      saved = core._mmsgloop()
      core._mmsgloop(mode == "loop")
    end)
    after_each(function() core._mmsgloop(saved) end)

    it("recvmany takes what python sent, with each datagram's sender", function()
      local r, port = bound()
      finally(function() r:close() end)
      local p = H.python([[
import socket, sys
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.1", 0))
dest = ("127.0.0.1", int(sys.argv[1]))
for i in range(5):
    (a if i % 2 == 0 else b).sendto(b"d%d" % i, dest)
print(a.getsockname()[1], b.getsockname()[1], flush=True)
]], port)
      finally(function() p:kill() end)
      local line = assert(p:line(10), p:output())
      local pa, pb = line:match("(%d+) (%d+)")
      local got, hosts, ports = {}, {}, {}
      while #got < 5 do
        local d, h, pt = assert(r:recvmany(32))
        assert.equal(#d, #h)
        assert.equal(#d, #pt)
        for i = 1, #d do
          got[#got + 1], hosts[#hosts + 1], ports[#ports + 1] = d[i], h[i], pt[i]
        end
      end
      assert.same({ "d0", "d1", "d2", "d3", "d4" }, got)
      assert.same({ "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1" }, hosts)
      assert.same({ tonumber(pa), tonumber(pb), tonumber(pa), tonumber(pb), tonumber(pa) }, ports)
    end)

    -- recvmany gives a datagram from the sender of the one before it that
    -- sender's host and port as they are (mmsg.c's samefrom): a change of
    -- host alone, of port alone, or back must each be seen
    it("names each datagram's sender when the senders change within a batch", function()
      local r, port = bound()
      finally(function() r:close() end)
      local p = H.python([[
import socket, sys
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0))
pa = a.getsockname()[1]
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("127.0.0.2", pa))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(("127.0.0.1", 0))
dest = ("127.0.0.1", int(sys.argv[1]))
for i, x in enumerate((a, a, b, b, c, a)):
    x.sendto(b"s%d" % i, dest)
print(pa, c.getsockname()[1], flush=True)
]], port)
      finally(function() p:kill() end)
      local line = assert(p:line(10), p:output())
      local pa, pc = line:match("(%d+) (%d+)")
      pa, pc = tonumber(pa), tonumber(pc)
      -- all six were queued before python printed: one batch
      local d, hosts, ports = assert(r:recvmany(32))
      assert.same({ "s0", "s1", "s2", "s3", "s4", "s5" }, d)
      assert.same({ "127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.1",
                    "127.0.0.1" }, hosts)
      assert.same({ pa, pa, pa, pa, pc, pa }, ports)
    end)

    it("names named and unnamed Unix senders apart within a batch", function()
      local path, spath = H.tmpname(".sock"), H.tmpname(".sock")
      local r = assert(ns.socket("unix", "dgram"))
      local s = assert(ns.socket("unix", "dgram"))
      local u = assert(ns.socket("unix", "dgram"))  -- never bound: unnamed
      finally(function() r:close(); s:close(); u:close(); os.remove(path); os.remove(spath) end)
      assert(r:bind(path))
      assert(s:bind(spath))
      r:settimeout(5)
      assert.equal(1, s:sendmany({ "n1" }, path))
      assert.equal(2, u:sendmany({ "u1", "u2" }, path))
      assert.equal(1, s:sendmany({ "n2" }, path))
      local d, paths, third = assert(r:recvmany(8))
      assert.same({ "n1", "u1", "u2", "n2" }, d)
      assert.same({ spath, "", "", spath }, paths)
      assert.is_nil(third)
    end)

    it("recvmany(n) returns at most n and leaves the rest queued", function()
      local r, port = bound()
      local s = assert(ns.udp())
      finally(function() r:close(); s:close() end)
      local list = {}
      for i = 1, 10 do list[i] = "m" .. i end
      assert.equal(10, s:sendmany(list, "127.0.0.1", port))
      local d = assert(r:recvmany(4))
      assert.same({ "m1", "m2", "m3", "m4" }, d)
      local rest = {}
      while #rest < 6 do
        for _, x in ipairs((assert(r:recvmany(100)))) do rest[#rest + 1] = x end
      end
      assert.same({ "m5", "m6", "m7", "m8", "m9", "m10" }, rest)
    end)

    it("sendmany's datagrams arrive whole and in order at a python receiver", function()
      local p = H.python([[
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.settimeout(5)
print(s.getsockname()[1], flush=True)
out = []
for i in range(300):
    d, _ = s.recvfrom(70000)
    out.append("%d:%d" % (len(d), d[0]))
print(" ".join(out[:3]), out[-1], len(out), flush=True)
]])
      finally(function() p:kill() end)
      local port = assert(tonumber((p:line(10))), p:output())
      local s = assert(ns.udp())
      finally(function() s:close() end)
      local list = {}
      for i = 1, 300 do list[i] = string.char(i % 256):rep(i * 10) end
      assert.equal(300, s:sendmany(list, "127.0.0.1", port))
      assert.equal(0, p:wait(10))
      assert.matches("10:1 20:2 30:3 3000:44 300", p:output(), 1, true)
    end)

    it("works over IPv6 and on connected sockets (no destination)", function()
      if not ns.has_ipv6 then pending("no IPv6 on this machine") return end
      local r, port = bound("inet6")
      local s = assert(ns.udp("inet6"))
      finally(function() r:close(); s:close() end)
      assert(s:connect("::1", port))
      assert.equal(2, s:sendmany({ "x", "yy" }))
      local d, h, p = assert(r:recvmany(8))
      while #d < 2 do
        local more = assert(r:recvmany(8))
        d[#d + 1] = more[1]
      end
      assert.same({ "x", "yy" }, d)
      assert.equal("::1", h[1])
      assert.equal(select(2, s:getsockname()), p[1])
    end)

    it("cuts datagrams longer than bufsize and says which", function()
      local r, port = bound()
      local s = assert(ns.udp())
      finally(function() r:close(); s:close() end)
      assert(s:sendmany({ ("a"):rep(100), "b", ("c"):rep(5000) }, "127.0.0.1", port))
      local got, cut = {}, {}
      while #got < 3 do
        local d, _, _, c = r:recvmany(8, 10)
        assert(d)
        for i = 1, #d do
          got[#got + 1] = d[i]
          if c and c[i] then cut[#got] = true end
        end
      end
      assert.same({ ("a"):rep(10), "b", ("c"):rep(10) }, got)
      assert.same({ [1] = true, [3] = true }, cut)
      -- the default bufsize: 2048
      assert(s:sendmany({ ("z"):rep(3000) }, "127.0.0.1", port))
      local d, _, _, c = assert(r:recvmany(1))
      assert.equal(2048, #d[1])
      assert.same({ true }, c)
    end)

    it("Unix datagram sockets: datagrams and paths", function()
      local path, spath = H.tmpname(".sock"), H.tmpname(".sock")
      local r = assert(ns.socket("unix", "dgram"))
      local s = assert(ns.socket("unix", "dgram"))
      finally(function() r:close(); s:close(); os.remove(path); os.remove(spath) end)
      assert(r:bind(path))
      assert(s:bind(spath))
      r:settimeout(5)
      assert.equal(3, s:sendmany({ "u1", "u2", "u3" }, path))
      local d, paths, third = assert(r:recvmany(3))
      assert.same({ "u1", "u2", "u3" }, d)
      assert.same({ spath, spath, spath }, paths)
      assert.is_nil(third)
    end)

    it("times out as recvfrom does, outside tasks", function()
      local r = bound()
      finally(function() r:close() end)
      r:settimeout(0.2)
      local t0 = ns.monotime()
      local d, err, code = r:recvmany(4)
      assert.is_nil(d)
      assert.equal("timeout", err)
      assert.equal("timeout", code)
      assert.is_true(ns.monotime() - t0 >= 0.2, "returned before its timeout")
      r:settimeout(0)
      assert.same({ nil, "timeout", "timeout" }, { r:recvmany(4) })
    end)

    it("waits inside tasks without blocking the others, with a timeout", function()
      local r, port = bound()
      local s = assert(ns.udp())
      finally(function() r:close(); s:close() end)
      local log = {}
      ns.spawn(function()
        local d = assert(r:recvmany(16))
        log[#log + 1] = "got " .. table.concat(d, ",")
        r:settimeout(0.1)
        local ok, err = r:recvmany(16)
        log[#log + 1] = tostring(ok) .. " " .. tostring(err)
      end)
      ns.spawn(function()
        log[#log + 1] = "sender runs"
        ns.sleep(0.05)
        assert.equal(2, s:sendmany({ "p", "q" }, "127.0.0.1", port))
      end)
      H.run_bounded(5)
      assert.equal("sender runs", log[1])
      assert.matches("^got p", log[2])
      assert.equal("nil timeout", log[#log])
    end)

    it("sendmany to a full Unix receiver waits, then reports the partial batch", function()
      local path = H.tmpname(".sock")
      local r = assert(ns.socket("unix", "dgram"))
      local s = assert(ns.socket("unix", "dgram"))
      finally(function() r:close(); s:close(); os.remove(path) end)
      assert(r:bind(path))
      s:settimeout(0.3)
      local list = {}
      for i = 1, 5000 do list[i] = ("x"):rep(100) end
      local t0 = ns.monotime()
      local n, err, code, sent = s:sendmany(list, path)
      local took = ns.monotime() - t0
      assert.is_nil(n)
      assert.equal("timeout", err)
      assert.equal("timeout", code)
      assert.is_true(sent > 0 and sent < 5000, "sent " .. tostring(sent))
      assert.is_true(took >= 0.3 and took < 3, ("took %.3f s"):format(took))
      -- what went is there, in order
      local d = assert(r:recvmany(sent + 1, 200))
      assert.equal(("x"):rep(100), d[1])
    end)

    it("sendmany reports how many went before a datagram the kernel refuses", function()
      local r, port = bound()
      local s = assert(ns.udp())
      finally(function() r:close(); s:close() end)
      local n, err, code, sent = s:sendmany({ "ok1", "ok2", ("z"):rep(70000), "never" },
                                            "127.0.0.1", port)
      assert.is_nil(n)
      assert.equal("EMSGSIZE", code)
      assert.is_string(err)
      assert.equal(2, sent)
      assert.same({ "ok1", "ok2" }, (assert(r:recvmany(8))))
    end)

    it("looks host names up without blocking the loop, as sendto does", function()
      local r, port = bound()
      local s = assert(ns.udp())
      finally(function() r:close(); s:close() end)
      local n
      ns.spawn(function() n = s:sendmany({ "named" }, "localhost", port) end)
      H.run_bounded(10)
      assert.equal(1, n)
      assert.same({ "named" }, (assert(r:recvmany(2))))
    end)

    it("closed sockets: nil, 'closed', 'closed' (and 0 sent)", function()
      local r = bound()
      r:close()
      assert.same({ nil, "closed", "closed" }, { r:recvmany(2) })
      assert.same({ nil, "closed", "closed", 0 }, { r:sendmany({ "x" }, "127.0.0.1", 9) })
    end)

    it("a socket closed under a waiting recvmany wakes it: closed", function()
      local r = bound()
      local got
      ns.spawn(function() got = { r:recvmany(4) } end)
      ns.spawn(function() ns.sleep(0.05); r:close() end)
      H.run_bounded(5)
      assert.same({ nil, "closed", "closed" }, got)
    end)

    it("an empty array sends nothing and returns 0", function()
      local s = assert(ns.udp())
      finally(function() s:close() end)
      assert.equal(0, s:sendmany({}, "127.0.0.1", 9))
    end)

    it("raises on bad arguments, naming them", function()
      local s = assert(ns.udp())
      local t = assert(ns.tcp())
      finally(function() s:close(); t:close() end)
      assert.error_matches(function() s:recvmany(0) end, "bad argument #1 to 'recvmany' %(count out of range%)")
      assert.error_matches(function() s:recvmany(1025) end, "count out of range")
      assert.error_matches(function() s:recvmany("x") end, "bad argument #1 to 'recvmany'")
      assert.error_matches(function() s:recvmany(1, 0) end, "bad argument #2 to 'recvmany' %(buffer size out of range")
      assert.error_matches(function() s:recvmany(1, 70000) end, "buffer size out of range")
      assert.error_matches(function() s:sendmany("x") end, "bad argument #1 to 'sendmany' %(table expected")
      assert.error_matches(function() s:sendmany({ "a", 2 }, "127.0.0.1", 9) end,
        "bad argument #1 to 'sendmany' %(datagram 2 is a number, string expected%)")
      assert.error_matches(function() s:sendmany({ "a" }, "127.0.0.1", 70000) end, "port")
      assert.error_matches(function() t:recvmany(1) end, "datagram socket expected")
      assert.error_matches(function() t:sendmany({ "a" }) end, "datagram socket expected")
    end)
  end)
end

describe("datagrams in batches: the seam", function()
  it("uses the batch calls on Linux, the loop when asked", function()
    local saved = core._mmsgloop()
    finally(function() core._mmsgloop(saved) end)
    assert.is_false(core._mmsgloop(false))
    assert.is_true(core._mmsgloop(true))
  end)

  -- where the seam has no batch calls (the generic one: make test
  -- PORTABLE=1, macOS) the loop takes them one recvmsg each
  H.linux_it("recvmany(32) takes 32 queued datagrams in one recvmmsg (strace)", "strace", function()
    local log = H.tmpname(".strace")
    finally(function() os.remove(log) end)
    local p = H.lua_with("strace -f -qq -e trace=recvmmsg,recvfrom,recvmsg -o " .. log, [[
local ns = require "netsock"
local r = assert(ns.udp()); assert(r:bind("127.0.0.1", 0))
local s = assert(ns.udp())
local list = {}
for i = 1, 32 do list[i] = "d" .. i end
assert(s:sendmany(list, r:getsockname()))
local d = assert(r:recvmany(32))
print("got " .. #d, "loop " .. tostring(require("netsock.core")._mmsgloop()))
]])
    assert.equal(0, p:wait(20))
    assert.matches("got 32", p:output())
    local loop = p:output():match("loop (%a+)") == "true"
    local trace = H.readfile(log) or ""
    local _, calls = trace:gsub("recvmmsg%(", "")
    local _, single = trace:gsub("recvmsg%(", "")
    assert.equal(loop and 0 or 1, calls, trace)
    assert.equal(loop and 32 or 0, single, trace)
    assert.equal(H.backend == "poll", loop, "the generic seam has no batch calls, Linux's has")
  end, H.can_strace)
end)
