-- netsock.tasks: the loop that runs tasks (coroutines) over one epoll set.
--
-- A task is a coroutine in the weak set 'tasks', which the C core is
-- handed with the loop (core._newloop) to tell tasks from coroutines.
-- When a netsock call inside it would block, the C core files the wait
-- in the loop object itself (src/sched.c: the waiters per descriptor,
-- the deadline heap) and yields the filed token alone; a wait made here
-- (park with a deadline) or select's (which also watches other
-- descriptors for a close) yields four or five values instead: the wait
-- token, a descriptor (-1 for a pure timer), the events (1 read, 2
-- write, 3 both), a deadline (monotonic seconds, < 0 for none) and
-- select's array, and the loop files it (loop:suspend). loop:poll waits
-- for readiness and the timers and puts the tasks whose wait is over on
-- the ready queue, which stays here; loop:runq resumes the queued tasks
-- in C for as long as each yields the filed token, and hands back the
-- first that needs this file (it ended, raised, parked, yielded). The loop resumes the coroutine with
-- no values once the descriptor is ready or the deadline has passed;
-- the call's continuation then tries again. Any other yield
-- (coroutine.yield() in the task's own code) just puts the task at the
-- back of the ready queue.
--
-- Scheduling policy (deterministic, no randomness):
--   * Ready tasks run in FIFO order. A turn runs the tasks that were
--     ready when it began, at most once each; tasks made ready during
--     the turn (by a wake-up, a spawn, a plain yield) run in the next
--     turn. Between two turns the loop always polls for I/O (without
--     waiting when tasks are ready), so a task that yields in a loop
--     cannot starve I/O or timers; a task that never yields at all
--     does, as in any cooperative scheduler.
--   * Descriptor wake-ups come in the order the kernel reports them;
--     several tasks waiting on one descriptor wake in the order they
--     began to wait. Timers wake in deadline order (a binary heap),
--     equal deadlines in the order they were set.
--   * An error in a task prints its traceback on stderr and ends that
--     task alone.

local core = require "netsock.core"
local check = require "netsock.check"

local coroutine, debug, io, setmetatable = coroutine, debug, io, setmetatable
local costatus = coroutine.status
local coclose = coroutine.close
local corunning, coyield = coroutine.running, coroutine.yield
local traceback, monotime = debug.traceback, core.monotime
local WAIT, FILED = core._waittoken(true)
local select, error, type, tostring = select, error, type, tostring
local pcall, unpack, pack = pcall, table.unpack, table.pack
local newtask = core._newtask
local pairs, ipairs, next = pairs, ipairs, next

local tasks = setmetatable({}, { __mode = "k" })  -- the task threads

-- ready queue: a FIFO ring of tasks in q[qhead .. qtail-1]
local q, qhead, qtail = {}, 1, 1
local function push(t)
  q[qtail] = t
  qtail = qtail + 1
end

-- The waiters per descriptor and the deadline heap are the loop
-- object's (src/sched.c, with the policies it describes): loop:suspend
-- files a wait, loop:unwait ends one (or forgets an ended task),
-- loop:wakefd and loop:poll put the tasks whose wait is over on q.
-- Tasks waiting in select also wait for a close of the descriptors of
-- its array: cw[fd] is such a task or a list table {n = k, t1, ..., tk},
-- watching[t] the array it watches.
local live = 0              -- tasks not yet ended
local running = false
local stopping = false
local PARK = {}             -- private yield value: wait for wake()
local parked = {}           -- task -> true while parked
local closewatch = {}       -- fd -> task to wake when fd is closed (serve)
local cw = {}               -- fd -> task(s) a close of fd wakes (select)
local watching = {}         -- task -> the fds it is in cw for
local nwatching = 0         -- tasks in 'watching'
local loop                  -- the loop object (core._newloop), below

local function addwaiter(set, fd, t)
  local w = set[fd]
  if w == nil then set[fd] = t
  elseif type(w) == "table" then w.n = w.n + 1; w[w.n] = t
  else set[fd] = { n = 2, w, t } end
end

local function dropwaiter(set, fd, t)
  local w = set[fd]
  if w == t then set[fd] = nil
  elseif type(w) == "table" then
    local n, j = w.n, 0
    for i = 1, n do
      local x = w[i]
      w[i] = nil
      if x ~= t then j = j + 1; w[j] = x end
    end
    w.n = j
    if j == 0 then set[fd] = nil elseif j == 1 then set[fd] = w[1] end
  end
end

-- task t stops watching select's descriptors for a close
local function unwatch(t)
  local list = watching[t]
  watching[t] = nil
  nwatching = nwatching - 1
  for i = 1, #list do dropwaiter(cw, list[i], t) end
end

-- end task t's current wait, whatever it waits on: its descriptor
-- entries and its timer go (the one place that undoes a suspend)
local function unwait(t)
  loop:unwait(t)
  if watching[t] ~= nil then unwatch(t) end
end

-- the loop (C) ended the waits of some tasks: those in select stop
-- watching for a close (only while some task is in select)
local function sweepwatch()
  for t in pairs(watching) do
    if not loop:query("w", t) then unwatch(t) end
  end
end

-- make every waiter of cw[fd] ready (FIFO)
local function wakeall(set, fd)
  local w = set[fd]
  if w == nil then return end
  set[fd] = nil
  if type(w) == "table" then
    for i = 1, w.n do
      local t = w[i]
      unwait(t)
      push(t)
    end
  else
    unwait(w)
    push(w)
  end
end

-- a task's wait made in Lua (park with a deadline) or by select: file
-- it under its descriptor and/or timer (the C core has made sure the
-- loop's epoll set watches the descriptor), and under the descriptors
-- of 'watch' (an array, select's sockets) for a close
local function suspend(t, fd, ev, deadline, watch)
  loop:suspend(t, fd, ev, deadline)
  if watch ~= nil then
    watching[t] = watch
    nwatching = nwatching + 1
    for i = 1, #watch do addwaiter(cw, watch[i], t) end
  end
end

-- called by the C core when the tasks waiting on fd must look again:
-- right before the descriptor leaves netsock's hands (closed, detached,
-- a poller closed: 'gone'), or when an object over it goes (a file
-- closed: the descriptor stays). Those tasks wake and their calls find
-- what they wait on closed (or, for the other users of the socket,
-- simply wait again).
local function onclose(fd, gone)
  qtail = loop:wakefd(fd, q, qtail)
  if nwatching > 0 then sweepwatch() end
  wakeall(cw, fd)
  local t = gone ~= false and closewatch[fd]
  if t then
    closewatch[fd] = nil
    if parked[t] then
      parked[t] = nil
      unwait(t)             -- a park with a deadline: its timer goes
      push(t)
    end
  end
end

-- the loop's epoll set; the C core learns which threads are tasks and
-- whom to tell when a socket tasks wait on is closed
loop = assert(core._newloop(tasks, onclose))
-- the methods the loop's turn calls, looked up once (every loop object
-- has the same ones)
local runq, poll, resume = loop.runq, loop.poll, loop.resume

-- text for an error value, whatever it is: tostring may raise (a
-- __tostring that errors, or returns no string) and must not take the
-- loop down with the task
local function describe(err)
  local ok, s = pcall(tostring, err)
  if ok and type(s) == "string" then return s end
  return ("(error object is a %s value; tostring failed on it)"):format(type(err))
end

-- {====== Introspection state (netsock.tasks, cancel; see the end) ======
local weak = { __mode = "k" }
local daemon = setmetatable({}, weak)   -- loop's own tasks: not counted in live
-- kept only while tracking is on (M.track: the console turns it on),
-- so that spawn costs nothing more otherwise
local tracking = false
local origin = setmetatable({}, weak)   -- task -> the function it runs
local bornat = setmetatable({}, weak)   -- task -> spawn order
local spawnsite = setmetatable({}, weak) -- task -> "file:line" of its spawn
local label = setmetatable({}, weak)    -- task -> a name for listings
local born = 0
-- }======

-- {====== How tasks end: join's results, owners, waits that count ======
-- fate[t]: how task t ended, kept (weakly) for netsock.join: a packed
-- {n =, true, ...results}, {n = 2, false, err} or CANCELLED
local fate = setmetatable({}, weak)
local CANCELLED = { n = 2, false, "cancelled" }
local NORESULTS = { n = 1, true }
local joiners = {}          -- t -> array of tasks joining it
local owner = setmetatable({}, weak)   -- t -> fn(t, fate) told when t ends (groups)
-- tasks parked by M.await without a deadline: the only waits nothing
-- but another task can end; when every live task is one (and no daemon
-- could wake one), the loop is stuck for good (shutdown, below)
local blocked, nblocked, blockorder = {}, 0, 0
local ndaemon = 0
-- }======

local wakejoiners

-- task t ended: ok and what its function returned (for join), or
-- false and its error
local function finish(t, ok, ...)
  local err = ...
  if not daemon[t] then live = live - 1 else ndaemon = ndaemon - 1 end
  tasks[t] = nil
  parked[t] = nil
  if blocked[t] then blocked[t] = nil; nblocked = nblocked - 1 end
  if watching[t] ~= nil then unwatch(t) end
  loop:unwait(t, true)
  if not ok then fate[t] = { n = 2, false, err }
  elseif fate[t] == nil then   -- (CANCELLED stays)
    fate[t] = select("#", ...) > 0 and pack(true, ...) or NORESULTS
  end
  local own = owner[t]
  if own then
    -- a group's task: the group takes its error (g:wait returns it)
    owner[t] = nil
    if not ok then coclose(t) end  -- its <close> variables run now
    wakejoiners(t)
    return own(t, fate[t])
  end
  wakejoiners(t)
  if not ok then
    -- the traceback first (the dead task's stack is still there), then
    -- close it: its pending to-be-closed variables run, so its sockets
    -- close and its files flush, as they would had it returned
    local msg = traceback(t, describe(err))
    local cok, cerr = coclose(t)
    io.stderr:write("netsock task failed: ", msg, "\n")
    if not cok and cerr ~= err then
      io.stderr:write("netsock task failed: closing its variables: ",
                      describe(cerr), "\n")
    end
  end
end

-- netsock.timeout's deadlines: capof[key] is the deadline of the
-- innermost scope of a task (key: the task) or of the code outside
-- tasks (key: MAIN); the C core holds the running code's one
-- (core._setcap), which every call that waits takes as the latest
-- deadline it may have. The loop hands it over at each resume, and
-- only while some scope exists, so that no scope costs nothing.
local capof, nscopes = {}, 0
local MAIN = capof          -- the key of the code outside tasks
local setcap = core._setcap

-- file task t according to what its resume returned: what it yielded,
-- or (ended) what its function returned or raised
local function after(t, ok, a, ...)
  if a == FILED then return end   -- filed by the C core already
  if a == WAIT then return suspend(t, ...) end
  if costatus(t) == "dead" then return finish(t, ok, a, ...) end
  if a == PARK then parked[t] = true  -- until wake(t)
  else push(t) end              -- a plain yield: back of the queue
end

local function stepped(t, scoped, ...)
  if scoped or nscopes > 0 then setcap(capof[MAIN] or -1) end
  return after(t, ...)
end

-- resume one task (netsock.timeout's deadline handed over around it)
-- and file it according to what it yielded
local function step(t)
  local scoped = nscopes > 0
  if scoped then setcap(capof[t] or -1) end
  return stepped(t, scoped, resume(loop, t))
end


local M = {}

-- netsock.spawn(fn, ...): a new task running fn(...); returns it. Its
-- coroutine runs fn itself, the arguments waiting on its stack until the
-- first resume (core._newtask): no closure, no table, no frame of ours
-- under the task's code; what fn returns comes back through its last
-- resume (after, finish: join's results)
function M.spawn(fn, ...)
  check.callable("spawn", 1, fn)
  local t = newtask(fn, ...)
  tasks[t] = true
  live = live + 1
  if tracking then
    origin[t] = fn
    born = born + 1
    bornat[t] = born
    local info = debug.getinfo(2, "Sl")
    if info then spawnsite[t] = ("%s:%d"):format(info.short_src, info.currentline) end
  end
  push(t)
  return t
end

-- wake a task parked with park(); true if it was parked
function M.wake(t)
  if parked[t] then
    parked[t] = nil
    if blocked[t] then blocked[t] = nil; nblocked = nblocked - 1 end
    unwait(t)             -- a park with a deadline: its timer goes
    push(t)
    return true
  end
  return false
end

-- suspend the running task until wake(t), or at most 'seconds' when
-- given; returns true when woken, false when the time ran out
function M.park(seconds)
  if seconds == nil then coyield(PARK) return true end
  local t = corunning()
  parked[t] = true
  coyield(WAIT, -1, 0, monotime() + seconds)
  if parked[t] ~= nil then parked[t] = nil return false end
  return true
end

-- await([deadline]): park the running task until wake(t), or until
-- the monotonic time 'deadline' when given; true when woken, false when
-- the time ran out. Without a deadline the wait counts as one that
-- only another task can end (the loop's shutdown, below).
function M.await(deadline)
  local t = corunning()
  parked[t] = true
  if deadline == nil then
    blockorder = blockorder + 1
    blocked[t] = blockorder
    nblocked = nblocked + 1
    coyield(PARK)
    return true
  end
  coyield(WAIT, -1, 0, deadline)
  if parked[t] ~= nil then parked[t] = nil return false end
  return true
end

-- one turn: run the ready tasks, then poll (at most 'maxwait' seconds
-- when given) and fire due timers
local turns = 0             -- turns so far (stats: a spinning loop shows)

-- The loop's shutdown: when every task left waits in join, a group, a
-- queue, a semaphore or an event without a deadline, nothing is ready,
-- and no daemon (a signal handler's watcher, the console) could make
-- one go on, no task will ever run again. Rather than wait for ever,
-- the loop cancels those tasks, oldest wait first (their <close>
-- variables run, as with netsock.cancel); a task that such a close
-- wakes (a unit released, a value put) is spared and goes on.
local shutdown
local function stuck()
  return nblocked > 0 and nblocked >= live and ndaemon == 0 and qhead == qtail
end

-- what loop:runq hands back: the new head of the queue, then the task
-- it stopped after, if any, and what that task's resume returned
local function ran(head, t, ...)
  qhead = head
  if nscopes > 0 then setcap(capof[MAIN] or -1) end  -- a task began one
  if t then return after(t, ...) end
end

local function turn(maxwait, detect, cond)
  turns = turns + 1
  local last = qtail - 1
  while qhead <= last do
    if nscopes > 0 then         -- the scopes' deadlines are handed over here
      local t = q[qhead]
      q[qhead] = nil
      qhead = qhead + 1
      if tasks[t] then step(t) end
    else                        -- the tasks whose wait is filed run in C
      ran(runq(loop, q, qhead, last, tasks))
    end
    if stopping then return end
  end
  if qhead == qtail then qhead, qtail = 1, 1 end
  if live == 0 then return end
  if cond and cond() then return end   -- an outside wait is over: no poll
  if detect and stuck() then return shutdown() end
  -- wait (not at all when tasks are ready, at most until the soonest
  -- timer): the tasks whose descriptor is ready (in the order the
  -- kernel reports them) and whose timer is due go onto the queue
  qtail = poll(loop, maxwait or -1, q, qtail, parked, qhead < qtail)
  if nwatching > 0 then sweepwatch() end
end

-- netsock.run([fn, ...]): run the loop until no task is left or stop()
function M.run(fn, ...)
  if running then error("netsock.run: the loop is running already", 2) end
  check.optcallable("run", 1, fn)
  if fn ~= nil then M.spawn(fn, ...) end
  running, stopping = true, false
  loop:flag("running", true)
  local ok, err = pcall(function()
    while live > 0 and not stopping do turn(nil, true) end
  end)
  running, stopping = false, false
  loop:flag("running", false)
  if not ok then error(err, 0) end
  return true
end

-- netsock.step([timeout]): one turn of the loop, for a program whose
-- main loop is somebody else's: runs the tasks that are ready, then
-- waits for I/O at most 'timeout' seconds (default 0: not at all) and
-- fires due timers. Returns true while tasks (other than the loop's
-- own daemons) are left, false once none is.
function M.step(timeout)
  check.opttimeout("step", 1, timeout)
  if running then error("netsock.step: the loop is running already", 2) end
  running, stopping = true, false
  loop:flag("running", true)
  local ok, err = pcall(turn, timeout or 0)
  running, stopping = false, false
  loop:flag("running", false)
  if not ok then error(err, 0) end
  return live > 0
end

-- netsock.stop(): run returns after the current step
function M.stop()
  stopping = true
  loop:flag("stop", true)
end

-- whether run or step is running the loop now
function M.running()
  return running
end

-- the task running now, or nil outside tasks
function M.current()
  local t = corunning()
  if tasks[t] then return t end
  return nil
end

-- for serve: wake task t when socket fd is closed (t parks meanwhile)
function M.watchclose(fd, t)
  closewatch[fd] = t
end

-- for serve's idle limit: the number of the wait a task is in on fd
-- right now (read or write), or nil when no task waits on fd. The
-- number stays the same for as long as that one wait lasts.
function M.waitstamp(fd)
  return loop:query("s", fd)
end

-- counts, for tests and curious users: heapops is how many times a
-- timer entry was pushed, moved or removed so far
function M.stats()
  local ntimers, heapops = loop:query("c", 0)
  return { live = live, ready = qtail - qhead, timers = ntimers, turns = turns,
           blocked = nblocked, heapops = heapops }
end

-- {====== Introspection and cancel: netsock.tasks(), netsock.cancel() ======

-- spawn_daemon(fn): a task of the loop itself (the signal watcher, the
-- console's endpoint): it runs like any task but does not keep run()
-- going, which returns when only daemons are left
function M.spawn_daemon(fn, ...)
  local t = M.spawn(fn, ...)
  if tracking then
    local info = debug.getinfo(2, "Sl")
    if info then spawnsite[t] = ("%s:%d"):format(info.short_src, info.currentline) end
  end
  daemon[t] = true
  live = live - 1
  ndaemon = ndaemon + 1
  return t
end

-- M.label(task, text): the name netsock.tasks() shows for a task
function M.label(t, text)
  if tasks[t] then label[t] = text end
  return t
end

-- M.origin(task, fn): the function netsock.tasks() says a task runs
function M.origin(t, fn)
  if tasks[t] and tracking then origin[t] = fn end
  return t
end

local function place(info)
  if not info then return nil end
  local line = info.currentline
  if line == nil or line < 0 then line = info.linedefined end
  return ("%s:%d"):format(info.short_src, line or 0)
end

-- the function at the bottom of a task's stack: the one it runs
local function bottom(t)
  local fn
  for level = 0, 200 do
    local info = debug.getinfo(t, level, "f")
    if not info then break end
    fn = info.func
  end
  return fn
end

-- M.track(on): record for each task spawned from now on where it was
-- spawned and in what order (netsock.tasks shows them); off by default
function M.track(on)
  tracking = not not on
end

-- the first Lua frame of a suspended task: where it waits
local function where(t)
  for level = 0, 50 do
    local info = debug.getinfo(t, level, "Sl")
    if not info then return nil end
    if info.what ~= "C" and info.currentline and info.currentline > 0 then
      return place(info)
    end
  end
end

-- the names of netsock's C functions, to say what call a task waits in
local cnames
local function callname(t)
  if not cnames then
    cnames = {}
    for k, v in pairs(core) do
      if type(v) == "function" then cnames[v] = "netsock." .. k end
    end
    for k, v in pairs(core._socketmethods or {}) do
      if type(v) == "function" then cnames[v] = "socket:" .. k end
    end
    local fmt = debug.getregistry()["netsock.file"]
    if type(fmt) == "table" and type(fmt.__index) == "table" then
      for k, v in pairs(fmt.__index) do
        if type(v) == "function" then cnames[v] = "file:" .. k end
      end
    end
    cnames[coyield] = "coroutine.yield"
  end
  for level = 0, 3 do
    local info = debug.getinfo(t, level, "f")
    if not info then return nil end
    if cnames[info.func] then return cnames[info.func] end
  end
end

-- the socket (or file) object on the waiting C frame whose fd is fd
local function waitobject(t, fd)
  for level = 0, 2 do
    if not debug.getinfo(t, level, "l") then return nil end
    for i = 1, 8 do
      local name, v = debug.getlocal(t, level, i)
      if name == nil then break end
      if type(v) == "userdata" then
        local ok, n = pcall(function() return v:fileno() end)
        if ok and n == fd then return v end
      end
    end
  end
end


local listing = {}
listing.__index = listing

-- one line per task, for the console (= netsock.tasks())
function listing.__tostring(l)
  local out = {}
  for i, e in ipairs(l) do
    local parts = { ("%2d  %-8s"):format(i, e.state) }
    if e.label then parts[#parts + 1] = e.label end
    if e.call then parts[#parts + 1] = e.call end
    if e.fd then
      parts[#parts + 1] = ("fd %d %s"):format(e.fd, e.events or "")
    end
    if e.socket then parts[#parts + 1] = "[" .. e.socket .. "]" end
    if e.timeout then parts[#parts + 1] = ("%.3f s left"):format(e.timeout) end
    if e.where then parts[#parts + 1] = "at " .. e.where end
    if e.runs then parts[#parts + 1] = "runs " .. e.runs end
    if e.created then parts[#parts + 1] = "spawned at " .. e.created end
    out[#out + 1] = table.concat(parts, "  ")
  end
  if #out == 0 then return "no tasks" end
  return table.concat(out, "\n")
end

-- netsock.tasks(): an array of one table per live task (in spawn order
-- while tracking, M.track): task, state ("running", "ready", "waiting",
-- "parked"), label, call (the netsock call it waits in), fd and events
-- ("r", "w", "rw"), socket (tostring of the object waited on), timeout
-- (seconds left before its deadline), where (file:line it waits at),
-- runs (file:line of the function it runs), created (file:line of its
-- spawn, while tracking), daemon (true for the loop's own)
function M.list()
  local all, now, me = {}, monotime(), corunning()
  for t in pairs(tasks) do all[#all + 1] = t end
  local key = {}
  for _, t in ipairs(all) do key[t] = (label[t] or "~") .. "\0" .. tostring(where(t)) end
  table.sort(all, function(a, b)  -- spawn order where tracked, else by name
    local x, y = bornat[a], bornat[b]
    if x and y then return x < y end
    if x or y then return y == nil end
    return key[a] < key[b]
  end)
  local l = setmetatable({}, listing)
  for _, t in ipairs(all) do
    local e = { task = t, label = label[t], daemon = daemon[t] or nil }
    local fd, r, w, d = loop:query("i", t)
    if t == me then e.state = "running"
    elseif parked[t] then e.state = "parked"
    elseif fd or d then e.state = "waiting"
    else e.state = "ready" end
    if fd then
      e.fd = fd
      e.events = (r and "r" or "") .. (w and "w" or "")
      local obj = waitobject(t, fd)
      if obj then e.socket = tostring(obj) end
    end
    if d then e.timeout = math.max(0, d - now) end
    if t ~= me then
      e.where = where(t)
      e.call = callname(t)
    end
    local fn = origin[t]
    if type(fn) ~= "function" then fn = bottom(t) end
    if type(fn) == "function" then e.runs = place(debug.getinfo(fn, "S")) end
    e.created = spawnsite[t]
    l[#l + 1] = e
  end
  return l
end

-- netsock.cancel(task): ends a task that is not the running one. The
-- task's coroutine is closed (coroutine.close): the call it waits in
-- never returns, its to-be-closed variables are closed (a serve
-- handler's connection among them), and nothing of its code runs any
-- more. Returns true, or false when the task had ended already. (Why
-- not make the pending call return nil, "cancelled": a task that
-- retries on failure, or treats any failure as a reason to go on,
-- would never end; closing is the one ending it cannot refuse.)
function M.cancel(t)
  if type(t) ~= "thread" then check.typeerror("cancel", 1, "task", t) end
  if not tasks[t] then return false end
  if t == corunning() or costatus(t) == "normal" then  -- normal: it resumed us
    check.argerror("cancel", 1, "a task cannot cancel itself: return from it")
  end
  for k, v in pairs(closewatch) do
    if v == t then closewatch[k] = nil end
  end
  fate[t] = CANCELLED
  finish(t, true)            -- not live any more, its wait undone
  local ok, err = coclose(t)
  if not ok then
    io.stderr:write("netsock task failed while cancelled: ",
                    describe(err), "\n")
  end
  return true
end

-- }======

-- {====== Working together: join, shutdown, outside waits, timeout ======

-- the tasks joining t, made ready (FIFO) now that t has ended
function wakejoiners(t)
  local list = joiners[t]
  if list == nil then return end
  joiners[t] = nil
  for i = 1, #list do M.wake(list[i]) end
end

function shutdown()
  local stuckones = {}
  for t, order in pairs(blocked) do stuckones[#stuckones + 1] = t; stuckones[t] = order end
  table.sort(stuckones, function(a, b) return stuckones[a] < stuckones[b] end)
  for i = 1, #stuckones do
    local t = stuckones[i]
    if blocked[t] then M.cancel(t) end   -- not woken by an earlier one's close
  end
end

-- the deadline (monotonic) of the netsock.timeout scope the running
-- code is in, or nil
local function capnow()
  local t = corunning()
  if tasks[t] then return capof[t] end
  return capof[MAIN]
end
M.cap = capnow

-- the earlier of 'timeout' seconds from now (nil: none) and the scope's
-- deadline, as a monotonic time (nil: none); then whether a wait that
-- finds it passed yields once before it times out (M.waitpassed): the
-- scope's deadline, unless the call's own timeout is 0 (a poll)
function M.deadline(timeout)
  local d = timeout and monotime() + timeout
  local c = capnow()
  if c and (d == nil or c < d) then return c, timeout ~= 0 end
  return d, false
end

-- whether a task's wait until 'deadline' is over before it waits: the
-- deadline has passed, and 'once' (M.deadline) is not set or the task
-- waited already. A loop retrying on timeout in a scope whose deadline
-- has passed so yields once per call (the other tasks, I/O and timers
-- run) and cannot hold the loop, as the C core's socket calls do
function M.waitpassed(deadline, once, waited)
  return deadline ~= nil and monotime() >= deadline and (waited or not once)
end

-- Outside tasks, a wait runs the loop (netsock.step's turns) until
-- cond() holds: true then, false once 'deadline' (monotonic, nil: none)
-- has passed. When no task is left that could make cond() hold, it
-- sleeps out the deadline and returns false, or without one raises
-- (the wait would last for ever). A stuck loop shuts down meanwhile.
function M.rununtil(cond, deadline, what, level)
  level = level or 3
  if running then
    error(what .. ": cannot wait outside a task while the loop runs", level)
  end
  while not cond() do
    local now = monotime()
    if deadline and now >= deadline then return false end
    if live == 0 and qhead == qtail then
      if deadline == nil then
        error(what .. " would wait for ever: no task is left that could end the wait", level)
      end
      core.sleep(deadline - now)
      return false
    end
    running, stopping = true, false
    loop:flag("running", true)
    -- stuck while the code outside waits: nothing can change that now
    local ok, err = pcall(turn, deadline and deadline - now, true, cond)
    running, stopping = false, false
    loop:flag("running", false)
    if not ok then error(err, 0) end
  end
  return true
end

M.CANCELLED = CANCELLED

-- own(t, fn): fn(t, fate) runs when task t ends, in place of the loop's
-- report of its error (a group's task: the group takes the error)
function M.own(t, fn)
  owner[t] = fn
end

-- netsock.join(task [, timeout]): see docs/api.md
function M.join(t, timeout)
  if type(t) ~= "thread" then check.typeerror("join", 1, "task", t) end
  check.opttimeout("join", 2, timeout)
  if fate[t] == nil and not tasks[t] then
    check.argerror("join", 1, "not a task of netsock.spawn or a group")
  end
  local me = corunning()
  if t == me then check.argerror("join", 1, "a task cannot join itself") end
  local deadline, once = M.deadline(timeout)
  if fate[t] == nil then
    if tasks[me] then
      local list = joiners[t]
      if list == nil then list = {}; joiners[t] = list end
      list[#list + 1] = me
      -- however this wait ends (woken, timed out, cancelled), it leaves
      -- the list: nothing of it outlives it
      local _ <close> = setmetatable({}, { __close = function()
        local l = joiners[t]
        if l == nil then return end
        for i = #l, 1, -1 do if l[i] == me then table.remove(l, i) end end
        if #l == 0 then joiners[t] = nil end
      end })
      local waited = false
      while fate[t] == nil do
        if M.waitpassed(deadline, once, waited) then break end
        waited = true
        M.await(deadline)
      end
    else
      M.rununtil(function() return fate[t] ~= nil end, deadline, "netsock.join")
    end
    if fate[t] == nil then return nil, "timeout", "timeout" end
  end
  local f = fate[t]
  return unpack(f, 1, f.n)
end

-- settles a scope's result: timed out when its deadline has passed
local function scoped(deadline, ...)
  if monotime() >= deadline then return nil, "timeout", "timeout" end
  return true, ...
end

local scopeend = { __close = function(s)
  capof[s.key] = s.prev
  nscopes = nscopes - 1
  loop:flag("scoped", nscopes > 0)
  local t = corunning()
  -- the C core holds the running code's deadline: put the outer one
  -- back, unless this scope ends from elsewhere (its task cancelled)
  if (tasks[t] and t or MAIN) == s.key then setcap(s.prev or -1) end
end }

-- netsock.timeout(seconds, fn, ...): fn(...) with a deadline over every
-- wait inside it (docs/api.md)
function M.timeout(seconds, fn, ...)
  if type(seconds) ~= "number" then check.typeerror("timeout", 1, "number", seconds) end
  check.opttimeout("timeout", 1, seconds)
  check.callable("timeout", 2, fn)
  local t = corunning()
  local key = tasks[t] and t or MAIN
  local prev = capof[key]
  local deadline = monotime() + seconds
  local cap = deadline
  if prev and prev < cap then cap = prev end   -- the earliest wins
  capof[key] = cap
  nscopes = nscopes + 1
  loop:flag("scoped", true)
  setcap(cap)
  local _ <close> = setmetatable({ key = key, prev = prev }, scopeend)
  return scoped(deadline, fn(...))
end

-- }======

-- {====== Signals: netsock.onsignal(name, fn) ======
--
-- C (src/signal.c) catches the signal with a handler that writes to a
-- self-pipe; a daemon task of the loop waits on the pipe and runs each
-- Lua handler as a task of its own: handler(name). Signals that arrive
-- close together may be coalesced, as the kernel does with standard
-- signals. The handlers run only while the loop runs (run, or a step);
-- in between, a caught signal waits for the next turn.

local sighandlers = {}     -- signal number -> function
local sigwatcher           -- the daemon task, while any handler is set
local sigpid               -- the process it watches for

local function sigwatch()
  while next(sighandlers) ~= nil do
    core.select({ assert(core._sigfd()) }, nil)  -- a forked child: its own pipe
    for _, sig in ipairs(core._sigtake()) do
      local fn = sighandlers[sig]
      if fn then
        label[M.spawn(fn, core._signame(sig))] = "onsignal " .. core._signame(sig)
      end
    end
  end
  sigwatcher = nil
end

-- netsock.onsignal(sig, fn): fn(name) runs as a task each time signal
-- sig ("SIGTERM", "TERM" or its number) arrives while the loop runs;
-- fn nil removes the handler and puts the disposition the signal had
-- before back. Returns the previous handler (or nil).
function M.onsignal(sig, fn)
  local n, why = core._signum(sig)
  if not n then check.argerror("onsignal", 1, why) end
  check.optcallable("onsignal", 2, fn)
  local old = sighandlers[n]
  if fn == nil then
    if old ~= nil then
      sighandlers[n] = nil
      assert(core._sigrelease(n))
    end
    return old
  end
  local ok, msg, code = core._sigcatch(n)
  if not ok then return nil, msg, code end
  sighandlers[n] = fn
  local pid = core._getpid()
  if sigwatcher and sigpid ~= pid then
    -- a forked child: the watcher waits on its parent's pipe; _sigcatch
    -- made this process a pipe of its own, which a new watcher watches
    M.cancel(sigwatcher)
    sigwatcher = nil
  end
  if not sigwatcher then
    sigwatcher, sigpid = M.spawn_daemon(sigwatch), pid
    label[sigwatcher] = "signals"
  end
  return old
end

-- }======

-- in a child process after fork(): forget the parent's loop (its epoll
-- set is shared with the parent: never touch it), every task and every
-- signal handler, and start afresh; the task running the fork goes on
-- only as plain code (serve's workers, lua/netsock/workers.lua)
function M.afterfork()
  local old = loop
  loop = assert(core._newloop(tasks, onclose))
  -- the old loop's map lets go of the parent's tasks (the forking call's
  -- stack still holds the old loop), so what only they held is garbage
  for t in pairs(tasks) do old:unwait(t, true) end
  old:close()
  for k in pairs(tasks) do tasks[k] = nil end
  q, qhead, qtail = {}, 1, 1
  parked, closewatch = {}, {}
  cw, watching, nwatching = {}, {}, 0
  live, running, stopping = 0, false, false
  blocked, nblocked, ndaemon, joiners = {}, 0, 0, {}
  for k in pairs(capof) do capof[k] = nil end
  nscopes = 0
  setcap(-1)
  for n in pairs(sighandlers) do
    sighandlers[n] = nil
    core._sigrelease(n)     -- the parent's dispositions, in this process
  end
  sigwatcher, sigpid = nil, nil
end

return M
