-- usage: lua5.4 examples/buffers.lua [--host H] [--port P] [--size BYTES]
-- The kernel's buffers behind a socket: SO_SNDBUF holds what we sent and
-- the peer has not yet acknowledged, SO_RCVBUF what arrived and we have not
-- yet read. Sets both to --size (default 8192), reads them back, then
-- fills them over a connection on --host/--port (default: a free port).
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 0, size = 8192 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
local size = assert(math.tointeger(tonumber(opt.size)), "--size takes a whole number")
local SOL_SOCKET, SO_SNDBUF, SO_RCVBUF = netsock.SOL_SOCKET, netsock.SO_SNDBUF, netsock.SO_RCVBUF

-- IPv4, or IPv6 when --host is an IPv6 literal such as ::1
local s = assert(netsock.tcp(opt.host:find(":") and "inet6" or "inet"))
local function show(when)
  print(("%-22s SO_SNDBUF %8d   SO_RCVBUF %8d"):format(when,
    s:getsockopt(SOL_SOCKET, SO_SNDBUF), s:getsockopt(SOL_SOCKET, SO_RCVBUF)))
end
show("defaults:")
-- The numeric form, as in Python: setsockopt(level, option, value) ...
assert(s:setsockopt(SOL_SOCKET, SO_SNDBUF, size))
-- ... or by name, netsock's shorthand for the common options.
assert(s:setoption("rcvbuf", size))
show(("after setting %d:"):format(size))
-- Linux doubles the value asked for, to leave room for its own bookkeeping,
-- and enforces a minimum (socket(7)); other systems keep it as given. A
-- small buffer costs throughput, a large one memory: the defaults (which
-- Linux also grows on its own while a connection runs) are usually right.

-- Fill them: a peer that never reads, and sends that never wait. The
-- kernel takes bytes until our send buffer and its receive buffer are full.
local server = assert(netsock.create_server(opt.host, opt.port))
assert(s:connect(server:getsockname()))
local peer = assert(server:accept())
s:settimeout(0)                         -- non-blocking: a full buffer fails at once
local chunk, total = ("x"):rep(1024), 0
while true do
  local n = s:send(chunk)
  if not n then break end               -- nil, "timeout": the buffers are full
  total = total + n
end
print(("the kernel took %d bytes before a send would have waited"):format(total))
peer:close() s:close() server:close()
