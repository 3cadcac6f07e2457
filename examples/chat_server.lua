-- usage: lua5.4 examples/chat_server.lua [--host H] [--port P]
-- A chat room with netsock.serve, a task per client: each line a client
-- sends goes to all the others; joins and leaves are announced. A client
-- leaves by closing or by sending "quit"; typing "quit" on the server's
-- own stdin closes everyone. Try: nc 127.0.0.1 5000 (twice).
--
-- What keeps one client from hurting the others:
--   * nothing a client does raises: reads and sends return nil, msg, code
--     (a reset, a close, a socket closed by someone else), so a handler
--     always reaches its last lines and leaves the room;
--   * a broadcast never waits for a client: it adds the text to that
--     client's outbox, and a task of the client's own sends it; a client
--     that stops reading only fills its own outbox, and is dropped when a
--     send makes no progress for SENDTIME seconds, or when it falls more
--     than OUTBOX bytes behind (a bound on memory, not on speed).
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

local OUTBOX = 4 * 1024 * 1024  -- bytes a client may have waiting for it
local SENDTIME = 10         -- seconds a send to one client may take

local clients = {}          -- client -> true; a client is { conn, name, queue, queued }

local function drop(c)      -- a client that does not keep up
  clients[c] = nil
  c.conn:close()            -- its handler's read returns "closed": it leaves
end

-- the client's writer: runs while its outbox has bytes
local function flush(c)
  while c.queued > 0 do
    local data = table.concat(c.queue)
    c.queue, c.queued = {}, 0
    if not c.conn:sendall(data) then drop(c) return end
  end
  c.writing = false
end

local function send(c, text)
  if c.queued + #text > OUTBOX then return drop(c) end
  c.queue[#c.queue + 1] = text
  c.queued = c.queued + #text
  if not c.writing then
    c.writing = true
    netsock.spawn(flush, c)
  end
end

local function broadcast(text, except)
  print((text:gsub("\n$", "")))
  for c in pairs(clients) do if c ~= except then send(c, text) end end
end

local function chat(conn, host, port)
  conn:settimeout(SENDTIME)
  local c = { conn = conn, name = host .. ":" .. port, queue = {}, queued = 0 }
  broadcast("* " .. c.name .. " joined the chat\n")
  clients[c] = true
  send(c, "Welcome " .. c.name .. ", type quit to leave\n")
  local f = conn:makefile("r")
  while true do
    local line, _, code = f:read("l")
    if line == "quit" then break end
    if line then broadcast(("[%s] %s\n"):format(c.name, line), c)
    elseif code ~= "timeout" then break end   -- closed, reset, overflow: gone
  end
  clients[c] = nil
  broadcast("* " .. c.name .. " left the chat\n")
end  -- serve closes conn

local server = assert(netsock.serve(opt.host, opt.port, chat, { backlog = 128 }))
print(("Chat server started on %s:%d"):format(server:getsockname()))

-- the server's stdin: "quit" closes everyone (select waits in the loop)
netsock.spawn(function()
  while true do
    netsock.select({ 0 }, {})
    local cmd = io.read("l")
    if cmd == nil then return end                 -- no stdin: serve on
    if cmd == "quit" then
      broadcast("* the server is closing\n")
      server:stop(1)         -- let the writers send that, then close all
      return
    end
  end
end)

netsock.run()
