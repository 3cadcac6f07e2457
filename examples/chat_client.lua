-- usage: lua5.4 examples/chat_client.lua [--host H] [--port P]
-- A chat_server.lua client: what you type goes to the room, what the room
-- says is printed, both at once. The tutorial uses a thread to read the
-- socket; here select() watches the socket and stdin (descriptor 0)
-- together. Type quit (or end stdin) to leave.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 5000 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log

local sock, err = netsock.create_connection(opt.host, opt.port, 10)
if not sock then io.stderr:write("cannot connect: ", err, "\n") os.exit(1) end
sock:settimeout(nil)  -- from now on wait as long as it takes

-- makefile: a file object over the socket, with read("l") and write like
-- io's files. Writes are buffered: flush sends them.
local f = sock:makefile("rw")
f:write(("i am client at %s:%d\n"):format(sock:getsockname())):flush()

local function leave()
  f:write("quit\n"):flush()
  f:close()
  sock:close()
  os.exit(0)
end

while true do
  -- select counts a file with buffered lines as readable, so no line
  -- that already arrived waits for more bytes before it is printed.
  for _, r in ipairs((netsock.select({ f, 0 }, {}))) do
    if r == f then
      local line, msg = f:read("l")
      if not line then print("* disconnected (" .. msg .. ")") os.exit(0) end
      print(line)
    else
      local text = io.read("l")
      if text == nil or text == "quit" then leave() end
      f:write(text, "\n"):flush()
    end
  end
end
