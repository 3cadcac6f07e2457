-- spec/select_spec.lua: netsock.select and netsock.poller, outside and inside tasks
local H = require "helpers"
local ns = H.netsock

-- a stand-in for any object with fileno() (and pending(), as file objects have)
local function wrapper(s, pending)
  return {
    fileno = function() return s:fileno() end,
    pending = pending and function() return pending end or nil,
  }
end

describe("netsock.select", function()
  local a, b
  before_each(function() a, b = assert(ns.socketpair()) end)
  after_each(function() a:close(); b:close() end)

  it("reports writable sockets and times out on silent ones", function()
    local r, w, e = ns.select({ a, b }, { a }, 0)
    assert.same({}, r)
    assert.equal(1, #w)
    assert.equal(a, w[1])
    assert.is_nil(e)
    local t0 = ns.monotime()
    r, w, e = ns.select({ a }, {}, 0.1)
    assert.same({}, r)
    assert.same({}, w)
    assert.equal("timeout", e)
    assert.is_true(ns.monotime() - t0 >= 0.09)
  end)

  it("returns the objects given: sockets, integer fds, fileno objects", function()
    assert(b:send("x"))
    local o = wrapper(a)
    local r = ns.select({ b, a:fileno(), o, a }, nil, 1)
    assert.equal(3, #r)
    assert.equal(a:fileno(), r[1])
    assert.equal(o, r[2])
    assert.equal(a, r[3])
  end)

  it("counts buffered bytes (pending) as readable without waiting", function()
    local o = wrapper(a, 5)
    local t0 = ns.monotime()
    local r, _, e = ns.select({ o }, {}, 2)
    assert.is_nil(e)
    assert.equal(o, r[1])
    assert.is_true(ns.monotime() - t0 < 1)
  end)

  it("sees data a python peer sends later", function()
    local c, p = H.python_client([[
time.sleep(0.2)
c.sendall(b"late")
time.sleep(1)
]])
    finally(function() c:close() p:kill() end)
    local r = ns.select({ c }, nil, 5)
    assert.equal(c, r[1])
    assert.equal("late", c:recv(10))
    c:close()
  end)

  it("works on descriptors past 1024 (no FD_SETSIZE limit)", function()
    local soft = ns.setrlimit_nofile()
    if soft < 1200 then
      pending("RLIMIT_NOFILE hard limit below 1200 here")
      return
    end
    local keep = {}
    finally(function() for _, s in ipairs(keep) do s:close() end end)
    local x, y
    repeat
      x, y = assert(ns.socketpair())
      keep[#keep + 1] = x
      keep[#keep + 1] = y
    until y:fileno() > 1100
    assert(x:send("hi"))
    local r, w = ns.select({ keep[1], y }, { x }, 1)
    assert.equal(1, #r)
    assert.equal(y, r[1])
    assert.equal(x, w[1])
    assert.is_true(y:fileno() > 1024)
  end)

  it("raises on misuse", function()
    assert.has_error(function() ns.select("x", {}) end)
    assert.has_error(function() ns.select({}, {}, -1) end)
    assert.has_error(function() ns.select({ true }, {}) end)
    assert.has_error(function() ns.select({ {} }, {}) end)
    assert.has_error(function() ns.select({ -3 }, {}) end)
    local c = assert(ns.tcp())
    c:close()
    assert.has_error(function() ns.select({ c }, {}, 0) end)
  end)

  it("suspends only the calling task", function()
    local log = {}
    ns.spawn(function()
      local r, w, e = ns.select({ a }, {}, 5)
      log[#log + 1] = "ready " .. tostring(r[1] == a) .. " " .. #w .. " " .. tostring(e)
    end)
    ns.spawn(function()
      log[#log + 1] = "other runs"
      ns.sleep(0.1)
      b:send("x")
      log[#log + 1] = "sent"
    end)
    ns.run()
    assert.same({ "other runs", "sent", "ready true 0 nil" }, log)
  end)

  it("leaves no descriptor behind after waiting in a task", function()
    local function fds()
      local p = io.popen("ls -l " .. (H.linux and "/proc/" .. H.pid() .. "/fd" or "/dev/fd"))
      local t = p:read("a")
      p:close()
      return t
    end
    local before, list0 = H.fdcount(), fds()
    ns.run(function()
      for _ = 1, 20 do
        ns.spawn(function() ns.sleep(0.01); b:send("x") end)
        local r = ns.select({ a }, {}, 5)
        assert(r[1] == a and a:recv(10) == "x")
      end
    end)
    -- 20 waits: a leak would show 20 more; allow one stray of the runner
    assert.is_true(H.fdcount() <= before + 1, list0 .. "\n---\n" .. fds())
  end)

  it("times out inside a task", function()
    local got
    ns.run(function()
      got = { ns.select({ a }, {}, 0.1) }
    end)
    assert.same({ {}, {}, "timeout" }, got)
  end)

end)

describe("netsock.poller", function()
  local a, b, p
  before_each(function()
    a, b = assert(ns.socketpair())
    p = assert(ns.poller())
  end)
  after_each(function() a:close(); b:close(); p:close() end)

  it("reports readiness and follows modify and remove", function()
    assert.is_true(p:add(a, "r"))
    local ready, ev, e = p:wait(0)
    assert.same({}, ready)
    assert.same({}, ev)
    assert.equal("timeout", e)
    assert(b:send("x"))
    ready, ev = p:wait(1)
    assert.same({ a }, ready)
    assert.same({ "r" }, ev)
    assert.is_true(p:modify(a, "w"))
    ready, ev = p:wait(1)
    assert.same({ a }, ready)
    assert.same({ "w" }, ev)
    assert.is_true(p:modify(a, "rw"))
    ready, ev = p:wait(1)
    assert.same({ "rw" }, ev)
    assert.is_true(p:remove(a))
    ready = p:wait(0)
    assert.same({}, ready)
  end)

  it("returns the objects given and counts buffered bytes", function()
    local o = wrapper(b, 3)
    assert(p:add(o, "r"))
    assert(p:add(a:fileno(), "w"))
    local ready, ev = p:wait(1)
    assert.equal(2, #ready)
    local seen = {}
    for i, x in ipairs(ready) do seen[x] = ev[i] end
    assert.equal("r", seen[o])
    assert.equal("w", seen[a:fileno()])
  end)

  it("fails cleanly on a double add and a remove of a stranger", function()
    assert(p:add(a, "r"))
    local ok, msg, code = p:add(a, "r")
    assert.is_nil(ok)
    assert.equal("EEXIST", code)
    assert.is_string(msg)
    ok, msg, code = p:remove(b)
    assert.is_nil(ok)
    assert.equal("ENOENT", code)
  end)

  it("forgets a socket closed while added", function()
    local x, y = assert(ns.socketpair())
    assert(p:add(x, "r"))
    x:close()
    y:close()
    assert.is_true(p:remove(x))
    assert.same({}, (p:wait(0)))
  end)

  it("raises on misuse and after close", function()
    assert.has_error(function() p:add(a, "x") end)
    assert.has_error(function() p:add(a) end)
    assert.has_error(function() p:wait(-1) end)
    -- the backend's name: epoll, or poll in the portable build
    assert.matches("netsock.poller %(e?poll fd %d+, 0 registered%)", tostring(p))
    assert.is_true(p:close())
    assert.is_true(p:close())
    assert.equal("netsock.poller (closed)", tostring(p))
    assert.has_error(function() p:add(a, "r") end)
    assert.has_error(function() p:wait(0) end)
  end)

  it("is close-on-exec and closes with <close>", function()
    local fd
    do
      local q <close> = assert(ns.poller())
      fd = q:fileno()
      assert.is_true(H.fdflags(fd) & H.O_CLOEXEC ~= 0)
    end
    assert.is_nil(H.fdflags(fd))  -- closed: no /proc/PID/fdinfo entry
  end)

  it("waits inside a task without blocking the others", function()
    assert(p:add(a, "r"))
    local log = {}
    ns.spawn(function()
      local ready, ev = p:wait(5)
      log[#log + 1] = ("%s %s"):format(tostring(ready[1] == a), ev[1])
    end)
    ns.spawn(function()
      log[#log + 1] = "other"
      ns.sleep(0.1)
      b:send("x")
    end)
    ns.run()
    assert.same({ "other", "true r" }, log)
    local got
    ns.run(function()
      a:recv(10)
      got = { p:wait(0.1) }
    end)
    assert.same({ {}, {}, "timeout" }, got)
  end)

  -- A set is a descriptor readable when a member is ready, on either
  -- backend: epoll does it in the kernel; the poll backend (the portable
  -- build) polls an inner set's members in its place.
  it("holds another poller: the inner one reads ready when its member is, in a task too", function()
    local inner = assert(ns.poller())
    finally(function() inner:close() end)
    assert(inner:add(a, "r"))
    assert(p:add(inner, "r"))
    assert.same({}, (p:wait(0)))
    assert(b:send("x"))
    local ready, ev = p:wait(1)
    assert.same({ inner }, ready)
    assert.same({ "r" }, ev)
    assert.same({ a }, (inner:wait(0)))
    assert.equal("x", a:recv(10))
    assert.same({}, (p:wait(0)))
    -- three sets deep: the task loop's, p, inner; the task sleeps until
    -- the socket inside the inner set has data
    local got
    ns.spawn(function()
      local r = p:wait(5)
      got = r[1] == inner and inner:wait(0)[1] == a
    end)
    ns.spawn(function()
      ns.sleep(0.05)
      b:send("y")
    end)
    H.run_bounded(10)
    assert.is_true(got)
  end)

  it("refuses to hold itself, directly or through another (EINVAL, ELOOP)", function()
    local ok, _, code = p:add(p, "r")
    assert.is_nil(ok)
    assert.equal("EINVAL", code)
    local q = assert(ns.poller())
    finally(function() q:close() end)
    assert(q:add(p, "r"))
    ok, _, code = p:add(q, "r")
    assert.is_nil(ok)
    assert.equal("ELOOP", code)
  end)

  it("an idle, writable socket waited on for reading does not wake the task loop", function()
    -- the loop's registration is edge-triggered (epoll) or armed per
    -- wait (poll): a socket always writable must not make it spin
    local turns0 = ns._tasks.stats().turns
    ns.spawn(function() a:settimeout(0.3); a:recv(1) end)
    ns.run()  -- the recv times out: bounded
    assert.is_true(ns._tasks.stats().turns - turns0 < 20, "the loop spun")
  end)
end)

describe("netsock.setrlimit_nofile", function()
  it("raises the soft limit up to the hard limit", function()
    local soft, hard = ns.setrlimit_nofile()
    assert.is_true(soft <= hard)
    assert.equal(soft, hard)
    assert.has_error(function() ns.setrlimit_nofile(-5) end)
  end)
end)
