-- usage: lua5.4 examples/addrinfo.lua [--host H] [--port P]
-- What the resolver knows: this machine's name, the addresses of a host
-- (getaddrinfo: every family and socket type), and the name services of
-- a port. Defaults: localhost and "http" (a service name is a port too).
local netsock = require "netsock"

local opt, i = { host = "localhost", port = "http" }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end

print("gethostname()          " .. netsock.gethostname())

-- Python gives 5-tuples (family, type, proto, canonname, sockaddr);
-- netsock gives tables with named fields and names for family and type.
local infos, err, code = netsock.getaddrinfo(opt.host, opt.port)
if not infos then print(("getaddrinfo failed: %s (%s)"):format(err, code)) os.exit(1) end
print(("getaddrinfo(%q, %q)  %d entries:"):format(opt.host, opt.port, #infos))
for n, ai in ipairs(infos) do
  print(("  %d. family %-6s type %-6s proto %-3d host %-15s port %d")
    :format(n, ai.family, ai.type, ai.proto, ai.host, ai.port))
end

-- The older calls: IPv4 only, kept because the tutorials use them.
print("gethostbyname()        " .. (netsock.gethostbyname(opt.host) or "(no IPv4 address)"))
local name, aliases, addrs = netsock.gethostbyname_ex(opt.host)
if name then
  print(("gethostbyname_ex()     %s, aliases {%s}, addresses {%s}")
    :format(name, table.concat(aliases, ", "), table.concat(addrs, ", ")))
end

-- And back: address -> name, port -> service name.
local first = infos[1]
if first then
  print("getnameinfo()          " ..
    table.concat({ netsock.getnameinfo(first.host, first.port) }, "  "))
  print(("getservbyport(%d)      %s"):format(first.port,
    netsock.getservbyport(first.port, "tcp") or "(no service name)"))
end
print("getprotobyname(\"tcp\")  " .. netsock.getprotobyname("tcp"))
