-- usage: lua5.4 examples/hello_server.lua [--host H] [--port P]
-- Thanks every client for connecting, naming this machine (gethostname),
-- then hangs up. The tutorial binds to gethostname(); we bind 127.0.0.1
-- unless told otherwise, so nothing outside this machine can reach us.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 12345 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log

local me = netsock.gethostname()  -- this machine's name, as `hostname` prints it
local server = assert(netsock.create_server(opt.host, opt.port, { backlog = 5 }))
print(("Listening on %s:%d"):format(server:getsockname()))

while true do
  local conn, host, port = server:accept()   -- blocks until a client comes
  if conn then
    print(("Got connection from %s:%d"):format(host, port))
    conn:sendall("Thank you for connecting to " .. me .. "\n")
    conn:close()                             -- close the connection, keep listening
  end
end
