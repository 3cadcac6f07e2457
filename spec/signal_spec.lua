-- spec/signal_spec.lua: netsock.onsignal, handlers that run as tasks
local H = require "helpers"
local ns = H.netsock

-- the caught and ignored signal masks of a process, from /proc
local function sigmasks(pid)
  local s = H.readfile(("/proc/%d/status"):format(pid or H.pid()))
  return s:match("SigCgt:%s*(%x+)"), s:match("SigIgn:%s*(%x+)")
end

-- whether bit 'sig' is set in a /proc hex mask
local function hasbit(mask, sig)
  local n = tonumber(mask, 16)
  return (n >> (sig - 1)) & 1 == 1
end

-- run the loop until cond() holds or 'seconds' pass; returns cond()
local function run_until(seconds, cond)
  local deadline = ns.monotime() + seconds
  ns.run(function()
    while not cond() and ns.monotime() < deadline do ns.sleep(0.005) end
  end)
  return cond()
end

local function kill(name)
  -- kill(1), a program we did not write, sends it to this process;
  -- through popen, as system() (os.execute) ignores SIGINT meanwhile
  local p = assert(io.popen(("kill -%s %d"):format(name, H.pid())))
  p:read("a")
  assert(p:close())
end

describe("onsignal", function()
  it("runs the handler as a task when the signal comes (kill -USR1 self)", function()
    local got, intask, slept = {}, nil, false
    ns.onsignal("SIGUSR1", function(name)
      got[#got + 1] = name
      intask = ns._tasks.current() ~= nil
      ns.sleep(0.01)  -- a task: it may wait
      slept = true
    end)
    finally(function() ns.onsignal("SIGUSR1", nil) end)
    ns.spawn(function() ns.sleep(0.02); kill("USR1") end)
    assert.is_true(run_until(5, function() return slept end))
    assert.same({ "SIGUSR1" }, got)
    assert.is_true(intask)
  end)

  it("handles SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 and SIGCHLD, each its own", function()
    local got = {}
    local names = { "SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2" }
    for _, n in ipairs(names) do
      ns.onsignal(n, function(name) got[name] = (got[name] or 0) + 1 end)
    end
    ns.onsignal("CHLD", function(name) got[name] = (got[name] or 0) + 1 end)
    finally(function()
      for _, n in ipairs(names) do ns.onsignal(n, nil) end
      ns.onsignal("SIGCHLD", nil)
    end)
    ns.spawn(function()
      for _, n in ipairs(names) do
        kill(n:sub(4))
        ns.sleep(0.01)
      end
    end)
    -- each kill child that ends is a SIGCHLD
    assert.is_true(run_until(5, function()
      for _, n in ipairs(names) do if not got[n] then return false end end
      return got.SIGCHLD ~= nil
    end))
    for _, n in ipairs(names) do assert.equal(1, got[n], n) end
  end)

  H.linux_it("touches no other signal's disposition, and puts the old one back on removal", "/proc signal masks", function()
    local cgt0, ign0 = sigmasks()
    if hasbit(cgt0, 12) and hasbit(cgt0, 10) and hasbit(cgt0, 1) then
      -- valgrind catches every signal itself: /proc cannot tell ours
      pending("every signal is caught already (valgrind's own handlers)")
      return
    end
    assert.is_false(hasbit(cgt0, 12), "SIGUSR2 caught before the test")
    ns.onsignal("SIGUSR2", function() end)
    local cgt1, ign1 = sigmasks()
    assert.is_true(hasbit(cgt1, 12))
    assert.equal(tonumber(cgt0, 16) | (1 << 11), tonumber(cgt1, 16))
    assert.equal(ign0, ign1)
    ns.onsignal("SIGUSR2", nil)
    local cgt2, ign2 = sigmasks()
    assert.equal(cgt0, cgt2)
    assert.equal(ign0, ign2)
  end)

  it("a removed handler gives the default action back: the signal kills again", function()
    local p = H.lua([[
      local ns = require "netsock"
      ns.onsignal("SIGUSR2", function() end)
      assert(ns.onsignal("SIGUSR2", nil))  -- returns the handler it removed
      io.stdout:write("ready\n") io.stdout:flush()
      os.execute("kill -USR2 " .. require("netsock.core")._getpid())
      ns.sleep(1)
      print("survived")
    ]])
    finally(function() p:kill() end)
    local rc = p:wait(10)
    assert.is_not_nil(rc)
    assert.is_nil(p:output():find("survived"), p:output())
    assert.equal(128 + 12, rc)  -- sh reports death by SIGUSR2
  end)

  it("works in a forked child (its own pipe and watcher) and still in the parent", function()
    local p = H.lua([[
      local ns = require "netsock"
      local core = require "netsock.core"
      local function waitfor(cond)
        ns.run(function()
          local t = ns.monotime() + 5
          while not cond() and ns.monotime() < t do ns.sleep(0.01) end
        end)
        return cond()
      end
      local parent = 0
      ns.onsignal("SIGUSR1", function() parent = parent + 1 end)
      core._kill(core._getpid(), "USR1")
      assert(waitfor(function() return parent == 1 end), "parent before fork")
      local pid = assert(core._fork())
      if pid == 0 then
        local got = false
        ns.onsignal("SIGUSR1", function() got = true end)
        core._kill(core._getpid(), "USR1")
        os.exit(waitfor(function() return got end) and 0 or 3)
      end
      local _, how, code = core._waitpid(pid)
      print("child", how, code)
      core._kill(core._getpid(), "USR1")
      print("parent", waitfor(function() return parent == 2 end))
    ]])
    finally(function() p:kill() end)
    assert.equal(0, p:wait(20), p:output())
    assert.truthy(p:output():find("child\texited\t0", 1, false), p:output())
    assert.truthy(p:output():find("parent\ttrue", 1, true), p:output())
  end)

  it("replaces a handler, returns the previous one, and several signals coalesce into a run each", function()
    local a = function() end
    assert.is_nil(ns.onsignal("SIGUSR1", a))
    local n = 0
    assert.equal(a, ns.onsignal("SIGUSR1", function() n = n + 1 end))
    finally(function() ns.onsignal("SIGUSR1", nil) end)
    kill("USR1")  -- outside the loop: caught, held until the loop runs
    assert.equal(0, n)
    assert.is_true(run_until(5, function() return n == 1 end))
    ns.sleep(0.05)
    assert.is_true(run_until(0.05, function() return false end) == false)
    assert.equal(1, n)
  end)

  it("does not keep run() going by itself, and a failing handler ends alone", function()
    ns.onsignal("SIGUSR1", function() error("handler boom") end)
    finally(function() ns.onsignal("SIGUSR1", nil) end)
    local t0 = ns.monotime()
    ns.run(function() end)  -- returns: the signal watcher is the loop's own
    assert.is_true(ns.monotime() - t0 < 5)
    local after = false
    local real = io.stderr
    local err = {}
    io.stderr = { write = function(self, ...) for _, v in ipairs({ ... }) do err[#err + 1] = tostring(v) end return self end }
    local ok, e = pcall(function()
      ns.spawn(function() kill("USR1"); ns.sleep(0.05); after = true end)
      ns.run()
    end)
    io.stderr = real
    assert(ok, e)
    assert.is_true(after)
    assert.truthy(table.concat(err):find("handler boom", 1, true))
  end)

  it("lists its watcher in netsock.tasks() as the loop's own", function()
    ns.onsignal("SIGUSR1", function() end)
    finally(function() ns.onsignal("SIGUSR1", nil) end)
    local found
    for _, e in ipairs(ns.tasks()) do
      if e.label == "signals" then found = e end
    end
    assert.is_not_nil(found)
    assert.is_true(found.daemon)
  end)

  it("raises for unknown signals and wrong handlers", function()
    assert.has_error(function() ns.onsignal("SIGFOO", function() end) end,
      "bad argument #1 to 'onsignal' (unknown signal 'SIGFOO')")
    assert.has_error(function() ns.onsignal("SIGKILL", function() end) end)
    assert.has_error(function() ns.onsignal(9, function() end) end)
    assert.has_error(function() ns.onsignal(nil, function() end) end)
    assert.has_error(function() ns.onsignal("SIGTERM", 42) end,
      "bad argument #2 to 'onsignal' (function expected, got number)")
  end)
end)
