-- bench/impl/netsock.lua: the netsock side of the benchmarks, written as
-- a user would: blocking sockets (the default timeout), recv, sendall,
-- sendto, recvfrom. Modes and output as in bench/impl/c.c.
-- BENCH_SOCK_TIMEOUT=S (the timed variants): every socket gets
-- s:settimeout(S) where it is made or accepted, as users write it.
local netsock = require "netsock"

local TIMEOUT = tonumber(os.getenv("BENCH_SOCK_TIMEOUT"))
local function timed(s)
  if TIMEOUT then s:settimeout(TIMEOUT) end
  return s
end

local WALL, CPU = netsock.monotime, os.clock  -- os.clock: user+sys CPU

local function bound(kind)
  local s
  if kind == "udp" then
    s = timed(assert(netsock.udp()))
    assert(s:bind("127.0.0.1", 0))
  else
    s = timed(assert(netsock.tcp()))
    assert(s:bind("127.0.0.1", 0))
    assert(s:listen())
  end
  local _, port = s:getsockname()
  io.write("port ", port, "\n")
  io.flush()
  return s
end

local function result(t)
  local out = { "result" }
  for _, k in ipairs(t) do out[#out + 1] = k .. "=" .. t[k] end
  io.write(table.concat(out, " "), "\n")
  io.flush()
end

local function fmt(x) return ("%.6f"):format(x) end

local function connect(port)
  local c = timed(assert(netsock.tcp()))
  assert(c:connect("127.0.0.1", port))
  return c
end

local M = {}

M["bulk-recv"] = function()
  local srv = bound("tcp")
  local c = timed(assert(srv:accept()))
  local w0, c0 = WALL(), CPU()
  local total, calls = 0, 0
  local recv = c.recv
  while true do
    local data, err = recv(c, 65536)
    if not data then assert(err == "closed", err) break end
    total = total + #data
    calls = calls + 1
  end
  result { "bytes", "calls", "wall", "cpu", bytes = total, calls = calls,
           wall = fmt(WALL() - w0), cpu = fmt(CPU() - c0) }
end

M["bulk-send"] = function(port, nbytes, chunk)
  local c = connect(port)
  local buf = ("x"):rep(chunk)
  local w0, c0 = WALL(), CPU()
  local sent = 0
  while sent < nbytes do
    local n = math.min(chunk, nbytes - sent)
    assert(c:sendall(buf, 1, n))
    sent = sent + n
  end
  c:close()
  result { "bytes", "wall", "cpu", bytes = sent, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

-- the rest of a message whose first part 'data' came short
local function rest(c, data, n)
  local parts, got = { data }, #data
  while got < n do
    data = assert(c:recv(n - got))
    parts[#parts + 1] = data
    got = got + #data
  end
  return table.concat(parts)
end

-- (hot loops call methods through locals, in the LuaSocket program too)
M["pp-server"] = function(size)
  local srv = bound("tcp")
  local c = timed(assert(srv:accept()))
  assert(c:setoption("nodelay", true))
  local recv, sendall = c.recv, c.sendall
  local w0, c0 = WALL(), CPU()
  local count = 0
  while true do
    local data, err = recv(c, size)
    if not data then assert(err == "closed", err) break end
    if #data < size then data = rest(c, data, size) end
    assert(sendall(c, data))
    count = count + 1
  end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

M["pp-client"] = function(port, count, size)
  local c = connect(port)
  assert(c:setoption("nodelay", true))
  local msg = ("p"):rep(size)
  local recv, sendall = c.recv, c.sendall
  local w0, c0 = WALL(), CPU()
  for _ = 1, count do
    assert(sendall(c, msg))
    local data = assert(recv(c, size))
    if #data < size then rest(c, data, size) end
  end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
  c:close()
end

M["udp-recv"] = function(count)
  -- blocking, no timeout; stop at count or at an end mark (1 byte); no
  -- clock per datagram
  local s = bound("udp")
  local recvfrom = s.recvfrom
  local got, w0, c0 = 0, 0, 0
  while got < count do
    local data = assert(recvfrom(s, 65536))
    if #data == 1 then break end  -- end mark
    if got == 0 then w0, c0 = WALL(), CPU() end
    got = got + 1
  end
  result { "count", "wall", "cpu", count = got, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

M["udp-send"] = function(port, count, size)
  local s = timed(assert(netsock.udp()))
  local msg = ("D"):rep(size)
  local sendto = s.sendto
  local w0, c0 = WALL(), CPU()
  for _ = 1, count do
    sendto(s, msg, "127.0.0.1", port)  -- a failure (ENOBUFS) counts as loss
  end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
  for _ = 1, 50 do
    netsock.sleep(0.002)
    sendto(s, "E", "127.0.0.1", port)
  end
end

-- the same with datagrams in batches (issue 28): recvmany(32) and
-- sendmany of 32 at a time (bench/udp's "netsock batch")
M["udp-recv-many"] = function(count)
  local s = bound("udp")
  local recvmany = s.recvmany
  local got, w0, c0 = 0, 0, 0
  local done = false
  while got < count and not done do
    local d = assert(recvmany(s, 32, 2048))
    for i = 1, #d do
      if #d[i] == 1 then done = true break end  -- end mark
      if got == 0 then w0, c0 = WALL(), CPU() end
      got = got + 1
    end
  end
  result { "count", "wall", "cpu", count = got, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

M["udp-send-many"] = function(port, count, size)
  local s = timed(assert(netsock.udp()))
  local msg = ("D"):rep(size)
  local batch = {}
  for i = 1, 32 do batch[i] = msg end
  local sendmany, sendto = s.sendmany, s.sendto
  local w0, c0 = WALL(), CPU()
  local sent = 0
  while sent < count do
    if count - sent < 32 then
      for i = count - sent + 1, 32 do batch[i] = nil end
    end
    local n, _, _, part = sendmany(s, batch, "127.0.0.1", port)
    sent = sent + (n or part or 0)  -- a failure (ENOBUFS) counts as loss
    if not n and (part or 0) == 0 then sent = sent + 1 end
  end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
  for _ = 1, 50 do
    netsock.sleep(0.002)
    sendto(s, "E", "127.0.0.1", port)
  end
end

M["accept-server"] = function(count, batch)
  -- per line on stdin (the client filled the accept queue), batch times:
  -- accept, read 1 byte, write it back, close; only the batches are timed
  local srv = bound("tcp")
  local wall, cpu, done = 0, 0, 0
  while done < count do
    assert(io.read("l"), "stdin closed")
    local n = math.min(batch, count - done)
    local w0, c0 = WALL(), CPU()
    for _ = 1, n do
      local c = timed(assert(srv:accept()))
      local b = c:recv(1)
      if b then c:sendall(b) end
      c:close()
    end
    wall, cpu = wall + WALL() - w0, cpu + CPU() - c0
    done = done + n
  end
  result { "count", "wall", "cpu", count = done, wall = fmt(wall), cpu = fmt(cpu) }
end


-- lines-recv: count the lines read with f:lines() until end of stream
M["lines-recv"] = function()
  local srv = bound("tcp")
  local c = timed(assert(srv:accept()))
  local f = c:makefile("r")
  local w0, c0 = WALL(), CPU()
  local count = 0
  for _ in f:lines() do count = count + 1 end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

-- bench/udp's drain table: the socket bench/udp made and pre-filled
-- (descriptor 3); per line N on stdin drain N datagrams, then
-- "drained"; "end": the result. Only the draining is timed.
local function drain(each)
  local s = assert(netsock.fromfd(3, "inet", "dgram"))
  local got, wall, cpu = 0, 0, 0
  while true do
    io.flush()
    local line = assert(io.read("l"), "stdin closed")
    if line == "end" then break end
    local n = math.tointeger(tonumber(line))
    local w0, c0 = WALL(), CPU()
    each(s, n)
    wall, cpu = wall + (WALL() - w0), cpu + (CPU() - c0)
    got = got + n
    io.write("drained\n")
  end
  result { "count", "wall", "cpu", count = got, wall = fmt(wall), cpu = fmt(cpu) }
end

M["udp-drain"] = function()
  drain(function(s, n)
    local recvfrom = s.recvfrom
    for _ = 1, n do
      local data, host, port = recvfrom(s, 65536)
      assert(data, host)
    end
  end)
end

M["udp-drain-many"] = function()
  drain(function(s, n)
    local recvmany = s.recvmany
    local got = 0
    while got < n do
      local d, hosts, ports = recvmany(s, n - got < 32 and n - got or 32)
      assert(d, hosts)
      got = got + #d
    end
  end)
end

local mode = arg[1]
local args = {}
for i = 2, #arg do args[#args + 1] = math.tointeger(tonumber(arg[i])) end
assert(M[mode], "unknown mode " .. tostring(mode))(table.unpack(args))
