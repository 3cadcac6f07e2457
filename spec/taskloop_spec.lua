-- spec/taskloop_spec.lua: the task loop under hostile and careless use.
-- One describe per finding of issue 11 (an adversarial review of the
-- loop); each test failed before its fix. The names say the finding's
-- number so that docs/guarantees.md can point at them.
local H = require "helpers"
-- service names ("http") come from /etc/services
H.needs { { file = "/etc/services", pkg = "netbase" } }
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

  -- #3: f:close() did not wake a task reading through that file; when
  -- the file was the socket's only owner the collector then closed the
  -- descriptor behind the loop's back and the reader never woke
  describe("#3 a file closed under a reading task", function()
    for _, fmt in ipairs({ "l", "L", "a", 10 }) do
      it("wakes f:read(" .. tostring(fmt) .. ") with closed", function()
        local a, b = assert(ns.socketpair())
        finally(function() a:close(); b:close() end)
        local f = a:makefile("r")
        local got
        ns.spawn(function() got = { f:read(fmt) } end)
        ns.spawn(function() coroutine.yield(); f:close() end)
        run_bounded(5)
        assert.same({ nil, "closed", "closed" }, got)
        assert.is_true(a:fileno() >= 0)   -- the socket stays open
      end)
    end

    it("ends a lines() loop", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local f = a:makefile("r")
      local lines, ended = {}, false
      ns.spawn(function()
        for l in f:lines() do lines[#lines + 1] = l end
        ended = true
      end)
      ns.spawn(function()
        b:send("one\n")
        coroutine.yield(); coroutine.yield()
        f:close()
      end)
      run_bounded(5)
      assert.is_true(ended)
      assert.same({ "one" }, lines)
    end)

    it("wakes the reader when the file was the socket's only owner, and the descriptor goes", function()
      collectgarbage(); collectgarbage()
      local base = H.fdcount()
      local a, b = assert(ns.socketpair())
      local f = a:makefile("r")
      a = nil   -- luacheck: ignore (the file is the only owner now)
      local got
      ns.spawn(function() got = { f:read("l") } end)
      ns.spawn(function()
        coroutine.yield()
        f:close()
        f = nil
        collectgarbage(); collectgarbage()
      end)
      run_bounded(5)
      assert.same({ nil, "closed", "closed" }, got)
      b:close()
      collectgarbage(); collectgarbage()
      assert.equal(base, H.fdcount_settled(base))
    end)
  end)

  -- #4: every way a descriptor leaves netsock's hands wakes the tasks
  -- that wait on it; before, p:close() left p:wait() waiting and
  -- s:detach() left s:recv() waiting (for ever without a timeout)
  describe("#4 a descriptor leaving netsock's hands wakes its waiters", function()
    it("p:close() wakes a task in p:wait()", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local p = ns.poller()
      p:add(a, "r")
      local got
      ns.spawn(function() got = { p:wait() } end)
      ns.spawn(function() coroutine.yield(); p:close() end)
      run_bounded(5)
      assert.same({ nil, "closed", "closed" }, got)
    end)

    it("closing a socket a task's p:wait holds wakes it: the socket comes back ready", function()
      local a, b = assert(ns.socketpair())
      finally(function() b:close() end)
      local p = ns.poller()
      finally(function() p:close() end)
      p:add(a, "r")
      local got
      ns.spawn(function() got = { p:wait() } end)
      ns.spawn(function() coroutine.yield(); a:close() end)
      run_bounded(5)
      assert.same({ { a }, { "r" } }, got)
      assert.matches("0 registered", tostring(p))
      assert.same({}, (p:wait(0)))   -- reported once
    end)

    it("s:detach() wakes a task in s:recv(); the descriptor stays open", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local got, fd
      ns.spawn(function() got = { a:recv(10) } end)
      ns.spawn(function() coroutine.yield(); fd = a:detach() end)
      run_bounded(5)
      assert.same({ nil, "closed", "closed" }, got)
      assert.is_number(H.fdflags(fd))   -- still open: the caller owns it
      local c = ns.fromfd(fd, "unix", "stream")   -- and it still works
      assert(b:send("z"))
      c:settimeout(2)
      assert.equal("z", c:recv(1))
      c:close()
    end)

    it("s:detach() wakes a task in s:sendall() and in f:read()", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local f = a:makefile("r")
      local r1, r2
      ns.spawn(function() r1 = { f:read("l") } end)
      ns.spawn(function()
        a:setoption("sndbuf", 4096)
        r2 = { a:sendall(("x"):rep(1 << 20)) }
      end)
      ns.spawn(function() coroutine.yield(); coroutine.yield(); a:detach() end)
      run_bounded(5)
      assert.same({ nil, "closed", "closed" }, r1)
      assert.same({ nil, "closed", "closed" }, { r2[1], r2[2], r2[3] })
      assert.is_number(r2[4])
    end)

    it("a <close> socket going out of scope wakes its waiter", function()
      local got
      local a, b = assert(ns.socketpair())
      finally(function() b:close() end)
      ns.spawn(function() got = { a:recv(10) } end)
      ns.spawn(function()
        coroutine.yield()
        local x <close> = a
      end)
      run_bounded(5)
      assert.same({ nil, "closed", "closed" }, got)
    end)

    it("select in a task wakes when a socket it waits on is closed", function()
      local a, b = assert(ns.socketpair())
      finally(function() b:close() end)
      local got
      ns.spawn(function() got = { ns.select({ a }, nil, 30) } end)
      ns.spawn(function() coroutine.yield(); a:close() end)
      run_bounded(5)
      assert.equal(a, got[1][1])
    end)

    it("a socket only a waiting task holds is not collected under it", function()
      local b, got
      ns.spawn(function()
        local a
        a, b = assert(ns.socketpair())
        got = a:recv(10)
      end)
      ns.spawn(function()
        coroutine.yield()
        collectgarbage(); collectgarbage()
        b:send("alive")
      end)
      run_bounded(5)
      b:close()
      assert.equal("alive", got)
    end)
  end)

  -- #6: sendfile from a pipe read it with a blocking read(2): in a task
  -- the whole loop stopped, and the timeout was not kept anywhere
  describe("#6 sendfile from a pipe", function()
    local function slowpipe()
      local pipe = assert(io.popen("echo $$; exec sleep 10"))
      local pid = assert(tonumber(pipe:read("l")))
      return pipe, function()
        os.execute("kill " .. pid .. " 2>/dev/null")
        pipe:close()
      end
    end

    it("waits in the loop, keeps its timeout, and the other tasks run", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local pipe, stop = slowpipe()
      finally(stop)
      a:settimeout(0.3)
      local got, ticks = nil, 0
      ns.spawn(function() got = { a:sendfile(pipe) } end)
      ns.spawn(function() for _ = 1, 10 do ns.sleep(0.01); ticks = ticks + 1 end end)
      local t0 = ns.monotime()
      run_bounded(8)
      assert.same({ nil, "timeout", "timeout", 0 }, got)
      assert.equal(10, ticks)
      assert.is_true(ns.monotime() - t0 < 5)
    end)

    it("keeps its timeout outside tasks too", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local pipe, stop = slowpipe()
      finally(stop)
      a:settimeout(0.3)
      local t0 = ns.monotime()
      assert.same({ nil, "timeout", "timeout", 0 }, { a:sendfile(pipe) })
      assert.is_true(ns.monotime() - t0 < 5)
    end)

    it("still sends everything a pipe gives, in a task", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local pipe = assert(io.popen("for i in 1 2 3; do echo line$i; sleep 0.05; done"))
      finally(function() pipe:close() end)
      a:settimeout(5)
      b:settimeout(5)
      local n, data = nil, ""
      ns.spawn(function() n = a:sendfile(pipe); a:shutdown("w") end)
      ns.spawn(function()
        while true do
          local d = b:recv(100)
          if not d then break end
          data = data .. d
        end
      end)
      run_bounded(8)
      assert.equal("line1\nline2\nline3\n", data)
      assert.equal(#data, n)
    end)
  end)

  -- #10: a socket added to a poller, duplicated (fromfd), then closed:
  -- epoll kept the registration of the still-open file description,
  -- p:remove could not delete it, and p:wait returned "timeout" at
  -- once for ever (a busy loop)
  describe("#10 poller and a duplicated descriptor", function()
    it("close takes the socket out of the poller: no stale event, no busy wait", function()
      local x, y = assert(ns.socketpair())
      local d = assert(ns.fromfd(x:fileno(), "unix", "stream"))
      finally(function() d:close(); y:close() end)
      local p = ns.poller()
      finally(function() p:close() end)
      assert(p:add(x, "r"))
      x:close()
      assert(y:send("data"))   -- the description is readable now
      assert.is_true(p:remove(x))
      local t0 = ns.monotime()
      local ready, ev, what = p:wait(0.2)
      assert.same({ {}, {}, "timeout" }, { ready, ev, what })
      assert.is_true(ns.monotime() - t0 >= 0.15, "p:wait returned at once")
      assert.matches("0 registered", tostring(p))
    end)

    it("the same for a file object added in its socket's place", function()
      local x, y = assert(ns.socketpair())
      local d = assert(ns.fromfd(x:fileno(), "unix", "stream"))
      finally(function() d:close(); y:close() end)
      local p = ns.poller()
      finally(function() p:close() end)
      local f = x:makefile("r")
      assert(p:add(f, "r"))
      x:close()
      assert(y:send("data"))
      local t0 = ns.monotime()
      assert.same({}, (p:wait(0.2)))
      assert.is_true(ns.monotime() - t0 >= 0.15, "p:wait returned at once")
    end)

    H.linux_it("the task loop's set and the poller's forget it too", "/proc fdinfo of epoll sets", function()
      -- every epoll set of this process lists its registrations in
      -- /proc/self/fdinfo ("tfd: N ..."); none may name a closed number.
      -- The poll backend (portable build) keeps its sets in memory, which
      -- /proc does not show: there the loop must simply not spin.
      local lfs = require "lfs"
      local function registered(fd)
        if H.backend ~= "epoll" then return nil end
        for e in lfs.dir("/proc/self/fdinfo") do
          local info = e:match("^%d+$") and H.readfile("/proc/self/fdinfo/" .. e)
          if info and info:find("\ntfd:%s+" .. fd .. "%s") then return true end
        end
        return false
      end
      local x, y = assert(ns.socketpair())
      local d = assert(ns.fromfd(x:fileno(), "unix", "stream"))
      finally(function() d:close(); y:close() end)
      local p = ns.poller()
      finally(function() p:close() end)
      assert(p:add(x, "r"))
      x:settimeout(0.05)
      run_bounded(5, function() x:recv(1) end)   -- registers x in the loop
      local fd = x:fileno()
      assert.is_true(registered(fd) ~= false)
      x:close()
      assert.is_true(not registered(fd), "an epoll set still holds the closed descriptor")
      local turns0 = ns._tasks.stats().turns
      assert(y:send("data"))
      run_bounded(5, function() ns.sleep(0.1) end)
      assert.is_true(ns._tasks.stats().turns - turns0 < 50, "the loop spun")
    end)

    it("detach takes the descriptor out of the poller as well", function()
      local x, y = assert(ns.socketpair())
      finally(function() y:close() end)
      local p = ns.poller()
      finally(function() p:close() end)
      assert(p:add(x, "r"))
      local fd = x:detach()   -- stays open: this process owns it now
      assert.is_number(H.fdflags(fd))
      assert.matches("0 registered", tostring(p))
      assert(y:send("data"))
      assert.same({}, (p:wait(0)))
    end)
  end)

  -- #11: select over two objects on one descriptor (a socket and its
  -- file) in a task widened the epoll registration to read+write: the
  -- idle, writable socket woke the task at once, for ever
  describe("#11 select over a socket and its file in a task", function()
    it("waits without spinning, and sees data when it comes", function()
      local a, b = assert(ns.socketpair())
      finally(function() a:close(); b:close() end)
      local f = a:makefile("r")
      local r, turns
      ns.spawn(function()
        local t0 = ns._tasks.stats().turns
        r = { ns.select({ a, f }, nil, 0.3) }
        turns = ns._tasks.stats().turns - t0
      end)
      run_bounded(5)
      assert.same({ {}, {}, "timeout" }, r)
      assert.is_true(turns < 50, "select woke " .. turns .. " times")
      ns.spawn(function() r = { ns.select({ a, f }, { b }, 2) } end)
      ns.spawn(function() coroutine.yield(); b:send("x") end)
      run_bounded(5)
      assert.equal(b, r[2][1])
      ns.spawn(function() r = { ns.select({ a, f }, nil, 2) } end)
      run_bounded(5)
      assert.same({ a, f }, r[1])
    end)
  end)

  -- #12: sendto to a Unix datagram receiver that is full: poll says
  -- writable (the sender's own buffer has room) while sendto says
  -- EAGAIN: the wait spun, burning CPU equal to wall time
  describe("#12 sendto to a full Unix datagram receiver", function()
    local full_receiver = H.unix_full_receiver

    it("waits without spinning in a task, and keeps its timeout", function()
      local r, s, path = full_receiver()
      finally(function() r:close(); s:close(); os.remove(path) end)
      s:settimeout(0.5)
      local got, turns, took
      ns.spawn(function()
        local t0, n0 = ns.monotime(), ns._tasks.stats().turns
        got = { s:sendto("y", path) }
        took = ns.monotime() - t0
        turns = ns._tasks.stats().turns - n0
      end)
      run_bounded(10)
      assert.same({ nil, "timeout", "timeout" }, got)
      assert.is_true(turns < 200, "the loop turned " .. turns .. " times")
      assert.is_true(took >= 0.45 and took < 1.5, "took " .. took)
    end)

    it("goes through once the receiver reads", function()
      local r, s, path = full_receiver()
      finally(function() r:close(); s:close(); os.remove(path) end)
      s:settimeout(5)
      local got
      ns.spawn(function() got = s:sendto("y", path) end)
      ns.spawn(function() ns.sleep(0.1); r:settimeout(0); while r:recv(1024) do end end)
      run_bounded(10)
      assert.equal(1, got)
    end)

    it("does not burn CPU outside tasks either #timing", function()
      local r, s, path = full_receiver()
      finally(function() r:close(); s:close(); os.remove(path) end)
      s:settimeout(0.5)
      local c0, t0 = os.clock(), ns.monotime()
      assert.same({ nil, "timeout", "timeout" }, { s:sendto("y", path) })
      local cpu, wall = os.clock() - c0, ns.monotime() - t0
      assert.is_true(cpu < wall / 2, ("cpu %.2f s of %.2f s"):format(cpu, wall))
    end)
  end)

  -- #13: a Unix stream connect to a full backlog said EAGAIN at once,
  -- whatever the timeout; it waits up to its timeout now, as a blocking
  -- connect (and Python's) does
  describe("#13 Unix connect to a full backlog", function()
    local full_listener = H.unix_full_listener

    for _, intask in ipairs({ false, true }) do
      local where = intask and "in a task" or "outside tasks"
      it("times out after its timeout " .. where, function()
        local srv, path, held = full_listener()
        finally(function()
          for _, c in ipairs(held) do c:close() end
          srv:close(); os.remove(path)
        end)
        local c = ns.socket("unix", "stream")
        held[#held + 1] = c
        c:settimeout(0.3)
        local got, took
        local function go()
          local t0 = ns.monotime()
          got = { c:connect(path) }
          took = ns.monotime() - t0
        end
        if intask then run_bounded(5, go) else go() end
        assert.same({ nil, "timeout", "timeout" }, got)
        assert.is_true(took >= 0.25, "took " .. took)
      end)

      it("connects once the server accepts " .. where, function()
        local path = H.tmpname(".sock")
        local held = {}
        -- the server: python, listening with a backlog of 1, accepting
        -- only after a while (so the backlog is full when we connect)
        local p = H.python([[
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
print("listening", flush=True)
time.sleep(0.5)
s.settimeout(5)
conns = []
try:
    while True:
        conns.append(s.accept()[0])
except OSError:
    pass
]], path)
        finally(function()
          p:kill()
          for _, c in ipairs(held) do c:close() end
          os.remove(path)
        end)
        assert.equal("listening", p:line(10))
        local full = false
        for _ = 1, 100 do
          local c = ns.socket("unix", "stream")
          c:settimeout(0)
          local ok, _, code = c:connect(path)
          held[#held + 1] = c
          if not ok and code == "EAGAIN" then full = true; break end
        end
        assert.is_true(full, "the backlog never filled")
        local c = ns.socket("unix", "stream")
        held[#held + 1] = c
        c:settimeout(5)
        local got
        local function go() got = { c:connect(path) } end
        if intask then run_bounded(8, go) else go() end
        assert.same({ true }, got)
      end)
    end

    it("with timeout 0 still says EAGAIN at once", function()
      local srv, path, held = full_listener()
      finally(function()
        for _, c in ipairs(held) do c:close() end
        srv:close(); os.remove(path)
      end)
      local c = ns.socket("unix", "stream")
      held[#held + 1] = c
      c:settimeout(0)
      local ok, _, code = c:connect(path)
      assert.is_nil(ok)
      assert.equal("EAGAIN", code)
    end)
  end)

  -- #14: on a seqpacket socket recv returned "" for ever once the peer
  -- had closed, instead of the end of stream
  describe("#14 seqpacket end of stream", function()
    it("recv and recvfrom give closed after the peer closes; an empty message stays empty", function()
      local a, b = assert(ns.socketpair("unix", "seqpacket"))
      finally(function() a:close(); b:close() end)
      a:settimeout(2)
      assert(b:send("msg"))
      assert(b:send(""))
      assert.equal("msg", a:recv(10))
      assert.equal("", a:recv(10))
      b:close()
      assert.same({ nil, "closed", "closed" }, { a:recv(10) })
      assert.same({ nil, "closed", "closed" }, { a:recv(10) })
      assert.same({ nil, "closed", "closed" }, { a:recvfrom(10) })
    end)

    it("a task waiting in recv wakes with closed when the peer closes", function()
      local a, b = assert(ns.socketpair("unix", "seqpacket"))
      finally(function() a:close(); b:close() end)
      local got
      ns.spawn(function() got = { a:recv(10) } end)
      ns.spawn(function() coroutine.yield(); b:close() end)
      run_bounded(5)
      assert.same({ nil, "closed", "closed" }, got)
    end)

    it("a file over it reads to the end and stops", function()
      local a, b = assert(ns.socketpair("unix", "seqpacket"))
      finally(function() a:close(); b:close() end)
      a:settimeout(2)
      assert(b:send("one\ntwo\n"))
      b:close()
      local f = a:makefile("r")
      assert.equal("one\ntwo\n", f:read("a"))
      assert.same({ nil, "closed", "closed" }, { f:read("l") })
    end)
  end)

  -- #16, the small ones
  describe("#16 small findings", function()
    it("TCP recvfrom names no sender, whether the bytes were read ahead or not", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local c, a = H.pair_tcp(srv, port)
      finally(function() c:close(); a:close() end)
      a:settimeout(2)
      assert(c:sendall("first line\nrest"))
      local f = a:makefile("r")
      assert.equal("first line", f:read("l"))    -- "rest" is read ahead
      local got = { a:recvfrom(100) }
      assert.same({ "rest" }, got)
      assert.equal(1, #got)
      assert(c:sendall("more"))
      got = { a:recvfrom(100) }
      assert.same({ "more" }, got)
      assert.equal(1, #got)
    end)

    it("the poller's registered count follows close and descriptor reuse", function()
      local p = ns.poller()
      finally(function() p:close() end)
      local x, y = assert(ns.socketpair())
      assert(p:add(x, "r"))
      assert.matches("1 registered", tostring(p))
      local fd = x:fileno()
      x:close()
      assert.matches("0 registered", tostring(p))
      local z = assert(ns.socket("unix", "stream"))
      finally(function() y:close(); z:close() end)
      assert.equal(fd, z:fileno())    -- the number is reused
      assert(p:add(z, "r"))
      assert.matches("1 registered", tostring(p))
      assert.is_true(p:remove(x))     -- the closed one: nothing to remove
      assert.matches("1 registered", tostring(p))
      assert.is_true(p:remove(z))
      assert.matches("0 registered", tostring(p))
    end)

    it("ports with a sign or spaces are refused", function()
      local s = assert(ns.udp())
      finally(function() s:close() end)
      for _, bad in ipairs({ " 80", "+80", "80 ", "-1", " ", "8 0", "\t80" }) do
        local ok, err = pcall(function() return s:bind("127.0.0.1", bad) end)
        assert.is_false(ok, ("port %q was accepted"):format(bad))
        assert.matches("bad argument #2 to 'bind' %(invalid port%)", err)
      end
      assert.has_error(function() ns.getaddrinfo("127.0.0.1", "+80") end)
      assert.is_table(ns.getaddrinfo("127.0.0.1", "080"))
      assert.is_table(ns.getaddrinfo("127.0.0.1", "http"))
    end)
  end)

  -- found by the task-loop fuzzer (spec/taskfuzz_spec.lua): sendfile(2)
  -- that moved some bytes and then met a reset returned the count, and
  -- the SIGPIPE it raised was taken back only when it failed outright:
  -- the process died of it once the mask came off
  describe("fuzzer: sendfile meeting a reset midway", function()
    it("raises no SIGPIPE in a process where SIGPIPE kills", function()
      local p = H.lua_with(H.SIGPIPE_DEFAULT, [[
local ns = require "netsock"
local path = os.tmpname()
local f = io.open(path, "wb"); f:write(("x"):rep(1 << 20)); f:close()
local srv = assert(ns.create_server("127.0.0.1", 0))
local _, port = srv:getsockname()
local codes = {}
for _ = 1, 30 do
  local c = assert(ns.create_connection("127.0.0.1", port, 5))
  srv:settimeout(5)
  local a = assert(srv:accept())
  a:close()          -- gone: the first segment draws a reset
  ns.sleep(0.001)
  c:settimeout(5)
  local n, _, code = c:sendfile(path)
  codes[n and "sent" or code] = true
  c:close()
end
os.remove(path)
assert(codes.EPIPE or codes.ECONNRESET, "no failure at all")
print("alive")
]])
      finally(function() p:kill() end)
      assert.are.equal(0, p:wait(60), p:output())
      assert.are.equal("alive\n", p:output())
    end)
  end)
end)
