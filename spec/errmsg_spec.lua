-- Failures name what they were about (issue 21): a bind that fails says
-- which address ("bind 127.0.0.1:8080: Address already in use"), a
-- lookup that fails says which host ("lookup nosuch.invalid: ...") or,
-- when the service was the trouble, which service. Only the message
-- changes: the code (third value) is the errno or EAI name as before.
local H = require "helpers"
local ns = H.netsock

-- a port in use on 127.0.0.1, and the listener holding it
local function inuse(family)
  local host = family == "inet6" and "::1" or "127.0.0.1"
  local srv = assert(ns.create_server(host, 0, { family = family }))
  local _, port = srv:getsockname()
  return srv, host, port
end

describe("failures name their address", function()
  it("s:bind on a TCP port in use names the address", function()
    local srv, _, port = inuse()
    finally(function() srv:close() end)
    local s = ns.tcp()
    finally(function() s:close() end)
    assert.same({ nil, ("bind 127.0.0.1:%d: Address already in use"):format(port), "EADDRINUSE" },
      { s:bind("127.0.0.1", port) })
  end)

  H.ipv6_it("s:bind on an IPv6 port in use names the address in brackets", function()
    local srv, _, port = inuse("inet6")
    finally(function() srv:close() end)
    local s = ns.tcp("inet6")
    finally(function() s:close() end)
    assert.same({ nil, ("bind [::1]:%d: Address already in use"):format(port), "EADDRINUSE" },
      { s:bind("::1", port) })
  end)

  it("s:bind on UDP, and an address not on this machine", function()
    local a = ns.udp()
    finally(function() a:close() end)
    assert(a:bind("127.0.0.1", 0))
    local _, port = a:getsockname()
    local b = ns.udp()
    finally(function() b:close() end)
    assert.same({ nil, ("bind 127.0.0.1:%d: Address already in use"):format(port), "EADDRINUSE" },
      { b:bind("127.0.0.1", port) })
    -- 192.0.2.1 (TEST-NET-1) is nobody's address here
    assert.same({ nil, "bind 192.0.2.1:0: Cannot assign requested address", "EADDRNOTAVAIL" },
      { b:bind("192.0.2.1", 0) })
  end)

  it("s:bind on a Unix path or abstract name in use names it", function()
    local path = H.tmpname(".sock")
    local a = ns.socket("unix", "stream")
    finally(function() a:close(); os.remove(path) end)
    assert(a:bind(path))
    local b = ns.socket("unix", "stream")
    finally(function() b:close() end)
    assert.same({ nil, ("bind %s: Address already in use"):format(path), "EADDRINUSE" }, { b:bind(path) })
    if not H.linux then return end  -- the rest: abstract names, Linux's own
    local name = "\0netsock-errmsg-" .. H.pid() .. "-" .. math.random(1 << 30)
    assert(a:close())
    a = ns.socket("unix", "stream")
    assert(a:bind(name))
    assert.same({ nil, ("bind @%s: Address already in use"):format(name:sub(2)), "EADDRINUSE" },
      { b:bind(name) })
  end)

  it("create_server and serve name the address in use", function()
    local srv, _, port = inuse()
    finally(function() srv:close() end)
    local want = ("bind 127.0.0.1:%d: Address already in use"):format(port)
    assert.same({ nil, want, "EADDRINUSE" }, { ns.create_server("127.0.0.1", port) })
    local r = { ns.serve("127.0.0.1", port, function() end) }
    assert.same({ nil, want, "EADDRINUSE" }, r)
  end)
end)

describe("failures name their host", function()
  it("a service that does not exist is named", function()
    local ok, msg, code = ns.getaddrinfo("127.0.0.1", "netsock-no-such-service")
    assert.is_nil(ok)
    assert.are.equal("EAI_SERVICE", code)
    assert.matches("^lookup service netsock%-no%-such%-service: .+", msg)
  end)

  -- offline (H.lua_offline): no query leaves the machine, and every name
  -- /etc/hosts does not know fails at once; each function, outside and
  -- inside a task (the thread pool's path)
  local function offit(name, fn) H.linux_it(name, "unshare -mn", fn, H.can_unshare) end
  offit("every lookup that fails names the host, outside tasks and inside", function()
    local p = H.lua_offline([[
local ns = require "netsock"
local host = "nosuch.invalid"
local function show(tag, ok, msg, code) print(tag, tostring(ok), msg, code) end
local function all(where)
  show(where .. " getaddrinfo", ns.getaddrinfo(host, 80))
  show(where .. " gethostbyname", ns.gethostbyname(host))
  show(where .. " gethostbyname_ex", ns.gethostbyname_ex(host))
  show(where .. " create_connection", ns.create_connection(host, 80, 5))
  local u = ns.udp()
  show(where .. " sendto", u:sendto("x", host, 9))
  u:close()
  show(where .. " getnameinfo", ns.getnameinfo("192.0.2.123", 80, ns.NI_NAMEREQD))
  show(where .. " gethostbyaddr", ns.gethostbyaddr("192.0.2.123"))
end
all("plain")
ns.spawn(function() all("task") end)
ns.run()
]])
    finally(function() p:kill() end)
    assert.equal(0, p:wait(60), p:output())
    local out, n = p:output(), 0
    for line in out:gmatch("[^\n]+") do
      n = n + 1
      local tag, ok, msg, code = line:match("^(.-)\t(.-)\t(.-)\t(.*)$")
      assert.are.equal("nil", ok, line)
      assert.matches("^EAI_%u+$", code, line)
      local about = (tag:find("getnameinfo") or tag:find("gethostbyaddr")) and "192.0.2.123" or "nosuch.invalid"
      assert.are.equal("lookup " .. about .. ": ", msg:sub(1, #about + 9), line)
      assert.truthy(#msg > #about + 9, line)
    end
    assert.are.equal(14, n, out)
  end)
end)
