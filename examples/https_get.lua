-- usage: lua5.4 examples/https_get.lua [--host H] [--port P] [--path /PATH] [--cafile F]
-- http_get.lua over TLS: the same GET request, on a connection that
-- netsock.tls verifies (the system's trusted CAs, or --cafile) and whose
-- host name it checks, as a browser does. Defaults: example.org, 443, /.
local netsock = require "netsock"
if not netsock.tls then print("this netsock was built without OpenSSL") os.exit(2) end

local opt, i = { host = "example.org", port = 443, path = "/", cafile = "" }, 1
while arg[i] do  -- --name value
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or not arg[i + 1] then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  opt[k], i = arg[i + 1], i + 2
end

-- the default context trusts the system store; --cafile trusts one CA
local ctx
if opt.cafile ~= "" then ctx = assert(netsock.tls.context{ cafile = opt.cafile }) end

-- connect + TLS handshake under one 10 s deadline; the certificate must
-- be valid for opt.host, or this fails with code "tls_verify"
local s, msg, code = netsock.tls.connect(opt.host, opt.port, { context = ctx, timeout = 10 })
if not s then print(("TLS connect failed: %s (%s)"):format(msg, code)) os.exit(3) end
local info = s:tlsinfo()
print(("Connected to %s, %s %s, certificate for %s")
  :format(opt.host, info.version, info.cipher, s:getpeercertificate().subject))

local request = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n")
  :format(opt.path, opt.host)
assert(s:sendall(request))

local reply = {}
while true do
  local data, why, wcode = s:recv(4096)
  if not data then
    if wcode ~= "closed" and wcode ~= "tls_eof" then print("Receive failed: " .. why) os.exit(5) end
    break  -- many servers close without close_notify after the reply: tls_eof
  end
  reply[#reply + 1] = data
end
s:close()
print(table.concat(reply))
