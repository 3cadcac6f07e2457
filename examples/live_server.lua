-- usage: lua5.4 examples/live_server.lua [--host H] [--port P] [--limit N] [--console PATH]
-- Greets each client, then answers every message with "OK..." and the
-- message, for as many clients at once as come. Where the tutorial starts
-- a thread per client, netsock runs a task (a coroutine) per client:
-- the handler is the same straight-line code. --limit N serves at most N
-- clients at a time; the others wait their turn (the thread-pool server).
-- --console PATH opens a console endpoint there: `netsock console PATH`
-- attaches a Lua prompt to the running server (netsock.tasks() lists its
-- clients). Try it with: nc 127.0.0.1 8888   (in several terminals)
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 8888, limit = 0, console = "" }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log
local limit = assert(math.tointeger(tonumber(opt.limit)), "--limit takes a whole number")

-- One client's whole conversation. recv and sendall look blocking, but in
-- a task they suspend only this task: the other clients go on meanwhile.
local function client_task(conn, host, port)
  print(("Connected with %s:%d"):format(host, port))
  conn:sendall("Welcome to the server. Type something and hit enter\n")
  while true do
    local data = conn:recv(1024)
    if not data then break end          -- closed (or failed): the task ends
    conn:sendall("OK..." .. data)
  end
  print(("Disconnected %s:%d"):format(host, port))
end                                     -- serve closes conn when we return

-- serve = create_server + a task that accepts for ever and spawns
-- client_task(conn, host, port) for each client.
local server = assert(netsock.serve(opt.host, opt.port, client_task,
  { backlog = 10, limit = limit > 0 and limit or nil }))
print(("Listening on %s:%d"):format(server:getsockname()))
if opt.console ~= "" then  -- a stale path of an earlier run is taken over
  print("Console on " .. assert(netsock.console.listen(opt.console)).path)
end
netsock.run()  -- the loop: runs the tasks until none is left (here: never)
