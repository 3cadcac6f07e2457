-- bench/tls/luasec_tls.lua: LuaSec (Debian's lua-sec) over LuaSocket, as
-- its manual shows: ssl.wrap, dohandshake, receive/send. Peer
-- verification and SNI set by hand (LuaSec does neither by default, and
-- checks no host name at all). Same modes and output as bench/tls/c_tls.c.
local socket = require "socket"
local ssl = require "ssl"
local function cpu() return os.clock() end
local now = socket.gettime

local mode = arg[1]

local function listener()
  local srv = assert(socket.bind("127.0.0.1", 0))
  print(("port %d"):format(select(2, srv:getsockname())))
  io.stdout:flush()
  return srv
end

local function server_params(cert, key)
  return { mode = "server", protocol = "any", certificate = cert, key = key,
           options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" } }
end

local function client_params(ca)
  return { mode = "client", protocol = "any", cafile = ca, verify = "peer",
           options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" } }
end

local function wrapclient(port, params)
  local tcp = assert(socket.connect("127.0.0.1", port))
  tcp:setoption("tcp-nodelay", true)
  local c = assert(ssl.wrap(tcp, params))
  c:sni("localhost")
  assert(c:dohandshake())
  return c
end

if mode == "bulk-recv" then
  local params = server_params(arg[2], arg[3])
  local srv = listener()
  local c = assert(ssl.wrap(assert(srv:accept()), params))
  assert(c:dohandshake())
  local total, calls = 0, 0
  local w0, c0 = now(), cpu()
  while true do
    local data, err, partial = c:receive(65536)
    data = data or partial
    if data and #data > 0 then total = total + #data; calls = calls + 1 end
    if err then break end
  end
  print(("result bytes=%d calls=%d wall=%.6f cpu=%.6f"):format(total, calls, now() - w0, cpu() - c0))
elseif mode == "bulk-send" then
  local port, nbytes, chunk = tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
  local c = wrapclient(port, client_params(arg[5]))
  local buf = ("x"):rep(chunk)
  local sent = 0
  local w0, c0 = now(), cpu()
  while sent < nbytes do
    local n = math.min(chunk, nbytes - sent)
    assert(c:send(n == chunk and buf or buf:sub(1, n)))
    sent = sent + n
  end
  local wall, cp = now() - w0, cpu() - c0
  c:settimeout(0)
  c:receive(1)   -- take the TLS 1.3 session tickets: unread, close would reset
  c:close()      -- LuaSec's close sends close_notify
  print(("result bytes=%d wall=%.6f cpu=%.6f"):format(sent, wall, cp))
elseif mode == "hs-server" then
  local params = server_params(arg[2], arg[3])
  local count = tonumber(arg[4])
  local sctx = assert(ssl.newcontext(params))
  local srv = listener()
  local done, w0, c0 = 0, 0, 0
  while done < count do
    local tcp = assert(srv:accept())
    if done == 0 then w0, c0 = now(), cpu() end
    tcp:setoption("tcp-nodelay", true)
    local c = assert(ssl.wrap(tcp, sctx))
    assert(c:dohandshake())
    local b = assert(c:receive(1))
    assert(c:send(b))
    c:close()
    done = done + 1
  end
  print(("result count=%d wall=%.6f cpu=%.6f"):format(done, now() - w0, cpu() - c0))
elseif mode == "hs-client" then
  local port, count = tonumber(arg[2]), tonumber(arg[3])
  local cctx = assert(ssl.newcontext(client_params(arg[4])))
  local w0, c0 = now(), cpu()
  for _ = 1, count do
    local c = wrapclient(port, cctx)
    assert(c:send("x"))
    assert(c:receive(1))
    c:close()
  end
  print(("result count=%d wall=%.6f cpu=%.6f"):format(count, now() - w0, cpu() - c0))
else
  io.stderr:write("usage: see bench/tls/c_tls.c\n")
  os.exit(2)
end
