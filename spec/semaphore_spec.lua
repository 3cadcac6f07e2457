-- spec/semaphore_spec.lua: netsock.semaphore, at most n at once
local H = require "helpers"
local ns = H.netsock

local run_bounded = H.run_bounded
local stats = ns._tasks.stats

local clean = H.loop_clean

describe("netsock.semaphore", function()
  it("lets at most n tasks hold a unit at once", function()
    local inside, most, done = 0, 0, 0
    run_bounded(5, function()
      local sem = ns.semaphore(3)
      local g = ns.group()
      for _ = 1, 10 do
        g:spawn(function()
          assert.is_true(sem:acquire())
          inside = inside + 1
          if inside > most then most = inside end
          ns.sleep(0.005)
          inside = inside - 1
          done = done + 1
          assert.is_true(sem:release())
        end)
      end
      assert.is_true(g:wait())
    end)
    assert.equal(3, most)
    assert.equal(10, done)
    clean()
  end)

  it("serves waiting tasks in order, a late comer after them", function()
    local order = {}
    run_bounded(5, function()
      local sem = ns.semaphore(1)
      sem:acquire()
      for i = 1, 4 do ns.spawn(function() sem:acquire(); order[#order + 1] = i; sem:release() end) end
      coroutine.yield()
      sem:release()
      -- the unit went to the first waiter: a fresh acquire must wait
      assert.same({ nil, "timeout", "timeout" }, { sem:acquire(0) })
      ns.sleep(0.01)
      assert.is_true(sem:acquire(0))
    end)
    assert.same({ 1, 2, 3, 4 }, order)
    clean()
  end)

  it("acquire times out with nil, \"timeout\", \"timeout\"", function()
    run_bounded(5, function()
      local sem = ns.semaphore(0)
      local t0 = ns.monotime()
      assert.same({ nil, "timeout", "timeout" }, { sem:acquire(0.02) })
      assert.is_true(ns.monotime() - t0 >= 0.015)
      sem:release()                            -- 0 units: release is a signal
      assert.is_true(sem:acquire(0))
    end)
    clean()
  end)

  it("a task cancelled while it waits takes no unit", function()
    local got = {}
    run_bounded(5, function()
      local sem = ns.semaphore(1)
      sem:acquire()
      local b = ns.spawn(function() sem:acquire(); got[#got + 1] = "b" end)
      local c = ns.spawn(function() sem:acquire(); got[#got + 1] = "c"; sem:release() end)
      ns.sleep(0.01)
      ns.cancel(b)                             -- waiting: leaves the line
      sem:release()
      ns.sleep(0.01)
      assert.same({ "c" }, got)
      assert.is_true(sem:acquire(0))           -- c gave its unit back
      -- handed a unit, then cancelled before it could run: the unit goes on
      local d = ns.spawn(function() sem:acquire(); got[#got + 1] = "d" end)
      local e = ns.spawn(function() sem:acquire(); got[#got + 1] = "e"; sem:release() end)
      ns.sleep(0.01)
      sem:release()                            -- to d, ...
      ns.cancel(d)                             -- ... which never takes it: e does
      ns.sleep(0.01)
      assert.same({ "c", "e" }, got)
      assert.is_true(sem:acquire(0))
      assert.same({ nil, "timeout", "timeout" }, { sem:acquire(0) })
      local _ = c
    end)
    clean()
  end)

  it("works outside tasks and inside netsock.step", function()
    local sem = ns.semaphore(1)
    assert.is_true(sem:acquire())
    ns.spawn(function() ns.sleep(0.01); sem:release() end)
    assert.is_true(sem:acquire())              -- runs the loop until released
    assert.same({ nil, "timeout", "timeout" }, { sem:acquire(0.01) })
    local n = 0
    ns.spawn(function() sem:acquire(); n = n + 1 end)
    ns.spawn(function() ns.sleep(0.005); sem:release() end)
    local deadline = ns.monotime() + 5
    while ns.step(0.01) and ns.monotime() < deadline do end
    assert.equal(1, n)
    clean()
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() ns.semaphore(-1) end, "bad argument #1 to 'semaphore' (out of range)")
    assert.has_error(function() ns.semaphore(1.5) end)
    assert.has_error(function() ns.semaphore() end)
    assert.has_error(function() ns.semaphore(1):acquire(-1) end,
      "bad argument #1 to 'acquire' (negative or NaN timeout)")
    assert.has_error(function() ns.semaphore(1).release({}) end)
  end)
end)
