-- spec/taskloop_core_spec.lua: findings #1, #2 and #7 of issue 11 (an
-- adversarial review of the task loop), whose fixes came with the src/
-- re-layout (issue 12): continuations that kept a luaL_Buffer across a
-- wait, a type check a script could forge, and O_NONBLOCK shared with a
-- duplicate deciding whether a task blocks the loop.
--
-- #1 runs under `make sanitize` and `make valgrind` like every spec:
-- there a use after free aborts the run.
local H = require "helpers"
local ns = H.netsock

local run_bounded = H.run_bounded  -- netsock.run with a watchdog

-- the sizes around every threshold the receive and send paths have:
-- Lua's LUAL_BUFFERSIZE (where a luaL_Buffer leaves the C stack for a
-- box on the Lua stack), netsock's 64 KiB (NS_BUFSIZE, NS_STACKBUF,
-- the sendfile chunk) and 1 MiB (the line limit, SF_CALLMAX)
local LUAL_BUFFERSIZE = 16 * string.packsize("T") * string.packsize("n")
local SIZES = {}
for _, t in ipairs({ LUAL_BUFFERSIZE, 65536, 1 << 20 }) do
  for _, d in ipairs({ -1, 0, 1 }) do SIZES[#SIZES + 1] = t + d end
end
table.insert(SIZES, 1, 1)

-- a Lua stack 'depth' frames deep (each with a few locals, every tenth
-- through a pcall: a C boundary a task can still yield across), then fn
local function deep(depth, fn)
  if depth == 0 then return fn() end
  local a, b, c, d, e = depth, depth * 2, tostring(depth), {}, depth % 7
  local r
  if depth % 10 == 0 then
    local ok, v = pcall(deep, depth - 1, fn)
    if not ok then error(v, 0) end
    r = v
  else
    r = deep(depth - 1, fn)
  end
  assert(a + b + e >= 0 and c and d)
  return r
end
local DEPTHS = { 0, 25, 150 }

-- the ~1 MiB sizes at depth 0, and 1 MiB + 1 at the deepest: they move
-- most of the bytes (most of the time under valgrind), and what the
-- depth changes is the Lua stack, not the buffers
local function wanted(depth, size)
  return size < 65536 * 2 or depth == 0
    or (depth == DEPTHS[#DEPTHS] and size == (1 << 20) + 1)
end

-- the bytes of a test: a pattern that shows a shift or a lost chunk
local function payload(n, salt)
  local unit = ("%07d|"):format(salt % 10000000)
  return unit:rep(n // #unit + 1):sub(1, n)
end

-- fill 'a''s send buffer until it would block; returns the bytes sent
local function fill(a)
  a:setoption("sndbuf", 4096)
  a:settimeout(0)
  local filled, chunk = 0, ("f"):rep(65536)
  while true do
    local n = a:send(chunk)
    if not n then break end
    filled = filled + n
  end
  return filled
end

-- read exactly n bytes from s (bounded by its timeout)
local function readn(s, n)
  local parts, got = {}, 0
  while got < n do
    local d, msg = s:recv(math.min(n - got, 1 << 20))
    if not d then return nil, msg end
    parts[#parts + 1] = d
    got = got + #d
  end
  return table.concat(parts)
end

describe("task loop core (issue 11)", function()

  -- #1: recv(n) and recvfrom(n) above 64 KiB in a task that had to
  -- wait kept a luaL_Buffer (a to-be-closed box on the Lua stack)
  -- across the yield; dropping it with lua_settop in the continuation
  -- used a stack pointer that closing the box had invalidated (Lua
  -- 5.4.4): heap corruption, 3 crashes in 3 runs of a serve echo
  -- handler doing conn:recv(1 << 20)
  describe("#1 every blocking method, sizes around each threshold, several stack depths", function()
    -- each case: a reader that waits first, a writer that comes later
    local receivers = {
      recv = function(a, n) return readn(a, n) end,
      recvfrom = function(a, n)
        local parts, got = {}, 0
        while got < n do
          local d, msg = a:recvfrom(n - got)
          if not d then return nil, msg end
          parts[#parts + 1] = d
          got = got + #d
        end
        return table.concat(parts)
      end,
      ["read(n)"] = function(a, n) return a:makefile("r"):read(n) end,
      ["read('a')"] = function(a) return a:makefile("r"):read("a") end,
      ["read('L')"] = function(a, n)
        local f = a:makefile("r")
        f:setlimit(n + 1)
        return f:read("L")
      end,
      ["lines('L')"] = function(a, n)
        local f = a:makefile("r")
        f:setlimit(n + 1)
        for l in f:lines("L") do return l end
      end,
    }
    for name, recvfn in pairs(receivers) do
      it(name .. " in a task", function()
        for _, depth in ipairs(DEPTHS) do
          for _, size in ipairs(SIZES) do
            if wanted(depth, size) then
            local a, b = assert(ns.socketpair())
            a:settimeout(10)
            b:settimeout(10)
            local data = payload(size, size + depth)
            if name:find("L") then data = data:sub(1, size - 1):gsub("\n", "x") .. "\n" end
            local got, msg
            ns.spawn(function()
              got, msg = deep(depth, function() return recvfn(a, #data) end)
            end)
            ns.spawn(function()
              coroutine.yield()       -- the reader waits first
              assert(b:sendall(data))
              if name == "read('a')" then b:close() end
            end)
            run_bounded(30)
            a:close(); b:close()
            assert(got == data, ("%s at depth %d, %d bytes: %s"):format(
              name, depth, size, got and ("got %d bytes"):format(#got) or tostring(msg)))
            end
          end
        end
      end)
    end

    it("recvfrom of datagrams in a task", function()
      for _, depth in ipairs(DEPTHS) do
        for _, size in ipairs(SIZES) do
          if size <= 65537 and wanted(depth, size) then   -- what a Unix datagram can carry here
            local a, b = assert(ns.socketpair("unix", "dgram"))
            b:setoption("sndbuf", 1 << 20)
            a:setoption("rcvbuf", 1 << 20)
            a:settimeout(10)
            local data, got = payload(size, size + depth)
            ns.spawn(function()
              got = deep(depth, function() return (a:recvfrom(size + 10)) end)
            end)
            ns.spawn(function() coroutine.yield(); assert(b:send(data)) end)
            run_bounded(30)
            a:close(); b:close()
            assert(got == data, ("recvfrom dgram at depth %d, %d bytes"):format(depth, size))
          end
        end
      end
    end)

    -- the senders wait too: the send buffer is full before they start
    local senders = {
      sendall = function(a, data) return a:sendall(data) end,
      send = function(a, data)
        local i = 1
        while i <= #data do
          local n, msg = a:send(data, i)
          if not n then return nil, msg end
          i = i + n
        end
        return true
      end,
      ["write+flush"] = function(a, data)
        local f = a:makefile("w")
        f:setvbuf("full", 1 << 16)
        assert(f:write(data))
        return f:flush() and f:close()
      end,
      sendfile = function(a, data)
        local path = H.tmpname(".sf")
        H.writefile(path, data)
        local n, msg = a:sendfile(path)
        os.remove(path)
        if n ~= #data then return nil, msg or ("sent " .. tostring(n)) end
        return true
      end,
    }
    for name, sendfn in pairs(senders) do
      it(name .. " in a task", function()
        for _, depth in ipairs(DEPTHS) do
          for _, size in ipairs(SIZES) do
            if wanted(depth, size) then
            local a, b = assert(ns.socketpair())
            local filled = fill(a)
            a:settimeout(10)
            b:settimeout(10)
            local data = payload(size, size * 3 + depth)
            local ok, msg, got
            ns.spawn(function()
              ok, msg = deep(depth, function() return sendfn(a, data) end)
            end)
            ns.spawn(function()
              coroutine.yield()
              got = readn(b, filled + #data)
            end)
            run_bounded(30)
            a:close(); b:close()
            assert(ok, ("%s at depth %d, %d bytes: %s"):format(name, depth, size, tostring(msg)))
            assert(got and got:sub(filled + 1) == data,
              ("%s at depth %d, %d bytes: the peer got other bytes"):format(name, depth, size))
            end
          end
        end
      end)
    end

    it("accept and connect in a task", function()
      for _, depth in ipairs(DEPTHS) do
        local srv, port = H.listen_local()
        srv:settimeout(10)
        local conn, c
        ns.spawn(function() conn = deep(depth, function() return srv:accept() end) end)
        ns.spawn(function()
          coroutine.yield()
          c = deep(depth, function()
            local s = ns.tcp()
            s:settimeout(10)
            assert(s:connect("127.0.0.1", port))
            return s
          end)
        end)
        run_bounded(30)
        assert.is_truthy(conn)
        assert.is_truthy(c)
        conn:close(); c:close(); srv:close()
      end
    end)

    it("a serve echo handler doing conn:recv(1 << 20), a python peer sending 2 MiB in 7777-byte pieces", function()
      -- the review's reproduction: every recv waits, thousands of times
      local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
        conn:settimeout(10)
        while true do
          local d = conn:recv(1 << 20)
          if not d then return end
          assert(conn:sendall(d))
        end
      end))
      local _, port = srv:getsockname()
      local p = H.python([[
import socket, sys, threading
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
c.settimeout(20)
data = bytes(range(256)) * (2 * 4096)
got = []
def reader():
    n = 0
    while n < len(data):
        d = c.recv(1 << 16)
        if not d: break
        got.append(d)
        n += len(d)
t = threading.Thread(target=reader)
t.start()
for i in range(0, len(data), 7777):
    c.sendall(data[i:i + 7777])
t.join()
print("echoed", len(b"".join(got)), b"".join(got) == data, flush=True)
]], port)
      finally(function() p:kill() end)
      local line
      ns.spawn(function()
        local deadline = ns.monotime() + 60
        while p:running() and ns.monotime() < deadline do ns.sleep(0.02) end
        line = p:output()
        srv:close()
      end)
      run_bounded(90)
      assert.matches("echoed 2097152 True", line)
    end)

    it("a serve echo handler doing conn:recv(1 << 20)", function()
      local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
        conn:settimeout(10)
        while true do
          local d = conn:recv(1 << 20)
          if not d then return end
          assert(conn:sendall(d))
        end
      end))
      local _, port = srv:getsockname()
      local ok = 0
      for i = 1, 4 do
        ns.spawn(function()
          local c = assert(ns.create_connection("127.0.0.1", port, 10))
          local data = payload((1 << 20) + i * 4099, i)
          ns.spawn(function() assert(c:sendall(data)) end)
          if readn(c, #data) == data then ok = ok + 1 end
          c:close()
          if ok == 4 then srv:close() end
        end)
      end
      run_bounded(60)
      srv:close()
      assert.equal(4, ok)
    end)
  end)

  -- #2: the socket check trusted a light userdata at [1] of the
  -- metatable, which getmetatable(sock)[1] handed to any script: copied
  -- into a poller's or a file's metatable, it made socket methods take
  -- those objects and write past their blocks
  describe("#2 the type checks cannot be forged", function()
    local function objects()
      local a, b = assert(ns.socketpair())
      return { socket = a, file = a:makefile("rw"), poller = ns.poller() }, b
    end

    local function methods(obj)
      local list = {}
      for _, name in ipairs({ "recv", "send", "sendall", "sendto", "recvfrom",
          "accept", "connect", "bind", "listen", "settimeout", "getsockname",
          "setoption", "sendfile", "makefile", "detach", "shutdown", "pending",
          "read", "write", "flush", "lines", "setvbuf", "setlimit",
          "add", "modify", "remove", "wait", "close", "fileno" }) do
        local ok, m = pcall(function() return obj[name] end)
        if ok and type(m) == "function" then list[name] = m end
      end
      return list
    end

    it("getmetatable gives no table to change", function()
      local objs, peer = objects()
      finally(function() objs.socket:close(); objs.poller:close(); peer:close() end)
      for kind, obj in pairs(objs) do
        local mt = getmetatable(obj)
        assert.is_not_table(mt, kind .. "'s metatable is reachable")
      end
    end)

    it("no method of one class accepts an object of another, even with forged metatables", function()
      local objs, peer = objects()
      finally(function() objs.socket:close(); objs.poller:close(); peer:close() end)
      -- the debug library reaches the real metatables: copy every key of
      -- each into the others (restored afterwards)
      local saved = {}
      for kind, obj in pairs(objs) do
        local mt = debug.getmetatable(obj)
        local copy = {}
        for k, v in pairs(mt) do copy[k] = v end
        saved[kind] = { mt = mt, copy = copy }
      end
      finally(function()
        for _, s in pairs(saved) do
          for k in pairs(s.mt) do s.mt[k] = nil end
          for k, v in pairs(s.copy) do s.mt[k] = v end
        end
      end)
      local meth = {}
      for kind, obj in pairs(objs) do meth[kind] = methods(obj) end
      for from, s in pairs(saved) do
        for to, d in pairs(saved) do
          if from ~= to then
            for k, v in pairs(s.copy) do
              if type(k) ~= "string" or not k:match("^__") then d.mt[k] = v end
            end
          end
        end
      end
      for kind, list in pairs(meth) do
        for other, obj in pairs(objs) do
          if other ~= kind then
            for name, m in pairs(list) do
              local ok, err = pcall(m, obj, 1, 1)
              assert(not ok, ("%s.%s accepted a %s"):format(kind, name, other))
              assert(tostring(err):find("bad argument #1", 1, true)
                or tostring(err):find("expected", 1, true),
                ("%s.%s on a %s: %s"):format(kind, name, other, tostring(err)))
            end
          end
        end
      end
    end)
  end)

  -- #7: a fromfd duplicate shares the open file description, and with
  -- it O_NONBLOCK: after the other holder's blocking recv (which waits
  -- in the kernel, O_NONBLOCK cleared) the duplicate's recv in a task
  -- blocked the whole loop. Every call that must not block says so
  -- itself now (MSG_DONTWAIT), whatever the description's flag
  describe("#7 a duplicate whose description another holder made blocking", function()
    it("recv in a task keeps its timeout and the loop runs", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local p = H.python([[
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
time.sleep(0.2)
c.sendall(b"x")
time.sleep(3)
c.sendall(b"y")
time.sleep(0.5)
]], port)
      finally(function() p:kill() end)
      srv:settimeout(5)
      local a = assert(srv:accept())
      finally(function() a:close() end)
      local d = assert(ns.fromfd(a:fileno(), "inet", "stream"))
      finally(function() d:close() end)
      a:settimeout(nil)
      assert.equal("x", a:recv(1))      -- waits in the kernel: blocking now
      d:settimeout(0.5)
      local got, ticks = nil, 0
      ns.spawn(function() got = { d:recv(1) } end)
      ns.spawn(function() for _ = 1, 10 do ns.sleep(0.01); ticks = ticks + 1 end end)
      run_bounded(10)
      assert.same({ nil, "timeout", "timeout" }, got)
      assert.equal(10, ticks)
    end)

    it("accept in a task keeps its timeout on a listener another holder made blocking", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local p = H.python([[
import socket, sys, time
time.sleep(0.2)
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
time.sleep(3)
d = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
time.sleep(0.5)
]], port)
      finally(function() p:kill() end)
      local d = assert(ns.fromfd(srv:fileno(), "inet", "stream"))
      finally(function() d:close() end)
      srv:settimeout(nil)
      local first = assert(srv:accept())   -- a blocking accept
      first:close()
      d:settimeout(0.5)
      local got, ticks = nil, 0
      ns.spawn(function() got = { d:accept() } end)
      ns.spawn(function() for _ = 1, 10 do ns.sleep(0.01); ticks = ticks + 1 end end)
      run_bounded(10)
      assert.same({ nil, "timeout", "timeout" }, got)
      assert.equal(10, ticks)
    end)
  end)

  it("a timed park whose timer fires in the turn of a wake-up is resumed once", function()
    -- B's timer comes first and B wakes A, whose own timer has fired in
    -- the same turn: A was queued twice (parked was still set), and its
    -- next wait was cut short by the stale second resume
    local T = ns._tasks
    local resumed, parkresult = 0, nil
    local a = ns.spawn(function()
      parkresult = T.park(0.01)
      resumed = resumed + 1
      T.park(0.2)                           -- must last its 0.2 s
      resumed = resumed + 1
    end)
    ns.spawn(function() ns.sleep(0.005); T.wake(a) end)
    ns.spawn(function()                     -- hold the loop past both deadlines
      local t0 = ns.monotime()
      while ns.monotime() - t0 < 0.03 do end
    end)
    ns.spawn(function() ns.sleep(0.1); assert.equal(1, resumed); ns.cancel(a) end)
    H.run_bounded(5)
    assert.is_false(parkresult)             -- it timed out; the wake came late
    assert.equal(1, resumed)
    assert.equal(0, H.loop_timers())
  end)
end)
