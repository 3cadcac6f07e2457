-- netsock.luasocket: LuaSocket 3.1's socket / socket.core / socket.unix
-- API on netsock sockets (docs/luasocket.md).
--
--   local socket = require "netsock.luasocket"     -- as require "socket"
--   require("netsock.luasocket").install()        -- require "socket" is us
--
-- The objects are C userdata around a netsock socket (src/luasocket.c,
-- lua/netsock/luasocket/sock.lua); LuaSocket's receive patterns run in C
-- on netsock's receive buffer, so they read at C speed and mix with
-- s:recv.
-- Inside a netsock task every wait suspends the task, as netsock's own
-- calls do. Where LuaSocket's manual is silent, Debian's lua-socket 3.1
-- decided (spec/luasocket_diff_spec.lua runs both side by side).

local ns = require "netsock"
local core = require "netsock.core"
local sock = require "netsock.luasocket.sock"
local helpers = require "netsock.luasocket.helpers"
local unix = require "netsock.luasocket.unix"

local ipairs, pairs, type, tonumber, select = ipairs, pairs, type, tonumber, select
local tointeger, floor = math.tointeger, math.floor
local package = package
local _ENV = nil

local argerror = sock.argerror

local M = {}
local dns = {}

-- {====== Module values ======
M._VERSION = "LuaSocket 3.0.0"   -- what Debian's lua-socket 3.1 reports
M._NETSOCK = ns._VERSION
-- LuaSocket's select refuses more than FD_SETSIZE sockets; netsock's has
-- no ceiling (poll(2)), so the limit is the process's descriptor limit
-- (RLIMIT_NOFILE's soft value when the layer loads): a loop can reach it
M._SETSIZE = core._lsnofile()
M._DATAGRAMSIZE = 8192
M._SOCKETINVALID = -1
M.BLOCKSIZE = 2048
M.gettime = ns.gettime
M.dns = dns
-- }======

-- {====== Constructors ======
M.tcp = sock.tcp
M.tcp4 = sock.tcp4
M.tcp6 = sock.tcp6
M.udp = sock.udp
M.udp4 = sock.udp4
M.udp6 = sock.udp6

-- socket.sleep(seconds): inside a task only the task sleeps
function M.sleep(...)
  local t = ...
  if type(t) ~= "number" then t = sock.checknumber(t, 1, select("#", ...)) end
  if t > 0 then ns.sleep(t) end
end
-- }======

-- {====== socket.connect / socket.bind (module functions) ======

local families = { unspec = false, inet = "inet", inet4 = "inet", inet6 = "inet6" }

-- socket.connect(address, port [, locaddr [, locport [, family]]])
function M.connect(...)
  local address, port, laddr, lport, family = ...
  local n = select("#", ...)
  address = sock.checkstring(address, 1, n)
  port = sock.checkstring(port, 2, n)
  if laddr ~= nil then sock.checkstring(laddr, 3) end
  if lport ~= nil then sock.checkstring(lport, 4) end
  local fam = false
  if family ~= nil then
    sock.checkstring(family, 5)
    fam = families[family]
    if fam == nil then argerror(5, ("invalid option '%s'"):format(family)) end
  end
  local o = sock.newmaster("tcp", fam or nil)
  local ok, err
  if laddr then
    ok, err = sock.trybind(o, laddr, lport or "0")
    if not ok then o:close() return nil, err end
  end
  ok, err = sock.tryconnect(o, address, port)
  if not ok then o:close() return nil, err end
  return sock.setclass(o, sock.TCP_CLIENT)
end

function M.connect4(address, port, laddr, lport)
  return M.connect(address, port, laddr, lport, "inet")
end

function M.connect6(address, port, laddr, lport)
  return M.connect(address, port, laddr, lport, "inet6")
end

-- socket.bind(host, port [, backlog]): a listening tcp{server} with
-- reuseaddr, on the first of host's addresses that binds
function M.bind(host, port, backlog)
  if host == "*" then host = "0.0.0.0" end
  local infos, err = dns.getaddrinfo(host)
  if not infos then return nil, err end
  local s, ok
  err = "no info on address"
  for _, ai in ipairs(infos) do
    s, err = (ai.family == "inet" and M.tcp4 or M.tcp6)()
    if not s then return nil, err end
    s:setoption("reuseaddr", true)
    ok, err = s:bind(ai.addr, port)
    if ok then
      ok, err = s:listen(backlog)
      if ok then return s end
    end
    s:close()
  end
  return nil, err
end
-- }======

-- {====== socket.select ======

local nsselect = ns.select

-- the descriptor of a LuaSocket-style object (anything with getfd), or nil
local function fdof(obj)
  local t = type(obj)
  if t ~= "table" and t ~= "userdata" then return nil end
  local getfd = obj.getfd
  if getfd == nil then return nil end
  local fd = getfd(obj)
  fd = tonumber(fd)
  if fd == nil or fd < 0 then return nil end
  return tointeger(fd) or floor(fd)
end

local function isdirty(obj)
  local dirty = obj.dirty
  return dirty ~= nil and dirty(obj) and true or false
end

-- collect: the descriptors of tab (an array, nil or anything else raises)
local function collect(tab, argn, fds, objs, dirty)
  if tab == nil then return end
  if type(tab) ~= "table" then
    argerror(argn, "table expected, got " .. sock.typename(tab))
  end
  local i = 1
  while true do
    local obj = tab[i]
    if obj == nil then break end
    local fd = fdof(obj)
    if fd then
      if objs[fd] == nil then
        fds[#fds + 1] = fd
        objs[fd] = obj
      end
      if dirty and isdirty(obj) then dirty[#dirty + 1] = obj end
    end
    i = i + 1
  end
end

-- socket.select(recvt, sendt [, timeout]): ready = { [i] = obj, [obj] = i }
function M.select(recvt, sendt, timeout)
  if timeout ~= nil then
    local t = tonumber(timeout)
    if t == nil then argerror(3, "number expected, got " .. sock.typename(timeout)) end
    timeout = t
    if timeout < 0 then timeout = nil end
  end
  local rfds, robjs, dirty = {}, {}, {}
  local wfds, wobjs = {}, {}
  collect(recvt, 1, rfds, robjs, dirty)
  collect(sendt, 2, wfds, wobjs, nil)
  if #rfds > M._SETSIZE then argerror(1, "too many sockets") end
  if #wfds > M._SETSIZE then argerror(2, "too many sockets") end
  if #dirty > 0 then timeout = 0 end
  local rout, wout = {}, {}
  local n = 0
  for _, obj in ipairs(dirty) do
    if rout[obj] == nil then n = n + 1 rout[n] = obj rout[obj] = n + 0.0 end
  end
  if #rfds == 0 and #wfds == 0 then
    if timeout and timeout > 0 then ns.sleep(timeout) end
    if timeout == nil then ns.sleep(1e9) end  -- as select(2) with no set
    return rout, wout, n == 0 and "timeout" or nil
  end
  local r, w, err = nsselect(rfds, wfds, timeout)
  if r == nil then return nil, nil, w end
  for _, fd in ipairs(r) do
    local obj = robjs[fd]
    if rout[obj] == nil then n = n + 1 rout[n] = obj rout[obj] = n + 0.0 end
  end
  local m = 0
  for _, fd in ipairs(w) do
    local obj = wobjs[fd]
    m = m + 1
    wout[m] = obj
    wout[obj] = m + 0.0
  end
  if n == 0 and m == 0 then return rout, wout, "timeout" end
  return rout, wout, nil
end
-- }======

-- {====== socket.dns ======

local nsgetaddrinfo = ns.getaddrinfo
local lserror = sock.lserror

local function lookup(host, port, family, typ, flags)
  local infos, msg, code
  if flags == nil and ns._tasks.current() then
    infos, msg, code = core._getaddrinfo_task(host, port, family, typ)
  else
    infos, msg, code = nsgetaddrinfo(host, port, family, typ, nil, flags)
  end
  if not infos then return nil, sock.bare(msg), code end
  return infos
end

-- dns.getaddrinfo(host): { {family = "inet"|"inet6", addr = ip}, ... }
function dns.getaddrinfo(...)
  local host = sock.cstring(sock.checkstring((...), 1, select("#", ...)))
  -- (getaddrinfo takes the C string; "" is no host at all)
  if host == "" then return nil, "host or service not provided, or not known" end
  local infos, msg, code = lookup(host, nil, nil, "stream")
  if not infos then return nil, lserror(msg, code) end
  local out = {}
  for i, ai in ipairs(infos) do
    out[i] = { family = ai.family, addr = ai.host }
  end
  return out
end

-- the hostent-shaped table LuaSocket's toip and tohostname return
local function hostent(name, aliases, addrs)
  return { name = name, alias = aliases, ip = addrs }
end

local hosterr = { EAI_NONAME = "host not found", EAI_NODATA = "host not found",
                  EAI_AGAIN = "temporary failure in name resolution",
                  EAI_FAIL = "non-recoverable failure in name resolution" }

-- dns.toip(name): the first IPv4 address, and the hostent table
function dns.toip(...)
  local name = sock.cstring(sock.checkstring((...), 1, select("#", ...)))
  -- (gethostbyname of "", the C string of a name with a zero byte first)
  if name == "" then return nil, "Unknown server error" end
  -- an address is looked up backwards, as LuaSocket does (its name then)
  local host, aliases, addrs
  if ns.inet_aton(name) then
    host, aliases, addrs = ns.gethostbyaddr(name)
  else
    host, aliases, addrs = ns.gethostbyname_ex(name)
  end
  if not host then return nil, hosterr[addrs] or sock.bare(aliases) end
  return addrs[1], hostent(host, aliases, addrs)
end

-- dns.tohostname(address): the name, and the hostent table
function dns.tohostname(...)
  local addr = sock.cstring(sock.checkstring((...), 1, select("#", ...)))
  if addr == "" then return nil, "Unknown server error" end
  local host, aliases, addrs = ns.gethostbyaddr(addr)
  if not host then
    -- LuaSocket resolves a name first, and an unknown one is not found
    return nil, hosterr[addrs] or sock.bare(aliases)
  end
  return host, hostent(host, aliases, addrs)
end

function dns.gethostname()
  return ns.gethostname()
end

-- dns.getnameinfo(host [, port]): a table of names, and the service
function dns.getnameinfo(host, port)
  if host == nil and port == nil then argerror(1, "host and port cannot be both nil") end
  local infos, msg, code = lookup(host, port, nil, "stream")
  if not infos then return nil, lserror(msg, code) end
  local names, service = {}, nil
  for i, ai in ipairs(infos) do
    local name, serv = ns.getnameinfo(ai.host, ai.port)
    if not name then return nil, lserror(serv, code) end
    names[i] = name
    service = serv
  end
  if host == nil then names = nil end
  if port == nil then return names end
  return names, service
end
-- }======

-- {====== Helpers (LuaSocket's socket.lua and except) ======
-- skip, newtry and protect are C, as LuaSocket's (src/lsutil.c:
-- socket.http and the other LuaSocket modules call them several times
-- per request). A try raises a table { message } whose metatable only
-- protect recognises (getmetatable says false); protect's call may
-- yield inside a task.
M.skip = core._lsskip
M.newtry = core._lsnewtry
M.protect = core._lsprotect
M.try = M.newtry()
M.choose = helpers.choose
M.sinkt, M.sourcet = helpers.sinkt, helpers.sourcet
M.sink, M.source = helpers.sink, helpers.source
-- }======

-- socket.unix: stream(), dgram(); tcp and udp as aliases; callable as stream
M.unix = unix

function M.__unload() end

-- every module function is public: argerror names them ("=name": by
-- their own name where the call left none, as lauxlib does for
-- LuaSocket's C functions). socket.bind is Lua in LuaSocket (socket.lua):
-- its methods' errors name the methods, so it is not one of them.
for _, t in ipairs { M, dns } do
  for k, fn in pairs(t) do
    if type(fn) == "function" and fn ~= M.bind then sock.api[fn] = "=" .. k end
  end
end

-- install(): package.loaded.socket, socket.core and socket.unix become
-- this layer, so every later require of them (LuaSocket's own socket.http
-- included) gets netsock. Ignores SIGPIPE for the process, as LuaSocket
-- does at load: code written for it (LuaSec's writes) relies on that.
-- Returns the module.
function M.install()
  local loaded = package.loaded
  loaded["socket"] = M
  loaded["socket.core"] = M
  loaded["socket.unix"] = unix
  if core._ignoresigpipe then core._ignoresigpipe() end
  return M
end

return M
