-- usage: lua5.4 examples/udp_sender.lua [--host H] [--port P] [--size N]
-- Sends one datagram of --size (default 4096) letters "a" to
-- udp_receiver.lua. UDP needs no connection: sendto names the
-- destination with every datagram, and nothing says whether it arrived.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 5005, size = 4096 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

-- socket(AF_INET, SOCK_DGRAM); AF_INET6 when --host is an IPv6 literal
local s = assert(netsock.udp(opt.host:find(":") and "inet6" or "inet"))
local size = assert(math.tointeger(tonumber(opt.size)), "--size takes a whole number")
local data = ("a"):rep(size)
local sent, err = s:sendto(data, opt.host, opt.port)
if not sent then io.stderr:write("sendto failed: ", err, "\n") os.exit(1) end
print(("Sent %d symbols to %s:%s"):format(sent, opt.host, opt.port))
s:close()
