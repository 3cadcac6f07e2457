-- bench/impl/luasocket.lua: the LuaSocket side of the benchmarks
-- (Debian's lua-socket), written as its users write it: blocking
-- sockets, send and receive. Modes and output as in bench/impl/c.c.
-- BENCH_SOCK_TIMEOUT=S (the timed variants): every socket gets
-- s:settimeout(S) where it is made or accepted, as users write it.
local socket = require "socket"

local TIMEOUT = tonumber(os.getenv("BENCH_SOCK_TIMEOUT"))
local function timed(s)
  if TIMEOUT then s:settimeout(TIMEOUT) end
  return s
end

local WALL, CPU = socket.gettime, os.clock  -- os.clock: user+sys CPU

local function bound(kind)
  local s
  if kind == "udp" then
    s = timed(assert(socket.udp()))
    assert(s:setsockname("127.0.0.1", 0))
  else
    s = timed(assert(socket.tcp()))
    assert(s:bind("127.0.0.1", 0))
    assert(s:listen(4096))
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

local M = {}

M["bulk-recv"] = function()
  local srv = bound("tcp")
  local c = timed(assert(srv:accept()))
  local w0, c0 = WALL(), CPU()
  local total, calls = 0, 0
  while true do
    local data, err, partial = c:receive(65536)
    if not data then
      assert(err == "closed", err)
      total = total + #partial
      break
    end
    total = total + #data
    calls = calls + 1
  end
  result { "bytes", "calls", "wall", "cpu", bytes = total, calls = calls,
           wall = fmt(WALL() - w0), cpu = fmt(CPU() - c0) }
end

M["bulk-send"] = function(port, nbytes, chunk)
  local c = timed(assert(socket.connect("127.0.0.1", port)))
  local buf = ("x"):rep(chunk)
  local w0, c0 = WALL(), CPU()
  local sent = 0
  while sent < nbytes do
    local n = math.min(chunk, nbytes - sent)
    assert(c:send(n == chunk and buf or buf:sub(1, n)))
    sent = sent + n
  end
  c:close()
  result { "bytes", "wall", "cpu", bytes = sent, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

-- (hot loops call methods through locals, as in the netsock program)
M["pp-server"] = function(size)
  local srv = bound("tcp")
  local c = timed(assert(srv:accept()))
  c:setoption("tcp-nodelay", true)
  local receive, send = c.receive, c.send
  local w0, c0 = WALL(), CPU()
  local count = 0
  while true do
    local data, err = receive(c, size)
    if not data then assert(err == "closed", err) break end
    assert(send(c, data))
    count = count + 1
  end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

M["pp-client"] = function(port, count, size)
  local c = timed(assert(socket.connect("127.0.0.1", port)))
  c:setoption("tcp-nodelay", true)
  local msg = ("p"):rep(size)
  local receive, send = c.receive, c.send
  local w0, c0 = WALL(), CPU()
  for _ = 1, count do
    assert(send(c, msg))
    assert(receive(c, size))
  end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
  c:close()
end

M["udp-recv"] = function(count)
  -- blocking, no timeout; stop at count or at an end mark (1 byte); no
  -- clock per datagram
  local s = bound("udp")
  local got, w0, c0 = 0, 0, 0
  while got < count do
    local data = assert(s:receivefrom(65536))
    if #data == 1 then break end  -- end mark
    if got == 0 then w0, c0 = WALL(), CPU() end
    got = got + 1
  end
  result { "count", "wall", "cpu", count = got, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

M["udp-send"] = function(port, count, size)
  local s = timed(assert(socket.udp()))
  local msg = ("D"):rep(size)
  local w0, c0 = WALL(), CPU()
  for _ = 1, count do
    s:sendto(msg, "127.0.0.1", port)  -- a failure (ENOBUFS) counts as loss
  end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
  for _ = 1, 50 do
    socket.sleep(0.002)
    s:sendto("E", "127.0.0.1", port)
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
      local b = c:receive(1)
      if b then c:send(b) end
      c:close()
    end
    wall, cpu = wall + WALL() - w0, cpu + CPU() - c0
    done = done + n
  end
  result { "count", "wall", "cpu", count = done, wall = fmt(wall), cpu = fmt(cpu) }
end


-- lines-recv: count the lines read with receive("*l") until end of stream
M["lines-recv"] = function()
  local srv = bound("tcp")
  local c = timed(assert(srv:accept()))
  local w0, c0 = WALL(), CPU()
  local count = 0
  while true do
    local line, err = c:receive("*l")
    if not line then assert(err == "closed", err) break end
    count = count + 1
  end
  result { "count", "wall", "cpu", count = count, wall = fmt(WALL() - w0),
           cpu = fmt(CPU() - c0) }
end

-- bench/udp's drain table: the socket bench/udp made and pre-filled
-- (descriptor 3, taken with setfd: LuaSocket 3.0 sets no receive buffer
-- size); per line N on stdin receivefrom N datagrams, then "drained";
-- "end": the result. Only the draining is timed.
M["udp-drain"] = function()
  local s = assert(socket.udp())
  s:close()
  s:setfd(3)
  local got, wall, cpu = 0, 0, 0
  while true do
    io.flush()
    local line = assert(io.read("l"), "stdin closed")
    if line == "end" then break end
    local n = math.tointeger(tonumber(line))
    local w0, c0 = WALL(), CPU()
    for _ = 1, n do
      local data, host = s:receivefrom(65536)
      assert(data, host)
    end
    wall, cpu = wall + (WALL() - w0), cpu + (CPU() - c0)
    got = got + n
    io.write("drained\n")
  end
  result { "count", "wall", "cpu", count = got, wall = fmt(wall), cpu = fmt(cpu) }
end

local mode = arg[1]
local args = {}
for i = 2, #arg do args[#args + 1] = math.tointeger(tonumber(arg[i])) end
assert(M[mode], "unknown mode " .. tostring(mode))(table.unpack(args))
