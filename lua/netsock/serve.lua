-- netsock.serve: a listener, a task that accepts on it, a task per
-- client, and the server object that controls them (docs/api.md,
-- "netsock.serve").
--
-- The server object keeps what the listening socket offered before
-- (getsockname, close, fileno, tostring; .socket is the listener) and
-- adds stop([timeout]): stop accepting, let the handlers finish for at
-- most timeout seconds, close the connections still open, return.
--
-- Options beyond create_server's:
--   limit    the most handlers at once; the rest wait in the backlog
--   timeout  the timeout every connection starts with (settimeout)
--   idle     close a connection whose handler has waited on it longer
--            than this with nothing received (or nothing sent); with a
--            limit, also makes room for a waiting client at the limit
--   onerror  onerror(err, conn, traceback) when a handler raises
--   workers  n or "auto": a supervisor and n worker processes
--            (lua/netsock/workers.lua); grace: their stop timeout on
--            SIGTERM; log: log(line, info) for each worker's exit and
--            start (default: onerror(line), else a line on stderr)
--   tls      handled by the facade (lua/netsock.lua), which wraps the
--            handler so the handshake runs in the handler's task

local core = require "netsock.core"
local tasks = require "netsock.tasks"
local check = require "netsock.check"

local getmetatable, next, pairs, setmetatable, tostring, type =
  getmetatable, next, pairs, setmetatable, tostring, type
local pcall, xpcall = pcall, xpcall
local io, math = io, math
local traceback, monotime = debug.traceback, core.monotime
local coyield, corunning, mathtype = coroutine.yield, coroutine.running, math.type
local spawn, park, wake, current = tasks.spawn, tasks.park, tasks.wake, tasks.current
local waitstamp = tasks.waitstamp
local require = require
local _ENV = nil

-- accept failures that pass: out of descriptors or memory (pause), a
-- timeout (a listener given a timeout of its own)
local transient = { EMFILE = true, ENFILE = true, ENOBUFS = true,
                    ENOMEM = true, timeout = true }

-- serve's own options (create_server's are checked by the facade);
-- called by serve.serve, itself called by the facade's serve: level 4
-- puts errors at the user's line
local function checkargs(handler, opts)
  check.callable("serve", 3, handler, 4)
  opts = check.opttable("serve", 4, opts, 4)
  local limit, timeout, idle, w = opts.limit, opts.timeout, opts.idle, opts.workers
  if limit ~= nil and (mathtype(limit) ~= "integer" or limit < 1) then
    check.argerror("serve", 4, "limit must be a positive integer", 4)
  end
  if timeout ~= nil and (type(timeout) ~= "number" or not (timeout >= 0)) then
    check.argerror("serve", 4, "timeout must be a number >= 0", 4)
  end
  if idle ~= nil and (type(idle) ~= "number" or not (idle > 0)) then
    check.argerror("serve", 4, "idle must be a number > 0", 4)
  end
  if opts.onerror ~= nil and not pcall(check.callable, "serve", 4, opts.onerror) then
    check.argerror("serve", 4, "onerror must be a function", 4)
  end
  if opts.log ~= nil and not pcall(check.callable, "serve", 4, opts.log) then
    check.argerror("serve", 4, "log must be a function", 4)
  end
  if opts.grace ~= nil and (type(opts.grace) ~= "number" or not (opts.grace >= 0)) then
    check.argerror("serve", 4, "grace must be a number >= 0", 4)
  end
  if w ~= nil and w ~= "auto" and (mathtype(w) ~= "integer" or w < 1) then
    check.argerror("serve", 4, "workers must be a positive integer or \"auto\"", 4)
  end
  return opts
end

-- text for an error value, whatever it is (tostring may raise)
local function describe(err)
  local ok, s = pcall(tostring, err)
  if ok and type(s) == "string" then return s end
  return ("(error object is a %s value; tostring failed on it)"):format(type(err))
end

local function defaultonerror(err, _, tb)
  io.stderr:write("netsock serve: handler failed: ", tb or describe(err), "\n")
end

-- xpcall's message handler for every handler: the error and its
-- traceback (taken where it was raised), boxed. One function for all
-- connections; the box is made only when a handler fails.
local Failure = {}
local function failed(e)
  return setmetatable({ e, traceback(describe(e), 2) }, Failure)
end

-- what xpcall returned after a failure: the error and its traceback
-- (none when the message handler itself failed: "error in error handling")
local function unbox(r)
  if getmetatable(r) == Failure then return r[1], r[2] end
  return r, nil
end

local Server = {}
Server.__index = Server

function Server:getsockname() return self.socket:getsockname() end
function Server:fileno() return self.socket:fileno() end
function Server:close() return self.socket:close() end
function Server.__tostring(self)
  return "netsock.server (" .. tostring(self.socket) .. ")"
end
function Server.__close(self) self:close() end

-- stopping(): true once stop has begun (a keep-alive handler answers
-- "Connection: close" then, and ends)
function Server:stopping()
  return self._state.stopping
end

-- the handlers running now, and how many
function Server:connections()
  local n = 0
  for _ in pairs(self._conns) do n = n + 1 end
  return n
end

-- stop([timeout]): see the top of this file. Inside a task it suspends
-- the task meanwhile; outside the loop it runs the loop (netsock.step)
-- until the handlers end or the time is up. Returns true.
function Server:stop(timeout)
  check.opttimeout("stop", 1, timeout)
  local st = self._state
  st.stopping = true
  self.socket:close()          -- the acceptor wakes and ends
  if st.reaper then wake(st.reaper) end
  local deadline = timeout and monotime() + timeout
  local me = current()
  -- a handler stopping its own server does not wait for itself
  local function others()
    local n = st.active
    if me and st.handlers[me] then n = n - 1 end
    return n
  end
  if me then
    st.stoppers[me] = true
    while others() > 0 do
      local left = deadline and deadline - monotime()
      if left and left <= 0 then break end
      park(left)
    end
    st.stoppers[me] = nil
  elseif not tasks.running() then
    while others() > 0 do
      local left = deadline and deadline - monotime()
      if left and left <= 0 then break end
      tasks.step(left and math.min(left, 0.05) or 0.05)
    end
  end
  for conn, t in pairs(self._conns) do
    if t ~= me then conn:close() end   -- their waiting calls return "closed"
  end
  return true
end


-- serve on an existing listening socket: what serve and each worker
-- process run. 'opts' is checked already.
local function start(srv, handler, opts)
  local limit, timeout, idle = opts.limit, opts.timeout, opts.idle
  local onerror = opts.onerror or defaultonerror
  -- a handler failed: onerror(err, conn, traceback), itself guarded
  local function report(r, conn)
    local err, tb = unbox(r)
    local ok, e = xpcall(onerror, failed, err, conn, tb)
    if not ok then
      err, tb = unbox(e)
      defaultonerror(err, conn, tb)   -- onerror itself failed
    end
  end
  -- the listener waits for ever, whatever the default timeout says (a
  -- timeout of 0 would make the accepting task spin)
  srv:settimeout(nil)
  local conns = {}              -- conn -> its handler's task
  local st = { active = 0, handlers = {}, stoppers = {}, stopping = false,
               dying = 0 }
  local server = setmetatable({ socket = srv, _conns = conns, _state = st }, Server)
  local acceptor, waiting = nil, false

  -- what the idle logic knows of each connection: the stamp of the wait
  -- its handler was last seen in, and since when (monotime)
  local seenstamp = setmetatable({}, { __mode = "k" })
  local seensince = setmetatable({}, { __mode = "k" })
  local function look(now)
    for conn in pairs(conns) do
      local fd, seen = conn:fileno(), seenstamp[conn]
      local stamp = fd >= 0 and waitstamp(fd) or nil
      if seen ~= false and stamp ~= seen then   -- false: closed to make room
        seenstamp[conn], seensince[conn] = stamp, now
      end
    end
  end

  -- a client's end, however it comes (return, error, netsock.cancel,
  -- which closes the task's coroutine): to-be-closed in every client
  local function release(conn, me)
    conn:close()
    conns[conn] = nil
    st.handlers[me] = nil
    st.active = st.active - 1
    if seenstamp[conn] == false then st.dying = st.dying - 1 end
    seenstamp[conn], seensince[conn] = nil, nil
    if waiting then
      waiting = false
      wake(acceptor)
    end
    if st.active == 0 or st.stopping then
      for t in pairs(st.stoppers) do wake(t) end
    end
  end
  -- the handler's task ends, however it ends (return, error,
  -- netsock.cancel, which closes the task's coroutine): one shared
  -- to-be-closed value for every client; st.handlers says whose
  -- connection the running task serves
  local ender = setmetatable({}, { __close = function()
    local me = corunning()    -- in a cancel too (coroutine.close runs it there)
    release(st.handlers[me], me)
  end })

  local function client(conn, h, p)
    st.handlers[current()] = conn
    local _ <close> = ender
    local ok, err = xpcall(handler, failed, conn, h, p)
    if not ok then report(err, conn) end
  end

  -- at the limit, with 'idle' set and a client accepted: close the
  -- connection that has waited longest on its peer, so slow clients
  -- cannot hold every slot. Returns true when one was closed.
  local function makeroom()
    local now = monotime()
    look(now)
    local victim, oldest
    for conn in pairs(conns) do
      local since = seenstamp[conn] and seensince[conn]
      if since and (oldest == nil or since < oldest) then victim, oldest = conn, since end
    end
    if not victim then return false end
    seenstamp[victim] = false    -- counted in st.dying until its handler ends
    st.dying = st.dying + 1
    victim:close()
    return true
  end

  local function begin(conn, h, p)
    if timeout then conn:settimeout(timeout) end
    st.active = st.active + 1
    local t = spawn(client, conn, h, p)
    conns[conn] = t
    tasks.origin(t, handler)
  end

  -- Without idle, at the limit the acceptor parks until a handler ends
  -- (clients wait in the backlog). With idle it accepts one client more
  -- and holds it until makeroom or a handler's end gives it a slot.
  acceptor = spawn(function()
    local me, fd, burst = current(), srv:fileno(), 0
    local held, hh, hp        -- a client accepted at the limit (idle only)
    tasks.watchclose(fd, me)
    while srv:fileno() >= 0 and not st.stopping do
      local full = limit and st.active - st.dying >= limit
      if held then
        if full and not makeroom() then
          waiting = true
          park(math.min(idle / 4, 1))
          waiting = false
        else
          begin(held, hh, hp)
          held = nil
        end
      elseif full and not idle then
        waiting = true
        park()
        waiting = false
      else
        local conn, h, p = srv:accept()
        if conn then
          if full then held, hh, hp = conn, h, p else begin(conn, h, p) end
          burst = burst + 1
          if burst == 64 then  -- a long backlog: let the clients run too
            burst = 0
            coyield()
          end
        else
          local c = p
          if c == "closed" or srv:fileno() < 0 then break end
          if not transient[c] then
            io.stderr:write("netsock serve: accept failed: ", tostring(h), "\n")
            break
          end
          -- out of descriptors, or a timeout the caller set on the
          -- listener (0 would make this loop spin): wait a little
          if c ~= "timeout" or srv:gettimeout() == 0 then core.sleep(0.05) end
        end
      end
    end
    if held then held:close() end
  end)

  do
    local h, p = srv:getsockname()
    tasks.label(acceptor, "serve " .. tostring(h) .. (p and (":" .. p) or ""))
  end

  -- the idle reaper: every idle/4 s (at most 1 s) it looks at what each
  -- handler waits on; a wait seen twice with the same stamp has lasted
  -- at least the time between; past 'idle' its connection is closed
  if idle then
    local tick = math.min(math.max(idle / 4, 0.005), 1)
    st.reaper = spawn(function()
      while not st.stopping and (srv:fileno() >= 0 or next(conns) ~= nil) do
        park(tick)
        local now = monotime()
        look(now)
        for conn in pairs(conns) do
          if seenstamp[conn] and now - seensince[conn] >= idle then
            seenstamp[conn] = nil
            conn:close()
          end
        end
      end
      st.reaper = nil
    end)
    tasks.label(st.reaper, "serve idle reaper")
  end
  return server
end

local M = {}

-- serve(create_server, host, port, handler [, options]); the facade
-- passes create_server
function M.serve(create_server, host, port, handler, opts)
  opts = checkargs(handler, opts)
  if opts.workers then
    return require("netsock.workers").serve(create_server, start, host, port,
                                            handler, opts)
  end
  local srv, msg, code = create_server(host, port, opts)
  if not srv then return nil, msg, code end
  return start(srv, handler, opts)
end

M.start, M.Server = start, Server

return M
