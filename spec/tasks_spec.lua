-- spec/tasks_spec.lua: spawn, run, stop, serve, sleep; waits inside tasks
local H = require "helpers"
local ns = H.netsock

local run_bounded, capture_stderr = H.run_bounded, H.capture_stderr

-- a line-echo handler for serve
local function echo(conn)
  local buf = ""
  while true do
    local data = conn:recv(4096)
    if not data then return end
    buf = buf .. data
    while true do
      local line, rest = buf:match("^([^\n]*\n)(.*)$")
      if not line then break end
      assert(conn:sendall(line))
      buf = rest
    end
  end
end

-- read one line (the specs' clients get short replies)
local function readline(c)
  local got = ""
  while not got:find("\n") do
    local d, msg, code = c:recv(4096)
    if not d then return nil, msg, code end
    got = got .. d
  end
  return got
end

describe("tasks", function()
  it("spawn passes arguments and returns the task; run runs them all", function()
    local got = {}
    local t = ns.spawn(function(x, y, z) got[#got + 1] = x + y; got.z = z end, 1, 2, nil)
    assert.equal("thread", type(t))
    ns.spawn(function() got[#got + 1] = "second" end)
    assert.is_true(ns.run())
    assert.same({ 3, "second" }, got)
    assert.is_true(ns.run(function(a) got.a = a end, "arg"))
    assert.equal("arg", got.a)
  end)

  it("raises on misuse", function()
    assert.has_error(function() ns.spawn(42) end)
    assert.has_error(function() ns.serve("127.0.0.1", 0, "nope") end)
    assert.has_error(function() ns.serve("127.0.0.1", 0, echo, { limit = 0 }) end)
    assert.has_error(function() ns.serve("127.0.0.1", 0, echo, 5) end)
    local ok, err
    ns.run(function() ok, err = pcall(ns.run) end)
    assert.is_false(ok)
    assert.matches("running already", err)
  end)

  it("runs ready tasks in FIFO order; a plain yield goes to the back", function()
    local log = {}
    for i = 1, 3 do
      ns.spawn(function()
        for round = 1, 3 do
          log[#log + 1] = i .. ":" .. round
          coroutine.yield()
        end
      end)
    end
    ns.run()
    assert.same({ "1:1", "2:1", "3:1", "1:2", "2:2", "3:2", "1:3", "2:3", "3:3" }, log)
  end)

  it("wakes sleepers in deadline order, equal deadlines in FIFO order", function()
    local log = {}
    for i, d in ipairs({ 0.15, 0.05, 0.1, 0.05 }) do
      ns.spawn(function() ns.sleep(d); log[#log + 1] = d .. "#" .. i end)
    end
    ns.run()
    assert.same({ "0.05#2", "0.05#4", "0.1#3", "0.15#1" }, log)
  end)

  it("overlaps sleeps: 200 tasks sleeping 0.3 s finish well under 2 s", function()
    local done = 0
    local t0 = ns.monotime()
    for _ = 1, 200 do
      ns.spawn(function() ns.sleep(0.3); done = done + 1 end)
    end
    ns.run()
    local took = ns.monotime() - t0
    assert.equal(200, done)
    assert.is_true(took >= 0.29 and took < 2, "took " .. took)
  end)

  it("keeps per-call timeouts inside tasks", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    a:settimeout(0.2)
    local got, ticks = nil, 0
    ns.spawn(function() got = { a:recv(10) } end)
    ns.spawn(function()
      for _ = 1, 5 do ns.sleep(0.02); ticks = ticks + 1 end
    end)
    local t0 = ns.monotime()
    ns.run()
    assert.same({ nil, "timeout", "timeout" }, got)
    assert.equal(5, ticks)
    assert.is_true(ns.monotime() - t0 >= 0.19)
  end)

  it("ends an erroring task alone, with its traceback on stderr", function()
    local err = capture_stderr(function()
      local done = 0
      for i = 1, 3 do
        ns.spawn(function() ns.sleep(0.05 * i); done = done + 1 end)
      end
      ns.spawn(function() ns.sleep(0.02); error("boom in a task") end)
      ns.run()
      assert.equal(3, done)
    end)
    assert.matches("boom in a task", err)
    assert.matches("stack traceback", err)
  end)

  it("stop makes run return; a later run goes on", function()
    local log = {}
    ns.spawn(function() ns.sleep(0.05); log[#log + 1] = "a"; ns.stop() end)
    ns.spawn(function() ns.sleep(0.2); log[#log + 1] = "b" end)
    ns.run()
    assert.same({ "a" }, log)
    ns.run()
    assert.same({ "a", "b" }, log)
  end)

  it("lets two tasks wait on one socket for different events", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    a:setoption("sndbuf", 4096)
    a:settimeout(0)
    local filled = 0
    while true do
      local n = a:send(("x"):rep(65536))
      if not n then break end
      filled = filled + n
    end
    a:settimeout(5)
    b:settimeout(5)
    local got, sent = nil, nil
    ns.spawn(function() got = a:recv(100) end)           -- waits to read
    ns.spawn(function() sent = a:sendall(("y"):rep(100000)) end)  -- waits to write
    ns.spawn(function()
      ns.sleep(0.05)
      local want, n = filled + 100000, 0
      while n < want do n = n + #assert(b:recv(65536)) end
      assert(b:sendall("pong"))
    end)
    run_bounded(10)
    assert.equal("pong", got)
    assert.is_true(sent)
  end)

  it("wakes a task waiting in recv on a socket another task closes", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    local got
    ns.spawn(function() got = { a:recv(10) } end)
    ns.spawn(function() ns.sleep(0.05); a:close() end)
    run_bounded(5)
    assert.same({ nil, "closed", "closed" }, got)
  end)

  it("wakes a task waiting in accept on a listening socket another task closes", function()
    local srv = H.listen_local()
    local got
    ns.spawn(function() got = { srv:accept() } end)
    ns.spawn(function() ns.sleep(0.05); srv:close() end)
    run_bounded(5)
    assert.same({ nil, "closed", "closed" }, got)
  end)
end)

describe("name resolution inside tasks", function()
  -- #timing: whether the other task gets a turn before the lookup thread
  -- answers depends on thread timing, which valgrind serializes. The
  -- counting task starts first: when the lookup thread answers at once
  -- and the loopback connect completes inside connect(2), the looking-up
  -- task never waits, and a counter spawned after it saw done already
  -- (turns 0: this failed 2 of 3 CI runs here)
  it("create_connection looks a name up off the loop; the others run meanwhile #timing", function()
    local srv, port = H.listen_local()
    finally(function() srv:close() end)
    local turns, done, got = 0, false, nil
    ns.spawn(function()
      while not done do turns = turns + 1; coroutine.yield() end
    end)
    ns.spawn(function()
      local c = assert(ns.create_connection("localhost", port, 5))
      got = c:getpeername()
      c:close()
      done = true
    end)
    run_bounded(10)
    assert.equal("127.0.0.1", got)
    assert.is_true(turns >= 1)
  end)

  it("reports resolver failures as getaddrinfo does", function()
    local got
    run_bounded(30, function()
      got = { ns.create_connection("no-such-host..invalid", 80, 5) }
    end)
    assert.is_nil(got[1])
    assert.is_string(got[2])
    assert.matches("^EAI_", got[3])
  end)
end)

describe("serve", function()
  it("serves a python client and closes conn when the handler returns", function()
    local host, port, seen
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn, h, p)
      host, port = h, p
      local line = readline(conn)
      conn:sendall(line:upper())
    end))
    local _, sport = srv:getsockname()
    local p = H.python_connect(sport, [[
c.sendall(b"hello\n")
data = b""
while True:
    d = c.recv(100)
    if not d: break
    data += d
print(data.decode().strip(), "eof")
]])
    finally(function() p:kill() end)
    ns.spawn(function()
      while p:running() do ns.sleep(0.02) end
      seen = p:output()
      srv:close()
    end)
    run_bounded(10)
    assert.equal("HELLO eof\n", seen)
    assert.equal("127.0.0.1", host)
    assert.is_number(port)
  end)

  it("serves 1,000 concurrent clients doing 10 exchanges each", function()
    local soft = ns.setrlimit_nofile()
    local n = 1000  -- clients and server sides: two descriptors each
    if soft < 2 * n + 100 then
      n = (soft - 100) // 2
      print(("\n  [serve] RLIMIT_NOFILE allows %d descriptors: scaled down to %d clients"):format(soft, n))
    end
    local srv = assert(ns.serve("127.0.0.1", 0, echo, { backlog = 1024 }))
    local _, port = srv:getsockname()
    local ok, bad, live, peak = 0, 0, 0, 0
    for i = 1, n do
      ns.spawn(function()
        local c = assert(ns.create_connection("127.0.0.1", port, 10))
        live = live + 1
        if live > peak then peak = live end
        for j = 1, 10 do
          assert(c:sendall(("%d:%d\n"):format(i, j)))
          ns.sleep(0)  -- let others interleave
          if readline(c) ~= ("%d:%d\n"):format(i, j) then bad = bad + 1 end
        end
        coroutine.yield()
        live = live - 1
        c:close()
        ok = ok + 1
        if ok + bad == n then srv:close() end
      end)
    end
    run_bounded(60)
    assert.equal(n, ok)
    assert.equal(0, bad)
    assert.is_true(peak > n // 2, "peak " .. peak)
  end)

  it("ends the accepting task when the listening socket is closed", function()
    local srv = assert(ns.serve("127.0.0.1", 0, echo))
    local closed_at
    ns.spawn(function() ns.sleep(0.1); srv:close(); closed_at = ns.monotime() end)
    local t0 = ns.monotime()
    ns.run()  -- returns only if the accepting task ended
    assert.is_true(ns.monotime() - t0 < 5)
    assert.is_number(closed_at)
    assert.equal(-1, srv:fileno())
  end)

  it("closes conn when the handler raises, and goes on serving", function()
    local out = {}
    local err = capture_stderr(function()
      local n = 0
      local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
        n = n + 1
        if n == 1 then error("handler boom") end
        conn:sendall("fine\n")
      end))
      local _, port = srv:getsockname()
      run_bounded(10, function()
        for i = 1, 2 do
          local c = assert(ns.create_connection("127.0.0.1", port, 5))
          local d, msg = c:recv(100)
          out[i] = d or msg
          c:close()
        end
        srv:close()
      end)
    end)
    assert.matches("handler boom", err)
    assert.matches("stack traceback", err)
    assert.same({ "closed", "fine\n" }, out)
  end)

  it("serves at most 'limit' clients at once; the rest wait", function()
    local active, peak, served = 0, 0, 0
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      active = active + 1
      if active > peak then peak = active end
      ns.sleep(0.05)
      conn:sendall("ok\n")
      active = active - 1
      served = served + 1
    end, { limit = 2 }))
    local _, port = srv:getsockname()
    local replies = 0
    for _ = 1, 6 do
      ns.spawn(function()
        local c = assert(ns.create_connection("127.0.0.1", port, 5))
        if readline(c) == "ok\n" then replies = replies + 1 end
        c:close()
        if replies == 6 then srv:close() end
      end)
    end
    run_bounded(10)
    assert.equal(6, replies)
    assert.equal(6, served)
    assert.equal(2, peak)
  end)
end)

describe("scale", function()
  H.linux_it("holds 10,000 concurrent connections in one process", "/proc (resident memory)", function()
    local soft = ns.setrlimit_nofile()
    local n = 10000
    if soft < n + 200 then
      n = soft - 200
      print(("\n  [scale] RLIMIT_NOFILE allows %d descriptors: scaled down to %d connections"):format(soft, n))
    end
    -- the clients: one python process holding n connections open
    local conns = 0
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      conns = conns + 1
      local d = conn:recv(16)   -- idle until the client leaves
      assert(d == nil or #d > 0)
      conns = conns - 1
    end, { backlog = 4096 }))
    local _, port = srv:getsockname()
    local p = H.python([[
import resource, socket, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
cs = []
for i in range(n):
    cs.append(socket.create_connection(("127.0.0.1", port), 10))
print("connected", len(cs), flush=True)
while True:
    time.sleep(0.05)
    try:
        if open(sys.argv[3]).read().strip() == "go": break
    except OSError:
        pass
for c in cs: c.close()
print("closed", flush=True)
]], n, port, H.tmpname(".flag"))
    finally(function() p:kill() end)
    local flag = p.cmd:match("'([^']*%.flag)'")
    collectgarbage()
    local kb0 = collectgarbage("count")
    local function rss()
      return tonumber(H.readfile("/proc/" .. H.pid() .. "/status"):match("VmRSS:%s*(%d+)"))
    end
    local rss0 = rss()
    local peak, perconn, perrss
    ns.spawn(function()
      local deadline = ns.monotime() + 60
      while conns < n and ns.monotime() < deadline do ns.sleep(0.05) end
      peak = conns
      ns.sleep(0.2)
      collectgarbage()
      perconn = (collectgarbage("count") - kb0) * 1024 / peak
      perrss = (rss() - rss0) * 1024 / peak
      H.writefile(flag, "go")
      while conns > 0 and ns.monotime() < deadline do ns.sleep(0.05) end
      srv:close()
    end)
    run_bounded(120)
    assert.equal(n, peak)
    print(("\n  [scale] %d idle connections: %.0f bytes of Lua heap each, %.0f bytes RSS each")
      :format(peak, perconn, perrss))
    -- under 2 KiB (docs/performance.md, "Memory per idle connection")
    assert.is_true(perconn < 2048, "Lua heap per connection " .. perconn)
    assert.matches("closed", p:output())
  end)
end)
