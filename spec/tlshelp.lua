-- spec/tlshelp.lua: what the TLS specs share. Certificates are made at
-- test time by spec/tls/mkcerts.sh (openssl req, EC P-256, SANs
-- DNS:localhost, IP:127.0.0.1, IP:::1); peers are real programs:
-- openssl s_server / s_client, python3's ssl module, curl.
--
--   local T = require "tlshelp"
--   local dir = T.certs()             -- the directory with ca.pem, leaf.pem ...
--   local srv = T.s_server("-cert ... ")  -- openssl s_server on 127.0.0.1:0
--   srv.port, srv.proc
local H = require "helpers"
local ns = H.netsock

local T = {}

local certdir
function T.certs()
  if not certdir then
    certdir = H.tmpdir() .. "/certs"
    local p = io.popen("sh spec/tls/mkcerts.sh " .. H.shquote(certdir) .. " 2>&1")
    local out = p:read("a")
    p:close()
    assert(out:match("ok"), "mkcerts failed: " .. out)
  end
  return certdir
end

function T.path(name) return T.certs() .. "/" .. name end

function T.server_ctx(extra)
  local o = { mode = "server", certfile = T.path("leaf.pem"), keyfile = T.path("leaf.key") }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(ns.tls.context(o))
end

function T.client_ctx(extra)
  local o = { cafile = T.path("ca.pem") }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(ns.tls.context(o))
end

-- a command whose stdin is a FIFO the test writes (unbuffered), so each
-- line written reaches the program as a read of its own: openssl's
-- commands ("R", "k" ...) count only at the start of a read
local function fed(cmd)
  local fifo = H.tmpname(".fifo")
  assert(os.execute("mkfifo " .. H.shquote(fifo)))
  local p = H.spawn(cmd .. " < " .. H.shquote(fifo))
  local w = assert(io.open(fifo, "w"))   -- meets the program's open for reading
  w:setvbuf("no")
  return p, w
end

-- openssl s_server on 127.0.0.1, an ephemeral port; args after -accept.
-- With 'input' true, srv.input writes its stdin (see fed); else it has none.
function T.s_server(args, input)
  local cmd = "openssl s_server -accept 127.0.0.1:0 -naccept 1 " .. args
  local p, w
  if input then p, w = fed(cmd) else p = H.spawn("sleep 60 | " .. cmd) end
  local deadline = ns.monotime() + 10
  repeat
    local port = p:output():match("ACCEPT 127%.0%.0%.1:(%d+)")
    if port then return { port = tonumber(port), proc = p, input = w } end
    ns.sleep(0.01)
  until ns.monotime() > deadline or not p:running()
  p:kill()
  error("s_server did not start: " .. p:output())
end

-- openssl s_client to 127.0.0.1:port, verifying against the spec CA with
-- SNI localhost; its stdin is written through the second result (see fed)
function T.s_client(port, args)
  return fed(("openssl s_client -connect 127.0.0.1:%d -CAfile %s -servername localhost %s")
    :format(port, H.shquote(T.path("ca.pem")), args or ""))
end

-- a python3 program given the certificate directory as sys.argv[1]
-- followed by the other arguments; its first line is "port N" for servers
function T.python(code, ...)
  return H.python(code, T.certs(), ...)
end

function T.pyport(p)
  local line, out = p:line(10)
  local port = line and line:match("^port (%d+)")
  if not port then
    p:kill()
    error("python peer did not start: " .. tostring(line) .. " " .. tostring(out))
  end
  return tonumber(port)
end

return T
