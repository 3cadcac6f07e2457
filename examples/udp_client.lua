-- usage: lua5.4 examples/udp_client.lua [--host H] [--port P] [--timeout SECONDS]
-- Asks for a message, sends it to udp_echo_server.lua, prints the reply;
-- again and again until stdin ends. A datagram may be lost, so the wait
-- for the reply is bounded by --timeout (default 5 s).
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 8888, timeout = 5 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

-- Failures come back as nil, message, code (Python raises socket.error):
-- show both, and stop.
local function fail(msg, code)
  print(("Error code: %s Message: %s"):format(code, msg))
  os.exit(1)
end

local s, msg, code = netsock.udp(opt.host:find(":") and "inet6" or "inet")  -- IPv6 for ::1
if not s then fail(msg, code) end
local timeout = assert(tonumber(opt.timeout), "--timeout takes a number")
s:settimeout(timeout)

while true do
  io.write("Enter message to send: ")
  io.flush()                         -- the prompt has no newline: push it out
  local text = io.read("l")
  if text == nil then print() break end
  local ok
  ok, msg, code = s:sendto(text, opt.host, opt.port)
  if not ok then fail(msg, code) end
  local reply, host, port = s:recvfrom(1024)
  if reply then
    print("Server reply : " .. reply)
  elseif port == "timeout" then      -- on failure host, port are message, code
    print(("No reply within %s s: UDP does not resend what it lost"):format(opt.timeout))
  else
    fail(host, port)
  end
end
s:close()
