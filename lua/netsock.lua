-- netsock: BSD sockets for Lua 5.4.
-- The facade: the C core (netsock.core) plus the parts written in Lua.
-- See docs/api.md for the reference and API.md for the contract.

local core = require "netsock.core"
local check = require "netsock.check"

local error, ipairs, pairs, type, tostring = error, ipairs, pairs, type, tostring
local rawset, setmetatable = rawset, setmetatable
local socket, getaddrinfo = core.socket, core.getaddrinfo

local M = {}
for k, v in pairs(core) do
  if k:sub(1, 1) ~= "_" then M[k] = v end
end
M._VERSION = "netsock 0.3.0"
M.version = { major = 0, minor = 3, patch = 0 }

local methods = core._socketmethods

-- netsock.tcp([family]), netsock.udp([family])
function M.tcp(family) return socket(family or "inet", "stream") end
function M.udp(family) return socket(family or "inet", "dgram") end

local families = { inet = true, inet6 = true, unspec = true,
                   [core.AF_INET] = true, [core.AF_INET6] = true, [core.AF_UNSPEC] = true }

-- netsock.create_connection(host, port [, timeout [, source_host, source_port]])
-- Tries every address getaddrinfo gives for host, in its order, and
-- returns the first socket that connects; otherwise the last failure.
-- The timeout bounds each attempt and stays on the returned socket.
function M.create_connection(host, port, timeout, source_host, source_port)
  local fname = "create_connection"
  check.host(fname, 1, host)
  check.port(fname, 2, port)
  check.opttimeout(fname, 3, timeout)
  check.opthost(fname, 4, source_host)
  check.optport(fname, 5, source_port)
  if timeout == nil then timeout = M.getdefaulttimeout() end
  local infos, msg, code = M._lookup(host, port, nil, "stream", timeout)
  if not infos then return nil, msg, code end
  if #infos == 0 then return nil, "no address for " .. host, "EAI_NONAME" end
  for _, ai in ipairs(infos) do
    local s
    s, msg, code = socket(ai.family, "stream")
    if s then
      s:settimeout(timeout)
      local ok = true
      if source_host or source_port then
        ok, msg, code = s:bind(source_host or "", source_port or 0)
      end
      if ok then
        ok, msg, code = s:connect(ai.host, ai.port)
        if ok then
          if s._sethostname then s:_sethostname(host) end  -- starttls checks it
          return s
        end
      end
      s:close()
    end
  end
  return nil, msg, code
end

-- the options each takes; anything else raises (a misspelt tls would
-- serve plaintext)
local server_opts = { backlog = true, family = true, reuse_port = true, dualstack = true }
local serve_opts = { limit = true, timeout = true, idle = true, onerror = true,
                     workers = true, grace = true, tls = true, log = true }
for k in pairs(server_opts) do serve_opts[k] = true end

-- the arguments of create_server, checked for fname (create_server or
-- serve, which passes them on); errors blame the caller of fname
local function checkserver(fname, host, port, opts)
  local argn = fname == "serve" and 4 or 3  -- where the options are
  check.opthost(fname, 1, host, 3)
  check.port(fname, 2, port, 3)
  opts = check.opttable(fname, argn, opts, 3)
  local known = fname == "serve" and serve_opts or server_opts
  for k in pairs(opts) do
    if not known[k] then
      local hint = (k == "tls" and fname == "create_server")
        and "; serve takes tls, or call starttls on each connection" or ""
      check.argerror(fname, argn, ("unknown option '%s'%s"):format(tostring(k), hint), 3)
    end
  end
  for _, k in ipairs({ "reuse_port", "dualstack" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      check.argerror(fname, argn, ("%s: boolean expected, got %s"):format(k, check.typename(opts[k])), 3)
    end
  end
  if opts.backlog ~= nil then
    check.integer(fname, argn, opts.backlog, 0, nil, "backlog", 3)
  end
  local family = opts.family
  if family ~= nil and not families[family] then
    check.argerror(fname, argn, ("family: inet or inet6 expected, got %s")
      :format(type(family) == "string" and ("'" .. family .. "'") or check.typename(family)), 3)
  end
  if opts.dualstack and family ~= nil and family ~= "inet6" and family ~= core.AF_INET6 then
    check.argerror(fname, argn, "dualstack needs family inet6", 3)
  end
  return opts
end

-- netsock.create_server(host, port [, options]): a listening stream socket
-- with SO_REUSEADDR. options: backlog, family, reuse_port, dualstack
-- (reuse_port: true sets "reuseport"; a string names the option, as
-- workers.lua gives core._balance).
-- host "", "*" or nil is every address (of the family; with dualstack, of
-- both families).
local function create_server(host, port, opts)
  local family = opts.family
  if opts.dualstack then family = "inet6" end
  if host == nil or host == "" or host == "*" then
    family = family or "inet"
    host = ""
  end
  local infos, msg, code = getaddrinfo(host ~= "" and host or nil, port,
                                       family, "stream", nil, core.AI_PASSIVE)
  if not infos then return nil, msg, code end
  for _, ai in ipairs(infos) do
    local s
    s, msg, code = socket(ai.family, "stream")
    if s then
      local ok = s:setoption("reuseaddr", true)
      if ok and opts.reuse_port then
        local name = type(opts.reuse_port) == "string" and opts.reuse_port or "reuseport"
        ok, msg, code = s:setoption(name, true)
      end
      if ok and ai.family == "inet6" then
        ok, msg, code = s:setoption("ipv6only", not opts.dualstack)
      end
      if ok then ok, msg, code = s:bind(host == "" and "" or ai.host, ai.port) end
      if ok then ok, msg, code = s:listen(opts.backlog) end
      if ok then return s end
      s:close()
    end
  end
  return nil, msg, code
end

function M.create_server(host, port, opts)
  opts = checkserver("create_server", host, port, opts)
  local s, msg, code = create_server(host, port, opts)
  return s, msg, code
end

-- tasks: spawn, run, step, stop (lua/netsock/tasks.lua); serve
-- (lua/netsock/serve.lua)
local tasks = require "netsock.tasks"
local serve = require "netsock.serve"
M.spawn, M.run, M.step, M.stop = tasks.spawn, tasks.run, tasks.step, tasks.stop
M._tasks = tasks  -- internals (stats, park/wake) for tests and extensions
-- inside a task, create_connection looks names up on the resolver's
-- threads for at most its timeout
function M._lookup(host, port, family, type, timeout)
  if tasks.current() then return core._getaddrinfo_task(host, port, family, type, timeout) end
  return getaddrinfo(host, port, family, type)
end
function M.serve(host, port, handler, opts)
  checkserver("serve", host, port, opts)
  if type(opts) == "table" and opts.tls ~= nil then
    -- serve{tls = ctx}: each handler's task runs the handshake first
    if not M.tls then check.argerror("serve", 4, "tls: netsock was built without OpenSSL", 2) end
    M.tls._checkserver("serve", 4, opts.tls, 2)
    check.callable("serve", 3, handler, 2)
    local copy = {}
    for k, v in pairs(opts) do copy[k] = v end
    copy.tls = nil
    -- every kind of callable: a table with __call too, never unwrapped
    handler = M.tls.wraphandler(opts.tls, handler)
    opts = copy
  end
  -- not a tail call: serve.serve's errors count this frame to reach the user
  -- create_server unchecked: serve's options were checked above, and
  -- the workers add their own (reuse_port)
  local srv, msg, code = serve.serve(create_server, host, port, handler, opts)
  return srv, msg, code
end

-- netsock.tls (lua/netsock/tls.lua) when the core was built with OpenSSL
if core._tls then M.tls = require "netsock.tls" end

-- looking inside the loop, signals (lua/netsock/tasks.lua)
M.tasks, M.cancel, M.onsignal = tasks.list, tasks.cancel, tasks.onsignal

-- working together: join and timeout beside the loop, the rest in
-- lua/netsock/sync.lua
local sync = require "netsock.sync"
M.join, M.timeout = tasks.join, tasks.timeout
M.group, M.queue, M.semaphore, M.event = sync.group, sync.queue, sync.semaphore, sync.event

-- netsock.console (lua/netsock/console.lua), loaded on first use
setmetatable(M, { __index = function(t, k)
  if k == "console" then
    local c = require "netsock.console"
    rawset(t, "console", c)
    return c
  end
end })

-- the method table, for extensions (netsock.socketmethods.foo = ...)
M.socketmethods = methods

return M
