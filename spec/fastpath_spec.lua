-- spec/fastpath_spec.lua: the paths made fast for the benchmarks keep
-- their behaviour. A call on a socket with no timeout, from the main
-- thread, waits inside the kernel (O_NONBLOCK cleared at its first
-- wait: docs/design.md, "Kernel waits"); every other use passes
-- MSG_DONTWAIT (or sets O_NONBLOCK again for calls without flags), so it
-- never blocks whatever the descriptor's flag says. IPv4 addresses come
-- back as text from addr.c's own formatter (not inet_ntop).
local H = require "helpers"
local ns = H.netsock

-- what these check is the descriptor's O_NONBLOCK, which only Linux's
-- /proc shows from outside the call (H.nonblocking): elsewhere the
-- blocks that read it pend, saying so
local nonblocking = H.nonblocking
local NEEDS = "/proc fdinfo (O_NONBLOCK)"

-- a python peer that connects, sends "hello" after 0.2 s, prints what it
-- reads (5 bytes), sends "xyz\n" 0.2 s later, closes 0.3 s after that: so
-- that our recv has to wait, each time (and no wait is unbounded: python
-- closes in any case)
local PEER = [[
try:
    time.sleep(0.2); c.sendall(b"hello")
    c.settimeout(5); print(c.recv(5).decode(), flush=True)
    time.sleep(0.2); c.sendall(b"xyz\n")
    time.sleep(0.3)
finally:
    c.close()
]]

H.linux_describe("a blocking call without a timeout", NEEDS, function()
  local srv, port, a, p
  before_each(function()
    srv, port = H.listen_local()
    srv:settimeout(5)
    p = H.python_connect(port, PEER)
    a = assert(srv:accept())
    assert.is_true(nonblocking(a))  -- a new socket starts non-blocking
  end)
  after_each(function()
    a:close(); srv:close()
    if p:wait(5) == nil then p:kill() end
  end)

  it("waits in the kernel and returns what it always did", function()
    assert.equal("hello", a:recv(100))  -- had to wait: kernel wait from now
    assert.is_false(nonblocking(a))
    assert.equal(5, a:send("world"))
    assert.equal("xyz\n", a:recv(100))
    assert.same({ nil, "closed", "closed" }, { a:recv(1) })
    assert.equal(0, p:wait(5))
    assert.equal("world\n", p:output())
  end)

  it("keeps a timeout set after it waited in the kernel", function()
    assert.equal("hello", a:recv(100))
    assert.is_false(nonblocking(a))
    a:settimeout(0.05)
    local t0 = ns.monotime()
    assert.same({ nil, "timeout", "timeout" }, { a:recv(1) })
    assert.is_true(ns.monotime() - t0 < 2)
    a:settimeout(0)  -- never waits, though the descriptor blocks
    assert.same({ nil, "timeout", "timeout" }, { a:recv(1) })
    assert.equal(5, a:send("world"))
  end)

  it("serves a coroutine after it waited in the kernel", function()
    assert.equal("hello", a:recv(100))
    assert.is_false(nonblocking(a))
    assert.equal(5, a:send("world"))
    local got = coroutine.wrap(function() return a:recv(100) end)()
    assert.equal("xyz\n", got)
  end)

  it("serves file objects made before", function()
    local f = a:makefile("rw")
    assert.equal("hello", a:recv(100))
    assert.is_false(nonblocking(a))
    assert(f:write("world"))
    assert(f:flush())
    assert.equal("xyz", f:read("l"))
    a:settimeout(0)
    assert.same({ nil, "timeout", "timeout" }, { f:read("l") })
    f:close()
  end)

  it("serves any other method on the blocking descriptor", function()
    assert.equal("hello", a:recv(100))
    assert.is_false(nonblocking(a))
    assert(a:setoption("nodelay", true))
    assert.is_true(a:getoption("nodelay"))
    assert.equal(5, a:send("world"))
  end)

  it("costs no fcntl when the call does not wait", function()
    local c = assert(ns.tcp())
    assert(c:connect("127.0.0.1", port))
    local b = assert(srv:accept())
    assert(c:sendall("now"))
    ns.sleep(0.05)
    assert.equal("now", b:recv(10))   -- the bytes were there
    assert.is_true(nonblocking(b))
    b:close(); c:close()
    assert.equal("hello", a:recv(100))
    assert.equal(5, a:send("world"))
  end)

  it("never blocks the task loop after a blocking use outside it", function()
    -- in a child process, so that a regression (a task blocking the whole
    -- loop in recv) shows as a bounded wait here, not as a hung spec
    a:close()
    local q = H.lua([[
      local ns = require "netsock"
      local peer = ...
      local srv = assert(ns.create_server("127.0.0.1", 0))
      local port = select(2, srv:getsockname())
      local file = os.tmpname()
      local fh = assert(io.open(file, "w")); fh:write(peer); fh:close()
      local py = io.popen("python3 " .. file .. " " .. port, "r")
      srv:settimeout(5)
      local a = assert(srv:accept())
      a:settimeout(nil)
      local f = a:makefile("r")
      assert(a:recv(5) == "hello")        -- waited: kernel wait from now
      assert(a:send("world") == 5)
      local got, ticks, done = {}, 0, 0
      ns.spawn(function() got.line = f:read("l"); done = done + 1 end)
      ns.spawn(function() got.data = a:recv(10); done = done + 1 end)
      ns.spawn(function()  -- ticks only while the loop is not blocked
        while done < 2 do
          if not got.line then ticks = ticks + 1 end
          ns.sleep(0.02)
        end
      end)
      ns.run()
      py:close()
      os.remove(file)
      print(got.line, got.data, ticks > 3)
    ]], H.PY_CLIENT .. PEER)
    local rc = q:wait(10)
    if rc == nil then q:kill() end
    assert.equal(0, rc)
    assert.equal("xyz\tnil\ttrue\n", q:output())
  end)
end)

H.linux_describe("sendto and recvfrom without a timeout", NEEDS, function()
  it("wait in the kernel and keep a timeout set afterwards", function()
    local r = assert(ns.udp())
    assert(r:bind("127.0.0.1", 0))
    local _, port = r:getsockname()
    local p = H.python([[
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
time.sleep(0.2)
s.sendto(b"hello", ("127.0.0.1", int(sys.argv[1])))
print(s.getsockname()[1], flush=True)
]], port)
    local data, host, from = r:recvfrom(100)  -- has to wait
    assert.equal("hello", data)
    assert.equal("127.0.0.1", host)
    assert.is_false(nonblocking(r))
    assert.equal(0, p:wait(5))
    assert.equal(tostring(from) .. "\n", p:output())
    r:settimeout(0.05)
    assert.same({ nil, "timeout", "timeout" }, { r:recvfrom(100) })
    local w = assert(ns.udp())
    assert.equal(2, w:sendto("hi", "127.0.0.1", port))
    assert.is_true(nonblocking(w))  -- it did not have to wait
    r:close(); w:close()
  end)
end)

describe("IPv4 address text", function()
  it("is the dotted quad for every width of every byte", function()
    for _, a in ipairs { "127.0.0.1", "127.10.100.255", "127.0.0.99",
                         "127.200.9.10", "127.1.20.3", "127.255.255.254" } do
      local s = assert(ns.tcp())
      assert(s:bind(a, 0))
      assert.equal(a, (s:getsockname()))
      s:close()
    end
    local s = assert(ns.tcp())
    assert(s:bind("0.0.0.0", 0))
    assert.equal("0.0.0.0", (s:getsockname()))
    s:close()
  end)

  it("comes back from accept as the peer's address", function()
    local srv, port = H.listen_local()
    local c = assert(ns.tcp())
    assert(c:bind("127.3.4.5", 0))
    assert(c:connect("127.0.0.1", port))
    local a, host, cport = assert(srv:accept())
    assert.equal("127.3.4.5", host)
    assert.equal(select(2, c:getsockname()), cport)
    a:close(); c:close(); srv:close()
  end)
end)

describe("the socket type check", function()
  it("takes sockets and rejects every other value, naming the argument", function()
    local s = assert(ns.tcp())
    local recv = s.recv
    assert.has_error(function() recv(io.stdout, 1) end)
    assert.has_error(function() recv(setmetatable({}, getmetatable(s)), 1) end)
    local ok, err = pcall(recv, newproxy and newproxy(true) or io.stderr, 1)
    assert.is_false(ok)
    assert.matches("bad argument #1", err)
    assert.matches("netsock.socket expected", err)
    s:close()
    -- a closed socket passes the type check; the data path says closed
    assert.same({ nil, "closed", "closed" }, { recv(s, 1) })
    assert.has_error(function() s.settimeout(s, 1) end, "attempt to use a closed socket")
  end)
end)

describe("numeric addresses in", function()
  it("read the plain dotted quad and leave every other text to the resolver", function()
    local srv, port = H.listen_local()
    for _, host in ipairs { "127.0.0.1", "127.0.0.255", "127.10.200.3", "127.0.0.0" } do
      local s = assert(ns.tcp())
      assert(s:bind(host, 0), host)
      assert.equal(host, (s:getsockname()))
      s:close()
    end
    local c = assert(ns.tcp())
    assert(c:connect("127.0.0.1", port))
    c:close()
    -- none is a plain dotted quad; each fails without a DNS query (an
    -- empty label, an octet over 255, a space), so nothing leaves the machine
    for _, host in ipairs { "127.0.0.256", "127.0.0.1..", "1.2.3.4x..", "127.0.0.1 ", "..127.0.0.1" } do
      local c = assert(ns.tcp())
      local ok, _, code = c:connect(host, port)
      assert.is_nil(ok, host)
      assert.matches("^EAI_", code)
      c:close()
    end
    srv:close()
  end)

  it("take a port as an integer or as its decimal text", function()
    local srv, port = H.listen_local()
    for _, p in ipairs { port, tostring(port) } do
      local c = assert(ns.tcp())
      assert(c:connect("127.0.0.1", p))
      local a = assert(srv:accept())
      assert.equal(port, select(2, a:getsockname()))
      a:close(); c:close()
    end
    local s = assert(ns.tcp())
    assert(s:bind("127.0.0.1", 0))
    assert.is_true(select(2, s:getsockname()) > 0)
    s:close()
    srv:close()
  end)
end)

-- Every entry point that can wait, used inside a task on a socket whose
-- descriptor an earlier call outside made blocking (it waited in the
-- kernel), must suspend its task only: a ticking task keeps ticking.
-- In a child process, so that a regression shows as a bounded failure,
-- not a hung spec. The peer is python: for each connection it waits
-- 0.2 s (our outside call waits in the kernel), then 0.6 s more before
-- the task's call can go on.
local ENTRY_PEER = [[
import socket, sys, threading, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(16)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
print(srv.getsockname()[1], flush=True)
def drain(c):
    c.settimeout(20)
    while c.recv(65536): pass
def serve(c):
    mode = c.recv(1); arg = c.recv(16).strip()
    port = int(arg) if arg.isdigit() else 0
    time.sleep(0.2)
    if mode == b"r": c.sendall(b"x"); time.sleep(0.6); c.sendall(b"line\n"); drain(c)
    elif mode == b"w": c.sendall(b"x"); time.sleep(0.6); drain(c)
    elif mode == b"a":
        a = socket.create_connection(("127.0.0.1", port)); time.sleep(0.6)
        b = socket.create_connection(("127.0.0.1", port)); drain(c); a.close(); b.close()
    elif mode == b"u":
        u.sendto(b"one", ("127.0.0.1", port)); time.sleep(0.6)
        u.sendto(b"two", ("127.0.0.1", port)); drain(c)
    c.close()
srv.settimeout(40)
while True:
    try: c, _ = srv.accept()
    except socket.timeout: break
    threading.Thread(target=serve, args=(c,), daemon=True).start()
]]

local ENTRY_CHILD = [[
local ns = require "netsock"
local port = tonumber(...)
local O_NONBLOCK = tonumber("4000", 8)
local function blocking(s)
  local f = assert(io.open(("/proc/self/fdinfo/%d"):format(s:fileno())))
  local flags = tonumber(f:read("a"):match("flags:%s*(%d+)"), 8)
  f:close()
  return flags & O_NONBLOCK == 0
end
local big = string.rep("z", 8 << 20)
local path = os.tmpname()
local fh = assert(io.open(path, "wb")); fh:write(big); fh:close()
-- run fn as a task beside a ticking one: ticks, fn's first result
local function inloop(fn)
  local done, ticks, res = false, 0, nil
  ns.spawn(function() res = fn(); done = true end)
  ns.spawn(function()
    while not done do ticks = ticks + 1; ns.sleep(0.02) end
  end)
  ns.run()
  return ticks, res
end
local function peer(mode, arg)
  local c = assert(ns.create_connection("127.0.0.1", port))
  c:settimeout(nil)
  assert(c:sendall(mode .. ("%-15s"):format(arg or "")))
  return c
end
local function stream(mode)
  local c = peer(mode)
  assert(c:recv(1) == "x")  -- had to wait: in the kernel
  return c
end
local cases = {
  { "recv", function()
      local c = stream("r")
      return c, function() return c:recv(10) == "line\n" end
    end },
  { "read", function()
      local c = stream("r")
      local f = c:makefile("r")
      return c, function() return f:read("l") == "line" end
    end },
  { "sendall", function()
      local c = stream("w")
      return c, function() return c:sendall(big) == true end
    end },
  { "flush", function()
      local c = stream("w")
      local f = c:makefile("w")
      return c, function() return f:write(big) == f and f:flush() == f end
    end },
  { "sendfile", function()
      local c = stream("w")
      return c, function() return c:sendfile(path) == #big end
    end },
  { "accept", function()
      local l = assert(ns.create_server("127.0.0.1", 0))
      l:settimeout(nil)
      local c = peer("a", select(2, l:getsockname()))
      assert(l:accept())  -- had to wait: in the kernel
      return l, function() return l:accept() ~= nil end, c
    end },
  { "recvfrom", function()
      local u = assert(ns.udp())
      assert(u:bind("127.0.0.1", 0))
      u:settimeout(nil)
      local c = peer("u", select(2, u:getsockname()))
      assert(u:recvfrom(10) == "one")  -- had to wait: in the kernel
      return u, function() return u:recvfrom(10) == "two" end, c
    end },
}
for _, case in ipairs(cases) do
  local s, call, other = case[2]()
  local wasblocking = blocking(s)
  local ticks, ok = inloop(call)
  print(case[1], wasblocking, ticks >= 10, ok)
  s:close()
  if other then other:close() end
end
os.remove(path)
]]

describe("every call that waits, inside a task", function()
  -- the child reads its descriptors' flags from /proc (Linux)
  local function child_it(name, fn)
    if os.getenv("NETSOCK_SANITIZE") then return pending(name) end
    H.linux_it(name, "/proc fdinfo", fn)
  end
  child_it("suspends its task only after the socket waited in the kernel outside", function()
    local p = H.python(ENTRY_PEER)
    finally(function() p:kill() end)
    local port = assert(tonumber(p:line(10)))
    local q = H.lua(ENTRY_CHILD, port)
    finally(function() q:kill() end)
    local rc = q:wait(60)
    assert.equal(0, rc, q:output())
    local want = {}
    for _, name in ipairs({ "recv", "read", "sendall", "flush", "sendfile",
                            "accept", "recvfrom" }) do
      want[#want + 1] = name .. "\ttrue\ttrue\ttrue"
    end
    assert.equal(table.concat(want, "\n") .. "\n", q:output())
  end)
end)
