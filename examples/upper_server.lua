-- usage: lua5.4 examples/upper_server.lua [--host H] [--port P]
-- Answers everything a client sends in upper case, until the client
-- closes; then waits for the next one. Try: nc 127.0.0.1 9999
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 9999 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log

-- The long way, step by step (create_server does all of this in one call):
-- IPv4, or IPv6 when --host is an IPv6 literal such as ::1
local server = netsock.tcp(opt.host:find(":") and "inet6" or "inet")
-- SO_REUSEADDR lets a restarted server bind the port at once, while old
-- connections still linger in TIME_WAIT ("Address already in use" otherwise).
assert(server:setsockopt(netsock.SOL_SOCKET, netsock.SO_REUSEADDR, true))
assert(server:bind(opt.host, opt.port))
assert(server:listen(5))                 -- up to 5 clients queue while we are busy
print(("Listening on %s:%d"):format(server:getsockname()))

while true do
  local client, host, port = server:accept()  -- waits for a client
  if client then
    print(("Connected: %s:%d"):format(host, port))
    while true do
      -- recv returns whatever has arrived, 1 to 1024 bytes; nil, "closed"
      -- once the client has closed its side (Python returns b"" there).
      local data = client:recv(1024)
      if not data then break end
      if not client:sendall(data:upper()) then break end
    end
    client:close()
    print(("Disconnected: %s:%d"):format(host, port))
  end
end
