-- usage: lua5.4 examples/hello_client.lua [--host H] [--port P]
-- Connects to hello_server.lua, prints what it says, and closes.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 12345 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

print(("This is %s, calling %s:%s"):format(netsock.gethostname(), opt.host, opt.port))

-- netsock.tcp() is Python's socket.socket(): IPv4, stream; tcp("inet6")
-- for IPv6 (an IPv6 literal such as ::1 needs it). Then connect.
local s = netsock.tcp(opt.host:find(":") and "inet6" or "inet")
s:settimeout(5)                       -- no call waits longer than 5 s
local ok, err = s:connect(opt.host, opt.port)
if not ok then io.stderr:write("connect failed: ", err, "\n") os.exit(1) end

-- The greeting is short, but TCP may still deliver it in pieces:
-- read until the server closes.
local reply = {}
while true do
  local data, msg = s:recv(1024)
  if not data then
    if msg ~= "closed" then io.stderr:write("recv failed: ", msg, "\n") os.exit(1) end
    break
  end
  reply[#reply + 1] = data
end
s:close()  -- close when done, as you would close a file
io.write(table.concat(reply))
