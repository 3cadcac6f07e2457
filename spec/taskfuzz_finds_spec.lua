-- spec/taskfuzz_finds_spec.lua: what the task-loop fuzzer's forks found
-- (issue 22), each a spec that failed before its fix. (The console's
-- finds are in spec/console_spec.lua.)
--
-- A worker forked by serve{workers=} inherits a copy of every object the
-- parent had. Once the worker's loop forgets the parent's tasks, what only
-- those tasks held is garbage in the worker, and its collection acted on
-- the parent's connections: a TLS socket sent close_notify (and read and
-- dropped what had arrived for the parent), a file sent its buffered
-- bytes a second time, a socket took itself out of the parent's poller.
-- An object a fork copied now closes only its own descriptor.
local H = require "helpers"
local T = H.tls

-- a Lua child: 'body' runs in a task of ns.run with ns, core and
-- 'collect(holder)': fork a worker (serve{workers = 1}, the library's own
-- path) whose handler collects garbage, and wait until it has
local PRELUDE = [[
local ns = require "netsock"
local core = require "netsock.core"
local function collect()
  local sup = assert(ns.serve("127.0.0.1", 0, function(conn)
    collectgarbage(); collectgarbage()
    conn:sendall("collected\n")
  end, { workers = 1, log = function() end }))
  local c = assert(ns.create_connection("127.0.0.1", select(2, sup:getsockname()), 5))
  local said = c:makefile():read("l")
  c:close()
  sup:stop(2)
  return said
end
]]

local function run(code, ...)
  local p = H.lua(PRELUDE .. code, ...)
  local rc = p:wait(30)
  if rc == nil then p:kill() end
  return rc, p:output()
end

describe("a fork's copies leave the parent's objects alone (issue 22, the fuzzer's finds)", function()
  it("a TLS connection a worker inherited and collected: no close_notify, nothing read; the parent's connection goes on", function()
    local rc, out = run([[
local dir = arg[1]
local sctx = assert(ns.tls.context{ mode = "server", certfile = dir .. "/leaf.pem", keyfile = dir .. "/leaf.key" })
local cctx = assert(ns.tls.context{ cafile = dir .. "/ca.pem" })
local got, srvsaw, ready, finished, said = {}, {}, false, false, nil
ns.run(function()
  local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
    local f = conn:makefile()
    while true do
      local line, _, code = f:read("l")
      if not line then srvsaw[#srvsaw + 1] = code; break end
      conn:sendall(line .. "\n")
    end
  end, { tls = sctx }))
  local port = select(2, srv:getsockname())
  ns.spawn(function()     -- only this task holds the client: garbage in the worker
    local c = assert(ns.create_connection("127.0.0.1", port, 5))
    assert(c:starttls(cctx, { server_hostname = "localhost" }))
    local f = c:makefile()
    c:sendall("one\n"); got[1] = f:read("l")
    ready = true
    while not said do ns.sleep(0.01) end
    c:sendall("two\n"); got[2] = f:read("l") or "nothing"
    c:unwrap(); c:close()
    finished = true
  end)
  while not ready do ns.sleep(0.01) end
  said = collect()
  while not finished do ns.sleep(0.01) end
  srv:stop(1)
end)
print(got[1], got[2], srvsaw[1], said)
]], T.certs())
    assert.equal(0, rc, out)
    assert.equal("one\ttwo\tclosed\tcollected\n", out)
  end)

  it("a file a worker inherited with bytes buffered and collected: they go out once, from the parent", function()
    local rc, out = run([[
local a, b = assert(ns.socketpair())
local ready, said = false, nil
ns.run(function()
  ns.spawn(function()     -- only this task holds the file
    local f = a:makefile("w")
    f:setvbuf("full", 4096)
    f:write("buffered once\n")
    ready = true
    while not said do ns.sleep(0.01) end
    assert(f:flush())
    a:shutdown("w")
  end)
  while not ready do ns.sleep(0.01) end
  said = collect()
end)
b:settimeout(5)
local got = {}
while true do
  local d = b:recv(100)
  if not d then break end
  got[#got + 1] = d
end
io.write(table.concat(got))
print(said)
]])
    assert.equal(0, rc, out)
    assert.equal("buffered once\ncollected\n", out)
  end)

  it("a poller and its socket a worker inherited and collected: the socket stays in the parent's poller", function()
    local rc, out = run([[
local ready, said, seen = false, nil, nil
ns.run(function()
  ns.spawn(function()     -- only this task holds the poller and the socket
    local p = ns.poller()
    local a, b = assert(ns.socketpair())
    p:add(a, "r")
    ready = true
    while not said do ns.sleep(0.01) end
    b:sendall("x")
    local r = p:wait(2)
    seen = r and #r == 1 and r[1] == a and "ready" or "missed"
    a:close(); b:close(); p:close()
  end)
  while not ready do ns.sleep(0.01) end
  said = collect()
  while not seen do ns.sleep(0.01) end
end)
print(seen, said)
]])
    assert.equal(0, rc, out)
    assert.equal("ready\tcollected\n", out)
  end)

  -- A worker kept its copy of every connection the parent's tasks held
  -- until it collected or exited: a connection the parent closed did not
  -- end for its peer while the worker lived. A worker collects what it
  -- inherited as it starts.
  it("a connection the parent closes ends for its peer while a worker that inherited it runs", function()
    local rc, out = run([[
local a, b = assert(ns.socketpair())
local ready, ended = false, nil
ns.run(function()
  ns.spawn(function()     -- only this task holds a
    local mine = a
    a = nil
    ready = true
    ns.sleep(0.5)         -- the worker starts meanwhile
    mine:close()
  end)
  while not ready do ns.sleep(0.01) end
  local sup = assert(ns.serve("127.0.0.1", 0, function() end, { workers = 1, log = function() end }))
  b:settimeout(3)
  local t0 = ns.monotime()
  local d, msg = b:recv(10)
  ended = (d == nil and msg == "closed" and ns.monotime() - t0 < 2) and "ended" or ("not: " .. tostring(msg))
  sup:stop(2)
end)
print(ended)
]])
    assert.equal(0, rc, out)
    assert.equal("ended\n", out)
  end)
end)

describe("serve's workers: what the fuzzer's forks found besides (issue 22)", function()
  -- A worker whose start raised (here: its loop could not be made)
  -- returned from fork into the supervisor's code and ran the caller's
  -- program as a second supervisor (found when a fix under test raised).
  it("a worker that fails to start exits: it never runs the code after serve", function()
    local rc, out = run([[
local tasks = require "netsock.tasks"
tasks.afterfork = function() error("no loop for the worker (injected)") end
local me = core._getpid()
ns.run(function()
  local sup = assert(ns.serve("127.0.0.1", 0, function() end, { workers = 1, log = function() end }))
  print("after serve in " .. (core._getpid() == me and "the supervisor" or "a worker"))
  io.stdout:flush()
  ns.sleep(0.3)
  sup:stop(1)
end)
]])
    assert.equal(0, rc, out)
    assert.equal(1, select(2, out:gsub("after serve", "")), out)
    assert.truthy(out:find("after serve in the supervisor", 1, true), out)
    assert.truthy(out:find("netsock worker: .*no loop for the worker %(injected%)"), out)
  end)

  -- sup:stop(timeout) kills a worker still there a second after the
  -- timeout with SIGKILL, which core._kill refused ("unknown signal"):
  -- stop raised instead, and the worker lived on.
  it("stop kills a worker that does not stop in time (SIGKILL), and returns", function()
    local rc, out = run([[
local how
ns.run(function()
  local sup = assert(ns.serve("127.0.0.1", 0, function()
    local t0 = os.clock()
    while os.clock() - t0 < 20 do end      -- busy: never reads its stop
  end, { workers = 1, log = function(_, info) if info.event == "exit" then how = info.code end end }))
  local c = assert(ns.create_connection("127.0.0.1", select(2, sup:getsockname()), 5))
  ns.sleep(0.3)                            -- the worker is busy now
  local t0 = ns.monotime()
  local ok = sup:stop(0)
  print(ok, #sup:pids(), how, ns.monotime() - t0 < 5)
  c:close()
end)
]])
    assert.equal(0, rc, out)
    assert.equal("true\t0\tSIGKILL\ttrue\n", out)
  end)
end)
