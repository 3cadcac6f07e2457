-- netsock.luasocket.unix: LuaSocket's socket.unix on netsock. The
-- table is its own metatable, so socket.unix() makes a stream socket as
-- socket.unix.stream() does; tcp and udp are the old names of stream and
-- dgram.

local sock = require "netsock.luasocket.sock"
local setmetatable = setmetatable
local _ENV = nil

local M = {}
M.stream = sock.unixstream
M.dgram = sock.unixdgram
M.tcp = M.stream
M.udp = M.dgram
M.__call = function(_, ...) return M.stream(...) end
setmetatable(M, M)

return M
