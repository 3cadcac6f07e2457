-- spec/taskloop_c_spec.lua: the task loop's waits and resumes in C
-- (issue 28, item 2: src/sched.c, loop:poll, loop:runq). The C batch
-- runs the tasks whose waits it filed; what only the Lua side knows
-- (netsock.stop, a timeout scope's deadline, a task thread resumed by
-- other code) must come out as it did when every resume was Lua's.
local H = require "helpers"
local ns = H.netsock
local core = require "netsock.core"

describe("task loop in C (issue 28)", function()
  it("netsock.stop inside a batch: the tasks after it wait for the next run", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    local ran = {}
    -- three tasks wait on the same socket: one readiness wakes all three
    -- into one turn, run by the C batch in the order they began to wait
    for i = 1, 3 do
      ns.spawn(function()
        assert(a:recv(1, ns.MSG_PEEK))
        ran[#ran + 1] = i
        if i == 2 then ns.stop() end
      end)
    end
    ns.spawn(function() ns.sleep(0.05); assert(b:sendall("x")) end)
    ns.run()
    assert.same({ 1, 2 }, ran)     -- 3 is ready, not run: run returned
    assert.equal(1, ns._tasks.stats().ready)
    H.run_bounded(10)
    assert.same({ 1, 2, 3 }, ran)
  end)

  it("a timeout scope begun by a task of the batch does not reach the next task", function()
    local a, b = assert(ns.socketpair())
    local c, d = assert(ns.socketpair())
    finally(function() a:close(); b:close(); c:close(); d:close() end)
    local got, scoped
    ns.spawn(function()            -- both wait on a: woken in one turn
      assert(a:recv(1, ns.MSG_PEEK))
      scoped = { ns.timeout(0.05, function() return c:recv(1) end) }
    end)
    ns.spawn(function()
      assert(a:recv(1, ns.MSG_PEEK))
      got = { c:recv(1) }          -- no timeout: waits for the late byte
    end)
    ns.spawn(function()
      ns.sleep(0.02)
      assert(b:sendall("x"))
      ns.sleep(0.3)                -- well after the scope's 0.05 s
      assert(d:sendall("y"))
    end)
    H.run_bounded(10)
    assert.same({ nil, "timeout", "timeout" }, scoped)
    assert.same({ "y" }, got)
  end)

  it("a task thread resumed by other code gets the wait's four values, filed nowhere", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    local WAIT = core._waittoken()
    local reg = debug.getregistry()
    local co = coroutine.create(function() return a:recv(1) end)
    reg["netsock.tasks"][co] = true   -- a task, but the loop does not run it
    local ok, token, fd, ev, deadline = coroutine.resume(co)
    assert.is_true(ok)
    assert.equal(WAIT, token)
    assert.equal(a:fileno(), fd)
    assert.equal(1, ev)
    assert.is_true(deadline < 0)
    assert.is_nil(ns._tasks.waitstamp(a:fileno()))  -- the loop holds nothing of it
    reg["netsock.tasks"][co] = nil
  end)

  it("waits, wakes and timers leave nothing behind: 200 tasks over a socket each", function()
    local socks, done = {}, 0
    for i = 1, 200 do
      local a, b = assert(ns.socketpair())
      socks[i] = { a, b }
      a:settimeout(i % 2 == 0 and 30 or nil)
      ns.spawn(function()
        for _ = 1, 5 do assert(a:send(assert(a:recv(1)))) end
        done = done + 1
      end)
      ns.spawn(function()
        for _ = 1, 5 do assert(b:send("x")); assert(b:recv(1)) end
        done = done + 1
      end)
    end
    finally(function()
      for _, p in ipairs(socks) do p[1]:close(); p[2]:close() end
    end)
    H.run_bounded(30)
    assert.equal(400, done)
    local st = ns._tasks.stats()
    assert.equal(0, st.live)
    assert.equal(0, st.ready)
    assert.equal(0, st.timers)
  end)
end)
