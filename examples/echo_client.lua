-- usage: lua5.4 examples/echo_client.lua [--host H] [--port P] [--message TEXT]
-- Sends a message to echo_server.lua and prints what comes back.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 9090, message = "hello, world!" }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

local s, err = netsock.create_connection(opt.host, opt.port, 10)
if not s then io.stderr:write("cannot connect: ", err, "\n") os.exit(1) end

-- Who speaks first is part of the protocol: here the client sends, the
-- server answers. If both waited in recv, they would wait for ever.
assert(s:sendall(opt.message))
-- shutdown("w") says "I have nothing more to send": the server's recv sees
-- the end of the stream, answers the rest, and closes. We can still read.
s:shutdown("w")

local reply = {}
while true do
  local data, msg = s:recv(1024)
  if not data then assert(msg == "closed", msg) break end
  reply[#reply + 1] = data
end
s:close()
print(table.concat(reply))
