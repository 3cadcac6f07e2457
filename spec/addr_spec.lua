-- spec/addr_spec.lua: name resolution and the address helpers, checked
-- against what python3's socket module says on this same machine.

local H = require "helpers"
-- service names ("http") come from /etc/services
H.needs { { file = "/etc/services", pkg = "netbase" } }
local ns = H.netsock

-- run python code and return its first line of output
local function py(code, ...)
  local p = H.python(code, ...)
  local line, out = p:line(10)
  p:kill()
  assert(line, out)
  return line
end

local function tohex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

describe("getaddrinfo", function()
  it("resolves localhost to 127.0.0.1 with the table of API.md", function()
    local infos = assert(ns.getaddrinfo("localhost", 80, "inet", "stream"))
    assert.is_true(#infos >= 1)
    local ai = infos[1]
    assert.are.same({ family = "inet", type = "stream", proto = ns.IPPROTO_TCP,
                      host = "127.0.0.1", port = 80 }, ai)
  end)

  it("takes service names as ports", function()
    local infos = assert(ns.getaddrinfo("127.0.0.1", "http", "inet", "stream"))
    assert.are.equal(80, infos[1].port)
    local r, msg, code = ns.getaddrinfo("127.0.0.1", "no-such-service", "inet", "stream")
    assert.are.same({ nil, "EAI_SERVICE" }, { r, code })
    assert.is_string(msg)
  end)

  it("gives the canonical name with AI_CANONNAME", function()
    local infos = assert(ns.getaddrinfo("localhost", nil, "inet", "stream", nil, ns.AI_CANONNAME))
    assert.are.equal("localhost", infos[1].canonname)
  end)

  it("fails on a name that cannot resolve with EAI_*, in bounded time", function()
    local t0 = ns.monotime()
    local r, msg, code = ns.getaddrinfo("no-such-host..invalid", 80)
    assert.is_nil(r)
    assert.is_string(msg)
    assert.matches("^EAI_", code)
    assert.is_true(ns.monotime() - t0 < 10)
  end)

  -- Specs name "no-such-host..invalid" where a name must not resolve: the
  -- empty label makes the resolver refuse it before it asks anyone, where
  -- a well-formed ".invalid" name goes to the system's DNS server, which
  -- is not a loopback address. strace shows that no query leaves.
  local function sit(name, fn) H.linux_it(name, "strace", fn, H.can_strace) end
  sit("the specs' unresolvable name sends nothing off the machine (strace)", function()
    local srv, port = H.listen_local()
    finally(function() srv:close() end)
    local trace = H.tmpname(".strace")
    local child = H.lua_with(("strace -f -qq -o %s -e trace=connect,sendto,sendmsg,sendmmsg")
      :format(H.shquote(trace)), [[
local ns = require "netsock"
local name, port = "no-such-host..invalid", tonumber(arg[1])
print(select(3, ns.getaddrinfo(name, 80)), select(3, ns.gethostbyname_ex(name)),
  select(3, ns.udp():sendto("x", name, 9)))
ns.spawn(function() print(select(3, ns.create_connection(name, 80, 5))) end)
ns.run()
local c = assert(ns.create_connection("127.0.0.1", port, 5))   -- traced: a control
c:close()
print("done")
]], port)
    finally(function() child:kill() end)
    assert.equal(0, child:wait(30), child:output())
    local out = child:output()
    assert.matches("EAI_NONAME\tEAI_NONAME\tEAI_NONAME\nEAI_NONAME\ndone", out)
    local log = assert(H.readfile(trace))
    assert.matches("htons%(" .. port .. "%)", log)   -- the trace saw our connect
    for line in log:gmatch("[^\n]+") do
      local addr = line:match('inet_addr%("([%d.]+)"%)') or line:match('inet_pton%(AF_INET6, "([^"]+)"')
      assert.is_falsy(addr and not addr:match("^127%.") and addr ~= "::1", line)
      assert.is_falsy(line:match("htons%(53%)"), line)
    end
  end)

  it("a bind or connect to an unresolvable name returns the same failure", function()
    local s = assert(ns.tcp())
    finally(function() s:close() end)
    local ok, _, code = s:connect("no-such-host..invalid", 80)
    assert.is_nil(ok)
    assert.matches("^EAI_", code)
    ok, _, code = s:bind("no-such-host..invalid", 0)
    assert.is_nil(ok)
    assert.matches("^EAI_", code)
  end)

  it("takes a service name as the port of bind and connect", function()
    local s = assert(ns.udp())
    finally(function() s:close() end)
    assert.is_true(s:connect("127.0.0.1", "domain"))
    local host, port = s:getpeername()
    assert.are.same({ "127.0.0.1", 53 }, { host, port })
  end)
end)

describe("getnameinfo", function()
  it("names 127.0.0.1:80 as python does", function()
    local host, serv = ns.getnameinfo("127.0.0.1", 80)
    assert.are.equal(py([[
import socket
print(*socket.getnameinfo(("127.0.0.1", 80), 0))
]]), host .. " " .. serv)
  end)

  it("keeps numbers with NI_NUMERICHOST | NI_NUMERICSERV", function()
    assert.are.same({ "127.0.0.1", "80" },
      { ns.getnameinfo("127.0.0.1", 80, ns.NI_NUMERICHOST | ns.NI_NUMERICSERV) })
  end)

  -- a reverse lookup of an address /etc/hosts does not name goes to DNS:
  -- these run offline (H.lua_offline), so no query leaves the machine
  local function offit(name, fn) H.linux_it(name, "unshare -mn", fn, H.can_unshare) end
  offit("fails with EAI_* under NI_NAMEREQD for an unnamed address; gethostbyaddr too", function()
    local p = H.lua_offline([[
local ns = require "netsock"
print(ns.getnameinfo("192.0.2.123", 80, ns.NI_NAMEREQD))
print(ns.gethostbyaddr("192.0.2.123"))
print(ns.getnameinfo("192.0.2.123", 80, ns.NI_NUMERICHOST | ns.NI_NUMERICSERV))
]])
    finally(function() p:kill() end)
    assert.equal(0, p:wait(20), p:output())
    local out = p:output()
    assert.matches("^nil\t[^\n]+\tEAI_%u+\nnil\t[^\n]+\tEAI_%u+\n192%.0%.2%.123\t80\n", out)
  end)
end)

describe("host names", function()
  it("gethostname and getfqdn agree with python", function()
    assert.are.equal(py("import socket\nprint(socket.gethostname())"), ns.gethostname())
    assert.are.equal(py("import socket\nprint(socket.getfqdn())"), ns.getfqdn())
    assert.are.equal(py("import socket\nprint(socket.getfqdn('localhost'))"),
      ns.getfqdn("localhost"))
    -- an unknown name comes back unchanged
    assert.are.equal("no-such-host..invalid", ns.getfqdn("no-such-host..invalid"))
  end)

  it("gethostbyname gives IPv4 text; literals pass through", function()
    assert.are.equal("127.0.0.1", ns.gethostbyname("localhost"))
    assert.are.equal("10.1.2.3", ns.gethostbyname("10.1.2.3"))
    local r, msg, code = ns.gethostbyname("no-such-host..invalid")
    assert.is_nil(r)
    assert.is_string(msg)
    assert.matches("^EAI_", code)
  end)

  it("gethostbyname_ex and gethostbyaddr agree with python", function()
    local function show(name, aliases, addrs)
      return ("%s %s %s"):format(name, table.concat(aliases, ","), table.concat(addrs, ","))
    end
    assert.are.equal(py([[
import socket
n, a, l = socket.gethostbyname_ex("localhost")
print(n, ",".join(a), ",".join(l))
]]), show(ns.gethostbyname_ex("localhost")))
    assert.are.equal(py([[
import socket
n, a, l = socket.gethostbyaddr("127.0.0.1")
print(n, ",".join(a), ",".join(l))
]]), show(ns.gethostbyaddr("127.0.0.1")))
  end)

  it("gethostbyname_ex fails with EAI codes (gethostbyaddr: under getnameinfo)", function()
    local r, _, code = ns.gethostbyname_ex("no-such-host..invalid")
    assert.is_nil(r)
    assert.matches("^EAI_", code)
  end)
end)

describe("services and protocols", function()
  it("agree with python", function()
    assert.are.equal(py([[
import socket
print(socket.getservbyname("http"), socket.getservbyname("domain", "udp"),
      socket.getservbyport(22), socket.getservbyport(53, "udp"),
      socket.getprotobyname("tcp"), socket.getprotobyname("udp"))
]]), ("%d %d %s %s %d %d"):format(ns.getservbyname("http"),
      ns.getservbyname("domain", "udp"), ns.getservbyport(22),
      ns.getservbyport(53, "udp"), ns.getprotobyname("tcp"),
      ns.getprotobyname("udp")))
  end)

  it("return failures for unknown names and raise on bad ports", function()
    assert.are.same({ nil, "service/proto not found", "EAI_SERVICE" },
      { ns.getservbyname("no-such-service") })
    assert.are.same({ nil, "port/proto not found", "EAI_SERVICE" },
      { ns.getservbyport(1, "no-such-proto") })
    assert.are.same({ nil, "protocol not found", "EAI_NONAME" },
      { ns.getprotobyname("no-such-proto") })
    assert.has_error(function() ns.getservbyport(65536) end,
      "bad argument #1 to 'getservbyport' (port out of range)")
  end)
end)

describe("inet_* conversions", function()
  it("inet_pton packs as python does, inet_ntop unpacks", function()
    local expect = py([[
import socket
print(socket.inet_pton(socket.AF_INET, "192.168.1.20").hex(),
      socket.inet_pton(socket.AF_INET6, "2001:db8::ff00:42:8329").hex())
]])
    local p4 = assert(ns.inet_pton("inet", "192.168.1.20"))
    local p6 = assert(ns.inet_pton(ns.AF_INET6, "2001:db8::ff00:42:8329"))
    assert.are.equal(expect, tohex(p4) .. " " .. tohex(p6))
    assert.are.equal("192.168.1.20", ns.inet_ntop("inet", p4))
    assert.are.equal("2001:db8::ff00:42:8329", ns.inet_ntop("inet6", p6))
  end)

  it("inet_aton accepts the classic short forms; inet_ntoa gives dots", function()
    assert.are.equal("\127\0\0\1", ns.inet_aton("127.1"))
    assert.are.equal("\10\0\1\2", ns.inet_aton("10.0.1.2"))
    assert.are.equal("127.0.0.1", ns.inet_ntoa("\127\0\0\1"))
    assert.are.equal("255.255.255.255", ns.inet_ntoa("\255\255\255\255"))
  end)

  it("returns EINVAL for text that is no address", function()
    assert.are.same({ nil, "illegal IP address string", "EINVAL" },
      { ns.inet_pton("inet", "1.2.3") })
    assert.are.same({ nil, "illegal IP address string", "EINVAL" },
      { ns.inet_pton("inet6", "1::2::3") })
    assert.are.same({ nil, "illegal IP address string", "EINVAL" },
      { ns.inet_aton("not an address") })
  end)

  it("raises on a malformed packed address or a bad family", function()
    assert.has_error(function() ns.inet_ntoa("abc") end,
      "bad argument #1 to 'inet_ntoa' (packed IPv4 address must be 4 bytes)")
    assert.has_error(function() ns.inet_ntop("inet", "abcde") end,
      "bad argument #2 to 'inet_ntop' (packed IPv4 address must be 4 bytes)")
    assert.has_error(function() ns.inet_ntop("inet6", "abcd") end,
      "bad argument #2 to 'inet_ntop' (packed IPv6 address must be 16 bytes)")
    assert.has_error(function() ns.inet_pton("unix", "x") end)
    assert.has_error(function() ns.inet_pton("bogus", "1.2.3.4") end)
  end)
end)

describe("byte order", function()
  it("swaps on this little-endian machine and checks ranges", function()
    assert.are.equal(0x0100, ns.htons(1))
    assert.are.equal(0x3412, ns.ntohs(0x1234))
    assert.are.equal(0x01000000, ns.htonl(1))
    assert.are.equal(0x78563412, ns.ntohl(0x12345678))
    assert.are.equal(0x1234, ns.ntohs(ns.htons(0x1234)))
    assert.are.equal(0xdeadbeef, ns.ntohl(ns.htonl(0xdeadbeef)))
    assert.has_error(function() ns.htons(65536) end)
    assert.has_error(function() ns.htons(-1) end)
    assert.has_error(function() ns.htonl(1 << 32) end)
  end)
end)

describe("module constants", function()
  it("has every constant API.md lists", function()
    for _, name in ipairs { "AF_INET", "AF_INET6", "AF_UNIX", "AF_UNSPEC",
        "SOCK_STREAM", "SOCK_DGRAM", "SOL_SOCKET", "IPPROTO_TCP", "IPPROTO_UDP",
        "IPPROTO_IP", "IPPROTO_IPV6", "SO_REUSEADDR", "SO_BROADCAST",
        "TCP_NODELAY", "IPV6_V6ONLY", "IP_TTL", "IP_MULTICAST_TTL",
        "IP_ADD_MEMBERSHIP", "SHUT_RD", "SHUT_WR", "SHUT_RDWR", "MSG_PEEK",
        "MSG_WAITALL", "MSG_DONTWAIT", "AI_PASSIVE", "AI_CANONNAME",
        "NI_NUMERICHOST", "NI_NAMEREQD", "SOMAXCONN" } do
      assert.is_number(ns[name], name)
    end
    assert.is_boolean(ns.has_ipv6)
    assert.are.equal("ECONNREFUSED", ns.errorcode[111])
  end)
end)
