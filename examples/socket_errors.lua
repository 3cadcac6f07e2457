-- usage: lua5.4 examples/socket_errors.lua [--host H] [--port P] [--file PATH] [--timeout S]
-- Fetches PATH with HTTP/1.0 and prints the reply, handling each kind of
-- failure apart, with its own message and exit status:
--   1 creating the socket   2 resolving the address   3 connecting
--   4 sending               5 receiving (including a timeout)
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 8000, file = "/", timeout = 5 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

local function fail(status, what, msg, code)
  io.stderr:write(("%s: %s (%s)\n"):format(what, msg, code))
  os.exit(status)
end

-- Python sorts failures by exception class (socket.error, gaierror,
-- timeout); netsock returns nil, message, code and the code sorts them:
-- "EAI_..." from the resolver, "timeout", "closed", or an errno name.
local s, msg, code = netsock.tcp(opt.host:find(":") and "inet6" or "inet")  -- IPv6 for ::1
if not s then fail(1, "Error creating socket", msg, code) end
local timeout = assert(tonumber(opt.timeout), "--timeout takes a number")
s:settimeout(timeout)

local ok
ok, msg, code = s:connect(opt.host, opt.port)      -- resolves, then connects
if not ok then
  if code:match("^EAI_") then fail(2, "Address-related error connecting to server", msg, code) end
  fail(3, "Connection error", msg, code)
end

ok, msg, code = s:sendall(("GET %s HTTP/1.0\r\n\r\n"):format(opt.file))
if not ok then fail(4, "Error sending data", msg, code) end

while true do
  local buf
  buf, msg, code = s:recv(2048)
  if not buf then
    if code == "closed" then break end   -- the end of the reply, not a failure
    fail(5, "Error receiving data", msg, code)
  end
  io.write(buf)
end
s:close()
