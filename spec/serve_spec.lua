-- spec/serve_spec.lua: the server object serve returns (stop, close,
-- getsockname), its options (timeout, idle, limit, onerror), slow
-- clients, and netsock.step
local H = require "helpers"
local ns = H.netsock

local run_bounded, capture_stderr = H.run_bounded, H.capture_stderr

-- a python client: sends 'send' (after 'delay' s), prints what it got
-- until the server closes, and the time that took in ms
local client_py = [[
import socket, sys, time
port, send, delay = int(sys.argv[1]), sys.argv[2].encode(), float(sys.argv[3])
c = socket.create_connection(("127.0.0.1", port), 10)
c.settimeout(20)
time.sleep(delay)
t0 = time.monotonic()
c.sendall(send)
data = b""
try:
    while True:
        d = c.recv(100)
        if not d: break
        data += d
    end = "eof"
except ConnectionResetError:
    end = "reset"
print(repr(data.decode()), end, "%.1f" % ((time.monotonic() - t0) * 1000), flush=True)
]]

describe("serve's server object", function()
  it("offers getsockname, fileno, tostring, .socket and close", function()
    local srv = assert(ns.serve("127.0.0.1", 0, function() end))
    local host, port = srv:getsockname()
    assert.equal("127.0.0.1", host)
    assert.is_true(port > 0)
    assert.equal(srv.socket:fileno(), srv:fileno())
    assert.matches("^netsock.server %(", tostring(srv))
    assert.same({ srv.socket:getsockname() }, { host, port })
    assert.is_true(srv:close())
    assert.equal(-1, srv:fileno())
    run_bounded(5)   -- the accepting task has ended: run returns
  end)

  it("raises on bad options", function()
    local h = function() end
    for _, o in ipairs({ { timeout = -1 }, { timeout = "x" }, { idle = 0 },
                         { idle = 0 / 0 }, { onerror = 5 }, { workers = 0 },
                         { workers = "many" }, { limit = 1.5 } }) do
      assert.has_error(function() ns.serve("127.0.0.1", 0, h, o) end)
    end
    local srv = assert(ns.serve("127.0.0.1", 0, h))
    assert.has_error(function() srv:stop(-1) end)
    srv:stop()
  end)

  it("stop(timeout) lets running handlers finish, then returns", function()
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      local line = conn:recv(100)
      ns.sleep(0.2)                    -- a slow response in flight
      conn:sendall("done:" .. line)
    end))
    local _, port = srv:getsockname()
    local p = H.python(client_py, port, "req", 0)
    finally(function() p:kill() end)
    local stopped, took
    run_bounded(20, function()
      while srv:connections() == 0 do ns.sleep(0.01) end
      ns.sleep(0.05)                   -- the handler is in its sleep now
      local t0 = ns.monotime()
      stopped = srv:stop(10)
      took = ns.monotime() - t0
      -- no more accepting
      local c, _, code = ns.create_connection("127.0.0.1", port, 2)
      assert.is_nil(c)
      assert.equal("ECONNREFUSED", code)
    end)
    assert.is_true(stopped)
    assert.is_true(took < 9, "stop waited " .. took .. " s")
    assert.equal(0, p:wait(10))
    assert.matches("^'done:req' eof", p:output())
  end)

  it("stop(timeout) closes connections still open when the time is up", function()
    local got
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      got = { conn:recv(100) }         -- the client never sends
    end))
    local _, port = srv:getsockname()
    local c
    local took
    run_bounded(20, function()
      c = assert(ns.create_connection("127.0.0.1", port, 5))
      while srv:connections() == 0 do ns.sleep(0.01) end
      local t0 = ns.monotime()
      srv:stop(0.2)
      took = ns.monotime() - t0
      c:settimeout(5)
      local d, msg = c:recv(10)        -- the server closed our peer
      assert.is_nil(d)
      assert.equal("closed", msg)
    end)
    c:close()
    assert.is_true(took >= 0.15 and took < 5, "stop took " .. took .. " s")
    assert.same({ nil, "closed", "closed" }, got)
  end)

  it("stop from outside the loop runs it until the handlers end", function()
    local finished = false
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      conn:recv(1)
      ns.sleep(0.1)
      finished = true
    end))
    local _, port = srv:getsockname()
    local c = assert(ns.create_connection("127.0.0.1", port, 5))
    c:sendall("x")
    for _ = 1, 100 do
      ns.step(0.01)
      if srv:connections() > 0 then break end
    end
    assert.equal(1, srv:connections())
    srv:stop(5)
    assert.is_true(finished)
    assert.equal(0, srv:connections())
    c:close()
    while ns.step(0.01) do end        -- whatever is left ends
  end)

  it("a handler may stop its own server", function()
    local srv
    srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      conn:sendall("bye\n")
      srv:stop(5)                      -- does not wait for itself
    end))
    local _, port = srv:getsockname()
    local p = H.python(client_py, port, "", 0)
    finally(function() p:kill() end)
    run_bounded(20)                    -- returns: every task ended
    assert.equal(0, p:wait(10))
    assert.matches("^'bye\\n' eof", p:output())
    assert.equal(-1, srv:fileno())
  end)
end)

describe("serve options", function()
  it("timeout: every connection starts with it", function()
    local t
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      t = conn:gettimeout()
    end, { timeout = 2.5 }))
    local _, port = srv:getsockname()
    run_bounded(10, function()
      local c = assert(ns.create_connection("127.0.0.1", port, 5))
      c:recv(1)
      c:close()
      srv:stop()
    end)
    assert.equal(2.5, t)
  end)

  it("a listener with a default timeout of 0 still waits (no spin)", function()
    ns.setdefaulttimeout(0)
    local ok, srv = pcall(ns.serve, "127.0.0.1", 0, function(conn) conn:sendall("hi") end)
    ns.setdefaulttimeout(nil)
    assert(ok, srv)
    local _, port = srv:getsockname()
    local turns = 0
    run_bounded(10, function()
      ns.spawn(function() while srv:fileno() >= 0 do turns = turns + 1; ns.sleep(0.01) end end)
      ns.sleep(0.2)
      local c = assert(ns.create_connection("127.0.0.1", port, 5))
      assert.equal("hi", c:recv(10))
      c:close()
      srv:stop()
    end)
    assert.is_true(turns > 5, "the loop starved: " .. turns .. " turns")
  end)

  it("idle: a client that sends nothing is closed; a chatty one is not", function()
    local results = {}
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      local f = conn:makefile()
      while true do
        local line, msg = f:read("l")
        if not line then results[#results + 1] = msg return end
        conn:sendall(line .. "\n")
      end
    end, { idle = 0.3 }))
    local _, port = srv:getsockname()
    local p = H.python([[
import socket, sys, time
port = int(sys.argv[1])
silent = socket.create_connection(("127.0.0.1", port), 5)
chatty = socket.create_connection(("127.0.0.1", port), 5)
silent.settimeout(10); chatty.settimeout(10)
t0 = time.monotonic()
for i in range(12):            # 1.2 s of a line every 0.1 s
    chatty.sendall(b"ping\n")
    assert chatty.recv(100) == b"ping\n"
    time.sleep(0.1)
print("chatty served", flush=True)
d = silent.recv(10)            # closed by the server after about 0.3 s
print("silent", repr(d), "%.2f" % (time.monotonic() - t0), flush=True)
]], port)
    finally(function() p:kill() end)
    run_bounded(30, function()
      while p:running() do ns.sleep(0.02) end
      srv:stop(0)
    end)
    local out = p:output()
    assert.matches("chatty served\nsilent b'' ", out)
    assert.is_true(#results >= 1)
    assert.equal("closed", results[1])
  end)

  it("onerror(err, conn, traceback) hears a handler's error; the default prints it", function()
    local seen
    local srv = assert(ns.serve("127.0.0.1", 0, function() error({ code = 42 }) end,
      { onerror = function(err, conn, tb)
          seen = { err = err, conn = conn, tb = tb, open = conn:fileno() >= 0 }
          conn:sendall("500\n")
        end }))
    local _, port = srv:getsockname()
    local reply
    run_bounded(10, function()
      local c = assert(ns.create_connection("127.0.0.1", port, 5))
      reply = c:recv(10)
      c:close()
      srv:stop()
    end)
    assert.equal(42, seen.err.code)
    assert.is_true(seen.open)
    assert.matches("stack traceback", seen.tb)
    assert.equal("500\n", reply)
    local err = capture_stderr(function()
      local s2 = assert(ns.serve("127.0.0.1", 0, function() error("boom here") end))
      local _, p2 = s2:getsockname()
      run_bounded(10, function()
        local c = assert(ns.create_connection("127.0.0.1", p2, 5))
        c:recv(10)
        c:close()
        s2:stop()
      end)
    end)
    assert.matches("handler failed: .*boom here", err)
    assert.matches("stack traceback", err)
  end)

  -- the traceback is taken where the error was raised (serve's message
  -- handler runs before the stack unwinds), and an onerror that raises
  -- itself is reported with its own traceback; the connection is
  -- released either way
  it("a handler's traceback starts where it raised; a failing onerror is reported too", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local function deep() error("deep failure") end
    local seen
    local srv = assert(ns.serve("127.0.0.1", 0, function() deep() end,
      { onerror = function(err, _, tb) seen = { err = err, tb = tb } end }))
    local _, port = srv:getsockname()
    run_bounded(10, function()
      local c = assert(ns.create_connection("127.0.0.1", port, 5))
      assert.is_nil(c:recv(10))
      c:close()
      srv:stop()
    end)
    assert.matches("deep failure", seen.err)
    assert.matches("^[^\n]*deep failure\nstack traceback:\n%s*%[C%]: in function 'error'\n[^\n]*serve_spec.lua:"
                   .. line .. ":", seen.tb)
    assert.equal(0, srv:connections())
    local s2
    local err = capture_stderr(function()
      s2 = assert(ns.serve("127.0.0.1", 0, function() error("first") end,
        { onerror = function() error("onerror broke") end }))
      local _, p2 = s2:getsockname()
      run_bounded(10, function()
        local c = assert(ns.create_connection("127.0.0.1", p2, 5))
        assert.is_nil(c:recv(10))
        c:close()
        s2:stop()
      end)
    end)
    assert.matches("handler failed: [^\n]*onerror broke\nstack traceback:", err)
    assert.equal(0, s2:connections())
  end)

  -- Lua heap per idle connection (issue 28): under 2 KiB with a handler
  -- of the HTTP example's size. serve's own share per connection is a
  -- task (coroutine) running the client function with the handler under
  -- xpcall; a closure or table per connection, or a frame more under the
  -- handler (Lua doubles a coroutine's stack when a call needs more than
  -- its first 40 slots: 640 bytes), shows here. Main before this read
  -- 2,653 bytes.
  it("an idle connection costs under 2 KiB of Lua heap #memory", function()
    local n = math.min(500, ns.setrlimit_nofile() - 200)
    local waiting = 0
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      -- as many locals as examples/http_hello.lua's handler has live
      -- when it waits in recv
      local buf, head_end, head, length = "", nil, nil, nil
      waiting = waiting + 1
      local data = conn:recv(65536)
      waiting = waiting - 1
      if data and head_end and head and length then buf = buf .. data end
    end, { backlog = 1024 }))
    local _, port = srv:getsockname()
    collectgarbage()
    collectgarbage()
    local kb0 = collectgarbage("count")
    local p = H.python([[
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
cs = [socket.create_connection(("127.0.0.1", port), 10) for i in range(n)]
print("connected", flush=True)
time.sleep(60)
]], port, n)
    finally(function() p:kill(); srv:close() end)
    local per
    run_bounded(40, function()
      local deadline = ns.monotime() + 30
      while waiting < n and ns.monotime() < deadline do ns.sleep(0.02) end
      collectgarbage()
      collectgarbage()
      per = (collectgarbage("count") - kb0) * 1024 / waiting
      p:kill()
      srv:stop(5)
    end)
    print(("\n  [memory] %.0f bytes of Lua heap per idle connection under serve"):format(per))
    assert.is_true(per < 2048, ("%.0f bytes of Lua heap per idle connection"):format(per))
  end)

  -- 500 clients connect, send one byte and then a byte a minute
  -- (slowloris); with limit 100 and idle 2 a good client arriving after
  -- them all is served long before any idle timeout frees a slot: at
  -- the limit, a waiting client makes the server close the connection
  -- that has waited longest
  it("slowloris: 500 slow clients do not keep a good one waiting #timing", function()
    local soft = ns.setrlimit_nofile()
    local n = 500
    if soft < n + 200 then n = soft - 200 end
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      local f = conn:makefile()
      local line = f:read("l")
      if line then conn:sendall("OK " .. line .. "\n") end
    end, { limit = 100, idle = 2, backlog = 1024 }))
    local _, port = srv:getsockname()
    local p = H.python([[
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
slow = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"x")
    slow.append(s)
time.sleep(0.2)
t0 = time.monotonic()
good = socket.create_connection(("127.0.0.1", port), 10)
good.settimeout(10)
good.sendall(b"hello\n")
data = good.recv(100)
print(repr(data), "%.1f" % ((time.monotonic() - t0) * 1000), flush=True)
time.sleep(60)                 # the slow ones would send their next byte now
]], port, n)
    finally(function() p:kill() end)
    local line
    run_bounded(40, function()
      local deadline = ns.monotime() + 30
      repeat
        line = p:output():match("[^\n]+")
        ns.sleep(0.02)
      until line or not p:running() or ns.monotime() > deadline
      srv:stop(0)
    end)
    assert.truthy(line, p:output())
    local data, ms = line:match("^(.+) ([%d.]+)$")
    if not data then error(p:output()) end
    assert.equal("b'OK hello\\n'", data)
    -- without the eviction the good client would wait for a slow one's
    -- idle timeout (2 s); a quiet machine measures about 1 ms, so half
    -- the idle time tells the two apart even on a loaded machine or
    -- under the sanitizers (a tighter bound only measured the load)
    assert.is_true(tonumber(ms) < 1000, "the good client waited " .. ms .. " ms")
  end)
end)

describe("netsock.step", function()
  it("runs one turn and says whether tasks are left", function()
    local log = {}
    ns.spawn(function()
      log[#log + 1] = "a1"
      coroutine.yield()
      log[#log + 1] = "a2"
    end)
    assert.is_true(ns.step())          -- a1; the task is back in the queue
    assert.same({ "a1" }, log)
    assert.is_false(ns.step())         -- a2; nothing left
    assert.same({ "a1", "a2" }, log)
    assert.is_false(ns.step())
  end)

  it("waits for I/O at most its timeout and drives sockets and timers", function()
    local srv, port = H.listen_local()
    local got
    ns.spawn(function()
      local conn = srv:accept()
      got = conn:recv(10)
      conn:close()
    end)
    local t0 = ns.monotime()
    assert.is_true(ns.step(0.05))      -- the task waits in accept
    assert.is_true(ns.step(0.05))      -- nothing arrives: about 50 ms
    local dt = ns.monotime() - t0
    assert.is_true(dt >= 0.04 and dt < 5, dt)
    local c = assert(ns.create_connection("127.0.0.1", port, 5))
    c:sendall("hey")
    local turns = 0
    while ns.step(0.05) and turns < 200 do turns = turns + 1 end
    assert.equal("hey", got)
    c:close()
    srv:close()
    local woke = false
    ns.spawn(function() ns.sleep(0.05); woke = true end)
    turns = 0
    while ns.step(1) and turns < 200 do turns = turns + 1 end
    assert.is_true(woke)
  end)

  it("raises on misuse and inside the loop", function()
    assert.has_error(function() ns.step(-1) end)
    assert.has_error(function() ns.step("x") end)
    local ok
    ns.run(function() ok = pcall(ns.step) end)
    assert.is_false(ok)
  end)
end)

describe("srv:stopping()", function()
  it("is false while serving and true once stop has begun: a keep-alive handler says close", function()
    local answers = {}
    local srv
    srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      local f = conn:makefile("rw")
      while true do                           -- keep-alive: one line per request
        local line = f:read("l")
        if not line then return end
        if srv:stopping() then
          f:write("close\n"):flush()
          return
        end
        f:write("keep-alive\n"):flush()
      end
    end))
    assert.is_false(srv:stopping())
    H.run_bounded(10, function()
      local c <close> = assert(ns.create_connection("127.0.0.1", select(2, srv:getsockname()), 5))
      local f = c:makefile("rw")
      f:write("GET 1\n"):flush()
      answers[1] = f:read("l")
      ns.spawn(function() srv:stop(5) end)
      coroutine.yield()
      f:write("GET 2\n"):flush()
      answers[2] = f:read("l")
      answers[3] = select(2, f:read("l"))
    end)
    assert.is_true(srv:stopping())
    assert.same({ "keep-alive", "close", "closed" }, answers)
  end)
end)
