-- spec/sendfile_spec.lua: s:sendfile with a python peer that checks
-- every byte (sha256), Lua file handles and paths, offsets and counts,
-- the read-and-send path, timeouts, a peer that leaves, and tasks.

local H = require "helpers"
local ns = H.netsock
local core = require "netsock.core"

local SIZE = 10 * 1024 * 1024

local task = H.task  -- a coroutine the loop's protocol treats as a task

local bigfile
local function big()
  if not bigfile then
    bigfile = H.tmpname(".bin")
    assert(os.execute(("head -c %d /dev/urandom > %s"):format(SIZE, H.shquote(bigfile))))
  end
  return bigfile
end

-- sha256 of bytes [offset, offset+count) of a file, by python
local function sha(path, offset, count)
  local p = H.python([[
import hashlib, sys
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2]))
    n = int(sys.argv[3])
    data = f.read() if n < 0 else f.read(n)
print(len(data), hashlib.sha256(data).hexdigest())
]], path, offset or 0, count or -1)
  local line = assert(p:line(20))
  p:kill()
  return line
end

-- a python TCP peer that reads until EOF and prints length and sha256
local function sink()
  local p, port = H.python_server([[
h, n = hashlib.sha256(), 0
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    h.update(d); n += len(d)
print(n, h.hexdigest(), flush=True)
]])
  local c = assert(ns.create_connection("127.0.0.1", port, 20))
  return c, p
end

describe("sendfile", function()
  it("sends a 10 MiB file by path, byte for byte", function()
    local path = big()
    local c, p = sink()
    finally(function() c:close() p:kill() end)
    assert.are.equal(SIZE, c:sendfile(path))
    assert.is_true(c:shutdown("w"))
    assert.are.equal(sha(path), p:line(20, 2))
  end)

  it("sends from a Lua file handle's buffered position and moves it", function()
    local path = big()
    local f = assert(io.open(path, "rb"))
    finally(function() f:close() end)
    assert.are.equal(1000, #f:read(1000))  -- stdio has read ahead further
    local c, p = sink()
    finally(function() c:close() p:kill() end)
    assert.are.equal(SIZE - 1000, c:sendfile(f))
    assert.are.equal(SIZE, f:seek())
    c:shutdown("w")
    assert.are.equal(sha(path, 1000), p:line(20, 2))
  end)

  it("honours offset and count, and leaves the handle after them", function()
    local path = big()
    local f = assert(io.open(path, "rb"))
    finally(function() f:close() end)
    local c, p = sink()
    finally(function() c:close() p:kill() end)
    assert.are.equal(5000, c:sendfile(f, 100, 5000))
    assert.are.equal(5100, f:seek())
    assert.are.equal(7, c:sendfile(path, 20, 7))
    c:shutdown("w")
    local expect = H.python([[
import hashlib, sys
d = open(sys.argv[1], "rb").read()
d = d[100:5100] + d[20:27]
print(len(d), hashlib.sha256(d).hexdigest())
]], path)
    assert.are.equal(assert(expect:line(20)), p:line(20, 2))
  end)

  it("sends what a file handle just wrote (it flushes first)", function()
    local path = H.tmpname(".txt")
    local f = assert(io.open(path, "w+b"))
    finally(function() f:close() os.remove(path) end)
    f:write("written but buffered")
    local a, b = assert(ns.socketpair())
    finally(function() a:close() b:close() end)
    assert.are.equal(20, a:sendfile(f, 0))
    b:settimeout(5)
    assert.are.equal("written but buffered", b:recv(100))
  end)

  it("sends nothing past the end of the file", function()
    local path = H.tmpname(".txt")
    H.writefile(path, "short")
    finally(function() os.remove(path) end)
    local a, b = assert(ns.socketpair())
    finally(function() a:close() b:close() end)
    assert.are.equal(0, a:sendfile(path, 10))
    assert.are.equal(5, a:sendfile(path, 0, 100))
    assert.are.equal(0, a:sendfile(path, 0, 0))
    b:settimeout(5)
    assert.are.equal("short", b:recv(100))
  end)

  it("reads and sends over a Unix datagram socket, one datagram per chunk", function()
    local path = H.tmpname(".bin")
    local data = {}
    for i = 1, 5000 do data[i] = ("%09d\n"):format(i) end
    data = table.concat(data)  -- 50000 bytes
    H.writefile(path, data)
    finally(function() os.remove(path) end)
    local a, b = assert(ns.socketpair("unix", "dgram"))
    finally(function() a:close() b:close() end)
    assert(b:setoption("rcvbuf", 1 << 20))
    assert.are.equal(#data, a:sendfile(path))
    b:settimeout(1)
    local got, n = {}, 0
    while n < #data do
      local d = assert(b:recv(65536))
      assert.is_true(#d <= 8192)
      got[#got + 1] = d
      n = n + #d
    end
    assert.are.equal(data, table.concat(got))
  end)

  it("reads and sends from a pipe (a file that cannot seek)", function()
    local f = assert(io.popen("printf 'from a pipe'", "r"))
    finally(function() f:close() end)
    local a, b = assert(ns.socketpair())
    finally(function() a:close() b:close() end)
    assert.are.equal(11, a:sendfile(f))
    b:settimeout(5)
    assert.are.equal("from a pipe", b:recv(100))
    assert.has_error(function() a:sendfile(f, 3) end)
  end)

  it("times out with the bytes sent so far", function()
    local path = big()
    local a, b = assert(ns.socketpair())
    finally(function() a:close() b:close() end)
    a:settimeout(0.2)
    local t0 = ns.monotime()
    local r, msg, code, sent = a:sendfile(path)
    local dt = ns.monotime() - t0
    assert.are.same({ nil, "timeout", "timeout" }, { r, msg, code })
    assert.is_true(sent > 0 and sent < SIZE, "sent " .. tostring(sent))
    assert.is_true(dt < 2, "took " .. dt)
    -- exactly the first 'sent' bytes went out, in order
    b:settimeout(1)
    local got, n = {}, 0
    while n < sent do
      local d = assert(b:recv(1 << 16))
      got[#got + 1] = d
      n = n + #d
    end
    assert.are.equal(sent, n)
    assert.are.equal(H.readfile(path):sub(1, sent), table.concat(got))
  end)

  it("returns EPIPE (no SIGPIPE) with bytes sent when the peer left", function()
    local path = big()
    local a, b = assert(ns.socketpair())
    finally(function() a:close() end)
    b:close()
    local r, msg, code, sent = a:sendfile(path)
    assert.is_nil(r)
    assert.is_string(msg)
    assert.is_truthy(code == "EPIPE" or code == "ECONNRESET", code)
    assert.are.equal(0, sent)
    -- and the same in a child process, whose death by SIGPIPE would show
    -- (not under make sanitize: a child cannot load the ASan build
    -- without the preloaded runtime that H.spawn removes)
    if os.getenv("NETSOCK_SANITIZE") then return end
    local p = H.lua([[
local ns = require "netsock"
local a, b = ns.socketpair()
b:close()
local r, _, code, sent = a:sendfile(arg[1])
print(r, code, sent)
]], path)
    finally(function() p:kill() end)
    assert.are.equal(0, p:wait(10))
    assert.are.equal("nil\tEPIPE\t0", p:line(5))
  end)

  it("returns ENOENT and 0 for a missing path; raises on misuse", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close() b:close() end)
    assert.are.same({ nil, "No such file or directory", "ENOENT", 0 },
      { a:sendfile(H.tmpname(".missing")) })
    local f = assert(io.open(big(), "rb"))
    f:close()
    assert.has_error(function() a:sendfile(f) end)
    assert.has_error(function() a:sendfile(42) end)
    assert.has_error(function() a:sendfile(big(), -1) end)
    assert.has_error(function() a:sendfile(big(), 0, -5) end)
  end)

  it("leaks no descriptor for a path, even on failure", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close() end)
    local path = H.tmpname(".txt")
    H.writefile(path, "x")
    collectgarbage()  -- sockets other tests dropped close now, not midway
    collectgarbage()
    local before = H.fdcount()
    finally(function() os.remove(path) end)
    for _ = 1, 20 do assert.are.equal(1, a:sendfile(path)) end
    b:close()
    for _ = 1, 20 do assert.is_nil((a:sendfile(path))) end
    collectgarbage()
    collectgarbage()
    assert.are.equal(before - 1, H.fdcount())  -- b is closed
  end)

  it("yields inside a task while the peer reads, and all bytes arrive", function()
    local path = big()
    local a, b = assert(ns.socketpair())
    finally(function() a:close() b:close() end)
    a:settimeout(20)
    local co = task(function() return a:sendfile(path) end)
    local chunks, n, waits = {}, 0, 0
    local ok, first = coroutine.resume(co)
    assert.is_true(ok)
    b:settimeout(0)  -- drain what is there, never wait on it here
    while coroutine.status(co) == "suspended" do
      assert.are.equal(core._waittoken(), first)
      waits = waits + 1
      -- drain some, then let the task go on
      for _ = 1, 8 do
        local d = b:recv(1 << 16)
        if not d then break end
        chunks[#chunks + 1] = d
        n = n + #d
        if n >= SIZE then break end
      end
      ok, first = coroutine.resume(co)
      assert.is_true(ok, first)
    end
    assert.are.equal(SIZE, first)
    assert.is_true(waits > 0)
    b:settimeout(0.5)
    while n < SIZE do
      local d = assert(b:recv(1 << 16))
      chunks[#chunks + 1] = d
      n = n + #d
    end
    assert.are.equal(H.readfile(path), table.concat(chunks))
  end)
end)
