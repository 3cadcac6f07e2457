-- spec/fuzz/fuzz_addr.lua: address and port parsing (ns_getaddr through
-- bind, connect and connect_ex; getaddrinfo). The input picks a family,
-- an operation, a port in one of its forms (integer, float, string) and
-- a host or path made of the rest of its bytes. A plain model says
-- which ports must be refused ("port out of range", "invalid port") and
-- which Unix paths ("empty", "zero byte", "too long"); every outcome
-- must be one API.md allows (true, nil+message+code, or an error that
-- names the function and the argument), and a successful bind must be
-- read back by getsockname. The harness makes every lookup numeric and
-- keeps connects on loopback (see harness.c).
local core = ...

local families = { "inet", "inet6", "unix" }
local ops = { "bind", "connect", "connect_ex", "getaddrinfo",
  "sendto", "inet_pton", "inet_ntop", "getnameinfo" }

-- what inet_pton("inet", text) must accept: four decimal octets,
-- 0..255, no leading zero (glibc's inet_pton4), nothing else
local function v4model(text)
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local out = {}
  for i, o in ipairs({ a, b, c, d }) do
    if #o > 3 or (#o > 1 and o:sub(1, 1) == "0") then return nil end
    local v = tonumber(o)
    if v > 255 then return nil end
    out[i] = string.char(v)
  end
  return table.concat(out)
end

-- what the core must make of a port argument
local function portclass(p)
  local t = math.type(p)
  if t == "integer" then return (p >= 0 and p <= 65535) and "ok" or "range" end
  if t == "float" then
    if p ~= p or p < 0 or p > 65535 then return "range" end
    return p == math.floor(p) and "ok" or "noint"
  end
  if p == "" or p:find("\0", 1, true) then return "invalid" end
  -- a service name has an ASCII letter; anything else must be decimal
  -- digits alone (" 80" and "+80" are refused: issue 11, #16)
  if p:find("[A-Za-z]") then return "service" end
  if p:match("^%d+$") then
    local v = tonumber(p)
    return (v >= 0 and v <= 65535) and "ok" or "range"
  end
  return "invalid"
end

local function check_error(err, fname)
  assert(type(err) == "string", "error is not a string")
  assert(err:find("bad argument #%d+ to '" .. fname .. "'")
    or err:find("calling '" .. fname .. "' on bad self")
    or err:find("takes no host and port", 1, true),
    "unclear error: " .. err)
end

local function check_result(r)
  if r[1] == nil then
    assert(r.n == 3 and type(r[2]) == "string" and type(r[3]) == "string",
      "failure is not nil, message, code")
  end
end

return function(data)
  if #data < 3 then return end
  local b0, b1 = data:byte(1, 2)
  local family = families[b0 % 3 + 1]
  local op = ops[(b0 >> 2) % 8 + 1]
  local pk = b1 % 6
  local rest = data:sub(3)
  local port
  if pk == 0 then  -- little-endian integer of 1..8 bytes
    local n = (b1 >> 3) % 8 + 1
    port = string.unpack("<i" .. n, (rest .. ("\0"):rep(8)):sub(1, n))
    rest = rest:sub(n + 1)
  elseif pk == 1 then  -- a double
    port = string.unpack("<d", (rest .. ("\0"):rep(8)):sub(1, 8))
    rest = rest:sub(9)
  elseif pk == 2 or pk == 3 then  -- a string of the next n bytes
    local n = (b1 >> 3) % 12
    port = rest:sub(1, n)
    rest = rest:sub(n + 1)
  elseif pk == 4 then
    port = b1 >> 3  -- a small valid port
  else
    port = "0"
  end
  local host = rest
  local pc = portclass(port)

  if op == "inet_pton" or op == "inet_ntop" then
    if not core.inet_pton then return end
    local fam = family == "inet6" and "inet6" or "inet"
    local text = op == "inet_pton" and host or nil
    if op == "inet_ntop" then  -- random packed bytes of the right length
      local n = fam == "inet" and 4 or 16
      local packed = (host .. ("\0"):rep(n)):sub(1, n)
      text = core.inet_ntop(fam, packed)
      assert(type(text) == "string", "inet_ntop failed on valid bytes")
      assert(core.inet_pton(fam, text) == packed, "ntop/pton do not round-trip")
      if fam == "inet" then
        assert(core.inet_ntoa(packed) == text, "inet_ntoa differs from inet_ntop")
        assert(core.inet_aton(text) == packed, "inet_aton differs")
      end
      return
    end
    local ok, r, msg, code = pcall(core.inet_pton, fam, text)
    if not ok then
      assert(text:find("\0", 1, true), "inet_pton raised: " .. tostring(r))
      return
    end
    if fam == "inet" then
      assert(r == v4model(text), ("inet_pton(%q) disagrees with the model"):format(text))
    end
    if r then
      assert(#r == (fam == "inet" and 4 or 16))
      assert(core.inet_pton(fam, core.inet_ntop(fam, r)) == r, "pton/ntop do not round-trip")
    else
      assert(type(msg) == "string" and type(code) == "string", "bad failure")
    end
    return
  end

  if op == "getnameinfo" then
    if not core.getnameinfo then return end
    local r = table.pack(pcall(core.getnameinfo, host, port, core.NI_NUMERICHOST | core.NI_NUMERICSERV))
    if not r[1] then
      assert(r[2]:find("bad argument #%d+ to"), r[2])
      if not host:find("\0", 1, true) then assert(pc ~= "ok" and pc ~= "service", "valid port refused: " .. r[2]) end
      return
    end
    table.remove(r, 1); r.n = r.n - 1
    if r[1] == nil then
      assert(type(r[2]) == "string" and type(r[3]) == "string", "bad failure")
    else
      assert(type(r[1]) == "string" and type(r[2]) == "string")
      assert(pc == "ok" or pc == "service", "bad port accepted")
    end
    return
  end

  if op == "sendto" then
    if not (core._socketmethods.sendto) then return end
    local s = core.socket(family, "dgram")
    if not s then return end
    s:settimeout(0)
    local r = table.pack(pcall(function()
      if family == "unix" then return s:sendto("x", host) end
      local t = table.pack(s:sendto("x", host, port))
      return table.unpack(t, 1, t.n)
    end))
    if not r[1] then
      check_error(r[2], "sendto")
    else
      table.remove(r, 1); r.n = r.n - 1
      if r[1] == nil then
        assert(type(r[2]) == "string" and type(r[3]) == "string", "bad failure")
      else
        assert(r[1] == 1, "sent " .. tostring(r[1]) .. " bytes of 1")
      end
    end
    s:close()
    return
  end

  if op == "getaddrinfo" then
    if family == "unix" then family = nil end
    local flags = core.AI_NUMERICHOST | ((b1 & 0x80) ~= 0 and core.AI_PASSIVE or 0)
    local r = table.pack(pcall(core.getaddrinfo, host, port, family, "stream", 0, flags))
    if not r[1] then
      local err = r[2]
      assert(err:find("bad argument #%d+ to '%?'") or err:find("getaddrinfo"), err)
      if host:find("\0", 1, true) then return end
      assert(pc ~= "ok", "valid port refused: " .. err)
      return
    end
    table.remove(r, 1); r.n = r.n - 1
    check_result(r)
    assert(pc == "ok" or pc == "service", "bad port accepted: " .. tostring(port))
    assert(not host:find("\0", 1, true), "host with a zero byte accepted")
    if r[1] then
      for _, ai in ipairs(r[1]) do
        assert(ai.family == "inet" or ai.family == "inet6")
        assert(math.type(ai.port) == "integer" and ai.port >= 0 and ai.port <= 65535)
        assert(type(ai.host) == "string")
      end
    end
    return
  end

  local s = core.socket(family, (b1 & 0x40) ~= 0 and "dgram" or "stream")
  if not s then return end
  s:settimeout(0)
  local r
  if family == "unix" then
    local path = host
    r = table.pack(pcall(function() local t = table.pack(s[op](s, path)) return table.unpack(t, 1, t.n) end))
    local abstract = path:sub(1, 1) == "\0"
    local bad = #path == 0 or (not abstract and path:find("\0", 1, true))
      or (abstract and #path > 108) or (not abstract and #path > 107)
    if bad then
      assert(not r[1], "bad path accepted: " .. ("%q"):format(path))
      assert(r[2]:find("bad argument #%d to"), r[2])
    else
      assert(r[1], "good path refused: " .. tostring(r[2]))
      if op == "bind" and r[2] == true then
        assert(s:getsockname() == path, "bound path differs")
      end
    end
  else
    r = table.pack(pcall(function()
      local t = table.pack(s[op](s, host, port))
      return table.unpack(t, 1, t.n)
    end))
    if not r[1] then
      check_error(r[2], "?")  -- called through s[op]: the name is not known
      if not host:find("\0", 1, true) and not (host == "<broadcast>" and family == "inet6") then
        assert(pc ~= "ok", "valid port refused: " .. r[2])
      end
    else
      assert(not host:find("\0", 1, true), "host with a zero byte accepted")
      assert(pc == "ok" or pc == "service", "bad port accepted: " .. tostring(port))
      table.remove(r, 1); r.n = r.n - 1
      if op ~= "connect_ex" then check_result(r) end
      if op == "bind" and r[1] == true then
        local h, p = s:getsockname()
        assert(type(h) == "string" and math.type(p) == "integer")
        if pc == "ok" and tonumber(port) ~= 0 then
          assert(p == math.tointeger(tonumber(port)), "bound to another port")
        end
      end
    end
  end
  s:close()
end
