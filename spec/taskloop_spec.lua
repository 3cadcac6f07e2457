-- spec/taskloop_spec.lua: the task loop under hostile and careless use.
-- One describe per finding of issue 11 (an adversarial review of the
-- loop); each test failed before its fix. The names say the finding's
-- number so that docs/guarantees.md can point at them.
local H = require "helpers"
local ns = H.netsock

local run_bounded, capture_stderr = H.run_bounded, H.capture_stderr
local timers = H.loop_timers  -- the loop's timers, less the watchdog's

-- a child Lua process running 'code'; returns its output once it ended
-- (nil, output when it did not end within 'seconds': a hang)
local function child(code, seconds, ...)
  local p = H.lua(code, ...)
  local rc = p:wait(seconds)
  local out = p:output()
  p:kill()
  if rc == nil then return nil, out end
  return out, rc
end

describe("task loop (issue 11)", function()

  -- #5: with a default timeout of 0, serve's listening socket had it
  -- too: accept said "timeout" at once, and the accepting task looped on
  -- it without ever yielding: the loop stopped, at 100% CPU
  describe("#5 serve after setdefaulttimeout(0)", function()
    it("serves, lets the other tasks run, and does not spin", function()
      local out, rc = child([[
local ns = require "netsock"
ns.setdefaulttimeout(0)
local srv = assert(ns.serve("127.0.0.1", 0, function(c)
  c:settimeout(5)
  assert(c:sendall("hi\n"))
end))
local _, port = srv:getsockname()
local ticks, got, cpu, wall = 0
ns.spawn(function()
  local c0, w0 = os.clock(), ns.monotime()
  for _ = 1, 30 do ns.sleep(0.01); ticks = ticks + 1 end
  cpu, wall = os.clock() - c0, ns.monotime() - w0
  local c = ns.tcp()
  c:settimeout(5)
  assert(c:connect("127.0.0.1", port))
  got = c:recv(10)
  c:close()
  srv:close()
end)
ns.run()
print("ticks", ticks, "got", got and got:gsub("\n", "") or "nil",
      "busy", cpu / wall < 0.5 and "no" or ("yes " .. cpu .. "/" .. wall))
]], 20)
      assert.is_string(out, "the loop hung (child killed)")
      assert.equal(0, rc, out)
      assert.matches("ticks\t30\tgot\thi\tbusy\tno", out)
    end)
  end)

  -- #8: every wait with a deadline pushed a timer that stayed in the
  -- heap until its deadline, whether or not the wait had ended: memory
  -- grew without bound, and the entries kept dead tasks (and their
  -- descriptors) alive
  describe("#8 timers of finished waits", function()
    it("leave the heap when the wait ends: ping-pong with timeouts of an hour", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      a:settimeout(3600)
      b:settimeout(3600)
      local left, rounds = -1, 2000
      ns.spawn(function()
        for _ = 1, rounds do
          local d = assert(a:recv(1))
          assert(a:send(d))
        end
      end)
      ns.spawn(function()
        for _ = 1, rounds do
          assert(b:send("x"))
          assert(b:recv(1))
        end
        left = timers()
      end)
      run_bounded(30)
      assert.equal(0, left)
      assert.equal(0, timers())
    end)

    it("do not keep failed tasks' descriptors open", function()
      collectgarbage()
      collectgarbage()
      local base = H.fdcount()
      capture_stderr(function()
        for _ = 1, 200 do
          ns.spawn(function()
            local a, b = assert(ns.socketpair())
            a:settimeout(3600)
            ns.spawn(function() coroutine.yield(); b:send("x") end)
            assert(a:recv(1))   -- waits once, with a deadline an hour away
            error("failed after a wait")
          end)
        end
        run_bounded(30)
      end)
      collectgarbage()
      collectgarbage()
      assert.equal(base, H.fdcount_settled(base))
      assert.equal(0, timers())
    end)

    it("two sleeps fire in deadline order and leave no timer behind", function()
      local log = {}
      ns.spawn(function() ns.sleep(0.05); log[#log + 1] = "a" end)
      ns.spawn(function() ns.sleep(0.01); log[#log + 1] = "b" end)
      run_bounded(5)
      assert.same({ "b", "a" }, log)
      assert.equal(0, timers())
    end)

    it("a wait ended by close or by data removes its timer at once", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      a:settimeout(3600)
      local seen = {}
      ns.spawn(function() assert(a:recv(1)) end)
      ns.spawn(function()
        coroutine.yield()
        seen[1] = timers()    -- the recv waits: 1
        b:send("x")
        coroutine.yield(); coroutine.yield()
        seen[2] = timers()    -- it ended: 0
        local c, d = assert(ns.socketpair())
        c:settimeout(3600)
        ns.spawn(function() c:recv(1) end)
        coroutine.yield()
        seen[3] = timers()
        c:close()
        seen[4] = timers()
        d:close()
      end)
      run_bounded(5)
      assert.same({ 1, 0, 1, 0 }, seen)
    end)
  end)

  -- #9: a task that raised never had its to-be-closed variables closed
  -- (coroutine.close was never called): its sockets stayed open and a
  -- file's buffered bytes were never sent
  describe("#9 a failing task's <close> variables", function()
    it("are closed: sockets closed, buffered file bytes flushed", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local s, closed
      local err = capture_stderr(function()
        ns.spawn(function()
          local x <close> = assert(ns.socketpair())
          s = x
          local f <close> = a:makefile("w")
          f:setvbuf("full")
          f:write("buffered tail")
          local _ <close> = setmetatable({}, { __close = function() closed = true end })
          error("task boom")
        end)
        run_bounded(5)
      end)
      assert.matches("task boom", err)
      assert.matches("stack traceback", err)
      assert.equal(-1, s:fileno())
      assert.is_true(closed)
      b:settimeout(2)
      assert.equal("buffered tail", b:recv(100))
    end)

    it("a __close that raises is reported too, and the loop goes on", function()
      local done = false
      local err = capture_stderr(function()
        ns.spawn(function()
          local _ <close> = setmetatable({}, { __close = function() error("close boom") end })
          error("first boom")
        end)
        ns.spawn(function() ns.sleep(0.02); done = true end)
        run_bounded(5)
      end)
      assert.is_true(done)
      assert.matches("first boom", err)
      assert.matches("close boom", err)
    end)
  end)

  -- #15: spawn(t) of a callable table without arguments raised from
  -- coroutine.create; an error object whose __tostring raises escaped
  -- run() and abandoned the other tasks
  describe("#15 callables and hostile error objects", function()
    it("spawn accepts a callable table, with and without arguments", function()
      local got = {}
      local callable = setmetatable({}, { __call = function(self, x) got[#got + 1] = x or "none" end })
      ns.spawn(callable)
      ns.spawn(callable, "arg")
      run_bounded(5)
      assert.same({ "none", "arg" }, got)
    end)

    it("spawn checks the real metatable (a __metatable field does not hide __call)", function()
      local called = false
      local locked = setmetatable({}, { __call = function() called = true end, __metatable = 42 })
      ns.spawn(locked)
      run_bounded(5)
      assert.is_true(called)
      local fake = setmetatable({}, { __metatable = { __call = print } })
      assert.has_error(function() ns.spawn(fake) end,
        "bad argument #1 to 'spawn' (function expected, got table)")
    end)

    it("an error object whose __tostring raises ends its task alone", function()
      local done = 0
      local bad = setmetatable({}, { __tostring = function() error("tostring boom") end })
      local notstring = setmetatable({}, { __tostring = function() return 42 end })
      local err = capture_stderr(function()
        ns.spawn(function() error(bad) end)
        ns.spawn(function() ns.sleep(0.01); error(notstring) end)
        for _ = 1, 3 do ns.spawn(function() ns.sleep(0.03); done = done + 1 end) end
        assert.is_true(ns.run())
      end)
      assert.equal(3, done)
      assert.matches("netsock task failed: %(error object is a table value", err)
    end)

    it("serve reports a handler's hostile error object and goes on serving", function()
      local bad = setmetatable({}, { __tostring = function() error("tostring boom") end })
      local n, replies = 0, {}
      local err = capture_stderr(function()
        local srv = assert(ns.serve("127.0.0.1", 0, setmetatable({}, { __call = function(_, conn)
          n = n + 1
          if n == 1 then error(bad) end
          conn:sendall("fine\n")
        end })))
        local _, port = srv:getsockname()
        run_bounded(10, function()
          for i = 1, 2 do
            local c = assert(ns.create_connection("127.0.0.1", port, 5))
            local d, msg = c:recv(100)
            replies[i] = d or msg
            c:close()
          end
          srv:close()
        end)
      end)
      assert.same({ "closed", "fine\n" }, replies)
      assert.matches("error object is a table value", err)
    end)
  end)
end)
