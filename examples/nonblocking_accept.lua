-- usage: lua5.4 examples/nonblocking_accept.lua [--host H] [--port P]
-- A non-blocking accept loop: accept() returns at once, with a client or
-- with "nobody yet"; between tries the script prints a line and sleeps.
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

-- Three modes, as in Python: setblocking(true) = settimeout(nil), wait
-- for ever; settimeout(5), wait at most 5 s; setblocking(false) =
-- settimeout(0), never wait.
server:setblocking(false)

local conn, host, port
while true do
  conn, host, port = server:accept()
  if conn then break end
  -- Where Python raises BlockingIOError, netsock returns nil, message, code.
  -- "Nobody yet" is the code "timeout" (a zero timeout ran out) or "EAGAIN".
  if port ~= "timeout" and port ~= "EAGAIN" then error("accept failed: " .. host) end
  print("Waiting for connection...")
  netsock.sleep(1)
end
print(("Connected: %s:%d"):format(host, port))

-- The accepted socket starts with the default timeout (blocking), not
-- with the listener's: the same holds for reads and writes on it.
conn:sendall("Hello from a non-blocking accept loop\n")
conn:close()
server:close()
