-- usage: lua5.4 examples/select_server.lua [--host H] [--port P]
-- Waits for a client with select(): asks the kernel "is the listening
-- socket readable?" for at most a second at a time, printing a line
-- between the waits. A readable listening socket has a client to accept.
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

local server = assert(netsock.create_server(opt.host, opt.port, { backlog = 1 }))
print(("Listening on %s:%d"):format(server:getsockname()))

while true do
  print("Waiting for connection...")
  -- select(readers, writers, timeout) returns the ready ones among those
  -- given: here the listener, or nothing when the second is over.
  -- (Python's third list, "exceptional conditions", is not needed here.)
  local readable = netsock.select({ server }, {}, 1)
  if #readable > 0 then break end
end

local conn, host, port = assert(server:accept())  -- ready: does not block
print(("Connected: %s:%d"):format(host, port))
conn:sendall("Hello from a select() loop\n")
conn:close()
server:close()
