-- usage: lua5.4 examples/demo.lua  (or: make demo)
-- A server and a client in one script: the server listens on an
-- ephemeral port of 127.0.0.1, the client connects, and they trade a
-- few lines; every step is printed.
local netsock = require "netsock"

local server = assert(netsock.create_server("127.0.0.1", 0))
local host, port = server:getsockname()
print(("server: listening on %s:%d"):format(host, port))

local client = assert(netsock.create_connection(host, port, 5))
print("client: connected from " .. table.concat({ client:getsockname() }, ":"))

server:settimeout(5)
local conn, chost, cport = assert(server:accept())
print(("server: got connection from %s:%d"):format(chost, cport))
conn:settimeout(5)

for _, msg in ipairs { "hello", "how are you?", "bye" } do
  assert(client:sendall(msg))
  print("client: sent    " .. msg)
  local got = assert(conn:recv(1024))
  print("server: got     " .. got)
  assert(conn:sendall(got:upper()))
  print("client: reply   " .. assert(client:recv(1024)))
end

client:close()
print("server: recv after the client left -> " .. table.concat({ tostring(conn:recv(1024)), select(2, conn:recv(1024)) }, ", "))
conn:close()
server:close()
print("done")
