-- usage: lua5.4 examples/http_get.lua [--host H] [--port P] [--path /PATH]
-- A web client by hand: resolve the name, connect, send a GET request,
-- print the reply. Try: python3 -m http.server --bind 127.0.0.1 8000 &
-- then: lua5.4 examples/http_get.lua    (defaults: localhost, 8000, /)
local netsock = require "netsock"

local opt, i = { host = "localhost", port = 8000, path = "/" }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

local s = assert(netsock.tcp())
s:settimeout(10)
print("Socket created")

-- gethostbyname: name -> one IPv4 address (getaddrinfo gives them all).
local ip, err = netsock.gethostbyname(opt.host)
if not ip then print("Hostname could not be resolved: " .. err) os.exit(2) end
print(("IP address of %s is %s"):format(opt.host, ip))

local ok, msg = s:connect(ip, opt.port)
if not ok then print("Connect failed: " .. msg) os.exit(3) end
print(("Socket connected to %s on ip %s port %s"):format(opt.host, ip, opt.port))

-- HTTP/1.1 wants a Host line; "Connection: close" asks the server to
-- hang up after the reply, so "read until closed" reads exactly the reply.
local request = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n")
  :format(opt.path, opt.host)
ok, msg = s:sendall(request)
if not ok then print("Send failed: " .. msg) os.exit(4) end
print("Message sent successfully")

local reply = {}
while true do
  local data, why = s:recv(4096)
  if not data then
    if why ~= "closed" then print("Receive failed: " .. why) os.exit(5) end
    break
  end
  reply[#reply + 1] = data
end
s:close()
print(table.concat(reply))
