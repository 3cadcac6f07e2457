-- netsock.workers: serve(host, port, handler, {workers = n}). This
-- process becomes the supervisor: it opens the listeners and forks n
-- worker processes, each running its own loop with serve's accepting
-- task on its listener; it restarts a worker that dies (with a
-- back-off), stops them all gracefully (stop, SIGTERM) and restarts
-- them one by one (restart, SIGHUP).
--
-- Listeners. Slot i has listener i, opened here on one port with the
-- option under which the kernel spreads connections over them
-- (core._balance: SO_REUSEPORT on Linux, SO_REUSEPORT_LB on FreeBSD);
-- where the kernel balances nothing (macOS, the other BSDs, the
-- portable build) or refuses the option, one listener, inherited by
-- every worker, serves every slot: each worker accepts on it, and
-- whichever is free first takes the next connection. The
-- supervisor keeps its copies open and never accepts: when a worker
-- dies or is replaced, its listener (and the clients queued in its
-- backlog) stays, and the next worker of the slot inherits it, so no
-- queued connection is reset.
--
-- Control. Each worker has a socketpair to the supervisor: the worker
-- writes "ready\n" once it serves; the supervisor writes "stop T\n"
-- (T: seconds, or -1 for no limit) to stop it gracefully. A worker
-- whose supervisor is gone sees the end of stream and stops too (no
-- orphan); the supervisor learns of a worker's death by the same end
-- of stream, then reaps it.
--
-- Signals. A signal sent to the process group (systemctl stop, a
-- terminal's Ctrl-C or hang-up) reaches the supervisor and every worker
-- at once, so each process handles them itself: SIGTERM and SIGINT stop
-- the supervisor (stop(grace)) and a worker (as "stop grace" would);
-- SIGHUP restarts the workers (the supervisor's) and leaves a worker
-- alone (the supervisor replaces it). A worker is forked with the three
-- held blocked until its handlers are in place, so none can kill it by
-- the default action in between.

local core = require "netsock.core"
local tasks = require "netsock.tasks"
local check = require "netsock.check"

local io, math, os = io, math, os
local collectgarbage, xpcall, traceback = collectgarbage, xpcall, debug.traceback
local pairs, ipairs, next, setmetatable, tonumber, tostring, pcall =
  pairs, ipairs, next, setmetatable, tonumber, tostring, pcall
local error = error
local spawn, park, wake, current = tasks.spawn, tasks.park, tasks.wake, tasks.current
local onsignal = tasks.onsignal
local monotime, sleep = core.monotime, core.sleep
local fork, waitpid, kill = core._fork, core._waitpid, core._kill

-- what a signal to the whole group may be: held across a worker's fork
local HELD = { core._signum("SIGTERM"), core._signum("SIGINT"), core._signum("SIGHUP") }
local _ENV = nil

local BACKOFF0, BACKOFFMAX = 0.1, 10  -- first and longest restart delay
local STEADY = 10                      -- a worker that lived this long resets it
local READYWAIT = 10                   -- how long a restart waits for "ready"

local Supervisor = {}
Supervisor.__index = Supervisor

function Supervisor:getsockname() return self.socket:getsockname() end
function Supervisor:fileno() return self.socket:fileno() end
function Supervisor.__tostring(self)
  return ("netsock.supervisor (%d workers, %s)"):format(self.n, tostring(self.socket))
end
function Supervisor.__close(self) self:close() end

-- stopping(): true once stop (or close, or SIGTERM) has begun; in a
-- worker's handlers, once that worker stops
function Supervisor:stopping()
  return self._stopping == true
end

-- the pids of the workers running now (replaced ones still draining too)
function Supervisor:pids()
  local out = {}
  for pid in pairs(self._procs) do out[#out + 1] = pid end
  return out
end

-- wait (in a task, or by running the loop outside one) until done() or
-- the deadline; the supervisor's tasks wake self._waiters on each change
local function waituntil(self, done, deadline)
  local me = current()
  while not done() do
    local left = deadline and deadline - monotime()
    if left and left <= 0 then return false end
    if me then
      self._waiters[me] = true
      park(left and math.min(left, 0.5) or 0.5)
      self._waiters[me] = nil
    elseif not tasks.running() then
      tasks.step(left and math.min(left, 0.05) or 0.05)
    else
      sleep(0.01)  -- a coroutine of the user's inside a task: poll
    end
  end
  return true
end

-- Every worker's exit and every new worker is reported: log(line, info)
-- when serve was given log, else onerror(line), else the line on
-- stderr. info: event ("exit" or "start"), pid, slot, and for an exit
-- status ("exited" or "signaled"), code (the exit status or the
-- signal's name) and action (what the supervisor does now: "restart",
-- "none": a replaced worker, or "stop": the server is stopping), delay
-- (seconds before the restart); for a start, replaces (the pid of the
-- worker it replaces: only restarts are reported).
local function report(self, info)
  local line
  if info.event == "exit" then
    local how = info.status == "exited" and ("exited with status " .. tostring(info.code))
                or ("was killed by " .. tostring(info.code))
    local what
    if info.action == "restart" then what = ("restarting it in %.1f s"):format(info.delay)
    elseif info.action == "stop" then what = "not restarted: the server is stopping"
    else what = "replaced already" end
    line = ("netsock serve: worker %d (slot %d) %s; %s"):format(info.pid, info.slot, how, what)
  else
    line = ("netsock serve: worker %d started (slot %d)%s"):format(info.pid, info.slot,
      info.replaces and (", replacing " .. info.replaces) or "")
  end
  local log, onerror = self._log, self._onerror
  local ok = true
  if log then ok = pcall(log, line, info)
  elseif onerror then ok = pcall(onerror, line)
  else io.stderr:write(line, "\n") end
  if not ok then io.stderr:write(line, "\n") end   -- the hook failed: say it anyway
end

local function changed(self)
  for t in pairs(self._waiters) do wake(t) end
end

local function tell(proc, msg)
  if proc.ctl:fileno() >= 0 then proc.ctl:sendall(msg) end
end

-- close(): stop accepting everywhere at once: each worker stops
-- gracefully (no time limit), the listeners close here. Does not wait.
function Supervisor:close()
  if not self._stopping then
    self._stopping = true
    for _, proc in pairs(self._procs) do tell(proc, "stop -1\n") end
  end
  for _, l in ipairs(self._listeners) do l:close() end
  if self._unsignal then self._unsignal() end
  changed(self)
  return true
end

-- stop([timeout]): every worker stops gracefully (stop accepting, let
-- its handlers finish for at most timeout seconds, close the rest),
-- then returns once all have exited. A worker still there a second
-- after the timeout is killed (SIGKILL).
function Supervisor:stop(timeout)
  check.opttimeout("stop", 1, timeout)
  self._stopping = true
  for _, proc in pairs(self._procs) do
    tell(proc, ("stop %s\n"):format(timeout and tostring(timeout) or "-1"))
  end
  for _, l in ipairs(self._listeners) do l:close() end
  local deadline = timeout and monotime() + timeout + 1
  local gone = function() return next(self._procs) == nil end
  if not waituntil(self, gone, deadline) then
    for pid in pairs(self._procs) do kill(pid, "SIGKILL") end
    waituntil(self, gone, monotime() + 5)
  end
  if self._unsignal then self._unsignal() end
  return true
end

local startworker

-- restart(): a new worker for each slot, one after the other: the new
-- one starts on the slot's listener and says it is ready, then the old
-- one stops gracefully (its queued clients stay in the listener for the
-- new one). Runs in a task of its own when called outside one; returns
-- at once then.
function Supervisor:restart()
  if self._stopping then return false end
  if not current() then
    spawn(function() self:restart() end)
    return true
  end
  if self._restarting then return false end
  self._restarting = true
  for i = 1, self.n do
    if self._stopping then break end
    local old = self._slots[i]
    local new = startworker(self, i)
    if new then
      waituntil(self, function() return new.ready or new.dead end,
                monotime() + READYWAIT)
    end
    if old and not old.dead then tell(old, "stop -1\n") end
  end
  self._restarting = false
  return true
end

-- the worker's side: never returns. It stops once, by whichever comes
-- first: the supervisor's "stop T", the supervisor gone (grace), or a
-- SIGTERM or SIGINT of its own (grace, as the supervisor would say).
local function workermain(self, i, ctl)
  tasks.afterfork()
  for _, proc in pairs(self._procs) do proc.ctl:close() end
  for j, l in ipairs(self._listeners) do
    if l ~= self._listeners[i] then l:close() end
  end
  -- what only the parent's tasks held (its connections, files, pollers)
  -- is garbage here now: collected at once, each copy closing only its
  -- own descriptor, so that a connection the parent closes ends then,
  -- not when this worker exits. Twice: what the old loop (finalized in
  -- the first) still held goes in the second
  collectgarbage()
  collectgarbage()
  local srv = self._start(self._listeners[i], self._handler, self._opts)
  local stopping = false
  local function stop(t)
    if stopping then return end
    stopping = true
    self._stopping = true              -- srv:stopping() in this worker's handlers
    srv:stop(t)
    ctl:close()
  end
  local function bysignal() stop(self._grace) end
  onsignal("SIGTERM", bysignal)
  onsignal("SIGINT", bysignal)
  onsignal("SIGHUP", function() end)  -- the supervisor's to act on
  spawn(function()
    ctl:sendall("ready\n")
    local line = ctl:recv(64)          -- "stop T\n", or nil: supervisor gone
    local t = line and tonumber(line:match("stop (%-?[%d.]+)"))
    if t and t < 0 then t = nil end
    if not line then t = self._grace end
    stop(t)
  end)
  local ok, err = pcall(tasks.run)
  if not ok then
    io.stderr:write("netsock worker: ", tostring(err), "\n")
    os.exit(1)
  end
  os.exit(0)
end

-- the supervisor's side of one worker: read its messages; at the end
-- of stream it has gone: reap it and restart the slot unless stopping
local function monitor(self, proc)
  while true do
    local line = proc.ctl:recv(64)
    if not line then break end
    if line:find("ready", 1, true) then proc.ready = true; changed(self) end
  end
  proc.ctl:close()
  local deadline = monotime() + 5
  local status, code
  while true do  -- the descriptor closes as the process exits: reap it
    local r, st, c = waitpid(proc.pid, true)
    if r ~= 0 then status, code = st, c; break end
    if monotime() > deadline then kill(proc.pid, "SIGKILL"); deadline = monotime() + 5 end
    sleep(0.01)
  end
  proc.dead = true
  self._procs[proc.pid] = nil
  changed(self)
  if status == "signaled" then code = core._signame(code) or code end
  local info = { event = "exit", pid = proc.pid, slot = proc.slot,
                 status = status or "unknown", code = code }
  if self._slots[proc.slot] == proc then
    self._slots[proc.slot] = nil
    if not self._stopping then
      local delay = BACKOFF0
      if monotime() - proc.born < STEADY then
        delay = math.min((proc.delay or BACKOFF0 / 2) * 2, BACKOFFMAX)
      end
      info.action, info.delay = "restart", delay
      report(self, info)
      sleep(delay)
      if not self._stopping and self._slots[proc.slot] == nil then
        startworker(self, proc.slot, delay, proc.pid)
      end
      return
    end
    info.action = "stop"
  else
    info.action = self._stopping and "stop" or "none"
  end
  report(self, info)
end

-- fork the worker of slot i; returns its record, or nil, msg, code
function startworker(self, i, delay, replaces)
  local a, b = core.socketpair()
  if not a then return nil, b end
  local pid, msg, code = fork(HELD)
  if not pid then
    a:close(); b:close()
    io.stderr:write("netsock serve: fork failed: ", tostring(msg), "\n")
    return nil, msg, code
  end
  if pid == 0 then
    -- the child never returns into the supervisor's code: a worker that
    -- fails to start (out of descriptors for its loop, say) exits, and
    -- is not a second supervisor running the caller's code after serve
    local ok, err = xpcall(function() a:close(); workermain(self, i, b) end, traceback)
    io.stderr:write("netsock worker: ", tostring(ok and "returned" or err), "\n")
    os.exit(1)
  end
  b:close()
  local proc = { pid = pid, ctl = a, slot = i, born = monotime(), delay = delay }
  local old = self._slots[i]
  self._procs[pid] = proc
  self._slots[i] = proc
  replaces = replaces or (old and not old.dead and old.pid) or nil
  if replaces then  -- a restart (the first workers start unannounced)
    report(self, { event = "start", pid = pid, slot = i, replaces = replaces })
  end
  spawn(monitor, self, proc)
  return proc
end

local M = {}

-- serve with workers: 'start' is serve.lua's, which serves a listener
-- in this process; opts are checked already
function M.serve(create_server, start, host, port, handler, opts)
  -- a core without fork (Windows) says so in core._nofork
  if core._nofork then error("serve: workers: " .. core._nofork, 3) end
  local n = opts.workers
  if n == "auto" then n = core._ncpu() end
  local wopts = {}
  for k, v in pairs(opts) do wopts[k] = v end
  wopts.workers = nil
  wopts.reuse_port = core._balance
  local first, msg, code = create_server(host, port, wopts)
  local shared = not wopts.reuse_port
  if not first and code == "ENOPROTOOPT" then  -- refused here
    wopts.reuse_port = nil
    first, msg, code = create_server(host, port, wopts)
    shared = true
  end
  if not first then return nil, msg, code end
  local listeners = { first }
  local lhost, lport = first:getsockname()
  for i = 2, n do
    local l = not shared and create_server(lhost, lport, wopts)
    listeners[i] = l or first
  end
  local self = setmetatable({
    n = n, socket = first, _listeners = listeners, _procs = {}, _slots = {},
    _waiters = {}, _start = start, _handler = handler, _opts = wopts,
    _grace = opts.grace or 10, _log = opts.log, _onerror = opts.onerror,
  }, Supervisor)
  -- signals: SIGTERM and SIGINT stop, SIGHUP restarts
  local function bysignal() self:stop(self._grace) end
  onsignal("SIGTERM", bysignal)
  onsignal("SIGINT", bysignal)
  onsignal("SIGHUP", function() self:restart() end)
  self._unsignal = function()
    self._unsignal = nil
    onsignal("SIGTERM", nil)
    onsignal("SIGINT", nil)
    onsignal("SIGHUP", nil)
  end
  for i = 1, n do
    local ok, e, c = startworker(self, i)
    if not ok then
      self:stop(0)
      return nil, e, c
    end
  end
  return self
end

M.Supervisor = Supervisor

return M
