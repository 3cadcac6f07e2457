-- usage: lua5.4 examples/time_client.lua [--host H] [--port P]
-- Asks time_server.lua for the time: connect, read until the server
-- hangs up, print. The server speaks first, so the client sends nothing.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 7777 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

-- create_connection resolves the host and connects; 5 s at most per call.
local s, err = netsock.create_connection(opt.host, opt.port, 5)
if not s then
  io.stderr:write(("cannot connect to %s:%s: %s\n"):format(opt.host, opt.port, err))
  os.exit(1)
end

-- TCP is a stream: one recv may return only part of what was sent, so
-- read until recv reports "closed" (the server hung up after its line).
local parts = {}
while true do
  local data, msg = s:recv(1024)
  if not data then
    if msg ~= "closed" then io.stderr:write("recv failed: ", msg, "\n") os.exit(1) end
    break
  end
  parts[#parts + 1] = data
end
s:close()

local text = table.concat(parts):gsub("\r?\n$", "")
print("Current time: " .. text)
