-- spec/timedwait_spec.lua: calls with a timeout, outside tasks, wait
-- inside the kernel (a blocking descriptor with SO_RCVTIMEO/SO_SNDTIMEO,
-- see docs/design.md, "Timed waits in the kernel") and keep every
-- promise of docs/api.md, "Timeouts": the deadline is per call and
-- covers all of the call's system calls, it is never early and never
-- much late, no byte is lost or doubled, settimeout(0) never waits,
-- tasks never block the loop, EINTR is retried with the deadline
-- holding. The peers are python3 (and netsock itself where a peer must
-- misbehave on purpose: a full accept queue, a datagram queue that is
-- full).
local H = require "helpers"
local ns = H.netsock

-- the call waited in the kernel: its descriptor was left blocking.
-- Only Linux's /proc shows O_NONBLOCK from outside (H.nonblocking);
-- elsewhere these tests check their timing and data alone
local function waited_in_kernel(s)
  if H.linux then assert.is_false(H.nonblocking(s)) end
end
local has_tasks = ns.spawn ~= nil and ns.run ~= nil

-- run fn(), which must time out; returns the seconds it took
local function timeout_of(fn)
  local t0 = ns.monotime()
  local r = table.pack(fn())
  local took = ns.monotime() - t0
  assert.same({ nil, "timeout", "timeout" }, { r[1], r[2], r[3] })
  return took, r
end

-- the deadline is never early (the monotonic clock decides) and never
-- much late (generous: the machine is shared)
local function within(T, took)
  assert.is_true(took >= T, ("returned early: %.4f s for a %.3f s timeout"):format(took, T))
  assert.is_true(took < T + 0.75, ("returned late: %.4f s for a %.3f s timeout"):format(took, T))
end

-- a Lua child with the checkout's paths, 'prefix' before the interpreter
-- (strace); under make sanitize it gets the sanitizer runtime back
local function luachild(code, prefix, ...)
  local file = H.tmpname(".lua")
  H.writefile(file, code)
  local cpath = os.getenv("NETSOCK_CPATH") or "build/?.so"
  local env = ""
  local preload = os.getenv("LD_PRELOAD")
  if os.getenv("NETSOCK_SANITIZE") and preload then
    env = ("env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 "):format(H.shquote(preload))
  end
  local args = {}
  for i = 1, select("#", ...) do args[i] = H.shquote(select(i, ...)) end
  local setpath = ("package.path=%q..package.path package.cpath=%q..package.cpath")
    :format("lua/?.lua;lua/?/init.lua;", cpath .. ";")
  return H.spawn(("%s %s lua5.4 -e %s %s %s"):format(env, prefix or "",
    H.shquote(setpath), H.shquote(file), table.concat(args, " ")))
end

-- a TCP pair: client c (netsock), server side a (netsock)
local function tcp_pair()
  local srv, port = H.listen_local()
  local c, a = H.pair_tcp(srv, port)
  srv:close()
  return c, a
end

-- fill the send queue of 's' (a peer that never reads): send with
-- timeout 0 until it would wait
local function fill(s)
  s:settimeout(0)
  local chunk = ("f"):rep(65536)
  for _ = 1, 3 do  -- the receiver's window may grow meanwhile: again
    while s:send(chunk) do end
    while s:send("f") do end
    ns.sleep(0.05)
  end
end


describe("a timed call outside tasks #timing", function()
  local T = 0.4

  it("recv: expires within its deadline, waiting in the kernel", function()
    local c, a = tcp_pair()
    finally(function() c:close(); a:close() end)
    a:settimeout(T)
    within(T, timeout_of(function() return a:recv(10) end))
    waited_in_kernel(a)  -- it waited in the kernel
    within(T, timeout_of(function() return a:recv(10) end))  -- again: the same
    assert(c:sendall("late"))
    assert.equal("late", a:recv(10))
  end)

  it("recv: a longer timeout, past the kernel's coarse timer levels", function()
    local c, a = tcp_pair()
    finally(function() c:close(); a:close() end)
    a:settimeout(1.5)
    within(1.5, timeout_of(function() return a:recv(10) end))
  end)

  it("recvfrom: expires within its deadline", function()
    local u = assert(ns.udp())
    finally(function() u:close() end)
    assert(u:bind("127.0.0.1", 0))
    u:settimeout(T)
    within(T, timeout_of(function() return u:recvfrom(100) end))
    waited_in_kernel(u)
  end)

  it("accept: expires within its deadline", function()
    local srv = H.listen_local()
    finally(function() srv:close() end)
    srv:settimeout(T)
    within(T, timeout_of(function() return srv:accept() end))
    waited_in_kernel(srv)
  end)

  it("send and sendall: expire within their deadline on a full queue", function()
    local c, a = tcp_pair()
    finally(function() c:close(); a:close() end)
    fill(c)
    c:settimeout(T)
    within(T, timeout_of(function() return c:send("x") end))
    local took, r = timeout_of(function() return c:sendall(("y"):rep(100000)) end)
    within(T, took)
    assert.is_true(r[4] < 100000)  -- what went before the queue filled again
  end)

  it("send returns what fitted at once, not when the timeout ends", function()
    local c, a = tcp_pair()
    finally(function() c:close(); a:close() end)
    c:settimeout(5)
    local big = ("b"):rep(16 * 1024 * 1024)  -- more than the queues hold
    local t0 = ns.monotime()
    local n = assert(c:send(big))
    assert.is_true(n > 0 and n < #big, "sent " .. n)
    assert.is_true(ns.monotime() - t0 < 1, "send waited for the rest")
  end)

  it("sendto: expires within its deadline on a full datagram queue", function()
    local path = H.tmpname(".sock")
    local r = assert(ns.socket("unix", "dgram"))
    local w = assert(ns.socket("unix", "dgram"))
    finally(function() r:close(); w:close(); os.remove(path) end)
    assert(r:bind(path))
    w:settimeout(0)
    local n = 0
    while w:sendto(("d"):rep(1000), path) do n = n + 1 end  -- the queue is full
    assert.is_true(n > 0)
    w:settimeout(T)
    within(T, timeout_of(function() return w:sendto("one more", path) end))
    assert.equal(("d"):rep(1000), r:recvfrom(2000))
  end)

  it("file read and flush: expire within their deadline", function()
    local c, a = tcp_pair()
    finally(function() c:close(); a:close() end)
    a:settimeout(T)
    local f = a:makefile("rw")
    assert(c:sendall("part of a line"))
    within(T, timeout_of(function() return f:read("l") end))
    assert(c:sendall(" and its end\n"))
    assert.equal("part of a line and its end", f:read("l"))  -- nothing lost
    fill(a)
    a:settimeout(T)
    assert(f:write("z"))  -- buffered
    within(T, timeout_of(function() return f:flush() end))
  end)

  it("connect: expires within its deadline when the listener's queue is full", function()
    local srv = assert(ns.tcp())
    assert(srv:bind("127.0.0.1", 0))
    assert(srv:listen(0))
    local _, port = srv:getsockname()
    local conns = {}
    finally(function()
      for _, s in ipairs(conns) do s:close() end
      srv:close()
    end)
    local took
    for _ = 1, 8 do  -- the first connections fill the accept queue
      local c = assert(ns.tcp())
      conns[#conns + 1] = c
      c:settimeout(T)
      local t0 = ns.monotime()
      local ok, msg, code = c:connect("127.0.0.1", port)
      if not ok then
        assert.same({ "timeout", "timeout" }, { msg, code })
        took = ns.monotime() - t0
        break
      end
    end
    assert.is_not_nil(took, "no connect ever waited")
    within(T, took)
  end)

  it("settimeout(0) never waits, after the descriptor waited in the kernel", function()
    local c, a = tcp_pair()
    finally(function() c:close(); a:close() end)
    a:settimeout(0.2)
    timeout_of(function() return a:recv(10) end)
    waited_in_kernel(a)
    a:settimeout(0)
    for _ = 1, 20 do
      local took = timeout_of(function() return a:recv(10) end)
      assert.is_true(took < 0.05, "timeout 0 waited " .. took)
    end
    local srv = H.listen_local()
    srv:settimeout(0.2)
    timeout_of(function() return srv:accept() end)
    srv:settimeout(0)
    assert.is_true(timeout_of(function() return srv:accept() end) < 0.05)
    srv:close()
  end)

  it("a long sendall is bounded by one deadline, not one per chunk", function()
    -- a python peer that reads 64 KiB every 20 ms: 10 MB would take 3 s
    local srv, port = H.listen_local()
    local p = H.python([[
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(10)
n = 0
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
        time.sleep(0.02)
except OSError:
    pass
print(n, flush=True)
]], port)
    srv:settimeout(5)
    local a = assert(srv:accept())
    finally(function() a:close(); srv:close(); p:kill() end)
    a:settimeout(1)
    local data = ("s"):rep(10 * 1000 * 1000)
    local took, r = timeout_of(function() return a:sendall(data) end)
    within(1, took)
    local sent = r[4]
    assert.is_true(sent > 0 and sent < #data, "sent " .. tostring(sent))
    a:settimeout(5)
    assert(a:sendall(data, sent + 1, sent + 1000))  -- resumes where it stopped
    a:close()
    assert.equal(0, p:wait(15))
    assert.equal(tostring(sent + 1000) .. "\n", p:output())
  end)

  it("EINTR after SIGSTOP/SIGCONT is retried and the deadline still holds", function()
    -- the kernel ends a wait with SO_RCVTIMEO with EINTR when the process
    -- is stopped and continued, even without a handler (signal(7))
    local child = luachild([[
local ns = require "netsock"
local a, b = assert(ns.socketpair())
a:settimeout(1.2)
print("ready") io.stdout:flush()
local t0 = ns.monotime()
local d, msg, code = a:recv(10)
print(code, ("%.3f"):format(ns.monotime() - t0))
]])
    finally(function() child:kill() end)
    assert.equal("ready", child:line(10), child:output())
    ns.sleep(0.3)
    os.execute(("kill -STOP %d; sleep 0.1; kill -CONT %d"):format(child.pid, child.pid))
    local line = child:line(10, 2)
    assert.is_not_nil(line, child:output())
    local code, took = line:match("^(%S+)\t(%S+)$")
    assert.equal("timeout", code)
    within(1.2, tonumber(took))
  end)
end)


describe("a timed call outside tasks", function()
  it("loses no byte across many short timeouts against a trickling peer", function()
    -- bursts 0.05-0.1 s apart, timeouts of 0.03-0.12 s: some recvs time
    -- out in the kernel, some in the tail, some get data
    local srv, port = H.listen_local()
    local p = H.python([[
import random, socket, sys, time
random.seed(7)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for j in range(40):
    s.sendall(b"".join(b"%07d\n" % (j * 10 + k) for k in range(10)))
    time.sleep(random.choice([0.02, 0.05, 0.1]))
s.close()
]], port)
    srv:settimeout(5)
    local a = assert(srv:accept())
    finally(function() a:close(); srv:close(); p:kill() end)
    local f = a:makefile("r")
    local want = {}
    for j = 0, 399 do want[#want + 1] = ("%07d"):format(j) end
    local got, timeouts, k = {}, 0, 0
    while true do
      k = k + 1
      a:settimeout(({ 0.03, 0.07, 0.12 })[k % 3 + 1])
      local line, err
      if k % 2 == 0 then
        line, err = f:read("l")
      else  -- recv through the same buffer: up to one line at a time
        line, err = a:recv(8)
        if line and line:sub(-1) ~= "\n" then  -- a part; the rest by read
          a:settimeout(5)
          line = line .. assert(f:read("L"))
        end
        if line then line = line:sub(1, -2) end
      end
      if line then got[#got + 1] = line
      elseif err == "timeout" then timeouts = timeouts + 1
      else assert.equal("closed", err) break end
    end
    assert.same(want, got)
    assert.is_true(timeouts > 0, "no call timed out: the spec tested nothing")
    assert.equal(0, p:wait(10))
  end)

  it("sendall resumed after timeouts delivers every byte once, in order", function()
    local srv, port = H.listen_local()
    local p = H.python([[
import hashlib, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
h, n = hashlib.sha256(), 0
while True:
    d = s.recv(16384)
    if not d:
        break
    h.update(d); n += len(d)
    time.sleep(0.01)
print(n, h.hexdigest(), flush=True)
]], port)
    srv:settimeout(5)
    local a = assert(srv:accept())
    finally(function() a:close(); srv:close(); p:kill() end)
    assert(a:setoption("sndbuf", 16384))  -- so that the queues fill
    local data = H.pattern(50000 * 8)  -- records "0000000\n" .. "0049999\n"
    local pos, timeouts = 1, 0
    while pos <= #data do
      a:settimeout(0.05)
      local ok, err, code, sent = a:sendall(data, pos)
      if ok then break end
      assert.equal("timeout", code, err)
      timeouts = timeouts + 1
      pos = pos + sent
    end
    a:close()
    assert.is_true(timeouts > 0, "no sendall timed out: the spec tested nothing")
    assert.equal(0, p:wait(30))
    local file = H.tmpname(".data")
    H.writefile(file, data)
    local ph = io.popen("sha256sum " .. H.shquote(file))
    local sha = ph:read("l"):match("^(%x+)")
    ph:close()
    os.remove(file)
    assert.equal(("%d %s\n"):format(#data, sha), p:output())
  end)

  local tit = has_tasks and it or pending
  tit("mixed with tasks on the same socket: the loop never blocks", function()
    local c, a = tcp_pair()
    finally(function() c:close(); a:close() end)
    a:settimeout(5)
    assert(c:sendall("one"))
    assert.equal("one", a:recv(10))
    a:settimeout(0.1)
    timeout_of(function() return a:recv(10) end)
    waited_in_kernel(a)  -- outside, it waited in the kernel
    a:settimeout(5)
    local got, ticks
    ns.spawn(function() got = a:recv(10) end)  -- waits for 0.3 s
    ns.spawn(function()
      ticks = 0
      while not got do ticks = ticks + 1; ns.sleep(0.02) end
    end)
    ns.spawn(function() ns.sleep(0.3); c:sendall("two") end)
    local t0 = ns.monotime()
    ns.run()
    assert.is_true(ns.monotime() - t0 < 4)
    assert.equal("two", got)
    assert.is_true(ticks > 3, "the loop was blocked: " .. tostring(ticks) .. " ticks")
    -- and outside again: a timed wait, then the data
    a:settimeout(0.1)
    timeout_of(function() return a:recv(10) end)
    assert(c:sendall("three"))
    a:settimeout(5)
    assert.equal("three", a:recv(10))
  end)
end)


describe("a timed ping-pong", function()
  local function sit(name, fn) H.linux_it(name, "strace", fn, H.can_strace) end

  local counts = H.strace_counts

  sit("makes one system call per receive, as C does (strace -c)", function()
    local N = 300
    local srv, port = H.listen_local()
    finally(function() srv:close() end)
    -- a python echo server, not traced; the netsock client is
    local out = H.tmpname(".strace")
    local client = luachild([[
local ns = require "netsock"
local port, n = tonumber(arg[1]), tonumber(arg[2])
local c = assert(ns.tcp())
c:settimeout(30)
assert(c:connect("127.0.0.1", port))
assert(c:setoption("nodelay", true))
local msg = ("p"):rep(32)
for _ = 1, n do
  assert(c:sendall(msg))
  local got = assert(c:recv(32))
  while #got < 32 do got = got .. assert(c:recv(32 - #got)) end
end
local u = assert(ns.udp())   -- and datagrams: recvfrom with a timeout
assert(u:bind("127.0.0.1", 0))
u:settimeout(30)
assert(c:sendall(("%05d"):format(select(2, u:getsockname()))))
for _ = 1, n do assert(u:recvfrom(100)) end
c:close(); u:close()
print("done")
]], ("strace -qq -c -o %s"):format(H.shquote(out)), port, N)
    finally(function() client:kill() end)
    srv:settimeout(10)
    local a = assert(srv:accept())
    srv:close()
    -- the echo is netsock untimed on this side (not traced)
    a:settimeout(10)
    assert(a:setoption("nodelay", true))
    local f = a:makefile("r")
    for _ = 1, N do assert(a:sendall(assert(f:read(32)))) end
    local uport = tonumber(assert(f:read(5)))
    local u = assert(ns.udp())
    for _ = 1, N do
      ns.sleep(0.0005)  -- so that the receiver has to wait
      u:sendto("dgram", "127.0.0.1", uport)
    end
    assert.equal("done", client:line(30), client:output())
    assert.equal(0, client:wait(10))
    a:close(); u:close()
    local t = counts(out)
    local waits = (t.poll or 0) + (t.ppoll or 0) + (t.select or 0) + (t.epoll_wait or 0)
    local recvs = (t.recvfrom or 0) + (t.recvmsg or 0)  -- (read: the runtime's own files)
    assert.is_true(recvs >= 2 * N, H.readfile(out))
    assert.is_true(recvs <= 2 * N + 40, "more than one recv per round trip:\n" .. H.readfile(out))
    assert.is_true(waits <= 10, "poll per round trip:\n" .. H.readfile(out))
    assert.is_true((t.setsockopt or 0) <= 10, "setsockopt per call:\n" .. H.readfile(out))
    -- the generic seam (the portable build) sets FD_CLOEXEC and
    -- O_NONBLOCK by fcntl after each socket(2): a few per socket, none
    -- per call
    local fcntls = H.backend == "poll" and 20 or 10
    assert.is_true((t.fcntl or 0) <= fcntls, "fcntl per call:\n" .. H.readfile(out))
  end)
end)
