-- usage: lua5.4 examples/time_server.lua [--host H] [--port P]
-- A time server: each client that connects gets the date and time as one
-- line, in the format of C's ctime() ("Sun Nov 22 04:05:44 2026"), and
-- the server hangs up. Try it with time_client.lua or: nc 127.0.0.1 7777
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 7777 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log

-- create_server does socket(), setsockopt(SO_REUSEADDR), bind() and
-- listen() in one call; backlog 5 as in the tutorial (port 0: any free port).
local server = assert(netsock.create_server(opt.host, opt.port, { backlog = 5 }))
print(("Listening on %s:%d"):format(server:getsockname()))

while true do
  -- accept waits for the next client and returns a new socket for it,
  -- plus its address as two values: host and port.
  local client, host, port = server:accept()
  if client then
    print(("Connection from %s:%d"):format(host, port))
    -- Lua strings are bytes already: no encode() step as in Python 3.
    client:sendall(os.date("%a %b %e %H:%M:%S %Y") .. "\n")
    client:close()
  else
    print("accept failed: " .. host)  -- e.g. out of descriptors; keep serving
  end
end
