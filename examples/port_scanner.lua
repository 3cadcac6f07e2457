-- usage: lua5.4 examples/port_scanner.lua [--host H] [--port FIRST-LAST] [--timeout S] [--jobs N] [--allow-remote]
-- Finds the open TCP ports of a host with connect_ex, many at once: each
-- of --jobs tasks (default 50) takes the next port, tries it for at most
-- --timeout seconds (default 0.5), and goes on. Scan only machines you own:
-- anything but this machine (127.0.0.0/8, ::1) needs --allow-remote.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = "1-1024", timeout = 0.5, jobs = 50,
                 ["allow-remote"] = false }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
local first, last = tostring(opt.port):match("^(%d+)%-?(%d*)$")
first, last = tonumber(first), tonumber(last) or tonumber(first)
if not first or last > 65535 then io.stderr:write("--port takes N or FIRST-LAST\n") os.exit(2) end

-- Resolve first, and check every address before sending a single packet.
local infos, err = netsock.getaddrinfo(opt.host, 0, nil, "stream")
if not infos then io.stderr:write("cannot resolve ", opt.host, ": ", err, "\n") os.exit(2) end
for _, ai in ipairs(infos) do
  local loopback = ai.host:match("^127%.") or ai.host == "::1" or ai.host:match("^::ffff:127%.")
  if not loopback and not opt["allow-remote"] then
    io.stderr:write(("refusing to scan %s (%s): not this machine; add --allow-remote if it is yours\n")
      :format(opt.host, ai.host))
    os.exit(2)
  end
end
local target, family = infos[1].host, infos[1].family

local timeout, open, nextport = tonumber(opt.timeout), {}, first
local function worker()
  while nextport <= last do
    local port = nextport
    nextport = nextport + 1             -- tasks take turns only when they wait: no lock needed
    local s = netsock.socket(family, "stream")
    if s then
      s:settimeout(timeout)
      -- connect_ex returns 0 or the errno number instead of a failure triple
      if s:connect_ex(target, port) == 0 then open[#open + 1] = port end
      s:close()
    end
  end
end

local started = netsock.monotime()
for _ = 1, math.min(tonumber(opt.jobs), last - first + 1) do netsock.spawn(worker) end
netsock.run()                           -- returns when every worker is done

table.sort(open)
for _, port in ipairs(open) do
  local service = netsock.getservbyport(port, "tcp")   -- nil where /etc/services has none
  print(("%d open%s"):format(port, service and "  " .. service or ""))
end
print(("Scanned %d ports of %s (%s) in %.2f s: %d open")
  :format(last - first + 1, opt.host, target, netsock.monotime() - started, #open))
