-- netsock.sync: tasks working together. Queues, semaphores, events and
-- groups (docs/api.md, "Working together"; docs/concurrency.md shows
-- them in programs). join and timeout live beside the loop, in
-- lua/netsock/tasks.lua.
--
-- Every wait here is one record in a FIFO list (a doubly linked list,
-- so that a wait that ends early leaves in O(1)): a waiter is served in
-- the order it came, whatever its task's priority in the ready queue.
-- The side that ends a wait (a put, a release, a set) unlinks the
-- record, marks it done, hands it what it waited for (a value, a unit)
-- and wakes its task. The waiting side closes the record however the
-- wait ends (<close>): woken, timed out, or its task cancelled
-- (netsock.cancel closes the coroutine: the call never returns). A
-- record closed undone leaves the list; one closed done but whose task
-- never got to take what it was handed (cancelled in between) hands it
-- on: the value goes back to the head of the queue, the unit to the
-- next waiter. So no cancel loses a value or a unit, and no wait
-- leaves a record or a timer behind.
--
-- Outside tasks a wait runs the loop (tasks.rununtil) until its record
-- is done: the same record, served in the same order.

local tasks = require "netsock.tasks"
local check = require "netsock.check"

local setmetatable, getmetatable = setmetatable, getmetatable
local error = error
local mathtype, format = math.type, string.format
local corunning = coroutine.running
local current, wake, await = tasks.current, tasks.wake, tasks.await
local spawn, cancel, deadlineof = tasks.spawn, tasks.cancel, tasks.deadline
local waitpassed = tasks.waitpassed
local CANCELLED = tasks.CANCELLED
local _ENV = nil

-- {====== Wait lists ======

local function newlist() return { n = 0 } end

local function append(list, node)
  node.list = list
  local tail = list.tail
  node.prev = tail
  if tail then tail.next = node else list.head = node end
  list.tail = node
  list.n = list.n + 1
end

local function unlink(node)
  local list = node.list
  if list == nil then return end
  node.list = nil
  local p, n = node.prev, node.next
  if p then p.next = n else list.head = n end
  if n then n.prev = p else list.tail = p end
  node.prev, node.next = nil, nil
  list.n = list.n - 1
end

-- end the first waiter's wait with 'value'; the record, or nil when
-- nobody waits
local function serve(list, value)
  local node = list.head
  if node == nil then return nil end
  unlink(node)
  node.done, node.value = true, value
  if node.task then wake(node.task) end
  return node
end

-- end every wait on 'list' as closed (q:close)
local function closeall(list)
  while list.head do
    local node = list.head
    node.closed = true
    serve(list, nil)
  end
end

-- what closing a record does (see the top): 'handback(node)' gives back
-- what a done record's cancelled task did not take
local function closenode(node)
  if node.list then unlink(node)
  elseif node.done and not node.taken and node.handback then
    node.taken = true
    node.handback(node)
  end
end
local recordmeta = { __close = closenode }

-- wait on 'list' with record 'node' until it is done or the monotonic
-- time 'deadline' (nil: none) passes (a passed scope's: after one
-- yield when 'once', tasks.waitpassed); fname names the call outside
-- tasks. Returns true when done. The caller holds the record <close>.
local function waiton(list, node, deadline, fname, once)
  append(list, node)
  local t = current()
  if t then
    node.task = t
    local waited = false
    while not node.done do
      if waitpassed(deadline, once, waited) then break end
      waited = true
      await(deadline)
    end
  else  -- errors at the caller of the method (level 4 from rununtil)
    tasks.rununtil(function() return node.done end, deadline, fname, 4)
  end
  if node.done then node.taken = true return true end
  unlink(node)
  return false
end

local function record(handback)
  return setmetatable({ handback = handback }, recordmeta)
end

-- }======

local TIMEOUT, CLOSED = "timeout", "closed"

-- {====== Queue ======

local Queue = {}
Queue.__index = Queue
Queue.__name = "netsock.queue"

-- netsock.queue([capacity]): values in q.items[q.first .. q.last]
local function queue(capacity)
  if capacity ~= nil then
    check.integer("queue", 1, capacity, 1, nil)
  end
  return setmetatable({ items = {}, first = 1, last = 0, cap = capacity,
                        getters = newlist(), putters = newlist(),
                        closed = false }, Queue)
end

local function checkqueue(q, fname)
  if getmetatable(q) ~= Queue then check.typeerror(fname, 1, "netsock.queue", q, 3) end
end

local function pushback(q, v)
  q.last = q.last + 1
  q.items[q.last] = v
end

local function popfront(q)
  local i = q.first
  local v = q.items[i]
  q.items[i] = nil
  q.first = i + 1
  if q.first > q.last then q.first, q.last = 1, 0 end
  return v
end

-- a value back at the head (its getter was cancelled before taking it):
-- to the next getter, else first in line again
local function pushfront(q, v)
  if serve(q.getters, v) then return end
  q.first = q.first - 1
  q.items[q.first] = v
end

-- room freed: the longest-waiting putter's value joins the queue
local function admit(q)
  local node = serve(q.putters)
  if node then pushback(q, node.v) end
end

function Queue.__len(q) return q.last - q.first + 1 end

function Queue.__tostring(q)
  return format("netsock.queue (%d queued%s%s)", q.last - q.first + 1,
    q.cap and (", capacity " .. q.cap) or "", q.closed and ", closed" or "")
end

-- q:put(v [, timeout]): true, or nil, "timeout", "timeout" / nil,
-- "closed", "closed"
function Queue.put(q, v, timeout)
  checkqueue(q, "put")
  if v == nil then check.argerror("put", 1, "nil cannot be put in a queue") end
  check.opttimeout("put", 2, timeout)
  if q.closed then return nil, CLOSED, CLOSED end
  if serve(q.getters, v) then return true end   -- a getter waits: it is yours
  if q.cap == nil or q.last - q.first + 1 < q.cap then
    pushback(q, v)
    return true
  end
  local deadline, once = deadlineof(timeout)
  local node <close> = record(nil)  -- a done put has delivered its value
  node.v = v
  if waiton(q.putters, node, deadline, "q:put", once) then
    if node.closed then return nil, CLOSED, CLOSED end
    return true
  end
  return nil, TIMEOUT, TIMEOUT
end

local function giveback(node)
  if not node.closed then pushfront(node.q, node.value) end
end

-- q:get([timeout]): the value, or nil, "timeout", "timeout" / nil,
-- "closed", "closed" once closed and drained
function Queue.get(q, timeout)
  checkqueue(q, "get")
  check.opttimeout("get", 1, timeout)
  if q.last >= q.first then
    local v = popfront(q)
    admit(q)
    return v
  end
  if q.closed then return nil, CLOSED, CLOSED end
  local deadline, once = deadlineof(timeout)
  local node <close> = record(giveback)
  node.q = q
  if waiton(q.getters, node, deadline, "q:get", once) then
    if node.closed then return nil, CLOSED, CLOSED end
    return node.value
  end
  return nil, TIMEOUT, TIMEOUT
end

-- q:close(): no more puts; the getters drain what is left. Waiting
-- putters return nil, "closed", "closed" (their values are dropped);
-- waiting getters (the queue is empty) too. Returns true.
function Queue.close(q)
  checkqueue(q, "close")
  if q.closed then return true end
  q.closed = true
  closeall(q.putters)
  closeall(q.getters)
  return true
end

-- }======

-- {====== Semaphore ======

local Semaphore = {}
Semaphore.__index = Semaphore
Semaphore.__name = "netsock.semaphore"

local function semaphore(n)
  n = check.integer("semaphore", 1, n, 0, nil)
  return setmetatable({ units = n, waiters = newlist() }, Semaphore)
end

local function checksem(s, fname)
  if getmetatable(s) ~= Semaphore then check.typeerror(fname, 1, "netsock.semaphore", s, 3) end
end

function Semaphore.__tostring(s)
  return format("netsock.semaphore (%d free, %d waiting)", s.units, s.waiters.n)
end

-- sem:release(): a unit back; the longest waiter takes it at once
function Semaphore.release(s)
  checksem(s, "release")
  if not serve(s.waiters, true) then s.units = s.units + 1 end
  return true
end

local function passon(node) Semaphore.release(node.sem) end

-- sem:acquire([timeout]): true, or nil, "timeout", "timeout"
function Semaphore.acquire(s, timeout)
  checksem(s, "acquire")
  check.opttimeout("acquire", 1, timeout)
  if s.units > 0 and s.waiters.head == nil then
    s.units = s.units - 1
    return true
  end
  local deadline, once = deadlineof(timeout)
  local node <close> = record(passon)
  node.sem = s
  if waiton(s.waiters, node, deadline, "sem:acquire", once) then return true end
  return nil, TIMEOUT, TIMEOUT
end

-- }======

-- {====== Event ======

local Event = {}
Event.__index = Event
Event.__name = "netsock.event"

local function event()
  return setmetatable({ flag = false, waiters = newlist() }, Event)
end

local function checkev(e, fname)
  if getmetatable(e) ~= Event then check.typeerror(fname, 1, "netsock.event", e, 3) end
end

function Event.__tostring(e)
  return format("netsock.event (%s, %d waiting)", e.flag and "set" or "clear", e.waiters.n)
end

function Event.set(e)
  checkev(e, "set")
  e.flag = true
  while serve(e.waiters, true) do end
  return true
end

function Event.clear(e)
  checkev(e, "clear")
  e.flag = false
  return true
end

function Event.isset(e)
  checkev(e, "isset")
  return e.flag
end

function Event.wait(e, timeout)
  checkev(e, "wait")
  check.opttimeout("wait", 1, timeout)
  if e.flag then return true end
  local node <close> = record(nil)
  local deadline, once = deadlineof(timeout)
  if waiton(e.waiters, node, deadline, "ev:wait", once) then return true end
  return nil, TIMEOUT, TIMEOUT
end

-- }======

-- {====== Group ======
--
-- A group knows its tasks (members, in spawn order) and how many are
-- left. The loop tells it when one ends (tasks.own): an error is the
-- group's, not printed; the first one cancels the others at once and
-- stays the group's answer.

local Group = {}
Group.__index = Group
Group.__name = "netsock.group"

local function checkgroup(g, fname)
  if getmetatable(g) ~= Group then check.typeerror(fname, 1, "netsock.group", g, 3) end
end

function Group.__tostring(g)
  return format("netsock.group (%d running%s)", g.left,
    g.failed and ", failed" or (g.closed and ", closed" or ""))
end

-- cancel every task of the group but the running one (a task cannot
-- cancel itself), in spawn order
local function cancelall(g)
  local me = corunning()
  local order = g.order
  for i = 1, #order do
    local t = order[i]
    if g.members[t] and t ~= me then cancel(t) end
  end
end

local function ended(g, t, fate)
  if not g.members[t] then return end
  g.members[t] = nil
  g.left = g.left - 1
  if fate ~= CANCELLED and fate[1] == false and not g.failed then
    -- the first raise: its error is the group's; the others go now
    g.failed, g.err = true, fate[2]
    cancelall(g)
  end
  if g.left == 0 or g.failed then
    while serve(g.waiters, true) do end
  end
end

local function group()
  local g = setmetatable({ members = {}, order = {}, left = 0, failed = false,
                           closed = false, waiters = newlist() }, Group)
  g.onend = function(t, fate) return ended(g, t, fate) end
  return g
end

-- g:spawn(fn, ...): a task of the group; returns it
function Group.spawn(g, fn, ...)
  checkgroup(g, "spawn")
  check.callable("spawn", 1, fn)
  if g.closed then error("netsock.group: spawn in a group whose scope has ended", 2) end
  if g.left == 0 then g.order = {} end  -- forget the tasks that ended
  local t = spawn(fn, ...)
  g.members[t] = true
  g.order[#g.order + 1] = t
  g.left = g.left + 1
  tasks.own(t, g.onend)
  if g.failed then cancel(t) end     -- a failed group starts nothing
  return t
end

-- g:cancel(): cancels every task of the group; true
function Group.cancel(g)
  checkgroup(g, "cancel")
  cancelall(g)
  return true
end

-- g:wait([timeout]): true when every task ended, false, err after the
-- first raise, nil, "timeout", "timeout" (all cancelled)
function Group.wait(g, timeout)
  checkgroup(g, "wait")
  check.opttimeout("wait", 1, timeout)
  local me = current()
  if me and g.members[me] then
    check.argerror("wait", 1, "a task of the group cannot wait for it")
  end
  local deadline, once = deadlineof(timeout)
  while g.left > 0 and not g.failed do
    local node <close> = record(nil)
    if not waiton(g.waiters, node, deadline, "g:wait", once) then
      cancelall(g)
      if g.failed then break end
      return nil, TIMEOUT, TIMEOUT
    end
  end
  if g.failed then return false, g.err end
  return true
end

-- local g <close> = netsock.group(): cancels (and so ends) its tasks
-- when the scope ends
function Group.__close(g)
  g.closed = true
  cancelall(g)
end

-- }======

return { queue = queue, semaphore = semaphore, event = event, group = group,
         Queue = Queue, Semaphore = Semaphore, Event = Event, Group = Group }
