-- spec/options_spec.lua: every option by name set and read back, the
-- numeric setsockopt/getsockopt agreeing with it, and misuse raising.

local H = require "helpers"
local ns = H.netsock

-- set each value in turn and read it back as 'expect(value)'
local function roundtrip(s, name, values, expect)
  for _, v in ipairs(values) do
    assert.is_true(s:setoption(name, v), name)
    local want = expect and expect(v) or v
    assert.are.same(want, s:getoption(name), name .. " = " .. tostring(v))
  end
end

describe("options by name", function()
  it("boolean socket options on a stream socket", function()
    local s = assert(ns.tcp())
    finally(function() s:close() end)
    for _, name in ipairs { "reuseaddr", "reuseport", "keepalive", "nodelay", "broadcast" } do
      roundtrip(s, name, { true, false, true })
    end
    -- an integer is taken as a flag too
    assert.is_true(s:setoption("nodelay", 0))
    assert.is_false(s:getoption("nodelay"))
  end)

  it("keepidle, keepintvl, keepcnt", function()
    local s = assert(ns.tcp())
    finally(function() s:close() end)
    roundtrip(s, "keepidle", { 30, 600 })
    roundtrip(s, "keepintvl", { 5, 75 })
    roundtrip(s, "keepcnt", { 3, 9 })
    assert.are.equal(600, s:getsockopt(ns.IPPROTO_TCP, ns.TCP_KEEPIDLE))
  end)

  it("sndbuf and rcvbuf read back as the kernel reports (doubled on Linux)", function()
    local s = assert(ns.udp())
    finally(function() s:close() end)
    for _, name in ipairs { "sndbuf", "rcvbuf" } do
      assert.is_true(s:setoption(name, 65536))
      local got = s:getoption(name)
      assert.are.equal(2 * 65536, got, name)
      local level, opt = ns.SOL_SOCKET, name == "sndbuf" and ns.SO_SNDBUF or ns.SO_RCVBUF
      assert.are.equal(got, s:getsockopt(level, opt))
    end
  end)

  it("linger as a table, an integer or false", function()
    local s = assert(ns.tcp())
    finally(function() s:close() end)
    assert.are.same({ on = false, timeout = 0 }, s:getoption("linger"))
    assert.is_true(s:setoption("linger", { on = true, timeout = 7 }))
    assert.are.same({ on = true, timeout = 7 }, s:getoption("linger"))
    assert.is_true(s:setoption("linger", 3))
    assert.are.same({ on = true, timeout = 3 }, s:getoption("linger"))
    assert.is_true(s:setoption("linger", false))
    assert.is_false(s:getoption("linger").on)
  end)

  it("ttl on IPv4", function()
    local s = assert(ns.udp())
    finally(function() s:close() end)
    roundtrip(s, "ttl", { 1, 64, 255 })
    assert.are.equal(255, s:getsockopt(ns.IPPROTO_IP, ns.IP_TTL))
  end)

  it("multicast_ttl, multicast_loop and multicast_if on IPv4", function()
    local s = assert(ns.udp())
    finally(function() s:close() end)
    roundtrip(s, "multicast_ttl", { 0, 5, 255 })
    roundtrip(s, "multicast_loop", { false, true })
    roundtrip(s, "multicast_if", { "127.0.0.1", "0.0.0.0" })
    assert.are.equal(255, s:getsockopt(ns.IPPROTO_IP, ns.IP_MULTICAST_TTL))
  end)

  it("add_membership and drop_membership are set-only", function()
    local s = assert(ns.udp())
    finally(function() s:close() end)
    assert.is_true(s:setoption("add_membership", "239.1.2.3", "127.0.0.1"))
    assert.is_true(s:setoption("add_membership", { multiaddr = "239.1.2.4", interface = "lo" }))
    assert.is_true(s:setoption("drop_membership", "239.1.2.3", "127.0.0.1"))
    assert.is_true(s:setoption("drop_membership", { group = "239.1.2.4", interface = "lo" }))
    assert.has_error(function() s:getoption("add_membership") end,
      "bad argument #1 to 'getoption' (option can only be set)")
    assert.has_error(function() s:setoption("add_membership", "not-a-group") end)
    assert.has_error(function() s:setoption("add_membership", "239.1.2.3", "no-such-if0") end)
  end)

  H.ipv6_it("ipv6only, ttl (unicast hops) and the multicast options on IPv6", function()
    local s = assert(ns.udp("inet6"))
    finally(function() s:close() end)
    roundtrip(s, "ipv6only", { true, false })
    roundtrip(s, "ttl", { 1, 64 })
    assert.are.equal(64, s:getsockopt(ns.IPPROTO_IPV6, ns.IPV6_UNICAST_HOPS))
    roundtrip(s, "multicast_ttl", { 3 })
    roundtrip(s, "multicast_loop", { false, true })
    assert.is_true(s:setoption("multicast_if", "lo"))
    assert.is_true(s:getoption("multicast_if") > 0)
    roundtrip(s, "multicast_if", { 0 })
    assert.is_true(s:setoption("add_membership", "ff02::1:7", "lo"))
    assert.is_true(s:setoption("drop_membership", "ff02::1:7", "lo"))
  end)

  it("reads back the same through another socket on the descriptor", function()
    local s = assert(ns.udp())
    finally(function() s:close() end)
    assert(s:setoption("rcvbuf", 50000))
    assert(s:setoption("ttl", 17))
    assert(s:setoption("multicast_ttl", 9))
    assert(s:setoption("broadcast", true))
    local dup = assert(ns.fromfd(s:fileno(), "inet", "dgram"))
    finally(function() dup:close() end)
    assert.are.equal(s:getoption("rcvbuf"), dup:getoption("rcvbuf"))
    assert.are.equal(17, dup:getoption("ttl"))
    assert.are.equal(9, dup:getoption("multicast_ttl"))
    assert.is_true(dup:getoption("broadcast"))
  end)

  it("returns failures from the kernel, e.g. a TCP option on UDP", function()
    local s = assert(ns.udp())
    finally(function() s:close() end)
    local ok, msg, code = s:setoption("nodelay", true)
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.is_string(code)
    local u = assert(ns.socket("unix", "dgram"))
    finally(function() u:close() end)
    ok, _, code = u:setoption("ttl", 3)
    assert.is_nil(ok)
    assert.matches("^E", code)
  end)

  it("raises on unknown names, wrong value types and closed sockets", function()
    local s = assert(ns.tcp())
    assert.has_error(function() s:setoption("bogus", 1) end,
      "bad argument #1 to 'setoption' (unknown option 'bogus')")
    assert.has_error(function() s:getoption("bogus") end)
    assert.has_error(function() s:setoption("rcvbuf", true) end)
    assert.has_error(function() s:setoption("rcvbuf", "big") end)
    assert.has_error(function() s:setoption("keepalive", "yes") end)
    assert.has_error(function() s:setoption("rcvbuf", 1 << 40) end)
    assert.has_error(function() s:setoption("multicast_if", {}) end)
    s:close()
    assert.has_error(function() s:setoption("reuseaddr", true) end,
      "attempt to use a closed socket")
  end)
end)
