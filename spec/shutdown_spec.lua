-- spec/shutdown_spec.lua: the loop's shutdown. When every task left
-- waits in join, a group, a queue, a semaphore or an event with no
-- deadline and nothing could wake one, run cancels them and returns.
local H = require "helpers"
local ns = H.netsock

local stats = ns._tasks.stats

local function closer(box, name)
  return setmetatable({}, { __close = function() box[#box + 1] = name end })
end

-- ns.run, timed (no watchdog task here: a task that sleeps would keep
-- the loop from being stuck, which is what these cases are about)
local function run_within(seconds)
  local t0 = ns.monotime()
  ns.run()
  local took = ns.monotime() - t0
  assert.is_true(took < seconds, "run took " .. took .. " s")
end

describe("the loop's shutdown", function()
  it("wakes every waiting primitive: run cancels the stuck tasks (their <close> run) and returns", function()
    local closed = {}
    local ev, q, full, sem = ns.event(), ns.queue(), ns.queue(1), ns.semaphore(0)
    full:put(0)
    local never = ns.spawn(function() local _ <close> = closer(closed, "event"); ev:wait() end)
    ns.spawn(function() local _ <close> = closer(closed, "get"); q:get() end)
    ns.spawn(function() local _ <close> = closer(closed, "put"); full:put(1) end)
    ns.spawn(function() local _ <close> = closer(closed, "acquire"); sem:acquire() end)
    ns.spawn(function() local _ <close> = closer(closed, "join"); ns.join(never) end)
    ns.spawn(function()
      local _ <close> = closer(closed, "group")
      local g = ns.group()
      g:spawn(function() local _ <close> = closer(closed, "member"); q:get() end)
      g:wait()
    end)
    run_within(5)
    table.sort(closed)
    assert.same({ "acquire", "event", "get", "group", "join", "member", "put" }, closed)
    assert.equal(0, stats().live)
    assert.equal(0, stats().blocked)
    assert.equal(0, H.loop_timers())
    assert.same({ false, "cancelled" }, { ns.join(never) })
  end)

  it("spares a task that a cancelled one's close wakes", function()
    local got, closed = {}, {}
    local sem = ns.semaphore(0)
    ns.spawn(function()                        -- oldest: cancelled first
      local _ <close> = setmetatable({}, { __close = function() sem:release() end })
      ns.event():wait()
    end)
    ns.spawn(function()
      local _ <close> = closer(closed, "b")
      assert(sem:acquire())                    -- gets the unit the close gave
      got[#got + 1] = "b acquired"
    end)
    run_within(5)
    assert.same({ "b acquired" }, got)
    assert.same({ "b" }, closed)                -- it ended normally
    assert.equal(0, stats().live)
  end)

  it("waits while any task could still wake them (a timer, a socket)", function()
    local got
    local q = ns.queue()
    ns.spawn(function() got = q:get() end)
    ns.spawn(function() ns.sleep(0.05); q:put("late") end)
    local a, b = ns.socketpair()
    ns.spawn(function() local d = a:recv(10); q:put(d) end)
    ns.spawn(function() ns.sleep(0.08); b:sendall("sock") end)
    local second
    ns.spawn(function() ns.sleep(0.1); second = q:get() end)
    run_within(5)
    a:close(); b:close()
    assert.equal("late", got)
    assert.equal("sock", second)
  end)

  it("netsock.step leaves stuck tasks alone (the program around it may still act)", function()
    local q, got = ns.queue(), nil
    ns.spawn(function() got = q:get() end)
    for _ = 1, 3 do assert.is_true(ns.step(0)) end
    assert.equal(1, stats().blocked)
    q:put("from outside")
    assert.is_false(ns.step(0))
    assert.equal("from outside", got)
  end)
end)
