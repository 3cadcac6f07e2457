-- usage: lua5.4 examples/starttls_server.lua [--host H] [--port P] [--cert F] [--key F]
-- A line protocol that starts in plain text and upgrades the same
-- connection to TLS on request, as SMTP, IMAP and XMPP do:
--   HELLO     -> "250 hello"      (plain or TLS)
--   STARTTLS  -> "220 go ahead", then the TLS handshake on this socket
--   SECRET    -> "250 the secret is 42" (only once TLS is on)
--   QUIT      -> "221 bye"
-- s:starttls keeps the socket and its file object: the loop below goes
-- on reading lines from the same `f`. Bytes a client sent after its
-- STARTTLS line before the handshake go to the handshake, never in as
-- plaintext commands (the STARTTLS injection bug).
local netsock = require "netsock"
if not netsock.tls then print("this netsock was built without OpenSSL") os.exit(2) end

local opt, i = { host = "127.0.0.1", port = 2525, cert = "cert.pem", key = "key.pem" }, 1
while arg[i] do  -- --name value
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or not arg[i + 1] then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  opt[k], i = arg[i + 1], i + 2
end

local ctx, msg = netsock.tls.context{ mode = "server", certfile = opt.cert, keyfile = opt.key }
if not ctx then print("Bad certificate or key: " .. msg) os.exit(2) end

local srv = assert(netsock.serve(opt.host, opt.port, function(conn)
  conn:settimeout(30)
  local f = conn:makefile("rw")
  f:write("220 ready\r\n"):flush()
  while true do
    local line = f:read("l")   -- nil when the client leaves, resets or times out
    if not line then return end
    local cmd = line:upper()
    if cmd == "HELLO" then
      f:write("250 hello\r\n")
    elseif cmd == "STARTTLS" and not conn:tlsinfo() then
      f:write("220 go ahead\r\n"):flush()
      local ok, err, code = conn:starttls(ctx)
      if not ok then print("Handshake failed: " .. code .. ": " .. err) return end
      print("TLS on: " .. conn:tlsinfo().version)
    elseif cmd == "SECRET" then
      f:write(conn:tlsinfo() and "250 the secret is 42\r\n" or "530 STARTTLS first\r\n")
    elseif cmd == "QUIT" then
      f:write("221 bye\r\n"):flush()
      return
    else
      f:write("500 unknown command\r\n")
    end
    f:flush()
  end
end))
print(("Listening on %s:%d"):format(srv:getsockname()))
io.stdout:flush()
netsock.run()
