-- usage: lua5.4 examples/metrics_server.lua [--host H] [--port P] [--file PATH] [--udp]
-- Collects the records of sensor_client.lua (one "time, metric, value"
-- line each) and appends every one to --file (default metrics.log), over
-- TCP (a task per client) or, with --udp, from datagrams. Each record
-- reaches the file whole, whenever clients come and go.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 9999, file = "metrics.log", udp = false }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log

local out = assert(io.open(opt.file, "a"))
out:setvbuf("line")        -- flushed at each newline: a crash loses nothing written
local function save(record)
  if record ~= "" then out:write(record, "\n") end   -- one write per record: never torn
end

if opt.udp then
  local s = assert(netsock.udp(opt.host:find(":") and "inet6" or "inet"))  -- IPv6 for ::1
  assert(s:bind(opt.host, opt.port))
  local host, port = s:getsockname()
  print(("Collecting metrics into %s over UDP on %s:%d"):format(opt.file, host, port))
  while true do
    -- One datagram, one or more whole records: UDP keeps the boundaries.
    local data = s:recvfrom(65535)
    for line in (data or ""):gmatch("[^\r\n]+") do save(line) end
  end
end

-- TCP: a task per client. Tasks only switch while waiting (in read), so
-- two clients never write into the middle of each other's records.
local function client_task(conn, host, port)
  local peer = host .. ":" .. port
  print(peer .. " connected")
  local f = conn:makefile("r")
  while true do
    -- read("l") gives whole lines; at the end it gives the last unterminated
    -- line too, so a client that leaves mid-line loses nothing it sent.
    local line, msg = f:read("l")
    if not line then
      if msg ~= "closed" then print(peer .. " failed: " .. msg) end
      break
    end
    save(line)
  end
  print(peer .. " left")
end

local server = assert(netsock.serve(opt.host, opt.port, client_task, { backlog = 64 }))
local host, port = server:getsockname()
print(("Collecting metrics into %s over TCP on %s:%d"):format(opt.file, host, port))
netsock.run()
