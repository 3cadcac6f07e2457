-- usage: lua5.4 examples/sensor_client.lua [--host H] [--port P] [--interval S] [--count N] [--udp]
-- A sensor: a collector samples this machine's load (the 1-minute load
-- average of /proc/loadavg) in a task of its own, and every --interval
-- seconds (default 60) the client sends "time, metric, value" to
-- metrics_server.lua, over TCP or, with --udp, as a datagram. --count N
-- stops after N records (default 0: never).
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 9999, interval = 60, count = 0, udp = false }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
io.stdout:setvbuf("line")  -- print each line at once, even into a pipe or a log
local interval, count = assert(tonumber(opt.interval)), assert(tonumber(opt.count))

local function load1()     -- "0.42 0.30 0.25 1/123 4567": the first number
  local f = assert(io.open("/proc/loadavg"))
  local v = f:read("n")
  f:close()
  return v
end

-- The collector: the homework's class, as a Lua object. Its sampling task
-- and the sending code below share the process; netsock.sleep lets each
-- wait without stopping the other (Python would use a thread here).
local Collector = {}
Collector.__index = Collector
function Collector.new(period)
  return setmetatable({ period = period, sum = 0, samples = 0, running = false }, Collector)
end
function Collector:start_collect()
  self.running = true
  netsock.spawn(function()
    while self.running do
      self.sum, self.samples = self.sum + load1(), self.samples + 1
      netsock.sleep(self.period)
    end
  end)
end
function Collector:get_current_state()   -- the metric's name and its mean so far
  return "load1", self.samples > 0 and self.sum / self.samples or load1()
end
function Collector:cleanup() self.sum, self.samples = 0, 0 end
function Collector:stop_collect() self.running = false end

netsock.run(function()
  local sock, err
  if opt.udp then sock, err = netsock.udp(opt.host:find(":") and "inet6" or "inet")
  else sock, err = netsock.create_connection(opt.host, opt.port, 10) end
  if not sock then io.stderr:write("cannot connect: ", err, "\n") os.exit(1) end

  local collector = Collector.new(math.min(1, interval))
  collector:start_collect()
  local sent = 0
  while count == 0 or sent < count do
    netsock.sleep(interval)
    local name, value = collector:get_current_state()
    collector:cleanup()
    local record = ("%s, %s, %.2f\n"):format(os.date("%Y-%m-%d %H:%M:%S"), name, value)
    local ok, msg
    if opt.udp then ok, msg = sock:sendto(record, opt.host, opt.port)
    else ok, msg = sock:sendall(record) end
    if not ok then io.stderr:write("send failed: ", msg, "\n") break end
    sent = sent + 1
    io.write("sent: ", record)
  end
  collector:stop_collect()               -- its task ends at its next wake-up
  sock:close()
end)                                     -- run returns once both tasks are done
