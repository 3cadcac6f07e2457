-- tools/luasocket-suite-debug.lua: loaded (lua -l) before LuaSocket's own
-- test clients by tools/luasocket-suite. The suite wants a LuaSocket
-- built with LUASOCKET_DEBUG: socket._DEBUG set, and receive and send
-- returning the call's elapsed time after their three values (buffer.c).
-- Debian ships no such build, so this wraps receive and send of every
-- stream class (tcp and unix, master, server and client) alike for
-- Debian's LuaSocket and for netsock.luasocket.
local socket = require "socket"
socket._DEBUG = true
-- utestclnt.lua calls math.mod (Lua 5.0's name) without the fallback to
-- math.fmod that testclnt.lua sets up itself: the same fallback here
math.mod = math.mod or math.fmod
local gettime, pack, unpack = socket.gettime, table.pack, table.unpack
local done = {}
local function wrap(obj)
  local mt = obj and getmetatable(obj)
  local index = type(mt) == "table" and mt.__index
  if type(index) ~= "table" or done[index] then return end
  done[index] = true
  for _, name in ipairs { "receive", "send" } do
    local f = index[name]
    if f then
      index[name] = function(...)
        local t = gettime()
        local r = pack(f(...))
        return r[1], r[2], r[3], gettime() - t
      end
    end
  end
end
local srv = assert(socket.bind("127.0.0.1", 0))
local host, port = srv:getsockname()
local c = assert(socket.connect(host, port))
local a = assert(srv:accept())
wrap(socket.tcp()) wrap(srv) wrap(c) wrap(a)
c:close() a:close() srv:close()
local ok, unix = pcall(require, "socket.unix")
if ok then
  local path = os.tmpname()
  os.remove(path)   -- (our own temporary name: the socket goes there)
  local us = unix()
  wrap(us)
  assert(us:bind(path)) assert(us:listen())
  local uc = unix() assert(uc:connect(path))
  local ua = assert(us:accept())
  wrap(us) wrap(uc) wrap(ua)
  uc:close() ua:close() us:close()
  os.remove(path)
end
