-- spec/luasocket_diff.lua: runs one Lua program under Debian's
-- lua-socket and under netsock.luasocket (install() first), each in a
-- child lua5.4, and returns both outputs, normalized, for comparison.
-- Used by spec/luasocket_diff_spec.lua.
--
-- The program prints with out(...): every value with its Lua type
-- (F: a float, I: an integer, "quoted" strings, tables' sorted fields
-- with outt), so 1 and 1.0, nil and "" and false stay apart. Addresses
-- (0x...) are replaced by ADDR; lauxlib's name for a module function
-- ("socket.core.select" or "socket.select": package.loaded's order,
-- which varies from run to run) is written socket.X.

local H = require "helpers"

local D = {}

local PRELUDE = [==[
local function repr(v)
  local t = type(v)
  if t == "string" then return string.format("%q", v) end
  if t == "number" then return (math.type(v) == "float" and "F:" or "I:") .. tostring(v) end
  return tostring(v)
end
function out(...)
  local n = select("#", ...)
  local t = {}
  for i = 1, n do t[i] = repr((select(i, ...))) end
  print(n == 0 and "(none)" or table.concat(t, "  "))
end
-- a table's fields, sorted: outt(label, t [, depth])
local function trepr(v, depth)
  if type(v) ~= "table" or depth <= 0 then return repr(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = "[" .. repr(k) .. "]=" .. trepr(v[k], depth - 1)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end
function outt(label, v, depth) print(label, trepr(v, depth or 2)) end
-- a call's error message, or its results
function try(f, ...)
  local r = table.pack(pcall(f, ...))
  if not r[1] then print("error: " .. tostring(r[2])) return end
  out(table.unpack(r, 2, r.n))
end
-- a duration within [lo, hi]: prints only whether it was
function within(label, t, lo, hi) print(label, t >= lo and t <= hi and "ok" or ("out: " .. t)) end
socket = require "socket"
-- a peer in python3 (Debian's python3 package), from a script file
function python(script, ...)
  local path = os.tmpname()
  local f = assert(io.open(path, "w")) f:write(script) f:close()
  local args = { ... }
  for i, a in ipairs(args) do args[i] = string.format("%g", a) end
  -- (without a sanitizer runtime the child lua5.4 may have been given)
  return assert(io.popen(("env -u LD_PRELOAD python3 %s %s 2>/dev/null; rm -f %s"):format(path, table.concat(args, " "), path)))
end
-- trickle(port, n, gap): connects, sends n bytes "x" one every gap
-- seconds, then "\n", and stays 0.5 s
function trickle(port, n, gap)
  return python([=[
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(int(sys.argv[2])):
    time.sleep(float(sys.argv[3]))
    s.sendall(b"x")
s.sendall(b"\n")
time.sleep(0.5)
]=], port, n, gap)
end
-- slowreader(port, chunk, gap): connects with a small receive buffer
-- and reads chunk bytes every gap seconds until the end of stream
function slowreader(port, chunk, gap)
  return python([=[
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
while s.recv(int(sys.argv[2])):
    time.sleep(float(sys.argv[3]))
]=], port, chunk, gap)
end
function pair()
  local srv = assert(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local c = assert(socket.connect("127.0.0.1", port))
  local a = assert(srv:accept())
  return c, a, srv, port
end
]==]

local function normalize(s)
  s = s:gsub("0x%x+", "ADDR")
  s = s:gsub("socket%.core%.", "socket.")
  return s
end

-- the two commands: Debian's LuaSocket, and ours
local function command(file, ours)
  local exe = "lua5.4"
  if ours then
    local preload = os.getenv("LD_PRELOAD")
    if os.getenv("NETSOCK_SANITIZE") and preload then
      exe = ("env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 lua5.4"):format(H.shquote(preload))
    end
    local setup = ("package.path=%q..package.path package.cpath=%q..package.cpath "
      .. "require('netsock.luasocket').install()")
      :format("lua/?.lua;", (os.getenv("NETSOCK_CPATH") or "build/?.so") .. ";")
    return ("%s -e %s %s"):format(exe, H.shquote(setup), H.shquote(file))
  end
  -- the real one must not see our tree: only the system paths
  return ("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 %s %s")
    :format(exe, H.shquote(file))
end

-- run(code [, timeout]): real_output, our_output (normalized)
function D.run(code, timeout)
  local file = H.tmpname(".lua")
  H.writefile(file, PRELUDE .. "\n" .. code)
  local pr = H.spawn(command(file, false))
  local po = H.spawn(command(file, true))
  local rr, ro = pr:wait(timeout or 30), po:wait(timeout or 30)
  pr:kill()
  po:kill()
  local a = normalize(pr:output()) .. (rr and "" or "\n(timed out)")
  local b = normalize(po:output()) .. (ro and "" or "\n(timed out)")
  if rr ~= 0 then a = a .. "\n(exit " .. tostring(rr) .. ")" end
  if ro ~= 0 then b = b .. "\n(exit " .. tostring(ro) .. ")" end
  return a, b
end

return D
