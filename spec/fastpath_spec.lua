-- spec/fastpath_spec.lua: the paths made fast for the benchmarks keep
-- their behaviour. recv, send, sendall and accept on a socket with no
-- timeout, from the main thread, wait inside the kernel (O_NONBLOCK
-- cleared, see socket.c "Waiting inside the kernel"); every other use
-- gets a non-blocking descriptor back first. IPv4 addresses come back as
-- text from addr.c's own formatter (not inet_ntop).
local H = require "helpers"
local ns = H.netsock

local O_NONBLOCK = tonumber("4000", 8)
local function nonblocking(s) return H.fdflags(s:fileno()) & O_NONBLOCK ~= 0 end

describe("a blocking call without a timeout", function()
  local srv, port, c, a
  before_each(function()
    srv, port = H.listen_local()
    srv:settimeout(nil)
    c = assert(ns.tcp())
    assert(c:connect("127.0.0.1", port))
    a = assert(srv:accept())
  end)
  after_each(function()
    a:close(); c:close(); srv:close()
  end)

  it("waits in the kernel and returns what it always did", function()
    assert.is_false(nonblocking(srv))  -- accept cleared it
    assert.is_true(nonblocking(a))     -- a new socket starts non-blocking
    assert(c:sendall("hello"))
    assert.equal("hello", a:recv(100))
    assert.is_false(nonblocking(a))
    assert.equal(5, a:send("world"))
    assert.equal("world", c:recv(5))
    c:close()
    assert.same({ nil, "closed", "closed" }, { a:recv(1) })
  end)

  it("gives O_NONBLOCK back when a timeout is set", function()
    assert(c:sendall("x"))
    assert.equal("x", a:recv(1))
    a:settimeout(0.1)
    local t0 = ns.monotime()
    assert.same({ nil, "timeout", "timeout" }, { a:recv(1) })
    assert.is_true(ns.monotime() - t0 < 2)
    assert.is_true(nonblocking(a))
    srv:settimeout(0)
    assert.same({ nil, "timeout", "timeout" }, { srv:accept() })
    assert.is_true(nonblocking(srv))
  end)

  it("gives O_NONBLOCK back inside a coroutine", function()
    assert(c:sendall("ab"))
    assert.equal("a", a:recv(1))
    assert.is_false(nonblocking(a))
    local got = coroutine.wrap(function() return a:recv(1) end)()
    assert.equal("b", got)
    assert.is_true(nonblocking(a))
  end)

  it("gives O_NONBLOCK back to file objects made before", function()
    local f = a:makefile("rw")
    assert(c:sendall("x"))
    assert.equal("x", a:recv(1))
    assert.is_false(nonblocking(a))
    assert(c:sendall("line\n"))
    assert.equal("line", f:read("l"))
    assert.is_true(nonblocking(a))
    assert(c:sendall("z"))
    assert.equal("z", a:recv(1))
    assert.is_false(nonblocking(a))
    assert(f:write("back\n"))
    assert(f:flush())
    assert.is_true(nonblocking(a))
    assert.equal("back\n", c:recv(5))
    f:close()
  end)

  it("gives O_NONBLOCK back to any other method", function()
    assert(c:sendall("x"))
    assert.equal("x", a:recv(1))
    assert.is_false(nonblocking(a))
    assert(a:setoption("nodelay", true))
    assert.is_true(nonblocking(a))
    assert(c:sendall("y"))
    assert.equal("y", a:recv(1))
    assert.is_false(nonblocking(a))
    assert.is_string(a:getsockname())
    assert.is_true(nonblocking(a))
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
    assert.has_error(function() recv(s, 1) end, "attempt to use a closed socket")
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
    for _, host in ipairs { "127.0.0.256", "127.0.0.1.", "1.2.3.4x", "127.0.0.1 " } do
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
