-- socket_spec: the TCP core of API.md against real peers (python3, nc)
-- and against netsock itself.
local H = require "helpers"
local ns = H.netsock

describe("netsock TCP", function()

  describe("module", function()
    it("loads the C core and the Lua facade", function()
      assert.equal("function", type(ns.socket))
      assert.equal("function", type(ns.create_connection))
      assert.equal(2, ns.AF_INET)
      assert.equal("ECONNREFUSED", ns.errorcode[111])
      assert.is_boolean(ns.has_ipv6)
    end)

    it("is the sanitizer build under make sanitize", function()
      local where = package.searchpath("netsock.core", package.cpath)
      assert.truthy(where)
      if os.getenv("NETSOCK_SANITIZE") then
        -- build/asan/, or build/portable/asan/ (make sanitize PORTABLE=1)
        assert.matches("^build/[%w/]-asan/", where)
      else
        assert.matches("build/", where, 1, true)
      end
    end)

    it("has clocks that move", function()
      local t0, m0 = ns.gettime(), ns.monotime()
      assert.is_true(math.abs(t0 - os.time()) < 5)
      ns.sleep(0.02)
      assert.is_true(ns.monotime() - m0 >= 0.02)
    end)

    it("keeps the default timeout, and new sockets start with it", function()
      finally(function() ns.setdefaulttimeout(nil) end)
      assert.is_nil(ns.getdefaulttimeout())
      assert.is_true(ns.setdefaulttimeout(2.5))
      assert.equal(2.5, ns.getdefaulttimeout())
      local s = ns.tcp()
      assert.equal(2.5, s:gettimeout())
      s:close()
      ns.setdefaulttimeout(nil)
      s = ns.tcp()
      assert.is_nil(s:gettimeout())
      s:close()
      assert.has_error(function() ns.setdefaulttimeout(-1) end)
      assert.has_error(function() ns.setdefaulttimeout(0/0) end)
    end)
  end)

  describe("talking to itself", function()
    it("binds, listens, accepts, connects, sends and receives", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      assert.equal("integer", math.type(port))
      local c = ns.tcp()
      assert.is_true(c:connect("127.0.0.1", port))
      srv:settimeout(5)
      local a, host, cport = srv:accept()
      assert.truthy(a)
      assert.equal("127.0.0.1", host)
      assert.equal("integer", math.type(cport))
      assert.same({ "127.0.0.1", cport }, { c:getsockname() })
      assert.same({ "127.0.0.1", port }, { c:getpeername() })
      assert.same({ "127.0.0.1", cport }, { a:getpeername() })
      local n = c:send("hello world")
      assert.equal(11, n)
      assert.equal("integer", math.type(n))
      a:settimeout(5)
      assert.equal("hello world", a:recv(100))
      c:close()
      assert.same({ nil, "closed", "closed" }, { a:recv(100) })
      a:close()
    end)

    it("sends a substring with i and j as string.sub does", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      assert.equal(3, c:send("abcdef", 2, 4))
      assert.equal(2, c:send("abcdef", -2))
      assert.equal(0, c:send("abcdef", 5, 2))
      assert.is_true(c:sendall("xyz", 2))
      a:settimeout(5)
      local got = ""
      while #got < 7 do got = got .. assert(a:recv(100)) end
      assert.equal("bcdefyz", got)
    end)

    -- sendall's common case is one send that takes every byte (no set-up
    -- for a wait): the range, an empty range, and the same inside a task
    it("sendall sends i..j in one call when the kernel takes it all, in a task too", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      assert.is_true(c:sendall("abcdef", 2, 4))
      assert.is_true(c:sendall("abcdef", 5, 2))   -- empty: nothing sent
      assert.is_true(c:sendall("abcdef", -2))
      assert.is_true(c:sendall(""))
      local results
      ns.run(function() results = { c:sendall("0123456789", 3, -3) } end)
      assert.same({ true }, results)
      a:settimeout(5)
      local got = ""
      while #got < 11 do got = got .. assert(a:recv(100)) end
      assert.equal("bcdef234567", got)
      assert.has_error(function() c:sendall("x", {}) end)
    end)

    it("peeks with MSG_PEEK without consuming", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      c:sendall("peekaboo")
      a:settimeout(5)
      ns.sleep(0.05)
      assert.equal("peek", a:recv(4, ns.MSG_PEEK))
      assert.equal("peekaboo", a:recv(100))
    end)

    it("recv returns at most bufsize bytes, and larger reads work", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      local data = ("0123456789"):rep(20000)  -- 200,000 bytes
      assert.is_true(c:sendall(data))
      c:shutdown("w")
      a:settimeout(5)
      assert.equal(3, #a:recv(3))
      local parts = {}
      while true do
        local d, err = a:recv(100000)  -- larger than the stack buffer
        if not d then assert.equal("closed", err) break end
        assert.is_true(#d <= 100000)
        parts[#parts + 1] = d
      end
      assert.equal(data:sub(4), table.concat(parts))
    end)

    it("reports a refused connection with its errno name", function()
      local s = ns.tcp()
      assert.is_true(s:bind("127.0.0.1", 0))
      local _, port = s:getsockname()
      s:close()  -- nobody listens there now
      local c = ns.tcp()
      local ok, msg, code = c:connect("127.0.0.1", port)
      assert.is_nil(ok)
      assert.equal("ECONNREFUSED", code)
      assert.is_string(msg)
      c:close()
      c = ns.tcp()
      assert.equal(111, c:connect_ex("127.0.0.1", port))
      c:close()
      local r = { ns.create_connection("127.0.0.1", port, 2) }
      assert.same({ nil, "ECONNREFUSED" }, { r[1], r[3] })
    end)

    -- the end of a non-blocking connect (src/connect.c): on Linux
    -- TCP_INFO's state says whether it is done in one system call; the
    -- portable build and other systems ask SO_ERROR and getpeername
    local second = H.linux and H.backend == "epoll"

    H.linux_it("ends a loopback connect with one system call after EINPROGRESS (strace -c)",
               "strace, and sys_linux.c (not the portable build)", function()
      local N = 100
      local out = H.tmpname(".strace")
      local child = H.lua_with(("strace -f -qq -c -o %s"):format(H.shquote(out)), [[
local ns = require "netsock"
local N = tonumber(arg[1])
local srv = assert(ns.create_server("127.0.0.1", 0, { backlog = N }))
local port = select(2, srv:getsockname())
for _ = 1, N do
  local c = assert(ns.tcp())
  c:settimeout(5)
  assert(c:connect("127.0.0.1", port))
  assert(srv:accept()):close()
  c:close()
end
print("done")
]], tostring(N))
      finally(function() child:kill() end)
      assert.equal("done", child:line(30), child:output())
      assert.equal(0, child:wait(10))
      local t = H.strace_counts(out)
      local calls = H.readfile(out)
      assert.is_true((t.connect or 0) >= N and (t.connect or 0) <= N + 5, calls)
      -- one getsockopt (TCP_INFO) per connect, where SO_ERROR and
      -- getpeername made two
      assert.is_true((t.getsockopt or 0) + (t.getpeername or 0) <= N + 5, calls)
      assert.is_true((t.getpeername or 0) < N / 10, "getpeername per connect:\n" .. calls)
    end, H.can_strace and second)

    it("ends a connect that had to wait: when the listener takes it, and at its timeout", function()
      -- a full accept queue (backlog 0) drops the SYN: the connect goes
      -- on until the listener accepts (the SYN is sent again after 1 s)
      local srv = assert(ns.tcp())
      finally(function() srv:close() end)
      assert.is_true(srv:bind("127.0.0.1", 0))
      assert.is_true(srv:listen(0))
      local port = select(2, srv:getsockname())
      local fill = {}
      finally(function() for _, f in ipairs(fill) do f:close() end end)
      for i = 1, 3 do
        fill[i] = ns.tcp()
        fill[i]:settimeout(0)
        fill[i]:connect("127.0.0.1", port)
      end
      ns.sleep(0.05)
      -- outside a task: waits, then times out
      local c = ns.tcp()
      c:settimeout(0.3)
      local t0 = ns.monotime()
      local ok, _, code = c:connect("127.0.0.1", port)
      local took = ns.monotime() - t0
      c:close()
      assert.same({ nil, "timeout" }, { ok, code })
      assert.is_true(took >= 0.29 and took < 3, took)
      -- in a task: waits until the listener has taken the others
      local d = ns.tcp()
      finally(function() d:close() end)
      d:settimeout(10)
      local res
      H.run_bounded(15, function()
        ns.spawn(function()
          ns.sleep(0.2)
          srv:settimeout(0.5)
          while true do
            local a = srv:accept()
            if not a then break end
            a:close()
          end
        end)
        res = { d:connect("127.0.0.1", port) }
      end)
      assert.same({ true }, res)
      assert.equal(port, select(2, d:getpeername()))
    end)

    it("connect_ex returns 0 on success", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local c = ns.tcp()
      c:settimeout(5)
      assert.equal(0, c:connect_ex("127.0.0.1", port))
      c:close()
    end)

    it("reports an address in use", function()
      local a = ns.tcp()
      assert.is_true(a:bind("127.0.0.1", 0))
      assert.is_true(a:listen())
      local _, port = a:getsockname()
      local b = ns.tcp()
      assert.same({ nil, "EADDRINUSE" }, { (b:bind("127.0.0.1", port)), select(3, b:bind("127.0.0.1", port)) })
      local r = { ns.create_server("127.0.0.1", port) }
      assert.equal("EADDRINUSE", r[3])
      a:close(); b:close()
    end)

    it("a non-blocking connect says EINPROGRESS, then completes", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local c = ns.tcp()
      c:setblocking(false)
      assert.is_false(c:getblocking())
      local ok, _, code = c:connect("127.0.0.1", port)
      assert.is_true(ok == true or code == "EINPROGRESS")
      local r = ns.socket()
      r:close()
      c:settimeout(5)
      -- once writable the peer is there
      local a = srv:accept()
      assert.truthy(a)
      assert.is_string((c:getpeername()))
      c:close(); a:close()
    end)

    it("shuts down one direction", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      assert.is_true(c:shutdown("w"))
      a:settimeout(5)
      assert.same({ nil, "closed", "closed" }, { a:recv(10) })
      assert.is_true(a:sendall("still here"))
      c:settimeout(5)
      assert.equal("still here", c:recv(100))
      assert.is_true(a:shutdown(ns.SHUT_RDWR))
      assert.has_error(function() a:shutdown("x") end)
    end)

    it("survives a send to a peer that is gone: EPIPE, no SIGPIPE", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); srv:close() end)
      a:close()
      ns.sleep(0.05)
      local code
      for _ = 1, 20 do  -- the first send may still succeed; a later one fails
        local ok, _, cd = c:send(("x"):rep(65536))
        if not ok then code = cd break end
        ns.sleep(0.01)
      end
      assert.is_true(code == "EPIPE" or code == "ECONNRESET", tostring(code))
    end)
  end)

  describe("timeouts", function()
    it("accept times out with the exact triple", function()
      local srv = H.listen_local()
      finally(function() srv:close() end)
      srv:settimeout(0.1)
      local t = ns.monotime()
      assert.same({ nil, "timeout", "timeout" }, { srv:accept() })
      local dt = ns.monotime() - t
      assert.is_true(dt >= 0.09 and dt < 2, tostring(dt))
    end)

    it("non-blocking accept says timeout at once", function()
      local srv = H.listen_local()
      finally(function() srv:close() end)
      srv:setblocking(false)
      assert.equal(0, srv:gettimeout())
      assert.same({ nil, "timeout", "timeout" }, { srv:accept() })
    end)

    it("recv times out and the socket stays usable", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      a:settimeout(0.1)
      assert.equal(0.1, a:gettimeout())
      assert.same({ nil, "timeout", "timeout" }, { a:recv(10) })
      c:sendall("late")
      a:settimeout(5)
      assert.equal("late", a:recv(10))
    end)

    it("connect times out against a listener whose backlog is full", function()
      local srv = ns.tcp()
      finally(function() srv:close() end)
      assert.is_true(srv:bind("127.0.0.1", 0))
      assert.is_true(srv:listen(0))
      local _, port = srv:getsockname()
      -- fill the queue: connections the listener never accepts
      local fillers, timed_out = {}, false
      for _ = 1, 16 do
        local c = ns.tcp()
        c:settimeout(0.3)
        local ok, msg = c:connect("127.0.0.1", port)
        fillers[#fillers + 1] = c
        if not ok then
          assert.equal("timeout", msg)
          timed_out = true
          break
        end
      end
      for _, c in ipairs(fillers) do c:close() end
      assert.is_true(timed_out, "the backlog never filled")
    end)

    it("sendall times out against a peer that never reads, with the count", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      c:settimeout(0.3)
      local data = ("z"):rep(64 * 1024 * 1024)
      local t = ns.monotime()
      local ok, msg, code, sent = c:sendall(data)
      local dt = ns.monotime() - t
      assert.is_nil(ok)
      assert.equal("timeout", msg)
      assert.equal("timeout", code)
      assert.equal("integer", math.type(sent))
      assert.is_true(sent > 0 and sent < #data)
      assert.is_true(dt < 3, "the timeout bounds the whole call: " .. dt)
    end)

    it("rejects negative and NaN timeouts, accepts nil and math.huge", function()
      local s = ns.tcp()
      finally(function() s:close() end)
      assert.has_error(function() s:settimeout(-1) end)
      assert.has_error(function() s:settimeout(0/0) end)
      assert.has_error(function() s:settimeout("soon") end)
      assert.is_true(s:settimeout(math.huge))
      assert.is_nil(s:gettimeout())
      assert.is_true(s:settimeout(nil))
      assert.is_true(s:getblocking())
      assert.is_true(s:setblocking(true))
      assert.is_nil(s:gettimeout())
    end)
  end)

  describe("with python3 peers", function()
    it("a python client sends, netsock echoes", function()
      local a, p = H.python_client([[
c.sendall(b"ping from python\n")
print(c.recv(100).decode().strip())
c.close()
]])
      finally(function() p:kill() end)
      a:settimeout(10)
      local got = assert(a:recv(100))
      assert.equal("ping from python\n", got)
      assert.is_true(a:sendall(got:upper()))
      a:close()
      assert.equal(0, p:wait(10))
      assert.equal("PING FROM PYTHON", p:line(1))
    end)

    it("16 MiB sendall arrives byte for byte at a python peer", function()
      -- 4096 blocks of 4 KiB: a block number, then a fixed filler, so that
      -- a lost, doubled or reordered block changes the digest
      local nblocks = 4096
      local p, port = H.python_server(([[
h = hashlib.sha256()
total = 0
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d)
    total += len(d)
filler = bytes((i * 31 + 7) %% 251 for i in range(4092))
expect = hashlib.sha256(b"".join(struct.pack(">I", k) + filler for k in range(%d))).hexdigest()
print(total, "OK" if h.hexdigest() == expect else "MISMATCH")
]]):format(nblocks))
      finally(function() p:kill() end)
      local bytes = {}
      for i = 0, 4091 do bytes[i + 1] = string.char((i * 31 + 7) % 251) end
      local filler = table.concat(bytes)
      local parts = {}
      for k = 0, nblocks - 1 do parts[k + 1] = string.pack(">I4", k) .. filler end
      local data = table.concat(parts)
      assert.equal(16 * 1024 * 1024, #data)
      local c = assert(ns.create_connection("127.0.0.1", port, 10))
      assert.is_true(c:sendall(data))
      c:close()
      assert.equal(0, p:wait(20))
      assert.equal(("%d OK"):format(#data), p:line(1, 2))
    end)

    it("reports a reset as ECONNRESET, not closed", function()
      local p, port = H.python_server([[
c.sendall(b"partial")
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
time.sleep(0.2)
c.close()
print("reset", flush=True)
]])
      finally(function() p:kill() end)
      local c = assert(ns.create_connection("127.0.0.1", port, 5))
      finally(function() c:close() end)
      assert.equal("reset", p:line(5, 2))
      local got, msg, code = H.drain(c, 100)
      assert.equal("partial", got)
      assert.equal("ECONNRESET", code)
      assert.is_string(msg)
    end)

    it("sees a python server close as orderly end of stream", function()
      local p, port = H.python_server([[
c.sendall(b"bye")
c.close()
]])
      finally(function() p:kill() end)
      local c = assert(ns.create_connection("127.0.0.1", port, 5))
      finally(function() c:close() end)
      local got = ""
      while #got < 3 do got = got .. assert(c:recv(10)) end
      assert.equal("bye", got)
      assert.same({ nil, "closed", "closed" }, { c:recv(10) })
    end)
  end)

  describe("with nc", function()
    it("receives what nc sends and nc receives what we send", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local input = H.tmpname(".in")
      H.writefile(input, "line from nc\n")
      local p = H.spawn(("nc -q 1 127.0.0.1 %d"):format(port), { stdin = input })
      finally(function() p:kill() end)
      srv:settimeout(10)
      local a = assert(srv:accept())
      a:settimeout(10)
      assert.equal("line from nc\n", a:recv(100))
      assert.is_true(a:sendall("reply to nc\n"))
      a:close()
      p:wait(10)
      assert.equal("reply to nc\n", p:output())
    end)
  end)

  describe("IPv6", function()
    H.ipv6_it("talks over ::1", function()
      local srv, port = H.listen_local("inet6")
      finally(function() srv:close() end)
      local c = assert(ns.create_connection("::1", port, 5))
      local a, host = assert(srv:accept())
      assert.equal("::1", host)
      assert.same({ "::1", port }, { c:getpeername() })
      c:sendall("six")
      a:settimeout(5)
      assert.equal("six", a:recv(10))
      c:close(); a:close()
    end)

    H.ipv6_it("talks to a python3 IPv6 server", function()
      local p, port = H.python_server('c.sendall(c.recv(100).upper())', "inet6")
      finally(function() p:kill() end)
      local c = assert(ns.create_connection("::1", port, 5))
      c:sendall("hello six")
      assert.equal("HELLO SIX", c:recv(100))
      c:close()
    end)

    H.ipv6_it("a dual-stack server is reached over IPv4", function()
      local srv = assert(ns.create_server("", 0, { dualstack = true }))
      finally(function() srv:close() end)
      assert.is_false(srv:getoption("ipv6only"))
      local _, port = srv:getsockname()
      local c = assert(ns.create_connection("127.0.0.1", port, 5))
      srv:settimeout(5)
      local a, host = assert(srv:accept())
      assert.equal("::ffff:127.0.0.1", host)
      c:close(); a:close()
    end)

    it("create_connection to localhost tries each address", function()
      local srv, port = H.listen_local()  -- IPv4 only
      finally(function() srv:close() end)
      local c = assert(ns.create_connection("localhost", port, 5))
      assert.equal("127.0.0.1", (c:getpeername()))
      c:close()
    end)
  end)

  describe("lifetime", function()
    it("close is idempotent; a closed socket raises on configuration, data calls say closed", function()
      local s = ns.tcp()
      assert.is_true(s:close())
      assert.is_true(s:close())
      assert.equal(-1, s:fileno())
      assert.equal("netsock.socket (closed)", tostring(s))
      for _, m in ipairs { "bind", "listen", "connect", "getsockname", "settimeout",
                          "setoption", "shutdown" } do
        assert.has_error(function() s[m](s, "127.0.0.1", 1) end,
          "attempt to use a closed socket")
      end
      -- the data path: a run-time condition (docs/api.md, Conventions)
      assert.same({ nil, "closed", "closed" }, { s:accept() })
      assert.same({ nil, "closed", "closed" }, { s:send("x") })
      assert.same({ nil, "closed", "closed" }, { s:sendall("x") })
      assert.same({ nil, "closed", "closed" }, { s:recv(10) })
      assert.same({ nil, "closed", "closed" }, { s:sendto("x", "127.0.0.1", 9) })
      assert.same({ nil, "closed", "closed" }, { s:recvfrom(10) })
      assert.same({ nil, "closed", "closed" }, { s:sendfile("/dev/null") })
      -- misuse still raises, closed or not
      assert.has_error(function() s:recv("x") end)
      assert.has_error(function() s:send({}) end)
    end)

    it("tostring shows fd, family, type and addresses", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      local str = tostring(c)
      assert.matches("fd " .. c:fileno(), str, 1, true)
      assert.matches("inet stream", str, 1, true)
      assert.matches("-> 127.0.0.1:" .. port, str, 1, true)
    end)

    it("<close> closes at the end of the scope", function()
      local fd
      do
        local s <close> = ns.tcp()
        fd = s:fileno()
        assert.is_true(fd >= 0)
        assert.truthy(H.fdflags(fd))
      end
      assert.is_nil(H.fdflags(fd))
    end)

    it("garbage collection closes forgotten sockets: no descriptor leaks", function()
      -- two cycles: a socket kept alive by another finalized object (a
      -- file object's socket) is finalized one cycle after it
      collectgarbage(); collectgarbage()
      local before = H.fdcount()
      for _ = 1, 200 do
        local s = ns.tcp()
        s:bind("127.0.0.1", 0)
      end
      local srv, port = H.listen_local()
      for _ = 1, 50 do H.pair_tcp(srv, port) end
      srv = nil  -- luacheck: ignore
      collectgarbage(); collectgarbage()
      assert.equal(before, H.fdcount_settled(before))
    end)

    it("every descriptor is close-on-exec", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      local x, y = ns.socketpair()
      local d = assert(ns.fromfd(c:fileno(), "inet", "stream"))
      finally(function()
        for _, s in ipairs { srv, c, a, x, y, d } do s:close() end
      end)
      for _, s in ipairs { srv, c, a, x, y, d } do
        local flags = assert(H.fdflags(s:fileno()))
        assert.is_true(flags & H.O_CLOEXEC ~= 0, tostring(s))
      end
    end)

    it("fromfd duplicates and detach hands the descriptor over", function()
      local srv, port = H.listen_local()
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close(); srv:close() end)
      local d = assert(ns.fromfd(c:fileno(), ns.AF_INET, ns.SOCK_STREAM))
      assert.are_not.equal(c:fileno(), d:fileno())
      d:sendall("via dup")
      d:close()
      a:settimeout(5)
      assert.equal("via dup", a:recv(100))
      local fd = c:detach()
      assert.equal(-1, c:fileno())
      local e = assert(ns.fromfd(fd, "inet", "stream"))
      os.execute()  -- nothing: just make sure no Lua state is odd
      e:sendall("after detach")
      assert.equal("after detach", a:recv(100))
      e:close()
      local again = ns.fromfd(fd, "inet", "stream")  -- fd is still ours to close
      assert.truthy(again)
      again:close()
    end)

    it("recv with MSG_TRUNC never returns more than bufsize", function()
      local r, w = ns.udp(), ns.udp()
      finally(function() r:close(); w:close() end)
      assert.is_true(r:bind("127.0.0.1", 0))
      assert.is_true(w:connect(r:getsockname()))
      assert.equal(3000, w:send(("d"):rep(3000)))
      r:settimeout(5)
      assert.equal(("d"):rep(10), r:recv(10, ns.MSG_TRUNC))
      -- past the stack buffer: a Unix datagram larger than bufsize
      local a, b = ns.socketpair("unix", "dgram")
      finally(function() a:close(); b:close() end)
      a:setoption("sndbuf", 1 << 20)
      b:setoption("rcvbuf", 1 << 20)
      assert.equal(150000, a:send(("e"):rep(150000)))
      b:settimeout(5)
      assert.equal(("e"):rep(100000), b:recv(100000, ns.MSG_TRUNC))
    end)

    it("socketpair gives two connected sockets", function()
      local x, y = ns.socketpair()
      finally(function() x:close(); y:close() end)
      x:sendall("over the pair")
      y:settimeout(5)
      assert.equal("over the pair", y:recv(100))
      local u, v = ns.socketpair("unix", "dgram")
      u:send("one datagram")
      v:settimeout(5)
      assert.equal("one datagram", v:recv(100))
      u:close(); v:close()
    end)
  end)

  describe("misuse raises, naming the argument", function()
    local s
    before_each(function() s = ns.tcp() end)
    after_each(function() s:close() end)

    it("wrong types", function()
      assert.has_error(function() s:bind({}, 1) end,
        "bad argument #1 to 'bind' (string expected, got table)")
      assert.has_error(function() s:bind("127.0.0.1", {}) end)
      assert.has_error(function() s:recv("ten") end)
      assert.has_error(function() s:send(nil) end)
      assert.has_error(function() ns.socket("bogus") end)
      assert.has_error(function() ns.socket("inet", "bogus") end)
      assert.has_error(function() ns.socket(12345) end)
      assert.has_error(function() ns.create_connection(nil, 80) end)
      assert.has_error(function() ns.create_server("127.0.0.1", 0, "opts") end)
      assert.has_error(function() s.bind(42, "127.0.0.1", 0) end)
    end)

    it("ports out of range", function()
      assert.has_error(function() s:bind("127.0.0.1", 65536) end,
        "bad argument #2 to 'bind' (port out of range)")
      assert.has_error(function() s:bind("127.0.0.1", -1) end)
      assert.has_error(function() s:connect("127.0.0.1", 1.5) end)
      assert.has_error(function() s:connect("127.0.0.1", "99999") end)
      assert.has_error(function() s:bind("127.0.0.1", 0/0) end)
    end)

    it("embedded zero bytes in hosts", function()
      assert.has_error(function() s:bind("127.0.0.1\0evil", 0) end)
    end)

    it("bad shutdown, listen and recv sizes", function()
      assert.has_error(function() s:listen(-1) end)
      assert.has_error(function() s:recv(-5) end)
      assert.has_error(function() s:shutdown(99) end)
    end)

    it("a service name is a port; an unknown one a resolver failure", function()
      assert.is_true(s:setoption("reuseaddr", true))
      local ok, _, code = s:bind("127.0.0.1", "no-such-service-xyz")
      assert.is_nil(ok)
      assert.matches("^EAI_", code)
    end)
  end)
end)
