-- usage: lua5.4 examples/tour.lua  (or: make demo)
-- A short tour of the examples: starts a few example servers on free
-- ports of 127.0.0.1, runs their clients against them, prints what each
-- side says, stops the servers, and ends within seconds. Each step is a
-- command you can type yourself (see docs/examples.md).
local netsock = require "netsock"

io.stdout:setvbuf("line")
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local k = 0
while arg[k - 1] do k = k - 1 end
local lua = k < 0 and arg[k] or "lua5.4"   -- the interpreter running us
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
-- the children find netsock where we found it
local env = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s "):format(q(package.path), q(package.cpath))

local servers = {}
local function start(script, args)      -- a server in the background: its port
  local log = os.tmpname()
  local p = io.popen(("%s%s %s --port 0 %s > %s 2>&1 & echo $!")
    :format(env, q(lua), q(dir .. "/" .. script), args or "", q(log)))
  local pid = p:read("l")
  p:close()
  servers[#servers + 1] = { pid = pid, log = log, name = script }
  local deadline = netsock.monotime() + 5
  repeat
    local f = io.open(log)
    local first = f and f:read("l")
    if f then f:close() end
    local port = first and first:match(":(%d+)")
    if port then
      print(("$ lua5.4 examples/%s --port 0 %s&   ->  %s"):format(script, args and args .. " " or "", first))
      return tonumber(port)
    end
    netsock.sleep(0.05)
  until netsock.monotime() > deadline
  error(script .. " did not start")
end

local function client(script, args, input)   -- run to the end, show its output
  print(("$ %slua5.4 examples/%s %s"):format(
    input and ("printf '%s' | "):format(input:gsub("\n", "\\n")) or "", script, args))
  local cmd = ("%s%s %s %s 2>&1"):format(env, q(lua), q(dir .. "/" .. script), args)
  if input then cmd = ("printf %s | %s"):format(q(input), cmd) end
  local p = io.popen(cmd)
  for line in p:lines() do print("    " .. line) end
  p:close()
end

local function section(title) print(("\n== %s"):format(title)) end

local ok, err = pcall(function()
  section("TCP: a time server and its client")
  local port = start("time_server.lua")
  client("time_client.lua", "--port " .. port)

  section("TCP: a conversation, and the recv loop")
  port = start("upper_server.lua")
  client("upper_client.lua", "--port " .. port, "hello\nsockets are streams\nq\n")
  port = start("echo_server.lua", "--forever")
  client("echo_client.lua", "--port " .. port .. " --message 'hello, world!'")

  if netsock.socketmethods.sendto then
    section("UDP: one datagram, no connection")
    port = start("udp_receiver.lua")
    client("udp_sender.lua", "--port " .. port)
    netsock.sleep(0.2)
  end

  if netsock.spawn then
    section("Tasks: the sensor homework, and a port scan")
    local log = os.tmpname()
    port = start("metrics_server.lua", "--file " .. q(log))
    client("sensor_client.lua", "--port " .. port .. " --interval 0.3 --count 2")
    netsock.sleep(0.2)
    print("$ cat " .. log)
    for line in io.lines(log) do print("    " .. line) end
    os.remove(log)
    client("port_scanner.lua", ("--port %d-%d --timeout 0.2"):format(port - 5, port + 5))
  end

  section("Framing: messages over a stream")
  client("framing.lua", "")

  -- TLS, where netsock was built with OpenSSL and the openssl tool is
  -- there to make a throwaway certificate for localhost
  local mk = io.popen("mktemp -d")      -- a directory of our own, made at once
  local certdir = mk:read("l")
  mk:close()
  if certdir and netsock.tls and os.execute(("openssl req -x509 -newkey ec "
      .. "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/key.pem -out %s/cert.pem "
      .. "-days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
      .. ">/dev/null 2>&1"):format(q(certdir), q(certdir))) then
    section("TLS: an echo server and a client that verifies it")
    print("$ openssl req -x509 -newkey ec ... -keyout key.pem -out cert.pem  (a certificate for localhost)")
    port = start("tls_echo_server.lua", ("--cert %s/cert.pem --key %s/key.pem"):format(q(certdir), q(certdir)))
    client("tls_echo_client.lua", ("--port %d --cafile %s/cert.pem --message 'hello over TLS'")
      :format(port, q(certdir)))
  end
  if certdir then os.execute(("rm -rf %s"):format(q(certdir))) end
end)

for _, s in ipairs(servers) do          -- stop what we started, by PID
  os.execute("kill " .. s.pid .. " 2>/dev/null")
  print(("\n-- %s said:"):format(s.name))
  for line in io.lines(s.log) do print("    " .. line) end
  os.remove(s.log)
end
if not ok then io.stderr:write("tour failed: ", tostring(err), "\n") os.exit(1) end
print("\nMore in examples/ (docs/examples.md lists them all).")
