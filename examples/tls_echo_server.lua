-- usage: lua5.4 examples/tls_echo_server.lua [--host H] [--port P] [--cert F] [--key F]
-- echo_server.lua over TLS, for many clients at once: serve{tls = ctx}
-- runs each client's handshake in that client's own task. Try it with
--   openssl s_client -connect 127.0.0.1:8443 -quiet
local netsock = require "netsock"
if not netsock.tls then print("this netsock was built without OpenSSL") os.exit(2) end

local opt, i = { host = "127.0.0.1", port = 8443, cert = "cert.pem", key = "key.pem" }, 1
while arg[i] do  -- --name value
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or not arg[i + 1] then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  opt[k], i = arg[i + 1], i + 2
end

local ctx, msg = netsock.tls.context{ mode = "server", certfile = opt.cert, keyfile = opt.key }
if not ctx then print("Bad certificate or key: " .. msg) os.exit(2) end

local srv = assert(netsock.serve(opt.host, opt.port, function(conn, host, port)
  conn:settimeout(60)
  print(("Client %s:%s, %s"):format(host, port, conn:tlsinfo().version))
  for line in conn:makefile("r"):lines("L") do  -- "L": each line with its end
    conn:sendall(line)
  end
  print(("Closed %s:%s"):format(host, port))
end, { tls = ctx }))
print(("Listening on %s:%d"):format(srv:getsockname()))
io.stdout:flush()
netsock.run()
