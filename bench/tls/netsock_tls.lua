-- bench/tls/netsock_tls.lua: the netsock side of bench/tls, written as a
-- user would: create_server/accept, s:starttls, tls.connect, recv and
-- sendall. Same modes and output as bench/tls/c_tls.c.
local ns = require "netsock"
local tls = ns.tls
local monotime = ns.monotime
local function cpu() return os.clock() end

local mode = arg[1]

local function listener()
  local srv = assert(ns.create_server("127.0.0.1", 0))
  print(("port %d"):format(select(2, srv:getsockname())))
  io.stdout:flush()
  return srv
end

if mode == "bulk-recv" then
  local ctx = assert(tls.context{ mode = "server", certfile = arg[2], keyfile = arg[3] })
  local srv = listener()
  local c = assert(srv:accept())
  assert(c:starttls(ctx))
  local total, calls = 0, 0
  local w0, c0 = monotime(), cpu()
  local recv = c.recv
  while true do
    local data = recv(c, 65536)
    if not data then break end
    total = total + #data
    calls = calls + 1
  end
  print(("result bytes=%d calls=%d wall=%.6f cpu=%.6f"):format(total, calls, monotime() - w0, cpu() - c0))
elseif mode == "bulk-send" then
  local port, nbytes, chunk = tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
  local ctx = assert(tls.context{ cafile = arg[5] })
  local s = assert(tls.connect("127.0.0.1", port, { context = ctx, server_hostname = "localhost" }))
  local buf = ("x"):rep(chunk)
  local sent = 0
  local w0, c0 = monotime(), cpu()
  while sent < nbytes do
    local n = math.min(chunk, nbytes - sent)
    assert(s:sendall(n == chunk and buf or buf:sub(1, n)))
    sent = sent + n
  end
  local wall, c = monotime() - w0, cpu() - c0
  s:settimeout(5)
  s:unwrap()   -- our close_notify out (the C receiver sends none back)
  s:close()
  print(("result bytes=%d wall=%.6f cpu=%.6f"):format(sent, wall, c))
elseif mode == "hs-server" then
  local ctx = assert(tls.context{ mode = "server", certfile = arg[2], keyfile = arg[3] })
  local count = tonumber(arg[4])
  local srv = listener()
  local done, w0, c0 = 0, 0, 0
  while done < count do
    local c = assert(srv:accept())
    if done == 0 then w0, c0 = monotime(), cpu() end
    c:setoption("nodelay", true)
    assert(c:starttls(ctx))
    local b = assert(c:recv(1))
    assert(c:sendall(b))
    c:close()
    done = done + 1
  end
  print(("result count=%d wall=%.6f cpu=%.6f"):format(done, monotime() - w0, cpu() - c0))
elseif mode == "hs-client" then
  local port, count = tonumber(arg[2]), tonumber(arg[3])
  local ctx = assert(tls.context{ cafile = arg[4] })
  local w0, c0 = monotime(), cpu()
  for _ = 1, count do
    local s = assert(ns.create_connection("127.0.0.1", port))
    s:setoption("nodelay", true)
    assert(s:starttls(ctx, { server_hostname = "localhost" }))
    assert(s:sendall("x"))
    assert(s:recv(1))
    s:close()
  end
  print(("result count=%d wall=%.6f cpu=%.6f"):format(count, monotime() - w0, cpu() - c0))
else
  io.stderr:write("usage: see bench/tls/c_tls.c\n")
  os.exit(2)
end
