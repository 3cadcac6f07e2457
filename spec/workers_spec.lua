-- spec/workers_spec.lua: serve(..., {workers = n}): a supervisor and its
-- worker processes. The server runs in a child process (a Lua script
-- started here); python3 is the client. Only PIDs this spec started, or
-- their children (checked through ps), are signalled.
local H = require "helpers"
local ns = H.netsock

local server_lua = [[
local ns = require "netsock"
local core = require "netsock.core"
local flag = arg[1]
local sup = assert(ns.serve("127.0.0.1", 0, function(conn)
  local f = conn:makefile()
  local line = f:read("l")
  if not line then return end
  local delay = tonumber(line:match("sleep ([%d.]+)"))
  if delay then ns.sleep(delay) end
  -- a response in two parts with a pause between: a cut shows
  conn:sendall("pid " .. core._getpid() .. " part1\n")
  if delay then ns.sleep(delay) end
  conn:sendall("part2\n")
end, { workers = 2 }))
print(("sup %d port %d"):format(core._getpid(), select(2, sup:getsockname())))
io.stdout:flush()
ns.spawn(function()   -- a file named flag .. ".restart" asks for a restart
  while not sup._stopping do
    local f = io.open(flag .. ".restart")
    if f then f:close(); os.remove(flag .. ".restart"); sup:restart() end
    ns.sleep(0.05)
  end
end)
ns.run()
print("supervisor done")
]]

local ppid, children = H.ppid, H.children

local function waitfor(cond, seconds)
  local deadline = ns.monotime() + seconds
  while not cond() do
    if ns.monotime() > deadline then return false end
    ns.sleep(0.02)
  end
  return true
end

-- the server in a session of its own ('group': setsid, so that its
-- process group is the supervisor and its workers alone, as under
-- systemd or a terminal)
local function start(group)
  local flag = H.tmpname("")
  local p = H.lua_with(group and "setsid" or nil, server_lua, flag)
  local line = p:line(15) or ""
  local sup, port = line:match("^sup (%d+) port (%d+)")
  assert(sup, "the server did not start: " .. p:output())
  sup, port = tonumber(sup), tonumber(port)
  assert(waitfor(function() return #children(sup) == 2 end, 10), "no 2 workers")
  -- p:kill signals the spawned shell's group, and returns once the shell
  -- is gone; the supervisor then stops gracefully. In a session of its
  -- own ('group') the signal does not reach it at all. Either way it
  -- must be gone before the test ends, or it outlives the spec
  -- (tools/runspecs names such strays): signal its group, then wait.
  local kill = p.kill
  function p.kill(self)
    if group and ppid(sup) then os.execute(("kill -s TERM -- -%d 2>/dev/null"):format(sup)) end
    kill(self)
    if not waitfor(function() return ppid(sup) == nil end, 15) then
      os.execute(("kill -s KILL -- -%d 2>/dev/null"):format(group and sup or self.pid))
    end
  end
  return p, sup, port, flag
end

-- python: n requests one after the other (each "sleep D" when given);
-- prints "ok N", the pids seen, and every failure
local client_py = [[
import socket, sys, time
port, n, delay, spread = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
ok, pids, bad = 0, set(), []
for i in range(n):
    try:
        c = socket.create_connection(("127.0.0.1", port), 5)
        c.settimeout(10)
        c.sendall(("sleep %s\n" % delay).encode() if delay != "0" else b"hi\n")
        if i == 0: print("sent", flush=True)
        data = b""
        while True:
            d = c.recv(100)
            if not d: break
            data += d
        c.close()
        lines = data.decode().split("\n")
        if len(lines) == 3 and lines[0].endswith("part1") and lines[1] == "part2":
            ok += 1
            pids.add(int(lines[0].split()[1]))
        else:
            bad.append(repr(data))
    except Exception as e:
        bad.append(repr(e))
    time.sleep(spread)
print("ok", ok, "pids", " ".join(str(p) for p in sorted(pids)), flush=True)
for b in bad: print("bad", b, flush=True)
]]

local function client(port, n, delay, spread)
  return H.python(client_py, port, n, delay or 0, spread or 0)
end

local function result(c)
  assert(c:wait(60), "the client did not finish")
  local out = c:output()
  local ok, pids = out:match("ok (%d+) pids ([%d ]*)")
  local set = {}
  for pid in (pids or ""):gmatch("%d+") do set[#set + 1] = tonumber(pid) end
  return tonumber(ok), set, out
end

H.linux_describe("serve with workers", "/proc (the workers' pids)", function()
  -- Where the kernel balances (core._balance: SO_REUSEPORT on Linux)
  -- each worker has a listener of its own; where it balances nothing
  -- (macOS, the BSDs but FreeBSD's SO_REUSEPORT_LB, and the portable
  -- build, make test PORTABLE=1, which forces it on Linux) the workers
  -- share one inherited listener and whichever is free accepts. Either
  -- way every worker gets connections.
  it("serves from two worker processes, children of the supervisor, each getting connections", function()
    local p, sup, port = start()
    finally(function() p:kill() end)
    local workers = children(sup)
    assert.equal(2, #workers)
    if H.backend == "poll" then
      assert.is_false(require("netsock.core")._balance, "the portable build balances nothing")
    end
    -- which worker serves is the kernel's choice (SO_REUSEPORT hashes the
    -- client's port), or the first free one's (a shared listener): 40
    -- connections reach both all but surely
    local c = client(port, 40)
    local ok, pids, out = result(c)
    assert.equal(40, ok, out)
    assert.same(workers, pids)
  end)

  it("a killed worker is replaced; the service goes on", function()
    local p, sup, port = start()
    finally(function() p:kill() end)
    local workers = children(sup)
    local victim = workers[1]
    assert.equal(sup, ppid(victim))       -- ours: a child of our child
    local c = client(port, 30, 0, 0.05)   -- 1.5 s of requests
    assert.truthy(c:line(10), "the client did not start")
    ns.sleep(0.3)
    assert(os.execute("kill -KILL " .. victim))
    local ok, _, out = result(c)
    -- SIGKILL cannot be caught: the one request the victim was serving at
    -- that moment (the client sends them one at a time) may be cut, and a
    -- cut is an empty or reset response, never a refused connection; the
    -- clients queued behind it are served by its successor
    local bad = {}
    for b in out:gmatch("\nbad ([^\n]*)") do bad[#bad + 1] = b end
    assert.is_true(ok >= 29 and ok + #bad == 30, out)
    for _, b in ipairs(bad) do
      assert.is_truthy(b == "b''" or b:match("ConnectionResetError"), out)
    end
    assert.is_true(waitfor(function()
      local now = children(sup)
      return #now == 2 and now[1] ~= victim and now[2] ~= victim
    end, 10), "the worker was not replaced")
  end)

  it("SIGTERM ends everything: no cut response, no orphan", function()
    local p, sup, port = start()
    finally(function() p:kill() end)
    local workers = children(sup)
    local c = client(port, 1, 0.4)        -- in flight for 0.8 s
    assert.truthy(c:line(10), "the client did not start")
    ns.sleep(0.2)
    assert(os.execute("kill -TERM " .. sup))
    local ok, _, out = result(c)
    assert.equal(1, ok, out)
    assert.equal(0, p:wait(15), p:output())
    assert.matches("supervisor done", p:output())
    for _, w in ipairs(workers) do
      assert.is_nil(ppid(w), "worker " .. w .. " outlived the supervisor")
    end
    -- and the port is free: nothing listens any more
    local s = ns.create_connection("127.0.0.1", port, 2)
    assert.is_nil(s)
  end)

  -- A signal to the whole group (systemctl stop sends SIGTERM to every
  -- process of the unit; a terminal's Ctrl-C sends SIGINT to the
  -- foreground group) reaches the workers at the same time as the
  -- supervisor: each stops gracefully by itself, the request in flight
  -- finishes, nothing is left behind.
  for _, sig in ipairs({ "TERM", "INT" }) do
    it(("SIG%s to the process group: the workers finish their requests, nothing is left"):format(sig), function()
      local p, sup, port = start(true)
      finally(function() p:kill() end)
      local workers = children(sup)
      local c = client(port, 1, 0.4)        -- in flight for 0.8 s
      assert.truthy(c:line(10), "the client did not start")
      ns.sleep(0.2)
      assert(os.execute(("kill -s %s -- -%d"):format(sig, sup)))
      local ok, _, out = result(c)
      assert.equal(1, ok, out)
      assert.equal(0, p:wait(15), p:output())
      assert.matches("supervisor done", p:output())
      for _, w in ipairs(workers) do
        assert.is_nil(ppid(w), "worker " .. w .. " outlived the supervisor")
      end
    end)
  end

  -- a hang-up of the terminal (or kill -HUP to the group) reaches the
  -- workers too: only the supervisor acts on it (a rolling restart)
  it("SIGHUP to the process group: a rolling restart, no request cut", function()
    local p, sup, port = start(true)
    finally(function() p:kill() end)
    local before = children(sup)
    local c = client(port, 4, 0.2, 0)     -- each request takes 0.4 s
    assert.truthy(c:line(10), "the client did not start")
    ns.sleep(0.2)
    assert(os.execute("kill -s HUP -- -" .. sup))
    local ok, _, out = result(c)
    assert.equal(4, ok, out)
    assert.is_true(waitfor(function()
      local now = children(sup)
      return #now == 2 and now[1] ~= before[1] and now[1] ~= before[2]
        and now[2] ~= before[1] and now[2] ~= before[2]
    end, 15), "the workers were not replaced")
    assert.is_nil(p:wait(0.1), "the supervisor ended: " .. p:output())
  end)

  -- a worker signalled alone (kill PID) stops as the supervisor would
  -- have told it: its request finishes, then a successor takes the slot
  for _, sig in ipairs({ "TERM", "INT" }) do
    it(("a worker that gets SIG%s alone finishes its request and is replaced"):format(sig), function()
      local p, sup, port = start(true)
      finally(function() p:kill() end)
      local before = children(sup)
      local c = client(port, 1, 0.4)
      assert.truthy(c:line(10), "the client did not start")
      ns.sleep(0.2)
      for _, w in ipairs(before) do assert(os.execute(("kill -%s %d"):format(sig, w))) end
      local ok, _, out = result(c)
      assert.equal(1, ok, out)
      assert.is_true(waitfor(function()
        local now = children(sup)
        return #now == 2 and now[1] ~= before[1] and now[1] ~= before[2]
          and now[2] ~= before[1] and now[2] ~= before[2]
      end, 15), "the workers were not replaced")
    end)
  end

  it("SIGHUP restarts the workers one by one without dropping a connection", function()
    local p, sup, port = start()
    finally(function() p:kill() end)
    local before = children(sup)
    local c = client(port, 60, 0, 0.03)   -- about 2 s of requests
    assert.truthy(c:line(10), "the client did not start")
    ns.sleep(0.4)
    assert(os.execute("kill -HUP " .. sup))
    local ok, _, out = result(c)
    assert.equal(60, ok, out)
    assert.is_true(waitfor(function()
      local now = children(sup)
      return #now == 2 and now[1] ~= before[1] and now[1] ~= before[2]
        and now[2] ~= before[1] and now[2] ~= before[2]
    end, 15), "the workers were not replaced")
  end)

  it("restart() with requests in flight cuts none of them", function()
    local p, sup, port, flag = start()
    finally(function() p:kill() end)
    local before = children(sup)
    local c = client(port, 8, 0.15, 0)    -- each request takes 0.3 s
    assert.truthy(c:line(10), "the client did not start")
    ns.sleep(0.4)
    H.writefile(flag .. ".restart", "")
    local ok, _, out = result(c)
    assert.equal(8, ok, out)
    assert.is_true(waitfor(function()
      local now = children(sup)
      return #now == 2 and now[1] ~= before[1] and now[1] ~= before[2]
        and now[2] ~= before[1] and now[2] ~= before[2]
    end, 15), "the workers were not replaced")
  end)
end)

-- issue 27: every worker's exit and restart is reported
describe("serve workers report", function()
  local logged_lua = [[
local ns = require "netsock"
local core = require "netsock.core"
local mode = arg[1]
local opts = { workers = 1, grace = 1 }
if mode == "log" then
  opts.log = function(line, info)
    print(("LOG %s | %s %s %s %s %s"):format(line, info.event, info.pid, tostring(info.status),
      tostring(info.code), tostring(info.action or info.replaces)))
  end
elseif mode == "onerror" then
  opts.onerror = function(line) print("ONERROR " .. tostring(line)) end
end
local sup = assert(ns.serve("127.0.0.1", 0, function(conn)
  conn:sendall((sup_stopping and "x" or "") .. "hi\n")
end, opts))
print(("sup %d"):format(core._getpid()))
io.stdout:flush()
io.stdout:setvbuf("line")
ns.run()
print("supervisor done")
]]

  local function start(mode)
    local p = H.lua(logged_lua, mode)
    local line = p:line(15) or ""
    local sup = tonumber(line:match("^sup (%d+)"))
    assert(sup, "the server did not start: " .. p:output())
    assert(waitfor(function() return #children(sup) == 1 end, 10), "no worker")
    return p, sup
  end

  it("log(line, info): a killed worker's exit (pid, status, restart) and its replacement", function()
    local p, sup = start("log")
    finally(function() p:kill() end)
    local victim = children(sup)[1]
    assert(os.execute("kill -KILL " .. victim))
    local want = ("LOG netsock serve: worker %d (slot 1) was killed by SIGKILL; restarting it in 0.1 s | exit %d signaled SIGKILL restart")
      :format(victim, victim)
    assert.is_true(p:await(want, 10), p:output())
    assert.is_true(p:await("started (slot 1), replacing " .. victim, 10), p:output())
    assert(waitfor(function() return #children(sup) == 1 end, 10))
    local new = children(sup)[1]
    assert.matches(("LOG netsock serve: worker %d started %%(slot 1%%), replacing %d | start %d nil nil %d")
      :format(new, victim, new, victim), p:output())
    -- a graceful stop: the exit says the server is stopping
    assert(os.execute("kill -TERM " .. sup))
    assert.is_true(p:await("supervisor done", 10), p:output())
    assert.matches(("worker %d %%(slot 1%%) exited with status 0; not restarted: the server is stopping")
      :format(new), p:output())
  end)

  it("through onerror when there is no log, else one line on stderr", function()
    local p, sup = start("onerror")
    finally(function() p:kill() end)
    local victim = children(sup)[1]
    assert(os.execute("kill -KILL " .. victim))
    assert.is_true(p:await(("ONERROR netsock serve: worker %d (slot 1) was killed by SIGKILL; restarting"):format(victim), 10), p:output())
    p:kill()
    local q, sup2 = start("stderr")
    finally(function() q:kill() end)
    local v2 = children(sup2)[1]
    assert(os.execute("kill -KILL " .. v2))
    -- the child's stderr goes to the same file as its stdout
    assert.is_true(q:await(("\nnetsock serve: worker %d (slot 1) was killed by SIGKILL; restarting it in 0.1 s\n"):format(v2), 10), q:output())
  end)

  it("log must be a function", function()
    assert.has_error(function() ns.serve("127.0.0.1", 0, function() end, { workers = 1, log = 42 }) end,
      "bad argument #4 to 'serve' (log must be a function)")
  end)
end)
