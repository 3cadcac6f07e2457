-- usage: lua5.4 examples/upper_client.lua [--host H] [--port P]
-- Sends each line typed on stdin to upper_server.lua and prints the
-- answer; a line with just "q" (or the end of stdin) stops it.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 9999 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

local s, err = netsock.create_connection(opt.host, opt.port, 10)
if not s then io.stderr:write("cannot connect: ", err, "\n") os.exit(1) end

for line in io.lines() do
  if line == "q" then break end
  assert(s:sendall(line))
  -- The answer is as long as the question, but TCP may hand it over in
  -- several pieces: keep reading until all of it is here.
  local answer, missing = {}, #line
  while missing > 0 do
    local data = assert(s:recv(missing))
    answer[#answer + 1] = data
    missing = missing - #data
  end
  print(table.concat(answer))
end
s:close()
