-- usage: lua5.4 examples/timeout_server.lua [--host H] [--port P] [--timeout SECONDS]
-- Timeouts on accept and recv: the server never waits longer than
-- --timeout (default 5 s) for a client to come, or for it to speak.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 9090, timeout = 5 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log
local timeout = assert(tonumber(opt.timeout), "--timeout takes a number")

local server = assert(netsock.create_server(opt.host, opt.port, { backlog = 1 }))
print(("Listening on %s:%d"):format(server:getsockname()))
server:settimeout(timeout)  -- accept waits at most this long

while true do
  -- Where Python raises socket.timeout, netsock returns nil, "timeout", "timeout".
  local conn, host, port = server:accept()
  if conn then
    print(("Client connected: %s:%d"):format(host, port))
    conn:settimeout(timeout)  -- recv waits at most this long too
    local data, msg = conn:recv(1024)
    if data then
      print("Client sent: " .. data:gsub("%s+$", ""))
      conn:sendall("Thanks, got " .. #data .. " bytes\n")
    elseif msg == "timeout" then
      print(("Client sent no data within %g s"):format(timeout))
      conn:sendall("Too slow, goodbye\n")
    else
      print("Client left without a word (" .. msg .. ")")
    end
    conn:close()
  elseif port == "timeout" then
    print(("No client within %g s, still waiting"):format(timeout))
  else
    error("accept failed: " .. host)
  end
end
