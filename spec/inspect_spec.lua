-- spec/inspect_spec.lua: netsock.tasks() and netsock.cancel()
local H = require "helpers"
local ns = H.netsock

local run_bounded = H.run_bounded  -- netsock.run with a watchdog

local function entry(list, t)
  for _, e in ipairs(list) do if e.task == t then return e end end
end

local THIS = debug.getinfo(1, "S").short_src

describe("netsock.tasks()", function()
  it("says what each task waits on: descriptor, events, socket, deadline, where", function()
    local srv, port = H.listen_local()
    local c, a = H.pair_tcp(srv, port)
    finally(function() c:close(); a:close(); srv:close() end)
    a:settimeout(30)
    local waitline
    ns._tasks.track(true)
    finally(function() ns._tasks.track(false) end)
    local spawnline = debug.getinfo(1, "l").currentline + 1
    local reader = ns.spawn(function()
      waitline = debug.getinfo(1, "l").currentline + 1
      return a:recv(100)
    end)
    local sleeper = ns.spawn(function() ns.sleep(20) end)
    local parked = ns.spawn(function() ns._tasks.park() end)
    local list, me
    run_bounded(5, function()
      ns.sleep(0.02)
      me = coroutine.running()
      list = ns.tasks()
      ns.cancel(reader); ns.cancel(sleeper); ns.cancel(parked)
    end)
    local r = entry(list, reader)
    assert.equal("waiting", r.state)
    assert.equal(a:fileno(), r.fd)
    assert.equal("r", r.events)
    assert.equal("socket:recv", r.call)
    assert.equal(tostring(a), r.socket)
    assert.truthy(r.socket:find(tostring(port), 1, true))
    assert.is_true(r.timeout > 25 and r.timeout <= 30)
    assert.equal(THIS .. ":" .. waitline, r.where)
    assert.equal(THIS .. ":" .. spawnline, r.created)
    assert.equal(THIS .. ":" .. spawnline, r.runs)  -- the function is defined there too
    local s = entry(list, sleeper)
    assert.equal("waiting", s.state)
    assert.is_nil(s.fd)
    assert.equal("netsock.sleep", s.call)
    assert.is_true(s.timeout > 15 and s.timeout <= 20)
    assert.equal("parked", entry(list, parked).state)
    assert.equal("running", entry(list, me).state)
    -- spawn order, and a readable listing
    local ir, is = 0, 0
    for i, e in ipairs(list) do
      if e.task == reader then ir = i elseif e.task == sleeper then is = i end
    end
    assert.is_true(ir < is)
    local text = tostring(list)
    assert.truthy(text:find("socket:recv", 1, true))
    assert.truthy(text:find("s left", 1, true))
  end)

  it("names serve's accepting task and shows a client task's handler", function()
    local handler = function(conn) conn:recv(10) end
    local srv = assert(ns.serve("127.0.0.1", 0, handler))
    local _, port = srv:getsockname()
    local c
    local list
    run_bounded(5, function()
      c = assert(ns.create_connection("127.0.0.1", port, 5))
      ns.sleep(0.05)
      list = ns.tasks()
      c:close()
      srv:close()
    end)
    local acc, cli
    for _, e in ipairs(list) do
      if e.label == "serve 127.0.0.1:" .. port then acc = e end
      if e.call == "socket:recv" then cli = e end
    end
    assert.is_not_nil(acc, tostring(list))
    assert.equal("socket:accept", acc.call)
    assert.is_not_nil(cli, tostring(list))
    local info = debug.getinfo(handler, "S")
    assert.truthy(cli.where:find(THIS, 1, true), cli.where)  -- in the handler
    assert.is_nil(cli.created)  -- not tracking: no spawn site
    assert.truthy(cli.runs, tostring(list))
  end)

  it("without tracking still says what each task runs, from the bottom of its stack", function()
    local function sleeper() ns.sleep(10) end
    local t = ns.spawn(sleeper)
    local u = ns.spawn(function(x) ns.sleep(x) end, 10)  -- with arguments
    local list
    run_bounded(5, function()
      ns.sleep(0.01)
      list = ns.tasks()
      ns.cancel(t); ns.cancel(u)
    end)
    local info = debug.getinfo(sleeper, "S")
    assert.equal(("%s:%d"):format(info.short_src, info.linedefined), entry(list, t).runs)
    assert.truthy(entry(list, u).runs:find(THIS, 1, true), entry(list, u).runs)
    assert.is_nil(entry(list, t).created)
  end)
end)

describe("netsock.cancel(task)", function()
  it("closes a waiting task: its call never returns, its <close> variables close", function()
    local srv, port = H.listen_local()
    local c, a = H.pair_tcp(srv, port)
    finally(function() c:close(); a:close(); srv:close() end)
    local closed, returned = false, false
    local t = ns.spawn(function()
      local _ <close> = setmetatable({}, { __close = function() closed = true end })
      a:settimeout(nil)
      a:recv(100)
      returned = true
    end)
    local r1, r2
    run_bounded(5, function()
      ns.sleep(0.02)
      r1 = ns.cancel(t)
      r2 = ns.cancel(t)
      c:sendall("late")   -- data for the cancelled wait: nobody resumes it
      ns.sleep(0.02)
    end)
    assert.is_true(r1)
    assert.is_false(r2)
    assert.is_true(closed)
    assert.is_false(returned)
    assert.equal(0, ns._tasks.stats().timers)
    assert.equal("late", a:recv(100))  -- the bytes are still there
  end)

  it("ends tasks that sleep, are parked, or have not started, and run() then returns", function()
    local ran = false
    local a = ns.spawn(function() ns.sleep(100) end)
    local b = ns.spawn(function() ns._tasks.park() end)
    local c = ns.spawn(function() ran = true end)
    ns.cancel(c)  -- before the loop ever ran it
    local t0 = ns.monotime()
    ns.run(function()
      ns.sleep(0.01)
      ns.cancel(a)
      ns.cancel(b)
    end)
    assert.is_true(ns.monotime() - t0 < 10)
    assert.is_false(ran)
    assert.equal(0, ns._tasks.stats().live)
    assert.equal(0, ns._tasks.stats().timers)
  end)

  -- the loop resumes the queued tasks in C and asks the set of tasks only
  -- for one that is not suspended in a yield: a task cancelled while it
  -- is in the ready queue (after a plain yield; after its socket became
  -- ready) is skipped there, not resumed dead
  it("skips a task cancelled while it is queued to run", function()
    local srv, port = H.listen_local()
    local c, a = H.pair_tcp(srv, port)
    finally(function() c:close(); a:close(); srv:close() end)
    local ran, states = {}, {}
    local function state(t)
      for _, e in ipairs(ns.tasks()) do if e.task == t then return e.state end end
    end
    local err = H.capture_stderr(function()
      local yielder = ns.spawn(function() coroutine.yield(); ran.yielder = true end)
      local reader = ns.spawn(function() a:settimeout(nil); a:recv(100); ran.reader = true end)
      ns.spawn(function()
        -- turn 1: the yielder yielded (queued for turn 2), the reader waits
        states.yielder = state(yielder)
        ns.cancel(yielder)
        c:sendall("x")            -- this turn's poll queues the reader...
        coroutine.yield()         -- ...behind this task, which runs first
        states.reader = state(reader)
        ns.cancel(reader)
      end)
      run_bounded(5)
    end)
    assert.same({ yielder = "ready", reader = "ready" }, states)
    assert.same({}, ran)
    assert.equal("", err)
    assert.equal(0, ns._tasks.stats().live)
    assert.equal("x", a:recv(100))   -- the cancelled read left the byte
  end)

  it("a cancelled serve handler's connection closes and its place under limit is freed", function()
    local handlers = {}
    local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
      handlers[#handlers + 1] = coroutine.running()
      conn:sendall("hello\n")
      conn:recv(100)            -- waits for ever
    end, { limit = 1 }))
    local _, port = srv:getsockname()
    local p = H.python([[
import socket, sys
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port), timeout=10)
print("first", a.recv(100).decode().strip(), flush=True)
b = socket.create_connection(("127.0.0.1", port), timeout=10)
# the second waits (limit 1) until the first handler is cancelled
print("first-end", repr(a.recv(100)), flush=True)
print("second", b.recv(100).decode().strip(), flush=True)
]], port)
    finally(function() p:kill(); srv:close() end)
    run_bounded(15, function()
      while #handlers < 1 do ns.sleep(0.01) end
      ns.sleep(0.2)
      assert.equal(1, #handlers)      -- limit holds the second back
      assert.is_true(ns.cancel(handlers[1]))
      local deadline = ns.monotime() + 10
      while #handlers < 2 and ns.monotime() < deadline do ns.sleep(0.01) end
      ns.cancel(handlers[2])
      srv:close()
    end)
    assert.equal(0, p:wait(10), p:output())
    local out = p:output()
    assert.truthy(out:find("first hello", 1, true), out)
    assert.truthy(out:find("first-end b''", 1, true), out)
    assert.truthy(out:find("second hello", 1, true), out)
  end)

  it("raises for what is not a task, and for the running task", function()
    assert.has_error(function() ns.cancel(42) end,
      "bad argument #1 to 'cancel' (task expected, got number)")
    assert.has_error(function() ns.cancel() end,
      "bad argument #1 to 'cancel' (task expected, got no value)")
    assert.is_false(ns.cancel(coroutine.create(function() end)))
    local err
    ns.run(function()
      local ok, e = pcall(ns.cancel, coroutine.running())
      err = not ok and e
    end)
    assert.truthy(tostring(err):find("cannot cancel itself", 1, true))
    -- from a coroutine of its own: the task is suspended "normal", still running
    err = nil
    ns.run(function()
      local task = coroutine.running()
      local co = coroutine.wrap(function() return pcall(ns.cancel, task) end)
      local ok, e = co()
      err = not ok and e
    end)
    assert.truthy(tostring(err):find("cannot cancel itself", 1, true))
  end)
end)
