-- netsock.tasks: the loop that runs tasks (coroutines) over one epoll set.
--
-- A task is a coroutine in the weak set 'tasks', which the C core is
-- handed with the loop (core._newloop) to tell tasks from coroutines.
-- When a netsock call inside it would block, the C core yields four
-- values: the wait token, a descriptor (-1 for a pure timer), the
-- events (1 read, 2 write, 3 both) and a deadline (monotonic seconds,
-- < 0 for none). The loop resumes the coroutine with no values once the
-- descriptor is ready or the deadline has passed; the call's
-- continuation then tries again. Any other yield (coroutine.yield() in
-- the task's own code) just puts the task at the back of the ready
-- queue.
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
local cocreate, coresume, costatus = coroutine.create, coroutine.resume, coroutine.status
local coclose = coroutine.close
local corunning, coyield = coroutine.running, coroutine.yield
local traceback, monotime = debug.traceback, core.monotime
local WAIT = core._waittoken()
local select, error, type, tostring, pairs = select, error, type, tostring, pairs
local pcall, unpack = pcall, table.unpack

local tasks = setmetatable({}, { __mode = "k" })  -- the task threads
local events = {}           -- scratch for loop:wait: fd, ev, fd, ev, ...

-- ready queue: a FIFO ring of tasks in q[qhead .. qtail-1]
local q, qhead, qtail = {}, 1, 1
local function push(t)
  q[qtail] = t
  qtail = qtail + 1
end

-- waiters by descriptor. rd[fd] / wr[fd] is a task, or a list table
-- {n = k, t1, ..., tk} when several wait (rare: shared sockets).
local rd, wr = {}, {}
local waitfd = {}           -- task -> fd it waits on
local waitno, nwaits = {}, 0  -- task -> number of its current wait (serve's idle)

-- The deadline heap: parallel arrays of deadline, task and set order,
-- and hpos[task] = its index. A task has at most one timer, that of its
-- current wait, and a wait that ends any other way (its descriptor is
-- ready or closed, the task ends or is cancelled) takes it out at once:
-- no timer outlives its wait, so none keeps a task (and its
-- descriptors) alive, and the heap holds no more than the tasks that
-- wait with a deadline right now.
local hd, ht, ho, hpos, hn, order = {}, {}, {}, {}, 0, 0

local function less(i, j)
  return hd[i] < hd[j] or (hd[i] == hd[j] and ho[i] < ho[j])
end

local function swap(i, j)
  hd[i], hd[j] = hd[j], hd[i]
  ht[i], ht[j] = ht[j], ht[i]
  ho[i], ho[j] = ho[j], ho[i]
  hpos[ht[i]], hpos[ht[j]] = i, j
end

local function siftup(i)
  while i > 1 do
    local p = i // 2
    if not less(i, p) then break end
    swap(i, p)
    i = p
  end
end

local function siftdown(i)
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= hn and less(l, m) then m = l end
    if r <= hn and less(r, m) then m = r end
    if m == i then break end
    swap(i, m)
    i = m
  end
end

local function heappush(d, t)
  hn = hn + 1
  order = order + 1
  hd[hn], ht[hn], ho[hn] = d, t, order
  hpos[t] = hn
  siftup(hn)
end

-- take task t's timer out of the heap, if it has one
local function heapremove(t)
  local i = hpos[t]
  if i == nil then return end
  hpos[t] = nil
  if i ~= hn then
    hd[i], ht[i], ho[i] = hd[hn], ht[hn], ho[hn]
    hpos[ht[i]] = i
  end
  hd[hn], ht[hn], ho[hn] = nil, nil, nil
  hn = hn - 1
  if i <= hn then
    siftdown(i)
    siftup(i)
  end
end

local live = 0              -- tasks not yet ended
local running = false
local stopping = false
local PARK = {}             -- private yield value: wait for wake()
local parked = {}           -- task -> true while parked
local closewatch = {}       -- fd -> task to wake when fd is closed (serve)

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

-- end task t's current wait, whatever it waits on: its descriptor
-- entries and its timer go (the one place that undoes a suspend)
local function unwait(t)
  local fd = waitfd[t]
  if fd ~= nil then
    waitfd[t] = nil
    if rd[fd] ~= nil then dropwaiter(rd, fd, t) end
    if wr[fd] ~= nil then dropwaiter(wr, fd, t) end
  end
  heapremove(t)
end

-- make every waiter of set[fd] ready (FIFO)
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

-- a task's wait: file it under its descriptor and/or timer (the C core
-- has made sure the loop's epoll set watches the descriptor)
local function suspend(t, fd, ev, deadline)
  if fd >= 0 then
    nwaits = nwaits + 1
    waitno[t] = nwaits
    waitfd[t] = fd
    if ev & 1 ~= 0 then addwaiter(rd, fd, t) end
    if ev & 2 ~= 0 then addwaiter(wr, fd, t) end
  end
  if deadline >= 0 then heappush(deadline, t) end
end

-- called by the C core right before a descriptor that tasks wait on
-- leaves netsock's hands (closed, detached, its file or poller closed):
-- those tasks wake and their calls find it gone
local function onclose(fd)
  wakeall(rd, fd)
  wakeall(wr, fd)
  local t = closewatch[fd]
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
local loop = assert(core._newloop(tasks, onclose))

-- text for an error value, whatever it is: tostring may raise (a
-- __tostring that errors, or returns no string) and must not take the
-- loop down with the task
local function describe(err)
  local ok, s = pcall(tostring, err)
  if ok and type(s) == "string" then return s end
  return ("(error object is a %s value; tostring failed on it)"):format(type(err))
end

local function finish(t, ok, err)
  live = live - 1
  tasks[t] = nil
  parked[t] = nil
  waitno[t] = nil
  unwait(t)
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

-- resume one task and file it according to what it yielded
local function step(t)
  local ok, a, fd, ev, deadline = coresume(t)
  if a == WAIT then return suspend(t, fd, ev, deadline) end
  if costatus(t) == "dead" then return finish(t, ok, a) end
  if a == PARK then parked[t] = true  -- until wake(t)
  else push(t) end              -- a plain yield: back of the queue
end

local M = {}

-- netsock.spawn(fn, ...): a new task running fn(...); returns it
function M.spawn(fn, ...)
  check.callable("spawn", 1, fn)
  local t
  local n = select("#", ...)
  if n == 0 then
    if type(fn) == "function" then t = cocreate(fn)
    else t = cocreate(function() return fn() end) end  -- a callable object
  else
    local args = { ... }
    t = cocreate(function() return fn(unpack(args, 1, n)) end)
  end
  tasks[t] = true
  live = live + 1
  push(t)
  return t
end

-- wake a task parked with park(); true if it was parked
function M.wake(t)
  if parked[t] then
    parked[t] = nil
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
  if parked[t] then parked[t] = nil return false end
  return true
end

-- one turn: run the ready tasks, then poll (at most 'maxwait' seconds
-- when given) and fire due timers
local function turn(maxwait)
  local last = qtail - 1
  while qhead <= last do
    local t = q[qhead]
    q[qhead] = nil
    qhead = qhead + 1
    if tasks[t] then step(t) end
    if stopping then return end
  end
  if qhead == qtail then qhead, qtail = 1, 1 end
  if live == 0 then return end
  -- how long the loop may wait: not at all when tasks are ready
  local timeout = -1
  if qhead < qtail then timeout = 0
  elseif hn > 0 then
    timeout = hd[1] - monotime()
    if timeout < 0 then timeout = 0 end
  end
  if maxwait and (timeout < 0 or timeout > maxwait) then timeout = maxwait end
  local n = loop:wait(timeout, events)
  for i = 1, 2 * n, 2 do
    local fd, ev = events[i], events[i + 1]
    if ev & 1 ~= 0 then wakeall(rd, fd) end
    if ev & 2 ~= 0 then wakeall(wr, fd) end
  end
  if hn > 0 then
    local now = monotime()
    while hn > 0 and hd[1] <= now do  -- due: those waits timed out
      local t = ht[1]
      unwait(t)
      push(t)
    end
  end
end

-- netsock.run([fn, ...]): run the loop until no task is left or stop()
function M.run(fn, ...)
  if running then error("netsock.run: the loop is running already", 2) end
  check.optcallable("run", 1, fn)
  if fn ~= nil then M.spawn(fn, ...) end
  running, stopping = true, false
  local ok, err = pcall(function()
    while live > 0 and not stopping do turn() end
  end)
  running, stopping = false, false
  if not ok then error(err, 0) end
  return true
end

-- netsock.step([timeout]): one turn of the loop, for a program whose
-- main loop is somebody else's: runs the tasks that are ready, then
-- waits for I/O at most 'timeout' seconds (default 0: not at all) and
-- fires due timers. Returns true while tasks are left, false once none is.
function M.step(timeout)
  check.opttimeout("step", 1, timeout)
  if running then error("netsock.step: the loop is running already", 2) end
  running, stopping = true, false
  local ok, err = pcall(turn, timeout or 0)
  running, stopping = false, false
  if not ok then error(err, 0) end
  return live > 0
end

-- netsock.stop(): run returns after the current step
function M.stop()
  stopping = true
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
  local t = rd[fd] or wr[fd]
  if type(t) == "table" then t = t[1] end
  if t == nil then return nil end
  return waitno[t], t
end

-- in a child process after fork(): forget the parent's loop (its epoll
-- set is shared with the parent: never touch it) and every task, and
-- start afresh; the task running the fork goes on only as plain code
function M.afterfork()
  local old = loop
  loop = assert(core._newloop(tasks, onclose))
  old:close()
  for k in pairs(tasks) do tasks[k] = nil end
  q, qhead, qtail = {}, 1, 1
  rd, wr, waitfd, waitno, parked, closewatch = {}, {}, {}, {}, {}, {}
  hd, ht, ho, hpos, hn, order = {}, {}, {}, {}, 0, 0
  live, running, stopping = 0, false, false
end

-- counts, for tests and curious users
function M.stats()
  return { live = live, ready = qtail - qhead, timers = hn }
end

return M
