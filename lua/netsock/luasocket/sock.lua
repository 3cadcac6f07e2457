-- netsock.luasocket.sock: LuaSocket's tcp, udp and unix objects on
-- netsock sockets. Each object is a C userdata (src/luasocket.c) over a
-- netsock socket, whose metatable is its class (tcp{master},
-- tcp{client}, ...); connect, listen and setpeername move it from class
-- to class, as LuaSocket does. The methods every request calls are C
-- (receive, send, settimeout, close, ...); the rest are here, reading
-- the object's fields through core._lsget and core._lsset.
-- Internal to netsock.luasocket.

local ns = require "netsock"
local core = require "netsock.core"

local error, ipairs, pairs, type, tostring, tonumber, select =
      error, ipairs, pairs, type, tostring, tonumber, select
local setmetatable, getmetatable, rawequal = setmetatable, getmetatable, rawequal
local find, sub, byte, format = string.find, string.sub, string.byte, string.format
local mtype, floor = math.type, math.floor
local getinfo = debug.getinfo
local pcall = pcall
local package = package

local nssocket = ns.socket
local nsmethods = ns.socketmethods
local recv, pending = nsmethods.recv, nsmethods.pending
local nssend = nsmethods.send
local current = ns._tasks.current
local lsnew, lsget, lsset = core._lsnew, core._lsget, core._lsset
local lssetclass, lsreapply, lsclass = core._lssetclass, core._lsreapply, core._lsclass
local _ENV = nil

-- an object's fields (src/luasocket.c's user values)
local SOCK, FAM, KIND, CONNECTING, FAILED = 1, 2, 3, 4, 5
local TOHOST, TOPORT, TOADDR, TOPORTN = 6, 7, 8, 9
local function sockof(o) return lsget(o, SOCK) end
local function famof(o) return lsget(o, FAM) end
local function isdgram(o)
  local k = lsget(o, KIND)
  return k == "udp" or k == "unixdgram"
end

local M = {}

-- {====== Errors in LuaSocket's words ======

-- every public function and method, for argerror to find its name
local api = setmetatable({}, { __mode = "k" })
M.api = api

-- the name lauxlib gives a function found in package.loaded; where
-- LuaSocket's C functions are found under "socket.core", ours are too
local function globalname(fn)
  local best
  for modname, mod in pairs(package.loaded) do
    if type(mod) == "table" then
      for k, v in pairs(mod) do
        if rawequal(v, fn) and type(k) == "string" then
          local name = modname == "_G" and k or modname .. "." .. k
          if modname == "socket.core" then return name end
          if best == nil or #name < #best then best = name end
        end
      end
    end
  end
  return best
end

-- argerror(arg, msg): raises as luaL_argerror does from the public
-- function that is running ("bad argument #2 to 'receive' (...)",
-- "calling 'send' on bad self (...)" for a method's self)
local function argerror(arg, msg)
  local level, ar = 2, nil
  while true do
    ar = getinfo(level, "nft")
    if ar == nil then break end
    if api[ar.func] then break end
    level = level + 1
  end
  -- a public function called by another (receive's C closure calls the
  -- Lua receive): the outermost names the call
  while ar do
    local up = getinfo(level + 1, "nft")
    if not (up and api[up.func]) then break end
    ar, level = up, level + 1
  end
  if ar == nil then error(format("bad argument #%d (%s)", arg, msg), 0) end
  local name, namewhat, where = ar.name, ar.namewhat, level + 1
  if ar.istailcall then
    -- called as "return s:m()": the caller's frame, which had the name
    -- and the position, is gone (a C function keeps it); a method's
    -- name is known, the position is not
    local known = api[ar.func]
    if type(known) == "string" then
      if byte(known) == 61 then name = sub(known, 2)   -- "=name": a module function
      else name, namewhat = known, "method" end
    end
    where = 0
  end
  -- the position is the caller's, as luaL_error's luaL_where(L, 1)
  if namewhat == "method" then
    arg = arg - 1
    if arg == 0 then
      error(format("calling '%s' on bad self (%s)", name, msg), where)
    end
  end
  if name == nil then name = globalname(ar.func) or "?" end
  error(format("bad argument #%d to '%s' (%s)", arg, name, msg), where)
end
M.argerror = argerror

-- (int) of a number as LuaSocket's C casts get it on the machines it
-- runs on: NaN and out of range are INT_MIN (x86's conversion)
local function cint(n)
  if not (n > -2147483649 and n < 2147483648) then return -2147483648 end
  return n >= 0 and floor(n) or -floor(-n)
end
M.cint = cint

local function typename(v)
  return type(v)
end
M.typename = typename

-- luaL_checklstring: strings, and numbers turned into strings
-- (n, when known, is the count of arguments given: a missing one is "no
-- value", as lauxlib says; methods cannot tell, and say "nil")
local function checkstring(v, arg, n)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return tostring(v) end
  argerror(arg, "string expected, got " .. (v == nil and n and arg > n and "no value" or t))
end
M.checkstring = checkstring

-- what C sees of a Lua string: up to its first zero byte (LuaSocket
-- compares option names as C strings)
local function cstring(v)
  if find(v, "\0", 1, true) then return (v:match("^[^\0]*")) end
  return v
end

M.cstring = cstring

local function checknumber(v, arg, given)
  local n = tonumber(v)
  if n == nil then
    argerror(arg, "number expected, got " ..
                  (v == nil and given and arg > given and "no value" or type(v)))
  end
  return n
end
M.checknumber = checknumber

local function optnumber(v, arg, def)
  if v == nil then return def end
  return checknumber(v, arg)
end

-- luaL_checkoption
local function checkoption(v, arg, def, list)
  if v == nil and def then v = def end
  v = cstring(checkstring(v, arg))
  for i, name in ipairs(list) do
    if name == v then return i end
  end
  argerror(arg, format("invalid option '%s'", v))
end

-- netsock's failure (message, code) as LuaSocket words it
local words = {
  timeout = "timeout", closed = "closed", EINPROGRESS = "timeout",
  EADDRINUSE = "address already in use", EISCONN = "already connected",
  EACCES = "permission denied", ECONNREFUSED = "connection refused",
  ECONNABORTED = "closed", ECONNRESET = "closed", ETIMEDOUT = "timeout",
  EPIPE = "closed",
  EAI_AGAIN = "temporary failure in name resolution",
  EAI_BADFLAGS = "invalid value for ai_flags",
  EAI_FAIL = "non-recoverable failure in name resolution",
  EAI_FAMILY = "ai_family not supported",
  EAI_MEMORY = "memory allocation failure",
  EAI_NONAME = "host or service not provided, or not known",
  EAI_OVERFLOW = "argument buffer overflow",
  EAI_SERVICE = "service not supported for socket type",
  EAI_SOCKTYPE = "ai_socktype not supported",
}
-- netsock's message without what it was about: netsock says "bind
-- 127.0.0.1:80: ..." and "lookup host: ...", LuaSocket only the sentence
local function bare(msg)
  if type(msg) ~= "string" then return msg end
  return (msg:gsub("^lookup service .-: ", "", 1):gsub("^lookup .-: ", "", 1):gsub("^bind .-: ", "", 1))
end
M.bare = bare
local function lserror(msg, code)
  return words[code] or bare(msg)
end
M.lserror = lserror
-- }======

-- {====== Classes ======
-- An object is a userdata of src/luasocket.c (core._lsnew), its class
-- a metatable made here and registered there with its kind
-- (core._lsclass); the C methods come from core._lsmethods.

local classes = {}   -- name -> metatable
local function tostr(o)
  return format("%s: %p", getmetatable(o).__name, o)
end

local KINDS = { tcp = 1, udp = 2, unixstream = 3, unixdgram = 4 }

-- a class: its metatable, with __index the methods plus class = name
local function newclass(name, methods, groups, kind)
  local index = { class = name }
  for k, fn in pairs(methods) do index[k] = fn end
  local mt = { __index = index, __name = name, __tostring = tostr }
  for _, g in ipairs(groups) do mt[g] = true end
  lsclass(mt, KINDS[kind])
  classes[name] = mt
  return mt
end
M.classes = classes

-- the C methods of a kind into its classes (anyname: the group, as
-- "tcp{any}"; client, clientname: the class receive and send take)
local function addcmethods(kind, mts, anyname, client, clientname, names, lua)
  local cm = core._lsmethods(KINDS[kind], anyname, client or false,
                             clientname or "", words, lua)
  -- __gc: getmetatable(o).__gc is a function, as LuaSocket's, but not a
  -- raw field, so Lua does not mark the objects for finalization: the
  -- netsock socket inside has its own __gc, which closes the descriptor
  -- when both go (a finalizer per object cost accept a tenth of its
  -- instructions)
  local gcmt = { __index = { __gc = cm.__gc } }
  for _, mt in ipairs(mts) do
    setmetatable(mt, gcmt)
    for _, k in ipairs(names) do
      if cm[k] then mt.__index[k] = cm[k] end
    end
  end
end

local function setclass(o, mt)
  return lssetclass(o, mt)
end
M.setclass = setclass

local function badclass(arg, want)
  argerror(arg, want .. " expected")
end

-- a netsock socket for o: family from the address, type from the kind
-- (it takes o's timeouts as it becomes o's)
local function mksock(o, family)
  local s, msg, code = nssocket(family, isdgram(o) and "dgram" or "stream")
  if not s then return nil, lserror(msg, code) end
  if family == "inet6" then s:setoption("ipv6only", true) end
  lsset(o, FAM, family)
  lsset(o, SOCK, s)
  return s
end
M.mksock = mksock

local function newobject(kind, family, mt)
  return lsnew(mt, kind, family or false)
end
M.newobject = newobject
-- }======

-- {====== Methods every kind shares ======

local function addr3(s, fn)
  if not s then return nil, "Bad file descriptor" end
  local host, port, code = s[fn](s)
  if not host then return nil, lserror(port, code) end
  -- (LuaSocket gives getsockname's port as getnameinfo's text,
  -- getpeername's as a number)
  if fn == "getsockname" then port = tostring(port) end
  if find(host, ":", 1, true) then return host, port, "inet6" end
  return host, port, "inet"
end

local setoption, getoption   -- below

local function common_getpeername(o) return addr3(sockof(o), "getpeername") end

-- the methods every kind shares, each checking its object with check(o)
local function commonfor(check)
  local common = {}

  -- setfd(fd): -1 lets go of the descriptor without closing it (LuaSec takes
  -- it so); another number adopts a duplicate of it
  function common.setfd(o, fd)
      check(o)
    fd = checknumber(fd, 2)
    local s = sockof(o)
    if fd < 0 then
      if s then s:detach() end
      lsset(o, SOCK, false)
      return
    end
    if s then s:close() end
    local t = isdgram(o) and "dgram" or "stream"
    local fam = lsget(o, KIND):sub(1, 4) == "unix" and "unix" or (famof(o) or "inet")
    local n = ns.fromfd(floor(fd), fam, t)
    lsset(o, SOCK, n or false)
  end

  function common.getfamily(o)
      check(o)
    if famof(o) == "inet6" then return "inet6" end
    return "inet4"
  end

  function common.getsockname(o) check(o) return addr3(sockof(o), "getsockname") end
  function common.getpeername(o) check(o) return addr3(sockof(o), "getpeername") end
  -- (not tail calls: argerror looks for this frame)
  function common.setoption(o, name, v)
    check(o)
    local ok, err = setoption(o, name, v)
    if ok then return ok end
    return nil, err
  end
  function common.getoption(o, name)
    check(o)
    local v, err = getoption(o, name)
    if err then return nil, err end
    return v
  end
  return common
end
-- }======

-- {====== Options ======

local SOL, TCP, IPV6 = core.SOL_SOCKET, core.IPPROTO_TCP, core.IPPROTO_IPV6

-- option name -> { level, optname, value kind } (raw setsockopt), or
-- { name = netsock option name, value kind }
local opts = {
  keepalive = { SOL, core.SO_KEEPALIVE, "bool" },
  reuseaddr = { SOL, core.SO_REUSEADDR, "bool" },
  reuseport = { SOL, core.SO_REUSEPORT, "bool" },
  dontroute = { SOL, core.SO_DONTROUTE, "bool" },
  broadcast = { SOL, core.SO_BROADCAST, "bool" },
  ["tcp-nodelay"] = { TCP, core.TCP_NODELAY, "bool" },
  ["tcp-keepidle"] = { TCP, core.TCP_KEEPIDLE, "int" },
  ["tcp-keepcnt"] = { TCP, core.TCP_KEEPCNT, "int" },
  ["tcp-keepintvl"] = { TCP, core.TCP_KEEPINTVL, "int" },
  ["tcp-defer-accept"] = { TCP, 9, "int" },          -- TCP_DEFER_ACCEPT
  ["tcp-fastopen"] = { TCP, 23, "int" },             -- TCP_FASTOPEN
  ["tcp-fastopen-connect"] = { TCP, 30, "int" },     -- TCP_FASTOPEN_CONNECT
  ["ipv6-v6only"] = { IPV6, core.IPV6_V6ONLY, "bool" },
  ["recv-buffer-size"] = { SOL, core.SO_RCVBUF, "int" },
  ["send-buffer-size"] = { SOL, core.SO_SNDBUF, "int" },
  ["ipv6-unicast-hops"] = { IPV6, core.IPV6_UNICAST_HOPS, "int" },
  ["ipv6-multicast-hops"] = { IPV6, core.IPV6_MULTICAST_HOPS, "int" },
  ["ipv6-multicast-loop"] = { IPV6, core.IPV6_MULTICAST_LOOP, "bool" },
  linger = { name = "linger", "linger" },
  error = { SOL, core.SO_ERROR, "error" },
  ["ip-multicast-if"] = { name = "multicast_if", "addr" },
  ["ip-multicast-ttl"] = { name = "multicast_ttl", "int" },
  ["ip-multicast-loop"] = { name = "multicast_loop", "bool" },
  ["ip-add-membership"] = { name = "add_membership", "mreq" },
  ["ip-drop-membership"] = { name = "drop_membership", "mreq" },
  ["ipv6-add-membership"] = { name = "add_membership", "mreq6" },
  ["ipv6-drop-membership"] = { name = "drop_membership", "mreq6" },
}

local function set(list)
  local t = {}
  for _, k in ipairs(list) do t[k] = true end
  return t
end

local optsets = {
  tcp = set { "keepalive", "reuseaddr", "reuseport", "tcp-nodelay",
    "tcp-keepidle", "tcp-keepcnt", "tcp-keepintvl", "ipv6-v6only", "linger",
    "recv-buffer-size", "send-buffer-size", "tcp-defer-accept",
    "tcp-fastopen", "tcp-fastopen-connect" },
  udp = set { "dontroute", "broadcast", "reuseaddr", "reuseport",
    "ip-multicast-if", "ip-multicast-ttl", "ip-multicast-loop",
    "ip-add-membership", "ip-drop-membership", "ipv6-unicast-hops",
    "ipv6-multicast-hops", "ipv6-multicast-loop", "ipv6-add-membership",
    "ipv6-drop-membership", "ipv6-v6only", "recv-buffer-size",
    "send-buffer-size" },
  unixstream = set { "keepalive", "reuseaddr", "linger",
    "recv-buffer-size", "send-buffer-size" },
  unixdgram = set { "reuseaddr", "recv-buffer-size", "send-buffer-size" },
}
local optgets = {
  tcp = set { "keepalive", "reuseaddr", "reuseport", "tcp-nodelay",
    "tcp-keepidle", "tcp-keepcnt", "tcp-keepintvl", "linger", "error",
    "recv-buffer-size", "send-buffer-size" },
  udp = set { "dontroute", "broadcast", "reuseaddr", "reuseport",
    "ip-multicast-if", "ip-multicast-loop", "error", "ipv6-unicast-hops",
    "ipv6-multicast-hops", "ipv6-multicast-loop", "ipv6-v6only",
    "recv-buffer-size", "send-buffer-size" },
  unixstream = {},
  unixdgram = {},
}

local nssetsockopt, nsgetsockopt = nsmethods.setsockopt, nsmethods.getsockopt
local nssetoption, nsgetoption = nsmethods.setoption, nsmethods.getoption

local function checkbool(v, arg)
  if type(v) ~= "boolean" then
    argerror(arg, "boolean expected, got " .. type(v))
  end
  return v
end

local function optionvalue(kind, v)
  if kind == "bool" then return checkbool(v, 3) end
  if kind == "int" then
    return cint(tonumber(v) or 0)   -- lua_tonumber, then (int)
  end
  if kind == "linger" then
    if type(v) ~= "table" then argerror(3, "table expected, got " .. type(v)) end
    local on = v.on
    if type(on) ~= "boolean" then argerror(3, "boolean 'on' field expected") end
    local t = tonumber(v.timeout)
    if t == nil then argerror(3, "number 'timeout' field expected") end
    return { on = on, timeout = floor(t) }
  end
  if kind == "addr" then
    return checkstring(v, 3)
  end
  if kind == "mreq" or kind == "mreq6" then
    if type(v) ~= "table" then argerror(3, "table expected, got " .. type(v)) end
    local group = v.multiaddr
    if type(group) ~= "string" then argerror(3, "string 'multiaddr' field expected") end
    local fam = kind == "mreq" and "inet" or "inet6"
    if not ns.inet_pton(fam, group) then argerror(3, "invalid 'multiaddr' ip address") end
    local iface = v.interface
    if kind == "mreq" then
      if type(iface) ~= "string" then argerror(3, "string 'interface' field expected") end
      if iface == "*" then iface = "0.0.0.0" end
      if not ns.inet_pton("inet", iface) then argerror(3, "invalid 'interface' ip address") end
    else
      iface = tonumber(iface) or 0
    end
    return { group = group, interface = iface }
  end
  return v
end

function setoption(o, name, v)
  name = cstring(checkstring(name, 2))
  local spec = optsets[lsget(o, KIND)][name] and opts[name]
  if not spec then argerror(2, format("unsupported option `%s'", name)) end
  local value = optionvalue(spec[spec.name and 1 or 3], v)
  local s = sockof(o)
  if not s then return nil, "setsockopt failed" end
  local ok
  if spec.name then
    ok = select(2, pcall(nssetoption, s, spec.name, value))
  else
    if value == true then value = 1 elseif value == false then value = 0 end
    ok = nssetsockopt(s, spec[1], spec[2], value)
  end
  if ok ~= true then return nil, "setsockopt failed" end
  return 1.0
end

function getoption(o, name)
  name = cstring(checkstring(name, 2))
  local spec = optgets[lsget(o, KIND)][name] and opts[name]
  if not spec then argerror(2, format("unsupported option `%s'", name)) end
  local s = sockof(o)
  if not s then return nil, "getsockopt failed" end
  if spec.name then
    local ok, v = pcall(nsgetoption, s, spec.name)
    if not ok or v == nil then return nil, "getsockopt failed" end
    if type(v) == "table" then return { on = v.on, timeout = v.timeout } end
    if mtype(v) then return v + 0.0 end
    return v
  end
  local v = nsgetsockopt(s, spec[1], spec[2])
  if v == nil then return nil, "getsockopt failed" end
  local kind = spec[3]
  if kind == "bool" then return v ~= 0 end
  if kind == "error" then
    if v == 0 then return nil end
    local name = ns.errorcode[v] or tostring(v)
    return words[name] or name
  end
  return v + 0.0
end
-- }======

-- {====== Addresses: LuaSocket's try-every-address bind and connect ======

local AI_PASSIVE = core.AI_PASSIVE
local nsgetaddrinfo = ns.getaddrinfo

local lsservice = core._lsservice
local lsnumaddr = core._lsnumaddr

local function lookup(host, port, family, typ, flags)
  local infos, msg, code
  if flags == nil and current() and not find(host or "", "^[%d.:]*$") then
    infos, msg, code = core._getaddrinfo_task(host, port, family, typ)
  else
    infos, msg, code = nsgetaddrinfo(host, port, family, typ, nil, flags)
  end
  if not infos then return nil, bare(msg), code end
  return infos
end

-- resolve(host, port, ...): LuaSocket hands its port text to
-- getaddrinfo as it is, so the port is what getaddrinfo makes of it
-- (core._lsservice: "70000" is 4464 there, "-1" a failure), never a
-- raise; and whatever netsock's lookup refuses to take (a host with a
-- zero byte) is a failure too, as getaddrinfo's would be
function M.resolve(host, port, family, typ, flags)
  if host == "" then   -- getaddrinfo("") says so; netsock takes "" as any
    return nil, "host or service not provided, or not known", "EAI_NONAME"
  end
  local p, msg, code = lsservice(port, typ == "dgram")
  if not p then return nil, msg, code end
  local ok, infos, m2, c2 = pcall(lookup, host, p, family, typ, flags)
  if not ok then return nil, "host or service not provided, or not known", "EAI_NONAME" end
  return infos, m2, c2
end
local resolve = M.resolve

-- trybind(o, host, port): bind o to the first of host's addresses that
-- takes it, making the socket when its family is not yet known
function M.trybind(o, host, port)
  if host == "*" then host = nil end
  local typ = isdgram(o) and "dgram" or "stream"
  local infos, msg, code = resolve(host, port or "0", famof(o) or nil, typ, AI_PASSIVE)
  if not infos then return nil, lserror(msg, code) end
  local err = "no info on address"
  for _, ai in ipairs(infos) do
    local s = sockof(o)
    if not s or famof(o) ~= ai.family then
      if s then s:close() lsset(o, SOCK, false) end
      s, err = mksock(o, ai.family)
    end
    if s then
      local ok
      ok, msg, code = s:bind(ai.host, ai.port)
      if ok then return 1.0 end
      err = lserror(msg, code)
    end
  end
  return nil, err
end

-- connectone(o, family, host, port): connect o to one address: 1.0; or
-- nil, the error, and whether to stop there (a timeout of 0: in progress)
local function connectone(o, family, host, port)
  local s, err = sockof(o), nil
  local fam0 = famof(o)
  if not s or fam0 ~= family then
    if s then s:close() lsset(o, SOCK, false) end
    lsset(o, CONNECTING, nil)
    s, err = mksock(o, family)
    if not s then return nil, err, false end
  end
  local ok, msg, code
  if lsget(o, CONNECTING) then
    -- a connect under way: LuaSocket answers EALREADY without waiting
    s:settimeout(0)
    ok, msg, code = s:connect(host, port)
    lsreapply(o)
    if not ok and code == "EINPROGRESS" then
      return nil, "Operation already in progress", true
    end
  else
    ok, msg, code = s:connect(host, port)
    if not ok and code == "ECONNABORTED" and lsget(o, FAILED) then
      -- Linux: the first connect after one that failed in the
      -- background (its error read with SO_ERROR, as netsock does)
      -- only resets the socket and says ECONNABORTED; LuaSocket
      -- (which reads the error with recv) connects at once, so the
      -- layer tries again (spec: "connect again after refused")
      ok, msg, code = s:connect(host, port)
    end
  end
  lsset(o, FAILED, not ok and code ~= "EINPROGRESS" or nil)
  if ok then lsset(o, CONNECTING, nil) return 1.0 end
  if code == "EINPROGRESS" then lsset(o, CONNECTING, true)
  else
    -- a failed connect leaves the object's family as it was, as
    -- LuaSocket's (its family changes with a connect that succeeds or
    -- goes on in the background): the next connect may be to the other
    -- family, on a new socket (spec: "addresses as text")
    lsset(o, FAM, fam0)
  end
  local tb, tt = o:gettimeout()
  return nil, lserror(msg, code), tb == 0 or tt == 0
end

-- the bookkeeping of a numeric connect that src/luasocket.c's connect
-- made and saw fail (fam0: the family before): as connectone's
local function connectfailed(o, fam0, msg, code)
  lsset(o, FAILED, code ~= "EINPROGRESS" or nil)
  if code == "EINPROGRESS" then lsset(o, CONNECTING, true)
  else lsset(o, FAM, fam0) end
  return nil, lserror(msg, code)
end

-- tryconnect(o, host, port): connect o to the first of host's addresses
-- that answers; a timeout of 0 stops at the first (in progress). A
-- numeric host with a port of digits, the common case, is its own one
-- address: no getaddrinfo (core._lsnumaddr says which family)
function M.tryconnect(o, host, port)
  local fam, pnum = lsnumaddr(host, port, famof(o) or nil)
  if fam then
    local ok, err = connectone(o, fam, host, pnum)
    if ok then return ok end
    return nil, err
  end
  local infos, msg, code = resolve(host, port, famof(o) or nil, isdgram(o) and "dgram" or "stream")
  if not infos then return nil, lserror(msg, code) end
  local err = "no info on address"
  for _, ai in ipairs(infos) do
    local ok, e, stop = connectone(o, ai.family, ai.host, ai.port)
    if ok then return ok end
    err = e
    if stop then return nil, err end
  end
  return nil, err
end
-- }======

-- {====== Streams: shutdown ======
-- receive, send, getstats and setstats are C (src/luasocket.c):
-- LuaSocket's patterns, results and timeouts (each call marks its start
-- once; docs/luasocket.md) on netsock's receive buffer.

-- o:shutdown([how])
local hows = { "both", "send", "receive" }
local nshows = { "rw", "w", "r" }
local function shutdown(o, how)
  local k = checkoption(how, 2, "both", hows)
  local s = sockof(o)
  if s then s:shutdown(nshows[k]) end
  return 1.0
end

-- }======

-- {====== TCP ======

local tcpm = {}
local TCP_MASTER, TCP_CLIENT, TCP_SERVER

-- an accepted or connected netsock socket as a tcp{client}
local function wrapclient(mt, s, fam, kind)
  return lsnew(mt, kind, fam, s)
end

function tcpm.bind(o, host, port)
  if getmetatable(o) ~= TCP_MASTER then badclass(1, "tcp{master}") end
  host = checkstring(host, 2)
  port = checkstring(port, 3)
  local ok, err = M.trybind(o, host, port)
  if ok then return ok end
  return nil, err
end

function tcpm.connect(o, host, port)
  local mt = getmetatable(o)
  if mt ~= TCP_MASTER and mt ~= TCP_CLIENT then badclass(1, "tcp{master}") end
  if type(host) ~= "string" then host = checkstring(host, 2) end
  if type(port) ~= "string" then port = checkstring(port, 3) end
  local ok, err = M.tryconnect(o, host, port)
  if ok then
    if mt ~= TCP_CLIENT then lssetclass(o, TCP_CLIENT) end
    return ok
  end
  return nil, err
end

-- listen and accept of a stream class into its method table 'm' (before
-- the classes exist: classes() gives master, server and client when
-- called); accepted clients get the family 'fam' (nil: the master's)
local function listenaccept(m, kind, classes, fam)
  function m.listen(o, backlog)
    local master, server = classes()
    if getmetatable(o) ~= master then badclass(1, kind .. "{master}") end
    backlog = cint(optnumber(backlog, 2, 32))
    local s = sockof(o)
    if not s then
      -- LuaSocket listens on whatever the descriptor is; with none, it fails
      return nil, "Bad file descriptor"
    end
    local ok, msg, code = s:listen(backlog < 0 and 0 or backlog)
    if not ok then return nil, lserror(msg, code) end
    setclass(o, server)
    return 1.0
  end
  function m.accept(o)
    local _, server, client = classes()
    if getmetatable(o) ~= server then badclass(1, kind .. "{server}") end
    local s = sockof(o)
    if not s then return nil, "closed" end
    local c, msg, code = s:accept()
    if not c then return nil, lserror(msg, code) end
    return wrapclient(client, c, fam or famof(o), kind)
  end
end
listenaccept(tcpm, "tcp",
  function() return TCP_MASTER, TCP_SERVER, TCP_CLIENT end)

do
  local common = commonfor(function(o)
    local mt = getmetatable(o)
    if mt ~= TCP_MASTER and mt ~= TCP_CLIENT and mt ~= TCP_SERVER then
      badclass(1, "tcp{any}")
    end
  end)
  for _, k in ipairs { "setfd", "getfamily", "getsockname",
                       "setoption", "getoption" } do
    tcpm[k] = common[k]
  end
end

function tcpm.getpeername(o)
  local mt = getmetatable(o)
  if mt ~= TCP_MASTER and mt ~= TCP_CLIENT and mt ~= TCP_SERVER then
    badclass(1, "tcp{any}")
  end
  return common_getpeername(o)
end
function tcpm.shutdown(o, how)
  if getmetatable(o) ~= TCP_CLIENT then badclass(1, "tcp{client}") end
  local ok = shutdown(o, how)
  return ok
end
function tcpm.setpeername(o, host, port)
  local ok, err = tcpm.connect(o, host, port)
  if ok then return ok end
  return nil, err
end
function tcpm.setsockname(o, host, port)
  local ok, err = tcpm.bind(o, host, port)
  if ok then return ok end
  return nil, err
end

TCP_MASTER = newclass("tcp{master}", tcpm, { "tcp{any}" }, "tcp")
TCP_CLIENT = newclass("tcp{client}", tcpm, { "tcp{any}" }, "tcp")
TCP_SERVER = newclass("tcp{server}", tcpm, { "tcp{any}" }, "tcp")
-- (every class shares the C methods, so hot loops may keep them)
addcmethods("tcp", { TCP_MASTER, TCP_CLIENT, TCP_SERVER }, "tcp{any}",
            TCP_CLIENT, "tcp{client}",
            { "close", "getfd", "dirty", "settimeout", "gettimeout",
              "receive", "send", "getstats", "setstats" })
-- connect and accept in C for the common calls (a numeric address; a
-- server with a socket), the Lua methods above for the rest
do
  local connect = core._lsconnect(TCP_MASTER, TCP_CLIENT, tcpm.connect,
                                  connectfailed, words)
  local accept = core._lsaccept(TCP_SERVER, TCP_CLIENT, tcpm.accept,
                                words, "tcp", false)
  for _, mt in ipairs { TCP_MASTER, TCP_CLIENT, TCP_SERVER } do
    mt.__index.connect, mt.__index.accept = connect, accept
  end
end
M.TCP_CLIENT = TCP_CLIENT

local function newmaster(kind, family)
  return newobject(kind, family,
                   classes[kind == "tcp" and "tcp{master}" or "udp{unconnected}"])
end
M.newmaster = newmaster

local function maketcp(family)
  local o = newmaster("tcp", family)
  if family then
    local s, err = mksock(o, family)
    if not s then return nil, err end
  end
  return o
end

M.tcp = core._lsfactory(TCP_MASTER, "tcp", false)
function M.tcp4() return maketcp("inet") end
function M.tcp6() return maketcp("inet6") end
-- }======

-- {====== UDP ======

local udpm = {}
local UDP_UNCONNECTED, UDP_CONNECTED

local function isudp(o)
  local mt = getmetatable(o)
  if mt ~= UDP_UNCONNECTED and mt ~= UDP_CONNECTED then badclass(1, "udp{any}") end
end

do
  local common = commonfor(isudp)
  for _, k in ipairs { "setfd", "getfamily", "getsockname",
                       "setoption", "getoption" } do
    udpm[k] = common[k]
  end
end

function udpm.getpeername(o)
  if getmetatable(o) ~= UDP_CONNECTED then badclass(1, "udp{connected}") end
  return common_getpeername(o)
end

function udpm.setsockname(o, host, port)
  if getmetatable(o) ~= UDP_UNCONNECTED then badclass(1, "udp{unconnected}") end
  host = checkstring(host, 2)
  port = checkstring(port, 3)
  local ok, err = M.trybind(o, host, port)
  if ok then return ok end
  return nil, err
end

-- setpeername(host, port) connects; setpeername("*") disconnects
function udpm.setpeername(o, host, port)
  isudp(o)
  host = checkstring(host, 2)
  if host == "*" then
    local s = sockof(o)
    if s then   -- (with no descriptor yet there is nothing to undo)
      local ok, msg, code = s:disconnect()
      if not ok then return nil, lserror(msg, code) end
    end
    setclass(o, UDP_UNCONNECTED)
    return 1.0
  end
  port = checkstring(port, 3)
  local ok, err = M.tryconnect(o, host, port)
  if ok then
    setclass(o, UDP_CONNECTED)
    return ok
  end
  return nil, err
end

local nsrecvfrom, nssendto = nsmethods.recvfrom, nsmethods.sendto

-- a datagram size as LuaSocket's (size_t) cast and malloc take it: a
-- negative or NaN size is a huge one, and "out of memory"
local function dgsize(size)
  size = optnumber(size, 2, 8192)
  if not (size >= 0) then return nil end
  if size > 1e15 then size = 1e15 end
  return floor(size)
end

function udpm.receive(o, size)
  local mt = getmetatable(o)
  if mt ~= UDP_CONNECTED and mt ~= UDP_UNCONNECTED then isudp(o) end
  if size == nil then size = 8192
  else
    size = dgsize(size)
    if not size then return nil, "out of memory" end
  end
  local s = sockof(o)
  if not s then return "" end   -- LuaSocket: "closed" is an empty datagram
  local data, msg, code = recv(s, size)
  if not data then return nil, lserror(msg, code) end
  return data
end

function udpm.receivefrom(o, size)
  if getmetatable(o) ~= UDP_UNCONNECTED then badclass(1, "udp{unconnected}") end
  if size == nil then size = 8192
  elseif type(size) ~= "number" or size % 1 ~= 0 or size < 0 then
    size = dgsize(size)
    if not size then return nil, "out of memory" end
  end
  local s = sockof(o)
  if not s then return nil, "ai_family not supported" end   -- (as LuaSocket's, no descriptor yet)
  local data, host, port = nsrecvfrom(s, size)
  if not data then return nil, lserror(host, port) end
  return data, host, port
end

function udpm.send(o, data)
  if getmetatable(o) ~= UDP_CONNECTED then badclass(1, "udp{connected}") end
  if type(data) ~= "string" then data = checkstring(data, 2) end
  local s = sockof(o)
  if not s then return nil, "Bad file descriptor" end
  local n, msg, code = nssend(s, data)
  if not n then return nil, lserror(msg, code) end
  return n + 0.0
end

local lsnumeric = core._lsnumeric
-- sendto resolves (numerically, as LuaSocket: AI_NUMERICHOST) once per
-- destination: the last one is kept on the object, so a loop sending to
-- one peer pays no getaddrinfo per datagram
function udpm.sendto(o, data, host, port)
  if getmetatable(o) ~= UDP_UNCONNECTED then badclass(1, "udp{unconnected}") end
  if type(data) ~= "string" then data = checkstring(data, 2) end
  local s = sockof(o)
  local n, msg, code
  if s and host ~= nil and host == lsget(o, TOHOST) and port == lsget(o, TOPORT) then
    n, msg, code = nssendto(s, data, lsget(o, TOADDR), lsget(o, TOPORTN))
  else
    local rawhost, rawport = host, port
    host = checkstring(host, 3)
    port = checkstring(port, 4)
    local ahost, aport, afam = lsnumeric(host, port, famof(o) or nil)
    if not ahost then return nil, aport end   -- gai_strerror's text, as LuaSocket's
    if not s then
      local err
      s, err = mksock(o, afam)
      if not s then return nil, err end
    end
    lsset(o, TOHOST, rawhost) lsset(o, TOPORT, rawport)
    lsset(o, TOADDR, ahost) lsset(o, TOPORTN, aport)
    n, msg, code = nssendto(s, data, ahost, aport)
  end
  if not n then return nil, lserror(msg, code) end
  return n + 0.0
end

UDP_UNCONNECTED = newclass("udp{unconnected}", udpm, { "udp{any}", "select{able}" }, "udp")
UDP_CONNECTED = newclass("udp{connected}", udpm, { "udp{any}", "select{able}" }, "udp")
addcmethods("udp", { UDP_UNCONNECTED, UDP_CONNECTED }, "udp{any}",
            UDP_CONNECTED, "udp{connected}",
            { "close", "getfd", "dirty", "settimeout", "gettimeout",
              "receive", "send" },
            { receive = udpm.receive, send = udpm.send })

local function makeudp(family)
  local o = newmaster("udp", family)
  if family then
    local s, err = mksock(o, family)
    if not s then return nil, err end
  end
  return o
end

M.udp = core._lsfactory(UDP_UNCONNECTED, "udp", false)
function M.udp4() return makeudp("inet") end
function M.udp6() return makeudp("inet6") end
-- }======

-- {====== Unix-domain (socket.unix) ======

local unixs, unixd = {}, {}
local US_MASTER, US_CLIENT, US_SERVER, UD_UNCONNECTED, UD_CONNECTED

local function isus(o)
  local mt = getmetatable(o)
  if mt ~= US_MASTER and mt ~= US_CLIENT and mt ~= US_SERVER then
    badclass(1, "unixstream{any}")
  end
end
local function isud(o)
  local mt = getmetatable(o)
  if mt ~= UD_UNCONNECTED and mt ~= UD_CONNECTED then badclass(1, "unixdgram{any}") end
end

local function unixname(s, fn)
  if not s then return nil, "Bad file descriptor" end
  local path, msg, code = s[fn](s)
  if not path then return nil, lserror(msg, code) end
  return path
end

do
  local cs, cd = commonfor(isus), commonfor(isud)
  for _, k in ipairs { "setfd", "setoption" } do
    unixs[k], unixd[k] = cs[k], cd[k]
  end
end

-- bind or connect a Unix socket; on a stream socket a failure closes
-- the descriptor, as LuaSocket's does
local function unixaddr(o, path, what)
  path = checkstring(path, 2)
  local s = sockof(o)
  if not s then return nil, "Bad file descriptor" end
  local ok, r, msg, code = pcall(s[what], s, path)
  if not ok then return nil, "path too long" end
  if not r then
    if not isdgram(o) then lsset(o, SOCK, false) s:close() end
    return nil, lserror(msg, code)
  end
  return 1.0
end
local function unixbind2(o, path) return unixaddr(o, path, "bind") end
local function unixconnect(o, path) return unixaddr(o, path, "connect") end

function unixs.bind(o, path)
  if getmetatable(o) ~= US_MASTER then badclass(1, "unixstream{master}") end
  return unixbind2(o, path)
end
unixs.setsockname = unixs.bind

function unixs.connect(o, path)
  if getmetatable(o) ~= US_MASTER then badclass(1, "unixstream{master}") end
  local ok, err = unixconnect(o, path)
  if ok then setclass(o, US_CLIENT) end
  if ok then return ok end
  return nil, err
end
unixs.setpeername = unixs.connect

listenaccept(unixs, "unixstream",
  function() return US_MASTER, US_SERVER, US_CLIENT end, "unix")

function unixs.getsockname(o) isus(o) return unixname(sockof(o), "getsockname") end
unixs.shutdown = function(o, how)
  if getmetatable(o) ~= US_CLIENT then badclass(1, "unixstream{client}") end
  local ok = shutdown(o, how)
  return ok
end

US_MASTER = newclass("unixstream{master}", unixs, { "unixstream{any}" }, "unixstream")
US_CLIENT = newclass("unixstream{client}", unixs, { "unixstream{any}" }, "unixstream")
US_SERVER = newclass("unixstream{server}", unixs, { "unixstream{any}" }, "unixstream")
do
  local accept = core._lsaccept(US_SERVER, US_CLIENT, unixs.accept,
                                words, "unixstream", "unix")
  for _, mt in ipairs { US_MASTER, US_CLIENT, US_SERVER } do
    mt.__index.accept = accept
  end
end
addcmethods("unixstream", { US_MASTER, US_CLIENT, US_SERVER }, "unixstream{any}",
            US_CLIENT, "unixstream{client}",
            { "close", "getfd", "dirty", "settimeout",
              "receive", "send", "getstats", "setstats" })

function unixd.bind(o, path)
  if getmetatable(o) ~= UD_UNCONNECTED then badclass(1, "unixdgram{unconnected}") end
  return unixbind2(o, path)
end
unixd.setsockname = unixd.bind

function unixd.connect(o, path)
  isud(o)
  local ok, err = unixconnect(o, path)
  if ok then setclass(o, UD_CONNECTED) end
  if ok then return ok end
  return nil, err
end
unixd.setpeername = unixd.connect

function unixd.getsockname(o) isud(o) return unixname(sockof(o), "getsockname") end

function unixd.receive(o, size)
  isud(o)
  size = floor(optnumber(size, 2, 8192))
  local data, msg, code = recv(sockof(o), size)
  if not data then return nil, lserror(msg, code) end
  return data
end

function unixd.receivefrom(o, size)
  if getmetatable(o) ~= UD_UNCONNECTED then badclass(1, "unixdgram{unconnected}") end
  size = floor(optnumber(size, 2, 8192))
  local data, from, code = nsrecvfrom(sockof(o), size)
  if not data then return nil, lserror(from, code) end
  return data, from
end

function unixd.send(o, data)
  if getmetatable(o) ~= UD_CONNECTED then badclass(1, "unixdgram{connected}") end
  data = checkstring(data, 2)
  local n, msg, code = nssend(sockof(o), data)
  if not n then return nil, lserror(msg, code) end
  return n + 0.0
end

function unixd.sendto(o, data, path)
  if getmetatable(o) ~= UD_UNCONNECTED then badclass(1, "unixdgram{unconnected}") end
  data = checkstring(data, 2)
  path = checkstring(path, 3)
  local ok, n, msg, code = pcall(nssendto, sockof(o), data, path)
  if not ok then return nil, "path too long" end
  if not n then return nil, lserror(msg, code) end
  return n + 0.0
end

UD_UNCONNECTED = newclass("unixdgram{unconnected}", unixd, { "unixdgram{any}", "select{able}" }, "unixdgram")
UD_CONNECTED = newclass("unixdgram{connected}", unixd, { "unixdgram{any}", "select{able}" }, "unixdgram")
addcmethods("unixdgram", { UD_UNCONNECTED, UD_CONNECTED }, "unixdgram{any}", nil, nil,
            { "close", "getfd", "dirty", "settimeout", "gettimeout" })

local function makeunix(kind)
  local o = newobject(kind, "unix",
                      kind == "unixdgram" and UD_UNCONNECTED or US_MASTER)
  local s, err = mksock(o, "unix")
  if not s then return nil, err end
  return o
end

function M.unixstream() return makeunix("unixstream") end
function M.unixdgram() return makeunix("unixdgram") end
-- }======

-- every method of every class is public: argerror names them
for _, mt in pairs(classes) do
  for name, fn in pairs(mt.__index) do
    if type(fn) == "function" then api[fn] = name end
  end
end

return M
