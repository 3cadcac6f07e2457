-- spec/tasktimers_spec.lua: the task loop's timers when deadlines move
-- on every wait (issue 28, item 3): a socket timeout inside tasks costs
-- no heap operation and no allocation per wait, and timers still fire
-- in deadline order, never early, equal deadlines in the order set.
local H = require "helpers"
local ns = H.netsock

local run_bounded = H.run_bounded
local timers = H.loop_timers  -- the loop's timers, less the watchdog's

local function heapops() return ns._tasks.stats().heapops end

describe("task timers (issue 28)", function()
  it("1,000 moving deadlines cost no heap operation per wait", function()
    local pairs_, rounds = 500, 20   -- 1,000 tasks, each waits 20 times
    local socks = {}
    for i = 1, pairs_ do
      local a, b = assert(ns.socketpair())
      a:settimeout(30)
      b:settimeout(30)
      socks[i] = { a, b }
    end
    finally(function()
      for _, p in ipairs(socks) do p[1]:close(); p[2]:close() end
    end)
    local before = assert(heapops(), "stats().heapops is missing")
    local done = 0
    for i = 1, pairs_ do
      local a, b = socks[i][1], socks[i][2]
      ns.spawn(function()
        for _ = 1, rounds do assert(a:send(assert(a:recv(1)))) end
        done = done + 1
      end)
      ns.spawn(function()
        for _ = 1, rounds do assert(b:send("x")); assert(b:recv(1)) end
        done = done + 1
      end)
    end
    run_bounded(60)
    assert.equal(2 * pairs_, done)
    local ops = heapops() - before
    -- 20,000 timed waits: one push per task and one removal when it
    -- ends (2,000), plus the spec's watchdog, whose sleeps fire (more of
    -- them the slower the run: valgrind); eager re-arming took two per
    -- wait (40,000)
    local waits = 2 * pairs_ * rounds
    assert.is_true(ops < waits // 5,
      ("%d heap operations for %d timed waits"):format(ops, waits))
    assert.equal(0, timers())
  end)

  it("a timer re-armed on every wait allocates nothing", function()
    -- in a child: the loop and two tasks alone (the spec's watchdog
    -- allocates as it polls); the collector stopped once warmed up,
    -- 4,000 round trips counted while both tasks keep waiting
    local p = H.lua([[
local ns = require "netsock"
local a, b = assert(ns.socketpair())
if arg[1] == "timed" then a:settimeout(30); b:settimeout(30) end
local grew
ns.spawn(function()
  for _ = 1, 6000 do assert(a:send(assert(a:recv(1)))) end
end)
ns.spawn(function()
  local k0
  for i = 1, 6000 do
    if i == 1000 then collectgarbage(); collectgarbage("stop"); k0 = collectgarbage("count") end
    if i == 5000 then grew = (collectgarbage("count") - k0) * 1024 end
    assert(b:send("x"))
    assert(b:recv(1))
  end
end)
ns.run()
print("grew " .. math.floor(grew))
]], "timed")
    assert.equal(0, p:wait(30))
    assert.equal("grew 0", (p:output():match("grew %d+")))
    p:kill()
  end)

  it("a deadline moved later fires at the later time, after a sooner timer", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    local log, t0 = {}, ns.monotime()
    local late
    ns.spawn(function()
      a:settimeout(0.05)
      assert(a:recv(1))           -- woken by data at once: its entry stays
      a:settimeout(0.3)
      local ok, err = a:recv(1)   -- the same entry, now a lower bound
      late = ns.monotime() - t0
      log[#log + 1] = "a " .. tostring(ok or err)
    end)
    ns.spawn(function()
      assert(b:send("x"))
      ns.sleep(0.15)
      log[#log + 1] = "b"
    end)
    run_bounded(5)
    assert.same({ "b", "a timeout" }, log)
    assert.is_true(late >= 0.3, ("timed out after %.3f s, before its 0.3 s"):format(late))
    assert.equal(0, timers())
  end)

  it("a deadline moved sooner fires at the sooner time", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    local log = {}
    ns.spawn(function()
      a:settimeout(5)
      assert(a:recv(1))           -- an entry 5 s away
      a:settimeout(0.05)
      local ok, err = a:recv(1)   -- moved up to 50 ms
      log[#log + 1] = "a " .. tostring(ok or err)
    end)
    ns.spawn(function()
      assert(b:send("x"))
      ns.sleep(0.2)
      log[#log + 1] = "b"
    end)
    local t0 = ns.monotime()
    run_bounded(5)
    assert.same({ "a timeout", "b" }, log)
    assert.is_true(ns.monotime() - t0 < 2, "the loop waited for the old deadline")
    assert.equal(0, timers())
  end)

  it("deadlines moved either way fire in deadline order, never early", function()
    local n, log, socks = 60, {}, {}
    for i = 1, n do socks[i] = { assert(ns.socketpair()) } end
    finally(function()
      for _, p in ipairs(socks) do p[1]:close(); p[2]:close() end
    end)
    math.randomseed(28)
    for i = 1, n do
      local a, b = socks[i][1], socks[i][2]
      -- half first wait long then short (the entry moves up), half
      -- short then long (the entry stays, a lower bound fixed on pop)
      local first = i % 2 == 0 and 0.3 + 0.1 * math.random() or 0.01 * math.random()
      local second = i % 2 == 0 and 0.02 + 0.1 * math.random() or 0.05 + 0.1 * math.random()
      assert(b:send("x"))
      ns.spawn(function()
        a:settimeout(first)
        assert(a:recv(1))
        a:settimeout(second)
        local t0 = ns.monotime()
        local ok, err = a:recv(1)
        local now = ns.monotime()
        log[#log + 1] = { due = t0 + second, at = now, err = ok or err }
      end)
    end
    run_bounded(10)
    assert.equal(n, #log)
    for k, e in ipairs(log) do
      assert.equal("timeout", e.err)
      assert.is_true(e.at >= e.due, "a timer fired early")
      if k > 1 then
        -- fired in deadline order (the loop fires what is due in order)
        assert.is_true(log[k - 1].due <= e.due + 0.002,
          ("fired out of order: %.4f after %.4f"):format(e.due, log[k - 1].due))
      end
    end
    assert.equal(0, timers())
  end)
end)
