-- usage: lua5.4 examples/echo_server.lua [--host H] [--port P] [--forever]
-- Sends back every byte a client sends, until the client closes. It
-- serves one client and exits; with --forever it serves one client after
-- another and tells what it does.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 9090, forever = false }, 1
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

repeat
  local conn, host, port = assert(server:accept())
  local peer = host .. ":" .. port
  print("Client connected: " .. peer)
  while true do
    -- The recv loop: data until the client closes ("closed"), or an error.
    local data, msg = conn:recv(1024)
    if not data then
      if msg ~= "closed" then print("Error from " .. peer .. ": " .. msg) end
      break
    end
    if opt.forever then print(("Received from %s: %s"):format(peer, data)) end
    conn:sendall(data)
    if opt.forever then print(("Sent to %s: %s"):format(peer, data)) end
  end
  conn:close()
  print("Connection closed: " .. peer)
until not opt.forever
server:close()
