-- spec/queue_spec.lua: netsock.queue, values handed from task to task
local H = require "helpers"
local ns = H.netsock

local run_bounded = H.run_bounded
local stats = ns._tasks.stats

local function closer(box, name)
  return setmetatable({}, { __close = function() box[#box + 1] = name end })
end

local clean = H.loop_clean

describe("netsock.queue", function()
  it("hands values over in order; get waits while empty", function()
    local got = {}
    run_bounded(5, function()
      local q = ns.queue()
      ns.spawn(function()
        for i = 1, 5 do assert.is_true(q:put(i)); if i % 2 == 0 then ns.sleep(0.005) end end
        q:put(false)                           -- any value but nil
      end)
      while true do
        local v = q:get()
        if v == false then break end
        got[#got + 1] = v
      end
    end)
    assert.same({ 1, 2, 3, 4, 5 }, got)
    clean()
  end)

  it("#q counts what is queued; put waits while full", function()
    local log = {}
    run_bounded(5, function()
      local q = ns.queue(2)
      assert.equal(0, #q)
      assert.is_true(q:put("a"))
      assert.is_true(q:put("b"))
      assert.equal(2, #q)
      ns.spawn(function() log[#log + 1] = "put c"; q:put("c"); log[#log + 1] = "c in" end)
      ns.sleep(0.01)
      assert.same({ "put c" }, log)            -- full: it waits
      assert.equal(2, #q)
      assert.equal("a", q:get())
      ns.sleep(0.01)
      assert.same({ "put c", "c in" }, log)
      assert.equal(2, #q)
      assert.equal("b", q:get())
      assert.equal("c", q:get())
      assert.equal(0, #q)
    end)
    clean()
  end)

  it("put and get time out with nil, \"timeout\", \"timeout\"", function()
    run_bounded(5, function()
      local q = ns.queue(1)
      local t0 = ns.monotime()
      assert.same({ nil, "timeout", "timeout" }, { q:get(0.02) })
      assert.is_true(ns.monotime() - t0 >= 0.015)
      assert.is_true(q:put(1))
      assert.same({ nil, "timeout", "timeout" }, { q:put(2, 0.02) })
      assert.same({ nil, "timeout", "timeout" }, { q:put(2, 0) })
      assert.equal(1, #q)                      -- the timed-out value is not in
      assert.equal(1, q:get(0))
    end)
    clean()
  end)

  it("close: put says closed, get drains then says closed, waiters wake", function()
    local r = {}
    run_bounded(5, function()
      local q = ns.queue(1)
      local e = ns.queue()
      ns.spawn(function() r.getter = { e:get() } end)
      q:put(1)
      ns.spawn(function() r.putter = { q:put(2) } end)
      ns.sleep(0.01)
      assert.is_true(q:close())
      assert.is_true(q:close())               -- idempotent
      assert.is_true(e:close())
      assert.same({ nil, "closed", "closed" }, { q:put(3) })
      assert.equal(1, q:get())
      assert.same({ nil, "closed", "closed" }, { q:get() })
      assert.same({ nil, "closed", "closed" }, { q:get(1) })
      ns.sleep(0)
      coroutine.yield()
    end)
    assert.same({ nil, "closed", "closed" }, r.getter)
    assert.same({ nil, "closed", "closed" }, r.putter)
    clean()
  end)

  it("serves waiting getters first come, first served (no starvation)", function()
    local got = {}
    run_bounded(5, function()
      local q = ns.queue()
      for i = 1, 3 do ns.spawn(function() got[i] = q:get() end) end
      coroutine.yield()
      q:put("x"); q:put("y")
      -- a fresh get cannot take a value a waiter was promised
      assert.same({ nil, "timeout", "timeout" }, { q:get(0) })
      q:put("z")
      ns.sleep(0.01)
    end)
    assert.same({ "x", "y", "z" }, got)
    clean()
  end)

  it("serves waiting putters in order too", function()
    local got = {}
    run_bounded(5, function()
      local q = ns.queue(1)
      q:put(0)
      for i = 1, 4 do ns.spawn(function() q:put(i) end) end
      ns.sleep(0.01)
      for _ = 1, 5 do got[#got + 1] = q:get() end
    end)
    assert.same({ 0, 1, 2, 3, 4 }, got)
    clean()
  end)

  it("a getter cancelled while it waits takes nothing; one cancelled after being handed a value gives it back", function()
    local closed = {}
    run_bounded(5, function()
      local q = ns.queue()
      local g1 = ns.spawn(function() local _ <close> = closer(closed, 1); q:get() end)
      local g2 = ns.spawn(function() local _ <close> = closer(closed, 2); q:get(10) end)
      ns.sleep(0.01)
      ns.cancel(g1)
      assert.equal(0, stats().blocked)         -- g2 has a deadline; g1 is gone
      q:put("v")                               -- handed to g2 ...
      ns.cancel(g2)                            -- ... which never takes it
      assert.same({ 1, 2 }, closed)
      assert.equal(1, #q)
      assert.equal("v", q:get(0))
      q:put("w")                               -- nobody waits: it stays
      assert.equal(1, #q)
    end)
    clean()
  end)

  it("nil cannot be put (raises); bad arguments raise", function()
    local q = ns.queue()
    assert.has_error(function() q:put(nil) end,
      "bad argument #1 to 'put' (nil cannot be put in a queue)")
    assert.has_error(function() q:put() end)
    assert.has_error(function() q:put(1, -1) end,
      "bad argument #2 to 'put' (negative or NaN timeout)")
    assert.has_error(function() q:get("x") end)
    assert.has_error(function() ns.queue(0) end)
    assert.has_error(function() ns.queue(1.5) end)
    assert.has_error(function() ns.queue("big") end)
    assert.has_error(function() q.get({}) end)
  end)

  it("works outside tasks: get and put run the loop", function()
    local q = ns.queue(1)
    ns.spawn(function() for i = 1, 3 do q:put(i) end end)
    assert.equal(1, q:get())
    assert.equal(2, q:get())
    assert.equal(3, q:get())
    local t0 = ns.monotime()
    assert.same({ nil, "timeout", "timeout" }, { q:get(0.03) })
    assert.is_true(ns.monotime() - t0 >= 0.025)
    local ok, err = pcall(q.get, q)
    assert.is_false(ok)
    assert.matches("would wait for ever", err)
    local got
    ns.spawn(function() got = q:get() end)
    assert.is_true(q:put("out"))
    ns.run()
    assert.equal("out", got)
    clean()
  end)

  it("works inside netsock.step", function()
    local q, got = ns.queue(), {}
    ns.spawn(function() for _ = 1, 3 do got[#got + 1] = q:get() end end)
    ns.spawn(function() for i = 1, 3 do ns.sleep(0.002); q:put(i) end end)
    local deadline = ns.monotime() + 5
    while ns.step(0.01) and ns.monotime() < deadline do end
    assert.same({ 1, 2, 3 }, got)
    clean()
  end)
end)
