-- netsock.tasks: the loop that runs tasks (coroutines) over one epoll set.
--
-- A task is a coroutine registered in the registry set "netsock.tasks".
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

local coroutine, debug, io, setmetatable = coroutine, debug, io, setmetatable
local cocreate, coresume, costatus = coroutine.create, coroutine.resume, coroutine.status
local corunning, coyield = coroutine.running, coroutine.yield
local traceback, monotime = debug.traceback, core.monotime
local WAIT = core._waittoken()
local select, error, type, tostring, pairs, pcall = select, error, type, tostring, pairs, pcall
local getmetatable, unpack = getmetatable, table.unpack

local registry = debug.getregistry()
local tasks = registry["netsock.tasks"]
if type(tasks) ~= "table" then
  tasks = setmetatable({}, { __mode = "k" })
  registry["netsock.tasks"] = tasks
end

local loop = assert(core._newloop())
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
local seq = {}              -- task -> number of its current wait

-- the deadline heap: parallel arrays of deadline, task, wait number, set order
local hd, ht, hs, ho, hn, order = {}, {}, {}, {}, 0, 0

local function less(i, j)
  return hd[i] < hd[j] or (hd[i] == hd[j] and ho[i] < ho[j])
end

local function swap(i, j)
  hd[i], hd[j] = hd[j], hd[i]
  ht[i], ht[j] = ht[j], ht[i]
  hs[i], hs[j] = hs[j], hs[i]
  ho[i], ho[j] = ho[j], ho[i]
end

local function heappush(d, t, s)
  hn = hn + 1
  order = order + 1
  hd[hn], ht[hn], hs[hn], ho[hn] = d, t, s, order
  local i = hn
  while i > 1 do
    local p = i // 2
    if not less(i, p) then break end
    swap(i, p)
    i = p
  end
end

local function heappop()
  hd[1], ht[1], hs[1], ho[1] = hd[hn], ht[hn], hs[hn], ho[hn]
  hd[hn], ht[hn], hs[hn], ho[hn] = nil, nil, nil, nil
  hn = hn - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= hn and less(l, m) then m = l end
    if r <= hn and less(r, m) then m = r end
    if m == i then break end
    swap(i, m)
    i = m
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

-- make every waiter of set[fd] ready (FIFO)
local function wakeall(set, fd)
  local w = set[fd]
  if w == nil then return end
  set[fd] = nil
  if type(w) == "table" then
    for i = 1, w.n do
      local t = w[i]
      waitfd[t] = nil
      seq[t] = seq[t] + 1
      if rd[fd] ~= nil then dropwaiter(rd, fd, t) end
      if wr[fd] ~= nil then dropwaiter(wr, fd, t) end
      push(t)
    end
  else
    waitfd[w] = nil
    seq[w] = seq[w] + 1   -- its heap entry, if any, goes stale
    if rd[fd] ~= nil then dropwaiter(rd, fd, w) end
    if wr[fd] ~= nil then dropwaiter(wr, fd, w) end
    push(w)
  end
end

-- a task's wait: file it under its descriptor and/or timer (the C core
-- has made sure the loop's epoll set watches the descriptor)
local function suspend(t, fd, ev, deadline)
  if fd >= 0 then
    waitfd[t] = fd
    if ev & 1 ~= 0 then addwaiter(rd, fd, t) end
    if ev & 2 ~= 0 then addwaiter(wr, fd, t) end
  end
  if deadline >= 0 then
    local s = seq[t] + 1
    seq[t] = s
    heappush(deadline, t, s)
  end
end

-- called by the C core right before a socket that tasks wait on is
-- closed: those tasks wake and their calls find the socket closed
local function onclose(fd)
  wakeall(rd, fd)
  wakeall(wr, fd)
  local t = closewatch[fd]
  if t then
    closewatch[fd] = nil
    if parked[t] then
      parked[t] = nil
      seq[t] = seq[t] + 1   -- a park with a deadline: its heap entry goes stale
      push(t)
    end
  end
end
registry["netsock.onclose"] = onclose

local function finish(t, ok, err)
  live = live - 1
  tasks[t] = nil
  seq[t] = nil
  parked[t] = nil
  if not ok then
    io.stderr:write("netsock task failed: ", traceback(t, tostring(err)), "\n")
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
  if type(fn) ~= "function" and not (getmetatable(fn) or {}).__call then
    error(("bad argument #1 to 'spawn' (function expected, got %s)")
      :format(type(fn) == "nil" and "no value" or type(fn)), 2)
  end
  local t
  local n = select("#", ...)
  if n == 0 then t = cocreate(fn)
  else
    local args = { ... }
    t = cocreate(function() return fn(unpack(args, 1, n)) end)
  end
  tasks[t] = true
  seq[t] = 0
  live = live + 1
  push(t)
  return t
end

-- wake a task parked with park(); true if it was parked
function M.wake(t)
  if parked[t] then
    parked[t] = nil
    seq[t] = seq[t] + 1   -- a park with a deadline: its heap entry goes stale
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
    while hn > 0 and hd[1] <= now do
      local t, s = ht[1], hs[1]
      heappop()
      if seq[t] == s then         -- still that wait: it timed out
        local fd = waitfd[t]
        if fd then
          waitfd[t] = nil
          dropwaiter(rd, fd, t)
          dropwaiter(wr, fd, t)
        end
        seq[t] = s + 1
        push(t)
      end
    end
  end
end

-- netsock.run([fn, ...]): run the loop until no task is left or stop()
function M.run(fn, ...)
  if running then error("netsock.run: the loop is running already", 2) end
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
  if timeout ~= nil and (type(timeout) ~= "number" or not (timeout >= 0)) then
    error(("bad argument #1 to 'step' (%s)"):format(type(timeout) == "number"
      and "negative or NaN timeout" or "number expected, got " .. type(timeout)), 2)
  end
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

-- for serve's idle limit: a stamp of the wait a task is in on fd right
-- now (read or write), or nil when no task waits on fd. The stamp stays
-- the same for as long as that one wait lasts.
function M.waitstamp(fd)
  local t = rd[fd] or wr[fd]
  if type(t) == "table" then t = t[1] end
  if t == nil then return nil end
  return seq[t], t
end

-- in a child process after fork(): forget the parent's loop (its epoll
-- set is shared with the parent: never touch it) and every task, and
-- start afresh; the task running the fork goes on only as plain code
function M.afterfork()
  local old = loop
  loop = assert(core._newloop())
  if old.close then old:close() end
  for k in pairs(tasks) do tasks[k] = nil end
  q, qhead, qtail = {}, 1, 1
  rd, wr, waitfd, seq, parked, closewatch = {}, {}, {}, {}, {}, {}
  hd, ht, hs, ho, hn, order = {}, {}, {}, {}, 0, 0
  live, running, stopping = 0, false, false
end

-- counts, for tests and curious users
function M.stats()
  return { live = live, ready = qtail - qhead, timers = hn }
end

return M
