-- spec/prop_spec.lua: a randomized property test of file objects.
-- A python3 peer (seeded) sends a random stream in random chunk sizes
-- with random pauses; the reader uses a random mix of read formats,
-- s:recv and short timeouts (and sometimes a small line limit). Every
-- piece read must be the next bytes of the stream, and all of it must
-- come out: nothing lost, nothing twice, nothing out of order.
--
-- Fixed seeds here; more with `make prop SEEDS=N` (N new seeds, printed)
-- or exactly those given: `make prop PROP_SEEDS="12 345"`.
local H = require "helpers"
local ns = H.netsock

local function seedlist() return H.seedlist("PROP", { 1, 2, 3, 4, 5 }) end

local PEER = [[
import random, socket, sys, time
port, path, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
data = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", port))
i = 0
while i < len(data):
    n = rng.randint(1, rng.choice([1, 3, 10, 100, 1000, 5000]))
    s.sendall(data[i:i + n])
    i += n
    if rng.random() < 0.05:
        time.sleep(rng.random() * 0.03)
s.close()
]]

-- the random stream: lines of varied length with "\n", "\r\n" or no
-- end, lone CRs and NULs inside, sometimes no final newline
local function genstream(rnd, size)
  local parts, n = {}, 0
  while n < size do
    local k = rnd(100)
    local len = k <= 70 and rnd(0, 80) or k <= 95 and rnd(0, 1500) or rnd(0, 9000)
    local t = {}
    for i = 1, len do
      local r = rnd(100)
      t[i] = r == 1 and "\r" or r == 2 and "\0" or string.char(rnd(32, 126))
    end
    local e = rnd(10)
    local line = table.concat(t) .. (e <= 6 and "\n" or e <= 9 and "\r\n" or "")
    parts[#parts + 1] = line
    n = n + #line
  end
  if rnd(2) == 1 then parts[#parts + 1] = "tail without end" end
  return table.concat(parts)
end

local function run(seed)
  local rng = math.random
  math.randomseed(seed)
  local stream = genstream(rng, rng(20000, 200000))
  local file = H.tmpname(".bin")
  H.writefile(file, stream)
  local srv, port = H.listen_local()
  local p = H.python(PEER, port, file, seed)
  srv:settimeout(5)
  local c = assert(srv:accept())
  srv:close()
  local ok, err = pcall(function()
    local f = c:makefile("r")
    local limit = 1 << 20
    if rng(3) == 1 then
      limit = rng(50, 3000)
      f:setlimit(limit)
    end
    f:setvbuf("full", ({ 7, 64, 1000, 65536 })[rng(4)])
    local pos, total = 1, #stream
    local function expect(x, what)
      local want = stream:sub(pos, pos + #x - 1)
      if x ~= want then
        error(("%s at byte %d: got %q, want %q"):format(what, pos, x:sub(1, 60), want:sub(1, 60)))
      end
      pos = pos + #x
    end
    local function check(fmt, x)
      if fmt == "l" then
        local nl = stream:find("\n", pos, true)
        if nl then
          assert(nl - pos + 1 <= limit, "a line over the limit was read")
          local line = stream:sub(pos, nl - 1):gsub("\r$", "")
          assert(x == line, ("line at %d: got %q, want %q"):format(pos, x:sub(1, 60), line:sub(1, 60)))
          pos = nl + 1
        else
          expect(x, "last line")
          assert(pos == total + 1, "l stopped before the end")
        end
      elseif fmt == "L" then
        expect(x, "L")
        assert(x:sub(-1) == "\n" or pos == total + 1, "L without its end")
      elseif fmt == "a" then
        expect(x, "a")
        assert(pos == total + 1, "a stopped before the end")
      else
        expect(x, "count")
        assert(#x == fmt or (pos == total + 1 and #x <= fmt), "short count read")
      end
    end
    local deadline, closed = ns.monotime() + 60, false
    while not closed do
      assert(ns.monotime() < deadline, "did not finish")
      c:settimeout(({ 0, 0.001, 0.005, 0.02, 0.2 })[rng(5)])
      local k = rng(100)
      if k <= 10 then  -- s:recv on the same socket
        local x, _, code = c:recv(rng(1, 3000))
        if x then expect(x, "recv")
        elseif code == "closed" then closed = true
        else assert(code == "timeout", code) end
      else
        local fmts = {}
        for i = 1, (k <= 20 and rng(2, 4) or 1) do
          local r = rng(100)
          fmts[i] = r <= 45 and "l" or r <= 70 and "L" or r <= 72 and "a"
            or r <= 74 and 0 or rng(1, 700)
        end
        local res = table.pack(f:read(table.unpack(fmts)))
        local i = 1
        while i <= #fmts and res[i] ~= nil do
          if fmts[i] == 0 then assert(res[i] == "") else check(fmts[i], res[i]) end
          i = i + 1
        end
        if i <= #fmts then
          local msg, code = res[i + 1], res[i + 2]
          if code == "closed" then
            assert(msg == "closed")
            assert(pos == total + 1, ("closed at byte %d of %d"):format(pos, total))
            closed = true
          elseif code == "overflow" then
            local nl = stream:find("\n", pos, true)
            assert(not nl or nl - pos + 1 > limit, "overflow on a short line")
            c:settimeout(5)
            check(limit, assert(f:read(limit)))  -- drain the long line
          else
            assert(code == "timeout", tostring(msg))
          end
        end
      end
    end
    assert.equal(total + 1, pos)
    assert.equal(0, c:pending())
  end)
  c:close()
  p:kill()
  if not ok then
    error(("seed %d: %s\n(rerun: make prop PROP_SEEDS=%d)"):format(seed, tostring(err), seed), 0)
  end
end

describe("file objects, randomized", function()
  for _, seed in ipairs(seedlist()) do
    it("reassemble what the peer sent (seed " .. seed .. ")", function()
      run(seed)
    end)
  end
end)
