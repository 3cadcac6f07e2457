-- spec/group_spec.lua: netsock.group, tasks that end together
local H = require "helpers"
local ns = H.netsock

local run_bounded, capture_stderr = H.run_bounded, H.capture_stderr
local stats = ns._tasks.stats

local function closer(box, name)
  return setmetatable({}, { __close = function()
    box[#box + 1] = name
  end })
end

local clean = H.loop_clean

describe("netsock.group", function()
  it("g:wait returns true once every task of the group has ended", function()
    local done, r = {}, nil
    run_bounded(5, function()
      local g = ns.group()
      local ts = {}
      for i = 1, 5 do
        ts[i] = g:spawn(function(x) ns.sleep(0.01 * x); done[#done + 1] = x; return x * 10 end, i)
        assert.equal("thread", type(ts[i]))
      end
      r = table.pack(g:wait())
      assert.same({ true, 30 }, { ns.join(ts[3]) })
    end)
    assert.same({ n = 1, true }, r)
    assert.same({ 1, 2, 3, 4, 5 }, done)
    clean()
  end)

  it("a group with no task (or all ended) waits not at all", function()
    run_bounded(5, function()
      local g = ns.group()
      assert.same({ true }, { g:wait() })
      g:spawn(function() end)
      coroutine.yield(); coroutine.yield()
      local turns = stats().turns
      assert.same({ true }, { g:wait() })
      assert.equal(turns, stats().turns)
    end)
  end)

  it("the first raise cancels the others (their <close> run) and g:wait returns false, err", function()
    local closed, r = {}, nil
    local first = { "first" }
    local out = capture_stderr(function()
      run_bounded(5, function()
        local g = ns.group()
        g:spawn(function() local _ <close> = closer(closed, "a"); ns.sleep(10) end)
        g:spawn(function() ns.sleep(0.02); error(first) end)
        g:spawn(function() ns.sleep(0.03); error("second") end)
        g:spawn(function() local _ <close> = closer(closed, "b"); local a, b = ns.socketpair(); a:recv(1) end)
        local t0 = ns.monotime()
        r = table.pack(g:wait())
        assert.is_true(ns.monotime() - t0 < 1)
        assert.same({ "a", "b" }, closed)       -- closed before wait returned
        assert.same({ n = 2, false, first }, table.pack(g:wait()))  -- it stays the answer
      end)
    end)
    assert.equal(2, r.n)
    assert.is_false(r[1])
    assert.equal(first, r[2])
    assert.equal("", out)                      -- the group took the error
    clean()
  end)

  it("cancels at the first raise even before anyone waits; join says how each ended", function()
    local ts, g = {}, nil
    run_bounded(5, function()
      g = ns.group()
      ts[1] = g:spawn(function() ns.sleep(10) end)
      ts[2] = g:spawn(function() error("x") end)
      ns.sleep(0.02)
    end)
    assert.same({ false, "cancelled" }, { ns.join(ts[1]) })
    local ok, err = ns.join(ts[2])
    assert.is_false(ok)
    assert.matches("x$", err)
    assert.is_false((g:wait()))
    -- a failed group starts nothing more
    local late = g:spawn(function() return 1 end)
    assert.same({ false, "cancelled" }, { ns.join(late) })
    clean()
  end)

  it("on timeout cancels them all and returns nil, timeout, timeout", function()
    local closed, r = {}, nil
    run_bounded(5, function()
      local g = ns.group()
      for i = 1, 3 do g:spawn(function() local _ <close> = closer(closed, i); ns.sleep(10) end) end
      local t0 = ns.monotime()
      r = table.pack(g:wait(0.03))
      assert.is_true(ns.monotime() - t0 >= 0.025)
      assert.same({ 1, 2, 3 }, closed)
      assert.same({ true }, { g:wait() })
    end)
    assert.same({ n = 3, nil, "timeout", "timeout" }, r)
    clean()
  end)

  it("g:cancel cancels every task of the group; g:wait then returns true", function()
    local closed = {}
    run_bounded(5, function()
      local g = ns.group()
      local t = g:spawn(function() local _ <close> = closer(closed, 1); ns.sleep(10) end)
      g:spawn(function() local _ <close> = closer(closed, 2); ns.queue():get() end)
      ns.sleep(0.01)
      assert.is_true(g:cancel())
      assert.same({ 1, 2 }, closed)
      assert.same({ true }, { g:wait() })
      assert.same({ false, "cancelled" }, { ns.join(t) })
    end)
    clean()
  end)

  it("as a to-be-closed value cancels and ends its tasks when the scope ends", function()
    local closed = {}
    run_bounded(5, function()
      do
        local g <close> = ns.group()
        g:spawn(function() local _ <close> = closer(closed, "a"); ns.sleep(10) end)
        g:spawn(function() local _ <close> = closer(closed, "b"); ns.event():wait() end)
        ns.sleep(0.01)
      end
      assert.same({ "a", "b" }, closed)
    end)
    -- and when the scope ends by an error
    local g2, t
    local ok = pcall(function()
      local g <close> = ns.group()
      g2 = g
      t = g:spawn(function() local _ <close> = closer(closed, "c"); ns.sleep(10) end)
      error("scope fails")
    end)
    assert.is_false(ok)
    assert.same({ "a", "b" }, closed)          -- t never ran: nothing to close
    assert.same({ false, "cancelled" }, { ns.join(t) })
    assert.has_error(function() g2:spawn(print) end)   -- its scope is over
    assert.equal(0, stats().live)
    clean()
  end)

  it("tasks spawned with netsock.spawn inside a group's task do not belong to it", function()
    local outer, inner_done = nil, false
    run_bounded(5, function()
      local g = ns.group()
      g:spawn(function()
        outer = ns.spawn(function() ns.sleep(0.05); inner_done = true end)
      end)
      assert.same({ true }, { g:wait() })
      assert.is_false(inner_done)              -- not waited for
      g:spawn(function() error("fails") end)
      assert.is_false((g:wait()))
      ns.sleep(0.1)
    end)
    assert.is_true(inner_done)                 -- nor cancelled
    assert.same({ true }, { ns.join(outer) })
  end)

  it("g:wait outside a task runs the loop", function()
    local g = ns.group()
    local n = 0
    for i = 1, 3 do g:spawn(function() ns.sleep(0.01 * i); n = n + 1 end) end
    assert.same({ true }, { g:wait() })
    assert.equal(3, n)
    assert.equal(0, stats().live)
    clean()
  end)

  it("raises on misuse", function()
    local g = ns.group()
    assert.has_error(function() g:spawn(42) end,
      "bad argument #1 to 'spawn' (function expected, got number)")
    assert.has_error(function() g:wait(-1) end,
      "bad argument #1 to 'wait' (negative or NaN timeout)")
    assert.has_error(function() g.wait({}) end)
    local err
    g:spawn(function() local ok, e = pcall(g.wait, g); err = e end)
    g:wait()
    assert.matches("a task of the group cannot wait for it", err)
  end)
end)
