-- spec/buffer_spec.lua: file objects (s:makefile) and the receive buffer
-- a socket shares with them. Peers: python3, nc and netsock itself.
local H = require "helpers"
local ns = H.netsock

-- a peer that sends 'data' and closes
local function sender(data)
  local file = H.tmpname(".bin")
  H.writefile(file, data)
  return H.python_client(([[
c.sendall(open(%q, "rb").read())
c.close()
]]):format(file))
end

-- A minimal stand-in for the task loop (the tasks issue builds the real
-- one): runs fn as a registered task, answering its waits by sleeping a
-- little and resuming. 'between' runs at every wait. Returns the number
-- of waits and fn's results.
local function runtask(fn, between)
  local co, tasks = H.task(fn)
  local token = require("netsock.core")._waittoken()
  local waits, deadline = 0, ns.monotime() + 10
  local res = table.pack(coroutine.resume(co))
  while coroutine.status(co) ~= "dead" do
    assert(res[1], res[2])
    assert.equal(token, res[2])
    waits = waits + 1
    if between then between(waits) end
    assert(ns.monotime() < deadline, "task did not finish")
    ns.sleep(0.005)
    res = table.pack(coroutine.resume(co))
  end
  tasks[co] = nil
  assert(res[1], res[2])
  return waits, table.unpack(res, 2, res.n)
end

describe("s:makefile", function()
  it("makes r, w and rw files; rw is the default", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    assert.matches("^netsock.file %(fd %d+, rw%)$", tostring(a:makefile()))
    assert.matches(", r%)$", tostring(a:makefile("r")))
    assert.matches(", w%)$", tostring(a:makefile("w")))
    assert.matches(", rw%)$", tostring(a:makefile("rwb")))
  end)

  it("raises on a bad mode, a bad size or a closed socket", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    assert.has_error(function() a:makefile("x") end,
      "bad argument #1 to 'makefile' (invalid mode)")
    assert.has_error(function() a:makefile("") end)
    assert.has_error(function() a:makefile("r", 1 << 40) end)
    a:close()
    assert.has_error(function() a:makefile() end, "attempt to use a closed socket")
  end)

  it("raises on reading a w file and writing an r file", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    local w, r = a:makefile("w"), a:makefile("r")
    assert.has_error(function() w:read("l") end, "file not open for reading")
    assert.has_error(function() w:lines() end, "file not open for reading")
    assert.has_error(function() r:write("x") end, "file not open for writing")
  end)

  it("raises on invalid formats before taking any byte", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    assert(a:send("one\n"))
    local f = b:makefile("r")
    assert.has_error(function() f:read("l", "x") end,
      "bad argument #2 to 'read' (invalid format)")
    assert.has_error(function() f:read(-1) end)
    assert.has_error(function() f:read("n") end)
    assert.has_error(function() f:read({}) end)
    assert.has_error(function() f:lines("q") end)
    assert.equal("one", f:read("l"))
  end)

  it("close flushes, keeps the socket open, and is idempotent", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    local f = a:makefile("w")
    f:write("bye\n")
    assert.is_true(f:close())
    assert.is_true(f:close())
    assert.equal("netsock.file (closed)", tostring(f))
    assert.equal(-1, f:fileno())
    assert.equal(0, f:pending())
    b:settimeout(1)
    assert.equal("bye\n", b:recv(100))
    assert.equal(4, a:send("more"))  -- the socket is still open
    -- data calls on a closed file: nil, "closed", "closed"; lines ends
    assert.same({ nil, "closed", "closed" }, { f:read("l") })
    assert.same({ nil, "closed", "closed" }, { f:write("x") })
    assert.same({ nil, "closed", "closed" }, { f:flush() })
    local n = 0
    for _ in f:lines() do n = n + 1 end
    assert.equal(0, n)
    -- configuration still raises
    assert.has_error(function() f:setvbuf("no") end, "attempt to use a closed file")
    assert.has_error(function() f:setlimit(10) end, "attempt to use a closed file")
  end)

  it("says closed when its socket was closed", function()
    local a, b = ns.socketpair()
    finally(function() b:close() end)
    local f = a:makefile()
    local it = f:lines()
    a:close()
    assert.same({ nil, "closed", "closed" }, { f:read("l") })
    assert.same({ nil, "closed", "closed" }, { f:read("a") })
    assert.same({ nil, "closed", "closed" }, { f:write("x") })
    assert.same({ nil, "closed", "closed" }, { f:flush() })
    assert.is_nil(it())                          -- a lines loop ends
    assert.has_error(function() f:read("x") end) -- a bad format still raises
    assert.has_error(function() f:write({}) end)
    assert.has_error(function() f:setvbuf("no") end, "attempt to use a closed socket")
    assert.equal(-1, f:fileno())
    assert.is_true(f:close())
  end)

  it("has fileno, pending and __close", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    do
      local f <close> = b:makefile()
      assert.equal(b:fileno(), f:fileno())
      assert(a:send("ab\ncd"))
      assert.equal("ab", f:read("l"))
      assert.equal(2, f:pending())
      assert.equal(2, b:pending())
      f:write("pending on close")
    end
    a:settimeout(1)
    assert.equal("pending on close", a:recv(100))
  end)
end)

describe("f:read", function()
  it("reads l, L, CRLF, a lone CR, empty lines, NULs and a last line", function()
    local c, p = sender("one\r\ntwo\nlone\rcr\n\n\r\nnul\0in\0line\nlast")
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    assert.equal("one", f:read("l"))
    assert.equal("two\n", f:read("L"))
    assert.equal("lone\rcr", f:read("l"))
    assert.equal("", f:read("l"))
    assert.equal("\r\n", f:read("L"))
    assert.equal("nul\0in\0line", f:read("*l"))
    assert.equal("last", f:read("l"))
    assert.same({nil, "closed", "closed"}, {f:read("l")})
    assert.same({nil, "closed", "closed"}, {f:read("L")})
    assert.equal("", f:read("a"))
    assert.equal("", f:read("*a"))
    assert.same({nil, "closed", "closed"}, {f:read(1)})
  end)

  it("reads the default format l", function()
    local c, p = sender("a\r\nb")
    finally(function() c:close() p:kill() end)
    local f = c:makefile()
    assert.equal("a", f:read())
    assert.equal("b", f:read())
    assert.is_nil(f:read())
  end)

  it("reads counts: exactly n, fewer at the end, 0", function()
    local c, p = sender("0123456789")
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    assert.equal("", f:read(0))
    assert.equal("0123", f:read(4))
    assert.equal("456", f:read(3))
    assert.equal("789", f:read(100))
    assert.same({nil, "closed", "closed"}, {f:read(0)})
    assert.same({nil, "closed", "closed"}, {f:read(5)})
  end)

  it("reads several formats in one call and stops at the first failure", function()
    local c, p = sender("l1\r\nL2\nabcdefrest")
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    assert.same({"l1", "L2\n", "abc", "def", "rest"},
      {f:read("l", "*L", 3, 3, "a")})
    assert.same({"", nil, "closed", "closed"}, {f:read("a", "l", "l")})
  end)

  it("reads a until the peer closes, across many refills", function()
    local data = {}
    for i = 1, 5000 do data[i] = ("%05d:%s\n"):format(i, ("x"):rep(i % 97)) end
    data = table.concat(data)
    local c, p = sender(data)
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    f:setvbuf("full", 1000)  -- small refills
    assert.equal(data, f:read("a"))
  end)

  it("reads a huge count without allocating it", function()
    local c, p = sender(("z"):rep(100))
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    assert.equal(("z"):rep(100), f:read(1 << 50))
  end)

  it("reads a line spanning many refills", function()
    local long = ("0123456789"):rep(30000)  -- 300,000 bytes
    local c, p = sender("short\n" .. long .. "\nafter\n")
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    f:setvbuf("full", 4096)
    assert.equal("short", f:read("l"))
    assert.equal(long, f:read("l"))
    assert.equal("after", f:read("l"))
    assert.is_nil(f:read("l"))
  end)

  it("reads lines of exactly the limit and fails one byte over", function()
    local limit = 100
    local exact = ("e"):rep(limit - 1) .. "\n"           -- limit bytes, end included
    local crlf = ("c"):rep(limit - 2) .. "\r\n"
    local over = ("o"):rep(limit) .. "\n"                -- one byte more
    local c, p = sender(exact .. crlf .. over .. "next\n")
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    assert.is_true(f:setlimit(limit))
    assert.equal(exact, f:read("L"))
    assert.equal(("c"):rep(limit - 2), f:read("l"))
    local v, msg, code = f:read("l")
    assert.is_nil(v)
    assert.equal("overflow", code)
    assert.equal("line longer than 100 bytes", msg)
    -- the bytes stay: the same read fails again, read(n) drains them
    assert.same({nil, msg, "overflow"}, {f:read("L")})
    assert.equal(("o"):rep(limit), f:read(limit))
    assert.equal("", f:read("l"))  -- the rest of that line: its end
    assert.equal("next", f:read("l"))
  end)

  it("reads a line of exactly the default limit, 1 MiB", function()
    local c, p = H.python_client([[
c.sendall(b"a" * ((1 << 20) - 1) + b"\n")
c.sendall(b"b" * (1 << 20) + b"\n")
c.close()
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    assert.equal((1 << 20) - 1, #f:read("l"))
    assert.same({nil, "line longer than 1048576 bytes", "overflow"}, {f:read("L")})
    assert.equal(("b"):rep(1 << 20), f:read(1 << 20))
    assert.equal("\n", f:read("L"))
    assert.is_nil(f:read("l"))
  end)

  it("never buffers more than the limit for one line", function()
    -- a peer sending 3 MiB with no newline; the default limit is 1 MiB
    local c, p = H.python_client([[
c.sendall(b"x" * (3 << 20))
time.sleep(5)
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    local v, _, code = f:read("l")
    assert.is_nil(v)
    assert.equal("overflow", code)
    assert.equal(1 << 20, f:pending())
    assert.is_true(f:setlimit(2 << 20))
    assert.same({nil, "line longer than 2097152 bytes", "overflow"}, {f:read("l")})
    assert.equal(2 << 20, f:pending())
  end)

  it("shares one buffer with s:recv and other files: bytes once, in order", function()
    local c, p = sender("line1\nline2\nline3\nabcdefghij")
    finally(function() c:close() p:kill() end)
    local f1, f2 = c:makefile("r"), c:makefile("r")
    assert.equal("line1", f1:read("l"))
    assert(c:pending() > 0)          -- read ahead by f1
    assert.equal("li", c:recv(2))    -- from the buffer first
    assert.equal("ne2", f2:read("l"))
    assert.equal("line3\n", c:recv(6))
    assert.equal("abc", f1:read(3))
    assert.equal("def", c:recv(3, ns.MSG_PEEK))
    assert.equal("defghij", f2:read("a"))
    assert.equal(0, c:pending())
  end)

  it("times out mid-line and keeps the partial line", function()
    local c, p = H.python_client([[
c.sendall(b"hel")
time.sleep(0.6)
c.sendall(b"lo\nsecond")
time.sleep(0.6)
c.sendall(b" part\n")
c.close()
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    c:settimeout(0.1)
    local t0 = ns.monotime()
    assert.same({nil, "timeout", "timeout"}, {f:read("l")})
    assert(ns.monotime() - t0 < 2)
    assert.equal(3, f:pending())
    c:settimeout(5)
    assert.equal("hello", f:read("l"))
    c:settimeout(0.1)
    assert.same({nil, "timeout", "timeout"}, {f:read(100)})
    assert.same({nil, "timeout", "timeout"}, {f:read("a")})
    assert.equal("", f:read(0))  -- "second" is buffered: no wait
    c:settimeout(5)
    assert.equal("second part", f:read("l"))
    assert.is_nil(f:read("l"))
  end)

  it("gives the values read before a timeout, then the failure", function()
    local c, p = H.python_client([[
c.sendall(b"one\ntw")
time.sleep(2)
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    c:settimeout(0.2)
    assert.same({"one", nil, "timeout", "timeout"}, {f:read("l", "l")})
    assert.equal("tw", f:read(2))
  end)

  it("does not wait with timeout 0", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    b:settimeout(0)
    local f = b:makefile("r")
    assert.same({nil, "timeout", "timeout"}, {f:read("l")})
    a:send("x\ny")
    ns.sleep(0.05)
    assert.equal("x", f:read("l"))
    assert.same({nil, "timeout", "timeout"}, {f:read("l")})
    assert.equal("y", f:read(1))
  end)

  it("returns a connection reset as nil, message, code", function()
    local c, p = H.python_client([[
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.sendall(b"partial")
time.sleep(0.2)
c.close()
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    ns.sleep(0.5)
    local v, msg, code = f:read("l")
    -- the RST may or may not discard the queued bytes first
    if v ~= nil then
      assert.equal("partial", v)
    else
      assert.equal("ECONNRESET", code)
      assert.is_string(msg)
    end
  end)
end)

describe("f:lines", function()
  it("iterates lines and ends at end of stream", function()
    local c, p = sender("a\nb\r\n\nlast")
    finally(function() c:close() p:kill() end)
    local got = {}
    for l in c:makefile("r"):lines() do got[#got + 1] = l end
    assert.same({"a", "b", "", "last"}, got)
  end)

  it("iterates other formats, several per step", function()
    local c, p = sender("abcdefg")
    finally(function() c:close() p:kill() end)
    local got = {}
    for x, y in c:makefile("r"):lines(2, 1) do got[#got + 1] = x .. ":" .. tostring(y) end
    assert.same({"ab:c", "de:f", "g:nil"}, got)
  end)

  it("iterates L", function()
    local c, p = sender("a\nb")
    finally(function() c:close() p:kill() end)
    local got = {}
    for l in c:makefile("r"):lines("L") do got[#got + 1] = l end
    assert.same({"a\n", "b"}, got)
  end)

  it("raises failures other than end of stream", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    b:settimeout(0.05)
    a:send("x\n")
    local it = b:makefile("r"):lines()
    assert.equal("x", it())
    -- as io.lines, with the code in the message
    assert.has_error(function() it() end, "timeout (timeout)")
  end)

  it("raises on an overflowing line", function()
    local c, p = sender(("x"):rep(50) .. "\n")
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    f:setlimit(10)
    assert.has_error(function() for _ in f:lines() do end end,
      "line longer than 10 bytes (overflow)")
  end)

  it("reads 100,000 lines from python in order", function()
    local c, p = H.python_client([[
c.sendall(b"".join(b"%d\n" % i for i in range(100000)))
c.close()
]])
    finally(function() c:close() p:kill() end)
    local n = 0
    for l in c:makefile("r"):lines() do
      assert(l == tostring(n), l)
      n = n + 1
    end
    assert.equal(100000, n)
  end)
end)

describe("f:write", function()
  it("buffers until flush in full mode and returns the file", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    local f = a:makefile("w")
    assert.equal(f, f:write("hello ", "world", "\n"))
    b:settimeout(0.1)
    assert.same({nil, "timeout", "timeout"}, {b:recv(100)})
    assert.equal(f, f:flush())
    assert.equal("hello world\n", b:recv(100))
  end)

  it("formats numbers as io.write does", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    local f = a:makefile("w")
    f:write(1, " ", 2.5, " ", 1.0, " ", -3, " ", 1e100, " ", math.mininteger):flush()
    b:settimeout(1)
    local want = ("%d %.14g %.14g %d %.14g %d"):format(1, 2.5, 1.0, -3, 1e100, math.mininteger)
    assert.equal(want, b:recv(1000))
    assert.has_error(function() f:write({}) end)
    assert.has_error(function() f:write(true) end)
  end)

  it("flushes once the buffer is full", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    local f = a:makefile("w")
    assert.is_true(f:setvbuf("full", 10))
    f:write("12345")
    b:settimeout(0.1)
    assert.same({nil, "timeout", "timeout"}, {b:recv(100)})
    f:write("67890ab")
    assert.equal("1234567890ab", b:recv(100))
  end)

  it("flushes at each newline in line mode, at once in no mode", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    local f = a:makefile("w")
    b:settimeout(0.1)
    assert.is_true(f:setvbuf("line"))
    f:write("no newline")
    assert.same({nil, "timeout", "timeout"}, {b:recv(100)})
    f:write(" yet", "\nand more")
    assert.equal("no newline yet\nand more", b:recv(100))
    assert.is_true(f:setvbuf("no"))
    f:write("x")
    assert.equal("x", b:recv(100))
    assert.has_error(function() f:setvbuf("bogus") end)
    assert.has_error(function() f:setvbuf("full", 0) end)
  end)

  it("makefile's bufsize follows Python: 0 unbuffered, 1 line", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    b:settimeout(1)
    a:makefile("w", 0):write("u")
    assert.equal("u", b:recv(10))
    a:makefile("w", 1):write("l\n")
    assert.equal("l\n", b:recv(10))
  end)

  it("sends everything in one call to python and nc", function()
    local srv, port = H.listen_local()
    finally(function() srv:close() end)
    local p = H.python_connect(port, [[
f = c.makefile("rb")
n = 0
for line in f:
    n += len(line)
print(n)
]])
    finally(function() p:kill() end)
    srv:settimeout(5)
    local c = assert(srv:accept())
    local f = c:makefile("w")
    for i = 1, 10000 do f:write(i, "\n") end
    assert.is_true(f:close())
    c:close()
    local want = 0
    for i = 1, 10000 do want = want + #tostring(i) + 1 end
    assert.equal(tostring(want), p:line(5))

    -- nc: it prints what it receives; we send a file's worth of lines
    local nc = H.spawn(("nc -q 1 127.0.0.1 %d"):format(port))
    finally(function() nc:kill() end)
    c = assert(srv:accept())
    f = c:makefile()
    f:write("from netsock\n", 42, "\n")
    assert.is_true(f:close())
    c:shutdown("w")
    c:settimeout(5)
    assert.is_nil(c:makefile("r"):read("l"))  -- nc sends nothing back
    c:close()
    assert.equal(0, nc:wait(5))
    assert.equal("from netsock\n42\n", nc:output())
  end)

  it("reads what nc sends", function()
    local srv, port = H.listen_local()
    finally(function() srv:close() end)
    local file = H.tmpname(".txt")
    H.writefile(file, "first\r\nsecond\n\nno end")
    local nc = H.spawn(("nc -q 0 127.0.0.1 %d < %s"):format(port, H.shquote(file)))
    finally(function() nc:kill() end)
    srv:settimeout(5)
    local c = assert(srv:accept())
    finally(function() c:close() end)
    c:settimeout(5)
    local got = {}
    for l in c:makefile("r"):lines() do got[#got + 1] = l end
    assert.same({"first", "second", "", "no end"}, got)
  end)

  it("times out a flush, keeps the rest and says how much", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    a:setsockopt(ns.SOL_SOCKET, ns.SO_SNDBUF, 4096)
    a:settimeout(0.1)
    local f = a:makefile("w")
    local big = ("0123456789abcdef"):rep(1 << 16)  -- 1 MiB
    local v, msg, code, left = f:write(big)
    assert.is_nil(v)
    assert.equal("timeout", msg)
    assert.equal("timeout", code)
    assert(left > 0 and left < #big, left)
    -- drain the other end while flushing again: nothing lost
    local got = {}
    b:settimeout(0)
    local done = false
    a:settimeout(0)
    while not done do
      local r = b:recv(1 << 16)
      if r then got[#got + 1] = r end
      local ok, _, c2, rest = f:flush()
      if ok then done = true else assert.equal("timeout", c2) assert(rest > 0) end
    end
    b:settimeout(1)
    local total = #table.concat(got)
    while total < #big do
      local r = assert(b:recv(1 << 16))
      got[#got + 1] = r
      total = total + #r
    end
    assert.equal(big, table.concat(got))
  end)

  it("close returns a failed flush and keeps the bytes", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    a:setsockopt(ns.SOL_SOCKET, ns.SO_SNDBUF, 4096)
    local f = a:makefile("w")
    a:settimeout(0.05)
    assert.is_nil(f:write(("x"):rep(1 << 20)))
    local v, msg, code, left = f:close()
    assert.same({nil, "timeout", "timeout"}, {v, msg, code})
    assert(left > 0)
    assert.matches("fd", tostring(f))  -- still open
    b:close()
    local v2, _, code2 = f:close()  -- the peer is gone now
    assert.is_nil(v2)
    assert.equal("EPIPE", code2)
  end)

  it("reports EPIPE when the peer has gone", function()
    local a, b = ns.socketpair()
    finally(function() a:close() end)
    b:close()
    local f = a:makefile("w")
    local v, _, code = f:write("x"):flush()
    assert.is_nil(v)
    assert.equal("EPIPE", code)
  end)

  it("sends what it can when collected without close", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    do a:makefile("w"):write("collected\n") end
    collectgarbage()
    collectgarbage()
    b:settimeout(1)
    assert.equal("collected\n", b:recv(100))
  end)

  it("writes and reads on one rw file (request, response)", function()
    local c, p = H.python_client([[
f = c.makefile("rwb")
for line in f:
    f.write(line.upper())
    f.flush()
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile()
    for _, w in ipairs { "hello", "from", "lua" } do
      f:write(w, "\n"):flush()
      assert.equal(w:upper(), f:read("l"))
    end
  end)
end)

describe("file objects in tasks", function()
  it("wait by yielding and finish a line across waits", function()
    local c, p = H.python_client([[
c.sendall(b"first ha")
time.sleep(0.3)
c.sendall(b"lf\nsecond\n")
c.close()
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    local waits, l1, l2, l3 = runtask(function()
      return f:read("l"), f:read("l"), f:read("l")
    end)
    assert(waits > 0)
    assert.equal("first half", l1)
    assert.equal("second", l2)
    assert.is_nil(l3)
  end)

  it("time out inside a task, keeping the partial line", function()
    local c, p = H.python_client([[
c.sendall(b"par")
time.sleep(0.5)
c.sendall(b"tial\n")
time.sleep(2)
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    c:settimeout(0.1)
    local waits, v, msg, code = runtask(function() return f:read("l") end)
    assert(waits > 0)
    assert.same({nil, "timeout", "timeout"}, {v, msg, code})
    c:settimeout(5)
    local _, line = runtask(function() return f:read("l") end)
    assert.equal("partial", line)
  end)

  it("iterate lines in a task", function()
    local c, p = H.python_client([[
for i in range(5):
    c.sendall(b"%d\n" % i)
    time.sleep(0.05)
c.close()
]])
    finally(function() c:close() p:kill() end)
    local f = c:makefile("r")
    local waits, got = runtask(function()
      local t = {}
      for l in f:lines() do t[#t + 1] = l end
      return table.concat(t, ",")
    end)
    assert(waits > 0)
    assert.equal("0,1,2,3,4", got)
  end)

  it("return closed when another task closed the socket", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    local f = b:makefile("r")
    a:send("half a li")
    local _, v, msg, code = runtask(function() return f:read("l") end,
      function(n) if n == 2 then b:close() end end)
    assert.same({nil, "closed", "closed"}, {v, msg, code})
  end)

  it("flush in __close by yielding", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    a:setsockopt(ns.SOL_SOCKET, ns.SO_SNDBUF, 4096)
    a:settimeout(5)
    local big = ("z"):rep(1 << 20)
    local got = {}
    b:settimeout(0)
    local waits, r = runtask(function()
      local f <close> = a:makefile("w")
      f:setvbuf("full", 1 << 21)  -- all of it waits for the close
      f:write(big)
      return "left the block"
    end, function() local x = b:recv(1 << 16) if x then got[#got + 1] = x end end)
    assert(waits > 0)
    assert.equal("left the block", r)
    b:settimeout(1)
    local s = table.concat(got)
    while #s < #big do s = s .. assert(b:recv(1 << 16)) end
    assert.equal(big, s)
  end)

  it("flush in a task by yielding", function()
    local a, b = ns.socketpair()
    finally(function() a:close() b:close() end)
    a:setsockopt(ns.SOL_SOCKET, ns.SO_SNDBUF, 4096)
    local f = a:makefile("w")
    local big = ("y"):rep(1 << 20)
    local got = {}
    b:settimeout(0)
    local waits, r = runtask(function() return f:write(big):flush() end,
      function() local x = b:recv(1 << 16) if x then got[#got + 1] = x end end)
    assert(waits > 0)
    assert.equal(f, r)
    b:settimeout(1)
    local s = table.concat(got)
    while #s < #big do s = s .. assert(b:recv(1 << 16)) end
    assert.equal(big, s)
  end)
end)
