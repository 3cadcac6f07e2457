-- usage: lua5.4 bench/lines/run.lua [LINES [ROUNDS]]  (run.sh builds first)
-- The lines benchmark: LINES (default 2,000,000) lines of 40 bytes over
-- loopback TCP, read by each reader in turn; this script is the sender
-- (netsock sendall of one prebuilt string). Each reader times itself
-- from connect to end of stream; the best of ROUNDS (default 3) counts.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
local ns = require "netsock"

local nlines = tonumber(arg[1]) or 2000000
local rounds = tonumber(arg[2]) or 3
local lua = "lua5.4 -e 'package.path=\"lua/?.lua;\"..package.path " ..
            "package.cpath=\"build/?.so;\"..package.cpath' "

local readers = {
  { name = "netsock f:lines()", cmd = lua .. "bench/lines/ns_lines.lua" },
  { name = 'netsock f:read("l")', cmd = lua .. "bench/lines/ns_read.lua" },
  { name = 'LuaSocket receive("*l")', cmd = "lua5.4 bench/lines/luasocket.lua" },
  -- LuaSocket's reader unchanged, on netsock (netsock.luasocket)
  { name = 'netsock.luasocket receive("*l")',
    cmd = lua .. "-e 'require(\"netsock.luasocket\").install()' bench/lines/luasocket.lua" },
  { name = "Python makefile().readline()", cmd = "python3 bench/lines/python.py" },
  { name = "C getline", cmd = "build/bench/lines_reader getline" },
  { name = "C memchr", cmd = "build/bench/lines_reader memchr" },
}
-- the timed variants: every reader with a 30 s timeout on its socket
-- (settimeout(30); C: SO_RCVTIMEO set once); BENCH_TIMED=0 leaves them out
if os.getenv("BENCH_TIMED") ~= "0" then
  for i = 1, #readers do
    local r = readers[i]
    readers[#readers + 1] = { name = r.name .. " timed",
                              cmd = "env BENCH_SOCK_TIMEOUT=30 " .. r.cmd }
  end
end

local line = ("0123456789abcdefghijklmnopqrstuvwxyzABC"):sub(1, 39) .. "\n"
local data = line:rep(nlines)

local function once(r)
  local srv = assert(ns.create_server("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local p = assert(io.popen(r.cmd .. " 127.0.0.1 " .. port))
  srv:settimeout(30)
  local c = assert(srv:accept())
  srv:close()
  c:settimeout(120)
  assert(c:sendall(data))
  c:close()
  local out = p:read("a")
  p:close()
  local n, secs = out:match("^(%d+)%s+([%d.e+-]+)")
  n, secs = tonumber(n), tonumber(secs)
  if n ~= nlines then
    error(("%s read %s lines, not %d: %s"):format(r.name, tostring(n), nlines, out))
  end
  return n / secs
end

print(("lines benchmark: %d lines of %d bytes over loopback TCP, best of %d")
  :format(nlines, #line, rounds))
local rate = {}
for _, r in ipairs(readers) do
  local best = 0
  for _ = 1, rounds do
    local ok, v = pcall(once, r)
    if not ok then io.stderr:write(v, "\n") v = 0 end
    if v > best then best = v end
  end
  rate[r.name] = best
  print(("  %-36s %12.0f lines/s"):format(r.name, best))
end

-- The interpreter's own floor: making one 39-byte string per line with
-- string.sub, no I/O at all. Lua interns every string of 40 bytes or
-- less (it hashes each byte), so no Lua reader that hands out a string
-- per line can go much faster than this.
do
  local sub, s, best = string.sub, line, 0
  for _ = 1, rounds do
    local t0 = ns.monotime()
    for _ = 1, nlines do local _ = sub(s, 1, 39) end
    local r = nlines / (ns.monotime() - t0)
    if r > best then best = r end
  end
  rate.floor = best
  print(("  %-36s %12.0f lines/s"):format("(Lua floor: string.sub, no I/O)", best))
end

local function ratio(a, b)
  local x, y = rate[a], rate[b]
  if not (x and y and y > 0) then return "n/a" end
  return ("%.2fx"):format(x / y)
end
print("ratios:")
for _, t in ipairs { "", " timed" } do
  for _, ours in ipairs { "netsock f:lines()", 'netsock f:read("l")' } do
    if rate[ours .. t] then
      for _, other in ipairs { 'LuaSocket receive("*l")', "Python makefile().readline()",
                               "C getline", "C memchr" } do
        print(("  %-28s / %-36s %s"):format(ours .. t, other .. t, ratio(ours .. t, other .. t)))
      end
      -- timed against untimed C: what a timeout costs next to blocking C
      if t ~= "" then
        for _, other in ipairs { "C getline", "C memchr" } do
          print(("  %-28s / %-36s %s"):format(ours .. t, other, ratio(ours .. t, other)))
        end
      end
      print(("  %-28s / %-36s %s"):format(ours .. t, "floor", ratio(ours .. t, "floor")))
    end
  end
end
-- LuaSocket's reader under install(): against plain netsock and LuaSocket
-- (issue 15's target: >= 0.90 netsock, ahead of LuaSocket)
for _, other in ipairs { "netsock f:lines()", 'netsock f:read("l")', 'LuaSocket receive("*l")' } do
  print(("  %-22s / %-30s %s"):format('netsock.luasocket receive("*l")', other,
                                      ratio('netsock.luasocket receive("*l")', other)))
end
