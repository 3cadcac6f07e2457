-- spec/fuzz/fuzz_options.lua: option names and values. The input picks
-- a socket (TCP or UDP over IPv4 or IPv6, Unix stream or datagram, or a
-- closed one), a call (setoption, getoption, setsockopt, getsockopt)
-- and its arguments: a known or random name, a value of any kind
-- (boolean, integers of every width, floats, strings, linger tables),
-- numeric levels and options. Every outcome must be one API.md allows,
-- and a boolean option set by name must read back the same.
local core = ...

local names = { "reuseaddr", "reuseport", "keepalive", "nodelay", "broadcast",
  "sndbuf", "rcvbuf", "linger", "ipv6only", "ttl", "keepidle", "keepintvl",
  "keepcnt" }
-- the datagram options (datagram branch): accepted where they exist
local extra = { "multicast_ttl", "multicast_loop", "multicast_if",
  "add_membership", "drop_membership" }
local isextra = {}
for _, n in ipairs(extra) do isextra[n] = true; names[#names + 1] = n end
local bools = { reuseaddr = true, reuseport = true, keepalive = true,
  nodelay = true, broadcast = true, ipv6only = true }
local known = {}
for _, n in ipairs(names) do known[n] = not isextra[n] end
local kinds = {
  { "inet", "stream" }, { "inet6", "stream" }, { "inet", "dgram" },
  { "inet6", "dgram" }, { "unix", "stream" }, { "unix", "dgram" },
}
local levels = { core.SOL_SOCKET, core.IPPROTO_TCP, core.IPPROTO_IP,
  core.IPPROTO_IPV6, core.IPPROTO_UDP }

return function(data)
  if #data < 4 then return end
  local b0, b1, b2 = data:byte(1, 3)
  local rest = data:sub(4)
  local function take(n)
    local s = rest:sub(1, n)
    rest = rest:sub(n + 1)
    return s .. ("\0"):rep(n - #s)
  end
  local k = kinds[b0 % 7 + 1]
  local s
  if k then
    s = core.socket(k[1], k[2])
    if not s then return end
  else
    s = core.socket("inet", "stream")
    s:close()
  end
  local vk = b2 % 8
  local value
  if vk == 0 then value = (b2 & 8) ~= 0
  elseif vk == 1 then value = string.unpack("<i1", take(1))
  elseif vk == 2 then value = string.unpack("<i4", take(4))
  elseif vk == 3 then value = string.unpack("<i8", take(8))
  elseif vk == 4 then value = string.unpack("<d", take(8))
  elseif vk == 5 then value = take(b2 >> 3)
  elseif vk == 6 then
    value = { on = (b2 & 8) ~= 0, timeout = string.unpack("<i4", take(4)) }
    if (b2 & 16) ~= 0 then value.timeout = 1.5 end
    if (b2 & 32) ~= 0 then  -- a membership: group and interface
      value = { group = take((b2 >> 6) * 5), interface = take(4) }
    end
  else value = nil end

  local op = b1 % 4
  local r
  if op <= 1 then
    local name
    if (b1 & 4) ~= 0 then name = take((b1 >> 3) % 16) else name = names[(b1 >> 3) % #names + 1] end
    if op == 0 then
      r = table.pack(pcall(s.setoption, s, name, value))
    else
      r = table.pack(pcall(s.getoption, s, name))
    end
    if not r[1] then
      local err = r[2]
      assert(type(err) == "string")
      assert(err:find("bad argument #%d+ to") or err:find("closed socket", 1, true), err)
      if err:find("unknown option", 1, true) then assert(not known[name], "known name refused") end
      if k and known[name] and op == 1 then error("getoption raised on a known name: " .. err) end
    else
      assert(k, "a closed socket answered")
      assert(known[name] or isextra[name], "unknown name accepted: " .. ("%q"):format(name))
      if r[2] == nil then
        assert(type(r[3]) == "string" and type(r[4]) == "string", "bad failure")
      elseif op == 0 then
        assert(r[2] == true)
        if bools[name] and (type(value) == "boolean" or math.type(value) == "integer") then
          local want = value == true or (math.type(value) == "integer" and value ~= 0)
          assert(s:getoption(name) == want, name .. " did not read back")
        end
        if name == "linger" and type(value) == "table" and math.type(value.timeout) == "integer" and value.timeout >= 0 then
          local g = s:getoption("linger")
          assert(g.on == value.on, "linger did not read back")
        end
      end
    end
  else
    local level = (b1 & 4) ~= 0 and string.unpack("<i4", take(4)) or levels[(b1 >> 3) % #levels + 1]
    local opt = (b1 & 128) ~= 0 and string.unpack("<i4", take(4)) or (b1 >> 3) % 80
    if op == 2 then
      r = table.pack(pcall(s.setsockopt, s, level, opt, value))
    else
      local buflen = (b2 & 1) ~= 0 and string.unpack("<i2", take(2)) or nil
      r = table.pack(pcall(s.getsockopt, s, level, opt, buflen))
      if r[1] and r[2] ~= nil and buflen then
        assert(type(r[2]) == "string" and #r[2] <= buflen, "more bytes than asked")
      end
    end
    if not r[1] then
      assert(r[2]:find("bad argument #%d+ to") or r[2]:find("closed socket", 1, true), r[2])
    elseif r[2] == nil then
      assert(type(r[3]) == "string" and type(r[4]) == "string", "bad failure")
    end
  end
  s:close()
end
