-- usage: lua5.4 examples/tls_echo_client.lua [--host H] [--port P] [--cafile F] [--message M]
-- echo_client.lua over TLS: connects with netsock.tls.connect (the
-- certificate checked against --cafile, or the system's CAs, and the
-- host name against it), sends one line, prints the line that comes back.
local netsock = require "netsock"
if not netsock.tls then print("this netsock was built without OpenSSL") os.exit(2) end

local opt, i = { host = "localhost", port = 8443, cafile = "", message = "hello, tls" }, 1
while arg[i] do  -- --name value
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or not arg[i + 1] then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  opt[k], i = arg[i + 1], i + 2
end

local ctx
if opt.cafile ~= "" then ctx = assert(netsock.tls.context{ cafile = opt.cafile }) end
local s, msg, code = netsock.tls.connect(opt.host, opt.port, { context = ctx, timeout = 10 })
if not s then print(("TLS connect failed: %s (%s)"):format(msg, code)) os.exit(3) end
print(("Connected, %s, certificate for %s"):format(s:tlsinfo().version, s:getpeercertificate().subject))
assert(s:sendall(opt.message .. "\n"))
local f = s:makefile("r")
print("Echo: " .. assert(f:read("l")))
s:close()
