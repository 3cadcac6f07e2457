-- spec/readwait_spec.lua: a read in a task right after a short read.
-- A short read on a stream (fewer bytes than asked) emptied the kernel's
-- queue, so until the loop polls again the next read waits at once,
-- without the recv(2) that would say EAGAIN (one recv per request, as
-- nginx); and it never misses what came meanwhile: bytes, the peer's
-- close, a reset, data that came while the task waited on something else.
local H = require "helpers"
local ns = H.netsock

local run_bounded = H.run_bounded

local counts = H.strace_counts

-- a task server in a child under strace -f -c: one connection, echoing
-- what it reads (mode "recv": conn:recv(4096); "lines": a file's lines)
local SERVER = [[
local ns = require "netsock"
local mode = arg[1]
local srv
srv = assert(ns.serve("127.0.0.1", 0, function(conn)
  if mode == "lines" then
    local f = conn:makefile("r")
    for line in f:lines("L") do assert(conn:sendall(line)) end
  else
    while true do
      local d = conn:recv(4096)
      if not d then break end
      assert(conn:sendall(d))
    end
  end
  srv:close()
end))
print(select(2, srv:getsockname()))
io.stdout:flush()
ns.run()
print("done")
]]

describe("a read in a task after a short read", function()
  local function sit(name, fn) H.linux_it(name, "strace", fn, H.can_strace) end

  for _, mode in ipairs { "recv", "lines" } do
    sit(("waits without a system call: one recv per request (%s, strace -c)"):format(mode), function()
      local N = 200
      local out = H.tmpname(".strace")
      local child = H.lua_with(("strace -f -qq -c -o %s"):format(H.shquote(out)), SERVER, mode)
      finally(function() child:kill() end)
      local port = tonumber(child:line(30))
      assert.is_number(port, child:output())
      local c = assert(ns.tcp())
      finally(function() c:close() end)
      c:settimeout(10)
      assert(c:connect("127.0.0.1", port))
      assert(c:setoption("nodelay", true))
      local msg = ("p"):rep(31) .. "\n"
      for _ = 1, N do
        assert(c:sendall(msg))
        local got = assert(c:recv(32))
        while #got < 32 do got = got .. assert(c:recv(32 - #got)) end
        assert.equal(msg, got)
      end
      c:close()
      assert.equal("done", child:line(30, 2), child:output())
      assert.equal(0, child:wait(10))
      local t = counts(out)
      local recvs = (t.recvfrom or 0) + (t.recvmsg or 0)
      assert.is_true(recvs >= N, H.readfile(out))
      assert.is_true(recvs <= N + 20, "a recv that says EAGAIN per request:\n" .. H.readfile(out))
    end)
  end

  -- the reads below come after a wake-up whose event the loop has taken
  -- already: what made it (the close, the reset) is no new edge
  local function pair()
    local srv = H.listen_local()
    local c = assert(ns.tcp())
    assert(c:connect("127.0.0.1", select(2, srv:getsockname())))
    local a = assert(srv:accept())
    srv:close()
    return a, c
  end

  it("sees the peer's close that came with the bytes", function()
    local a, c = pair()
    finally(function() a:close(); c:close() end)
    a:settimeout(5)
    local got = {}
    run_bounded(10, function()
      ns.spawn(function()
        got[1] = { a:recv(4096) }      -- waits: the bytes and the close come
        local t0 = ns.monotime()
        got[2] = { a:recv(4096) }      -- short read before: the close
        got[3] = ns.monotime() - t0
      end)
      ns.spawn(function()
        assert(c:sendall("hello"))
        c:close()
      end)
    end)
    assert.same({ "hello" }, got[1])
    assert.same({ nil, "closed", "closed" }, got[2])
    assert.is_true(got[3] < 1, "the close was missed: " .. tostring(got[3]))
  end)

  it("sees the peer's close after a file's short read", function()
    local a, c = pair()
    finally(function() a:close(); c:close() end)
    a:settimeout(5)
    local f = a:makefile("r")
    local got = {}
    run_bounded(10, function()
      ns.spawn(function()
        got[1] = { f:read("l") }
        local t0 = ns.monotime()
        got[2] = { f:read("l") }
        got[3] = ns.monotime() - t0
      end)
      ns.spawn(function()
        assert(c:sendall("line\n"))
        c:close()
      end)
    end)
    assert.same({ "line" }, got[1])
    assert.same({ nil, "closed", "closed" }, got[2])
    assert.is_true(got[3] < 1, "the close was missed: " .. tostring(got[3]))
  end)

  it("sees a reset that came with the bytes", function()
    local a, c = pair()
    finally(function() a:close(); c:close() end)
    a:settimeout(5)
    local got = {}
    run_bounded(10, function()
      ns.spawn(function()
        got[1] = { a:recv(4096) }
        local t0 = ns.monotime()
        got[2] = { a:recv(4096) }
        got[3] = ns.monotime() - t0
      end)
      ns.spawn(function()
        assert(c:sendall("hello"))
        assert(c:setoption("linger", { on = true, timeout = 0 }))
        c:close()  -- a reset
      end)
    end)
    assert.is_true(got[3] < 1, "the reset was missed: " .. tostring(got[3]))
    -- the bytes may go with the reset (Linux drops what is unread)
    if got[1][1] == "hello" then
      assert.is_nil(got[2][1])
    else
      assert.is_nil(got[1][1])
    end
  end)

  it("gets the bytes that came while the task waited on something else", function()
    local a, c = pair()
    finally(function() a:close(); c:close() end)
    a:settimeout(5)
    local got = {}
    run_bounded(10, function()
      ns.spawn(function()
        got[1] = { a:recv(4096) }      -- short
        ns.sleep(0.1)                  -- the loop polls: "more" comes meanwhile
        local t0 = ns.monotime()
        got[2] = { a:recv(4096) }
        got[3] = ns.monotime() - t0
      end)
      ns.spawn(function()
        assert(c:sendall("first"))
        ns.sleep(0.03)
        assert(c:sendall("more"))
      end)
    end)
    assert.same({ "first" }, got[1])
    assert.same({ "more" }, got[2])
    assert.is_true(got[3] < 1, "bytes that came were missed: " .. tostring(got[3]))
  end)

  it("still polls with timeout 0 (a poll looks at the kernel)", function()
    local a, c = pair()
    finally(function() a:close(); c:close() end)
    local got = {}
    run_bounded(10, function()
      ns.spawn(function()
        a:settimeout(5)
        got[1] = { a:recv(4096) }      -- short
        assert(c:sendall("more"))      -- comes before the loop polls
        a:settimeout(0)
        got[2] = { a:recv(4096) }
      end)
      ns.spawn(function() assert(c:sendall("first")) end)
    end)
    assert.same({ "first" }, got[1])
    assert.same({ "more" }, got[2])
  end)
end)
