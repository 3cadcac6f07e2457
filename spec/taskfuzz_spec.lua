-- spec/taskfuzz_spec.lua: a seeded property test of the task loop
-- (issue 11). Each seed makes a random program: channels (socket pairs,
-- Unix or TCP, with random timeouts), a writer task per channel sending
-- random chunks (1 byte .. 1 MiB+1) through send, sendall, a file
-- object or sendfile, a reader task per channel receiving through
-- recv, recvfrom, f:read(n), f:read("L"), select and a poller, and a
-- disruptor per channel that at a random moment closes or detaches the
-- reader's socket, closes its file or its poller, makes the reader
-- raise, or cancels it (netsock.cancel: coroutine.close), or does the
-- same to the writer (its socket closed, a raise, a cancel), or nothing. Against a
-- model of what was sent it checks that:
--   * no byte is lost, doubled or reordered: each reader got a prefix
--     of what its writer sent, all of it when nothing disrupted them;
--   * every waiter wakes: every task ends before the watchdog fires;
--   * nothing outlives its task: no timer is left in the loop's heap,
--     and the descriptors come back to where they were (less the
--     detached ones, which the program owns now);
--   * nothing crashes (this spec runs under make sanitize too).
--
-- Beside the channels, each program runs tasks that work together
-- (issue 27): producers and a group of consumers over a queue (bounded
-- or not), a semaphore around each job, an event that starts the
-- consumers, join, and netsock.timeout scopes, with random timeouts and
-- a disruptor that cancels a consumer or a producer, or makes a
-- consumer raise (the group then cancels the rest). It checks that no
-- value is lost or doubled (every value put is got once or still
-- queued), that no unit is lost (the semaphore has all its units back),
-- that the semaphore never lets more in than it has, and that no wait
-- outlives its task (no timer, no blocked wait).
--
-- Fixed seeds here; more with `make taskfuzz SEEDS=N` (N new seeds,
-- printed) or exactly those given: `make taskfuzz TASKFUZZ_SEEDS="12 345"`.
local H = require "helpers"
local ns = H.netsock

local function seedlist() return H.seedlist("TASKFUZZ", { 1, 2, 3, 4, 5, 6, 7, 8 }) end

-- a random chunk size: mostly small, now and then around a threshold
local function chunksize(rnd)
  local k = rnd(100)
  if k <= 50 then return rnd(1, 200) end
  if k <= 80 then return rnd(200, 9000) end
  if k <= 95 then return 65536 + rnd(-2, 2) end
  return (1 << 20) + rnd(-1, 1)
end

local function randbytes(rnd, n, salt)
  local unit = {}
  for i = 1, 64 do unit[i] = string.char((rnd(0, 255) + salt) % 256) end
  local u = table.concat(unit)
  return u:rep(n // 64 + 1):sub(1, n)
end

-- one program; returns nothing, raises on a broken promise
local function program(seed)
  math.randomseed(seed)
  local rnd = math.random
  local nchan = rnd(2, 6)
  local chans, tmpfiles = {}, {}
  local detached = 0
  local timeouts = { false, 0.05, 0.5, 5 }

  collectgarbage(); collectgarbage()
  local fd0 = H.fdcount()

  for c = 1, nchan do
    local a, b
    if rnd(3) == 1 then
      local srv, port = H.listen_local()
      b, a = H.pair_tcp(srv, port)
      srv:close()
    else
      a, b = assert(ns.socketpair())
    end
    local istcp = a:getsockname() ~= nil and select(2, a:getsockname()) ~= nil
    local rt = timeouts[rnd(#timeouts)]
    a:settimeout(rt or nil)
    b:settimeout(({ 0.05, 0.5, 10, 10 })[rnd(4)])
    chans[c] = {
      a = a, b = b, sent = {}, got = {}, nsent = 0, ngot = 0, tcp = istcp,
      disrupt = ({ "none", "none", "close", "detach", "fclose", "pclose",
                   "raise", "cancel", "wclose", "wraise", "wcancel" })[rnd(11)],
      delay = rnd(0, 3) * 0.01,
      reader = nil, readerdone = false, writerdone = false,
      uncertain = false, eof = false,
    }
  end

  for c, ch in ipairs(chans) do
    -- the writer
    ch.writer = ns.spawn(function()
      local b = ch.b
      -- however the writer ends (returns, raises, is cancelled), its
      -- socket closes, so the reader sees the end
      local _ <close> = setmetatable({}, { __close = function()
        ch.writerdone = true
        b:close()
      end })
      local nchunks = rnd(1, 5)
      for _ = 1, nchunks do
        if ch.wraise then error("fuzz: the writer raises") end
        -- closed under us: stop (data-path calls on a closed socket
        -- raise here still; issue 17 makes them return "closed")
        if b:fileno() < 0 then break end
        local n = chunksize(rnd)
        local data = randbytes(rnd, n, c)
        ch.pending = data   -- under way: a cancel may cut it anywhere
        local how = rnd(4)
        local ok, sentn
        if how == 1 then          -- send until all went
          local i, okk = 1, true
          while i <= #data do
            if b:fileno() < 0 then okk = false; break end
            local k = b:send(data, i)
            if not k then okk = false; break end
            i = i + k
          end
          ok, sentn = okk, i - 1
        elseif how == 2 then
          local r, _, _, k = b:sendall(data)
          ok, sentn = r, r and #data or k
        elseif how == 3 then
          local f = b:makefile("w")
          f:setvbuf("full", 8192)
          local r = f:write(data) and b:fileno() >= 0 and f:flush()
          ok, sentn = r, #data
          if not r then ch.uncertain = true end
          if b:fileno() >= 0 then f:close() end
        else
          local path = H.tmpname(".fz")
          tmpfiles[#tmpfiles + 1] = path
          H.writefile(path, data)
          local k, _, _, part = b:sendfile(path)
          ok, sentn = k == #data, k or part
        end
        ch.pending = nil
        ch.sent[#ch.sent + 1] = data:sub(1, sentn or 0)
        ch.nsent = ch.nsent + (sentn or 0)
        if not ok then break end
        if rnd(2) == 1 then ns.sleep(rnd(0, 2) * 0.005) else coroutine.yield() end
      end
      if b:fileno() >= 0 and rnd(2) == 1 then b:shutdown("w") end
    end)

    -- the reader
    ch.reader = ns.spawn(function()
      local a = ch.a
      local f = a:makefile("r")
      f:setlimit(2 << 20)
      ch.file = f
      local p = ns.poller()
      ch.poller = p
      -- however the reader ends (returns, raises, is cancelled), its
      -- socket and poller close, so the writer is not left waiting
      local _ <close> = setmetatable({}, { __close = function()
        ch.readerdone = true
        p:close()
        a:close()
      end })
      local timeouts_left = 50
      while true do
        if a:fileno() < 0 then break end     -- closed or detached under us
        if f:fileno() < 0 then               -- the file went: a new one
          f = a:makefile("r")
          f:setlimit(2 << 20)
          ch.file = f
        end
        if ch.raise then error("fuzz: the reader raises") end
        local how, d, msg = rnd(6), nil, nil
        local n = chunksize(rnd)
        if how == 1 then d, msg = a:recv(n)
        elseif how == 2 then d, msg = a:recvfrom(n)
        elseif how == 3 then d, msg = f:read(n)
        elseif how == 4 then d, msg = f:read("L")
        elseif how == 5 then
          local r, _, e = ns.select({ a }, nil, a:gettimeout())
          if a:fileno() < 0 then d, msg = nil, "gone"
          elseif e == "timeout" then d, msg = nil, "timeout"
          else d, msg = a:recv(n) end
        elseif p:fileno() >= 0 then
          p:add(a, "r")
          local r, e = p:wait(a:gettimeout())
          if r == nil then d, msg = nil, "gone"     -- the poller was closed
          elseif a:fileno() < 0 then d, msg = nil, "gone"
          elseif #r == 0 then d, msg = nil, "timeout"
          else d, msg = a:recv(n) end
          if p:fileno() >= 0 and a:fileno() >= 0 then p:remove(a) end
        else
          d, msg = a:recv(n)
        end
        if d then
          ch.got[#ch.got + 1] = d
          ch.ngot = ch.ngot + #d
        elseif msg == "timeout" then
          timeouts_left = timeouts_left - 1
          if timeouts_left == 0 then break end
        elseif msg == "closed" and a:fileno() >= 0 and f:fileno() >= 0 then
          ch.eof = true           -- the end of the stream
          break
        elseif msg ~= "gone" and msg ~= "closed" then
          break                   -- a reset, ...
        end
      end
      a:close()
    end)

    -- the disruptor
    ns.spawn(function()
      ns.sleep(ch.delay)
      local what = ch.disrupt
      if ch.readerdone then return end
      if what == "close" then ch.a:close()
      elseif what == "detach" then
        if ch.a:fileno() >= 0 then
          local fd = ch.a:detach()
          detached = detached + 1
          -- the program owns the descriptor now; it ends the connection
          -- (through a duplicate) so that the writer is not left waiting
          local dup = ns.fromfd(fd, ch.tcp and "inet" or "unix", "stream")
          dup:shutdown("rw")
          dup:close()
        end
      elseif what == "fclose" then if ch.file then ch.file:close() end
      elseif what == "pclose" then if ch.poller then ch.poller:close() end
      elseif what == "raise" then ch.raise = true
      elseif what == "cancel" then ns.cancel(ch.reader)
      elseif what == "wclose" then ch.b:close()
      elseif what == "wraise" then ch.wraise = true
      elseif what == "wcancel" then ns.cancel(ch.writer)
      end
    end)
  end

  -- tasks working together
  local tg = { putok = {}, maybe = {}, got = {}, inside = 0, most = 0 }
  do
    local cap = ({ false, 1, 3, 50 })[rnd(4)]
    local q = ns.queue(cap or nil)
    local units = rnd(1, 3)
    local sem = ns.semaphore(units)
    local ev = ns.event()
    tg.q, tg.sem, tg.units = q, sem, units
    local producers = {}
    for p = 1, rnd(1, 3) do
      producers[p] = ns.spawn(function()
        for i = 1, rnd(1, 20) do
          local v = p * 1000 + i
          tg.maybe[v] = true             -- cancelled mid-put: it may be in
          local ok, _, code = q:put(v, rnd(3) == 1 and rnd(0, 2) * 0.005 or nil)
          tg.maybe[v] = nil
          if ok then tg.putok[v] = true
          elseif code == "closed" then return end
          if rnd(3) == 1 then ns.sleep(rnd(0, 2) * 0.002) end
        end
      end)
    end
    local g = ns.group()
    tg.group = g
    local consumers = {}
    for c = 1, rnd(1, 3) do
      consumers[c] = g:spawn(function()
        assert(ev:wait())
        local scopeend = math.huge      -- a netsock.timeout scope's deadline
        local function loop()
          while true do
            local v, _, code = q:get(rnd(4) == 1 and 0.01 or nil)
            if v then
              assert(not tg.got[v], "a value came out twice")
              tg.got[v] = true
              if rnd(2) == 1 then
                local ok = sem:acquire(rnd(3) == 1 and 0.005 or nil)
                if ok then
                  local _ <close> = setmetatable({}, { __close = function()
                    tg.inside = tg.inside - 1
                    sem:release()
                  end })
                  tg.inside = tg.inside + 1
                  if tg.inside > tg.most then tg.most = tg.inside end
                  ns.sleep(rnd(0, 2) * 0.002)
                end
              end
              if tg.raise == c then error("fuzz: a consumer raises") end
            elseif code == "closed" then return "closed"
            elseif ns.monotime() >= scopeend then return end  -- every wait fails now

          end
        end
        if rnd(3) == 1 then
          local d = rnd(1, 5) * 0.01
          scopeend = ns.monotime() + d
          local r, code = ns.timeout(d, loop)
          if r == nil and code == "timeout" then return end
        else loop() end
      end)
    end
    ns.spawn(function() ns.sleep(rnd(0, 2) * 0.005); ev:set() end)
    ns.spawn(function()                  -- the producers done: no more values
      for _, t in ipairs(producers) do ns.join(t) end
      q:close()
    end)
    ns.spawn(function()                  -- the consumers gone: nobody drains
      local ok = g:wait()
      tg.groupok = ok
      q:close()
    end)
    ns.spawn(function()                  -- the disruptor
      ns.sleep(rnd(0, 3) * 0.005)
      local what = rnd(4)
      if what == 1 then ns.cancel(consumers[rnd(#consumers)])
      elseif what == 2 then ns.cancel(producers[rnd(#producers)])
      elseif what == 3 then tg.raise = rnd(#consumers) end
    end)
  end

  -- the watchdog: every waiter must wake (every task must end)
  local timedout = false
  ns.spawn(function()
    local deadline = ns.monotime() + (tonumber(os.getenv("NETSOCK_TASKFUZZ_WATCHDOG") or "") or 60)
    while ns._tasks.stats().live > 1 do
      if ns.monotime() > deadline then timedout = true; break end
      ns.sleep(0.01)
    end
    ns.stop()
  end)
  local err = H.capture_stderr(ns.run)
  if timedout then
    local l = {}
    for c, ch in ipairs(chans) do
      l[#l + 1] = ("channel %d: %s, reader timeout %s, reader %s, writer %s")
        :format(c, ch.disrupt, tostring(ch.a:fileno() >= 0 and ch.a:gettimeout()),
                ch.readerdone and "done" or "waiting", ch.writerdone and "done" or "waiting")
    end
    error(("seed %d: a task never woke:\n%s\n%s"):format(seed, tostring(ns.tasks()),
      table.concat(l, "\n")), 0)
  end
  -- working together: nothing lost, doubled or let in beyond the units
  do
    local left = {}
    while #tg.q > 0 do left[tg.q:get(0)] = true end
    for v in pairs(tg.putok) do
      assert(tg.got[v] or left[v], ("seed %d: value %d was put and never came out"):format(seed, v))
    end
    for v in pairs(tg.got) do
      assert(not left[v], ("seed %d: value %d came out and stayed"):format(seed, v))
    end
    for v in pairs(left) do
      assert(tg.putok[v] or tg.maybe[v], ("seed %d: value %d came from nowhere"):format(seed, v))
    end
    assert(tg.most <= tg.units, ("seed %d: %d inside a semaphore of %d"):format(seed, tg.most, tg.units))
    for _ = 1, tg.units do
      assert(tg.sem:acquire(0), ("seed %d: the semaphore lost a unit"):format(seed))
    end
    assert(not tg.sem:acquire(0), ("seed %d: the semaphore gained a unit"):format(seed))
    assert(ns._tasks.stats().blocked == 0, ("seed %d: a wait outlived its task"):format(seed))
  end
  -- the only task failures are the readers made to raise
  local failures = select(2, err:gsub("netsock task failed", ""))
  local raised = select(2, err:gsub("fuzz: the %a+ raises", ""))
  assert(failures == raised, ("seed %d: %s"):format(seed, err))

  for c, ch in ipairs(chans) do
    local sent, got = table.concat(ch.sent) .. (ch.pending or ""), table.concat(ch.got)
    local where = ("seed %d, channel %d (%s)"):format(seed, c, ch.disrupt)
    assert(ch.readerdone, where .. ": the reader never ended")
    assert(ch.writerdone, where .. ": the writer never ended")
    if not ch.uncertain then
      assert(#got <= #sent and sent:sub(1, #got) == got,
        ("%s: the reader got %d bytes that are not a prefix of the %d sent")
          :format(where, #got, #sent))
      if ch.eof and ch.disrupt == "none" and not ch.pending then
        assert(#got == #sent, ("%s: %d of %d bytes arrived"):format(where, #got, #sent))
      end
    end
    ch.a:close(); ch.b:close()
  end
  for _, path in ipairs(tmpfiles) do os.remove(path) end
  assert(ns._tasks.stats().timers == 0,
    ("seed %d: %d timers outlived their tasks"):format(seed, ns._tasks.stats().timers))
  chans = nil
  collectgarbage(); collectgarbage()
  local fd1 = H.fdcount_settled(fd0 + detached)
  assert(fd1 == fd0 + detached, ("seed %d: %d descriptors before, %d after (%d detached)")
    :format(seed, fd0, fd1, detached))
end

describe("task loop fuzzer (issue 11)", function()
  for _, seed in ipairs(seedlist()) do
    it("seed " .. seed, function()
      local ok, err = pcall(program, seed)
      if not ok then  -- end what the failed program left, for the next seeds
        for _, e in ipairs(ns.tasks()) do
          if not e.daemon then pcall(ns.cancel, e.task) end
        end
        error(err, 0)
      end
    end)
  end
end)
