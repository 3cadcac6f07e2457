-- spec/join_spec.lua: netsock.join, waiting for a task to end
local H = require "helpers"
local ns = H.netsock

local run_bounded, capture_stderr = H.run_bounded, H.capture_stderr
local stats = ns._tasks.stats

-- a table whose close is counted in box.closed
local function closer(box)
  return setmetatable({}, { __close = function() box.closed = (box.closed or 0) + 1 end })
end

local clean = H.loop_clean

describe("netsock.join", function()
  it("returns true and every result of the task's function, nils included", function()
    local r
    run_bounded(5, function()
      local t = ns.spawn(function(a, b) ns.sleep(0.01); return a + b, nil, "x", nil end, 1, 2)
      r = table.pack(ns.join(t))
    end)
    assert.same({ n = 5, true, 3, nil, "x", nil }, r)
    clean()
  end)

  it("returns false and the error value as raised (the loop still reports it)", function()
    local err = { "boom" }
    local r
    local out = capture_stderr(function()
      run_bounded(5, function()
        local t = ns.spawn(function() ns.sleep(0.01); error(err) end)
        r = table.pack(ns.join(t))
      end)
    end)
    assert.equal(2, r.n)
    assert.is_false(r[1])
    assert.equal(err, r[2])
    assert.matches("netsock task failed", out)
    clean()
  end)

  it("returns nil, \"timeout\", \"timeout\" and the task goes on", function()
    local r1, r2
    run_bounded(5, function()
      local t = ns.spawn(function() ns.sleep(0.1); return "late" end)
      local t0 = ns.monotime()
      r1 = table.pack(ns.join(t, 0.02))
      assert.is_true(ns.monotime() - t0 >= 0.015)
      r2 = table.pack(ns.join(t))
    end)
    assert.same({ n = 3, nil, "timeout", "timeout" }, r1)
    assert.same({ n = 2, true, "late" }, r2)
    clean()
  end)

  it("returns false, \"cancelled\" for a cancelled task, started or not", function()
    local r1, r2
    run_bounded(5, function()
      local box = {}
      local t = ns.spawn(function() local _ <close> = closer(box); ns.sleep(10) end)
      local u = ns.spawn(function() return "never" end)
      ns.cancel(u)                            -- before it ever ran
      ns.spawn(function() ns.sleep(0.01); ns.cancel(t) end)
      r1 = table.pack(ns.join(t))
      r2 = table.pack(ns.join(u))
      assert.equal(1, box.closed)
    end)
    assert.same({ n = 2, false, "cancelled" }, r1)
    assert.same({ n = 2, false, "cancelled" }, r2)
    clean()
  end)

  it("joining twice, or from many tasks at once, returns the same results", function()
    local got = {}
    run_bounded(5, function()
      local t = ns.spawn(function() ns.sleep(0.02); return { 1 }, 2 end)
      for i = 1, 3 do
        ns.spawn(function() got[i] = { ns.monotime(), ns.join(t) } end)
      end
      ns.sleep(0.05)
      local a = table.pack(ns.join(t))
      local b = table.pack(ns.join(t))
      assert.equal(a[2], b[2])                 -- the very same table
      assert.same(a, b)
      got.value = a[2]
    end)
    assert.equal(3, #got)
    for i = 1, 3 do
      assert.is_true(got[i][2])
      assert.equal(got.value, got[i][3])
      assert.equal(2, got[i][4])
    end
    clean()
  end)

  it("outside a task runs the loop until that task ends (the others run too)", function()
    local other = false
    local t = ns.spawn(function() ns.sleep(0.02); return "done" end)
    ns.spawn(function() other = true end)
    local r = table.pack(ns.join(t))
    assert.same({ n = 2, true, "done" }, r)
    assert.is_true(other)
    -- with a timeout, outside too
    local slow = ns.spawn(function() ns.sleep(0.2) end)
    local t0 = ns.monotime()
    assert.same({ nil, "timeout", "timeout" }, { ns.join(slow, 0.03) })
    assert.is_true(ns.monotime() - t0 < 0.15)
    assert.same({ true }, { ns.join(slow) })
    assert.equal(0, stats().live)
    clean()
  end)

  it("a joiner cancelled while it waits leaves nothing behind", function()
    local box = {}
    run_bounded(5, function()
      local t = ns.spawn(function() ns.sleep(0.05); return 1 end)
      local j = ns.spawn(function() local _ <close> = closer(box); ns.join(t, 10) end)
      ns.sleep(0.01)
      ns.cancel(j)
      assert.equal(1, box.closed)
      assert.equal(0, H.loop_timers() - 1)     -- only t's sleep is timed now
      assert.same({ true, 1 }, { ns.join(t) })
    end)
    clean()
  end)

  it("a task that already ended is joined at once, without yielding", function()
    run_bounded(5, function()
      local t = ns.spawn(function() return 7 end)
      coroutine.yield()
      local turns = stats().turns
      assert.same({ true, 7 }, { ns.join(t) })
      assert.equal(turns, stats().turns)
    end)
  end)

  it("works inside netsock.step", function()
    local r
    ns.spawn(function()
      local t = ns.spawn(function() ns.sleep(0.01); return "stepped" end)
      r = { ns.join(t) }
    end)
    local deadline = ns.monotime() + 5
    while ns.step(0.01) and ns.monotime() < deadline do end
    assert.same({ true, "stepped" }, r)
    clean()
  end)

  it("raises on misuse", function()
    assert.has_error(function() ns.join(42) end,
      "bad argument #1 to 'join' (task expected, got number)")
    assert.has_error(function() ns.join(coroutine.create(print)) end,
      "bad argument #1 to 'join' (not a task of netsock.spawn or a group)")
    local t = ns.spawn(function() end)
    assert.has_error(function() ns.join(t, -1) end,
      "bad argument #2 to 'join' (negative or NaN timeout)")
    local err
    ns.run(function()
      local ok, e = pcall(ns.join, ns._tasks.current())
      err = not ok and e
    end)
    assert.matches("a task cannot join itself", err)
  end)
end)
