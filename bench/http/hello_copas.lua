-- usage: lua5.4 bench/http/hello_copas.lua PORT
-- examples/http_hello.lua's responder on copas over LuaSocket, for
-- bench/http (Debian's copas is for Lua 5.2; its copas.lua runs on 5.4).
package.path = package.path .. ";/usr/share/lua/5.2/?.lua"
local copas = require "copas"
local socket = require "socket"
local port = tonumber(arg[1]) or 8080

local body = "Hello, World!\n"
local reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
  .. #body .. "\r\n\r\n" .. body

local srv = assert(socket.bind("127.0.0.1", port, 4096))
copas.addserver(srv, function(raw)
  local conn = copas.wrap(raw)
  while true do
    local line = conn:receive("*l")              -- request line
    if not line then return end
    local close = line:find("HTTP/1%.0") ~= nil
    local length = 0
    while true do                                -- headers
      local h = conn:receive("*l")
      if not h then return end
      if h == "" then break end
      local lh = h:lower()
      length = tonumber(lh:match("^content%-length:%s*(%d+)")) or length
      if lh:find("^connection:%s*close") then close = true end
      if lh:find("^connection:%s*keep%-alive") then close = false end
    end
    if length > 0 then conn:receive(length) end
    conn:send(reply)
    if close then return end
  end
end)
copas.loop()
