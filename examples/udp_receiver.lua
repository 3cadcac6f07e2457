-- usage: lua5.4 examples/udp_receiver.lua [--host H] [--port P]
-- Prints the size and the sender of every datagram that arrives. Each
-- recvfrom returns one whole datagram (never part of two), with the
-- address it came from: UDP keeps message boundaries, TCP does not.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 5005 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log

local s = assert(netsock.udp(opt.host:find(":") and "inet6" or "inet"))  -- IPv6 for ::1
assert(s:bind(opt.host, opt.port))   -- a receiver binds; no listen, no accept
print(("Listening on %s:%d"):format(s:getsockname()))

while true do
  -- A datagram longer than 4096 bytes would be cut to 4096, and a fourth
  -- value, true, would say so (Python silently drops the rest).
  local data, host, port, cut = s:recvfrom(4096)
  if data then
    print(("Received %d symbols from %s:%d%s"):format(#data, host, port,
      cut and " (cut: the datagram was longer)" or ""))
  else
    print("recvfrom failed: " .. host)
  end
end
