-- usage: lua5.4 examples/udp_echo_server.lua [--host H] [--port P]
-- A datagram echo server: every datagram goes back to where it came from.
-- One socket serves every client: recvfrom tells who sent what.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 8888 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log

local s = assert(netsock.udp(opt.host:find(":") and "inet6" or "inet"))  -- IPv6 for ::1
assert(s:bind(opt.host, opt.port))
print(("Listening on %s:%d"):format(s:getsockname()))

while true do
  local data, host, port = s:recvfrom(1024)
  if data then
    print(("%s:%d says: %s"):format(host, port, data))
    s:sendto(data, host, port)  -- no connection: name the destination each time
  end
end
