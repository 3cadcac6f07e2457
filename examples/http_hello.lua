-- usage: lua5.4 examples/http_hello.lua [--host H] [--port P] [--workers N]
-- A minimal HTTP/1.1 responder with keep-alive: one task per client on
-- netsock.serve. Every request gets "Hello, World!"; try curl or wrk.
-- --workers N (or auto): N processes, one loop each (serve's workers).
local netsock = require "netsock"

local host, port, workers = "127.0.0.1", 8080, nil
local i = 1
while arg[i] do
  if arg[i] == "--host" then host = arg[i + 1]
  elseif arg[i] == "--port" then port = tonumber(arg[i + 1])
  elseif arg[i] == "--workers" then workers = math.tointeger(tonumber(arg[i + 1])) or arg[i + 1]
  else io.stderr:write("usage: lua5.4 examples/http_hello.lua [--host H] [--port P] [--workers N]\n") os.exit(2) end
  i = i + 2
end

local body = "Hello, World!\n"
local reply = table.concat({
  "HTTP/1.1 200 OK",
  "Content-Type: text/plain",
  "Content-Length: " .. #body,
  "", body }, "\r\n")
local closing = reply:gsub("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)

local function handle(conn)
  local buf = ""
  while true do
    local head_end = buf:find("\r\n\r\n", 1, true)
    local head = head_end and buf:sub(1, head_end + 3):lower()
    local length = head and (tonumber(head:match("\ncontent%-length:%s*(%d+)")) or 0)
    if head and #buf >= head_end + 3 + length then  -- a whole request
      buf = buf:sub(head_end + 4 + length)
      local close = head:find("\nconnection:%s*close") or
        (head:find("^[^\n]*http/1%.0") and not head:find("\nconnection:%s*keep%-alive"))
      if not conn:sendall(close and closing or reply) or close then return end
    else
      if #buf > 65536 then return end  -- headers too long: drop the client
      local data = conn:recv(65536)
      if not data then return end
      buf = buf .. data
    end
  end
end

local srv = assert(netsock.serve(host, port, handle,
                                 { workers = workers, grace = 1, backlog = 4096 }))
print(("serving on http://%s:%d/"):format(srv:getsockname()))
netsock.run()
