-- usage: lua5.4 examples/chat_server.lua [--host H] [--port P]
-- A chat room in one select() loop, no threads, no tasks: each line a
-- client sends goes to all the others; joins and leaves are announced.
-- A client leaves by closing or by sending "quit"; typing "quit" on the
-- server's own stdin closes everyone. Try: nc 127.0.0.1 5000 (twice).
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

local server = assert(netsock.create_server(opt.host, opt.port, { backlog = 10 }))
print(("Chat server started on %s:%d"):format(server:getsockname()))

local clients = {}   -- socket -> { name = "host:port", buf = bytes not yet a line }
local stdin_open = true

local function broadcast(text, except)
  print((text:gsub("\n$", "")))
  -- A stuck client gets 2 s (set at accept); if it fails, its own recv
  -- will report it, so the failure is not handled here.
  for s in pairs(clients) do if s ~= except then s:sendall(text) end end
end

local function drop(s)
  local name = clients[s].name
  clients[s] = nil
  s:close()
  broadcast("* " .. name .. " left the chat\n")
end

while true do
  -- Everything that may have something for us: the listener (a new
  -- client), every client, and descriptor 0, the server's stdin.
  local readers = { server }
  for s in pairs(clients) do readers[#readers + 1] = s end
  if stdin_open then readers[#readers + 1] = 0 end
  local ready = netsock.select(readers, {})   -- no timeout: wait for one

  for _, r in ipairs(ready) do
    if r == server then
      local conn, host, port = server:accept()
      if conn then
        conn:settimeout(2)
        local name = host .. ":" .. port
        broadcast("* " .. name .. " joined the chat\n")
        clients[conn] = { name = name, buf = "" }
        conn:sendall("Welcome " .. name .. ", type quit to leave\n")
      end
    elseif r == 0 then
      -- A terminal hands over one line at a time, so one read is enough.
      local cmd = io.read("l")
      if cmd == nil then stdin_open = false      -- no stdin: serve on
      elseif cmd == "quit" then
        broadcast("* the server is closing\n")
        for s in pairs(clients) do s:close() end
        server:close()
        return
      end
    elseif clients[r] then                       -- not dropped meanwhile
      local data = r:recv(4096)
      if not data then drop(r) else
        local c = clients[r]
        c.buf = c.buf .. data
        -- A recv is not a line: split on "\n", keep the incomplete tail.
        for line in c.buf:gmatch("([^\n]*)\n") do
          line = line:gsub("\r$", "")
          if line == "quit" then drop(r) break end
          broadcast(("[%s] %s\n"):format(c.name, line), r)
        end
        c.buf = c.buf:match("([^\n]*)$")
        if #c.buf > 65536 and clients[r] then drop(r) end   -- a "line" that never ends
      end
    end
  end
end
