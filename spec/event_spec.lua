-- spec/event_spec.lua: netsock.event, one task tells many
local H = require "helpers"
local ns = H.netsock

local run_bounded = H.run_bounded
local stats = ns._tasks.stats

local clean = H.loop_clean

describe("netsock.event", function()
  it("set wakes every waiter; later waits return at once until clear", function()
    local woke = {}
    run_bounded(5, function()
      local ev = ns.event()
      assert.is_false(ev:isset())
      for i = 1, 3 do ns.spawn(function() assert.is_true(ev:wait()); woke[#woke + 1] = i end) end
      ns.sleep(0.01)
      assert.same({}, woke)
      assert.is_true(ev:set())
      assert.is_true(ev:isset())
      ns.sleep(0)
      coroutine.yield()
      assert.same({ 1, 2, 3 }, woke)
      local turns = stats().turns
      assert.is_true(ev:wait())                -- set: at once
      assert.is_true(ev:wait(0))
      assert.equal(turns, stats().turns)
      assert.is_true(ev:clear())
      assert.is_false(ev:isset())
      assert.same({ nil, "timeout", "timeout" }, { ev:wait(0.01) })
    end)
    clean()
  end)

  it("wait times out (nil, timeout, timeout); a cancelled waiter leaves nothing", function()
    local closed = false
    run_bounded(5, function()
      local ev = ns.event()
      local t0 = ns.monotime()
      assert.same({ nil, "timeout", "timeout" }, { ev:wait(0.02) })
      assert.is_true(ns.monotime() - t0 >= 0.015)
      local w = ns.spawn(function()
        local _ <close> = setmetatable({}, { __close = function() closed = true end })
        ev:wait(10)
      end)
      ns.sleep(0.01)
      ns.cancel(w)
      assert.is_true(closed)
      assert.equal(0, ev.waiters.n)
      ev:set()
    end)
    clean()
  end)

  it("works outside tasks and inside netsock.step", function()
    local ev = ns.event()
    ns.spawn(function() ns.sleep(0.01); ev:set() end)
    assert.is_true(ev:wait())
    ev:clear()
    assert.same({ nil, "timeout", "timeout" }, { ev:wait(0.01) })
    local n = 0
    ns.spawn(function() ev:wait(); n = n + 1 end)
    ns.spawn(function() ns.sleep(0.005); ev:set() end)
    local deadline = ns.monotime() + 5
    while ns.step(0.01) and ns.monotime() < deadline do end
    assert.equal(1, n)
    clean()
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() ns.event():wait(-1) end,
      "bad argument #1 to 'wait' (negative or NaN timeout)")
    assert.has_error(function() ns.event().set({}) end)
  end)
end)
