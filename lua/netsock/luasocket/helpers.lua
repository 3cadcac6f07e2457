-- netsock.luasocket.helpers: the pure-Lua parts of LuaSocket's API
-- (skip, newtry/protect, choose, the sink and source factories), written
-- after LuaSocket's reference manual. Internal to netsock.luasocket.

local error, pcall, select, setmetatable, tostring, type =
      error, pcall, select, setmetatable, tostring, type
local min, mtype, tointeger = math.min, math.type, math.tointeger
local tonumber = tonumber
local _ENV = nil

local M = {}

-- skip(d, ...): the arguments after the first d (LuaSocket's is C:
-- luaL_checkinteger, then the top values; a d below 0 keeps more)
function M.skip(...)
  local d = ...
  if mtype(d) ~= "integer" then
    local n = tonumber(d)
    if n == nil or type(d) ~= "number" and type(d) ~= "string" then
      error(("bad argument #1 to 'skip' (number expected, got %s)")
        :format(select("#", ...) == 0 and "no value" or type(d)), 2)
    end
    d = tointeger(n)
    if d == nil then error("bad argument #1 to 'skip' (number has no integer representation)", 2) end
  end
  local n = select("#", ...)
  local ret = n - d - 1
  if ret <= 0 then return end
  return select(n - ret + 1, ...)
end

-- errors raised by a try are tables { message } that protect recognises
-- (the weak set), so other errors pass through protect untouched
local wrapped = setmetatable({}, { __mode = "k" })

-- newtry([finalizer]): a try that returns all its arguments when the
-- first is true, else calls finalizer() and raises the second wrapped
function M.newtry(finalizer)
  return function(...)
    local ok = ...
    if ok then return ... end
    if finalizer then finalizer() end
    local e = setmetatable({ (select(2, ...)) }, { __metatable = false })
    wrapped[e] = true
    error(e, 0)
  end
end

local function caught(ok, ...)
  if ok then return ... end
  local e = ...
  if type(e) == "table" and wrapped[e] then return nil, e[1] end
  error(e, 0)
end

-- protect(f): f in a protected call: a try's error becomes nil, message
function M.protect(f)
  return function(...)
    return caught(pcall(f, ...))
  end
end

-- choose(t): a function (name, a, b) calling t[name](a, b); a non-string
-- name means "default" with the arguments shifted
function M.choose(t)
  return function(name, a, b)
    if type(name) ~= "string" then
      name, a, b = "default", name, a
    end
    local f = t[name or "nil"]
    if not f then error("unknown key (" .. tostring(name) .. ")", 3) end
    return f(a, b)
  end
end

-- a callable table that select() can wait on as it would on sock
local function selectable(sock, call)
  return setmetatable({
    getfd = function() return sock:getfd() end,
    dirty = function() return sock:dirty() end,
  }, { __call = call })
end

local BLOCKSIZE = 2048

M.sourcet = {}
M.sinkt = {}

-- source "by-length": exactly length bytes, in blocks
M.sourcet["by-length"] = function(sock, length)
  return selectable(sock, function()
    if length <= 0 then return nil end
    local chunk, err = sock:receive(min(BLOCKSIZE, length))
    if err then return nil, err end
    length = length - #chunk
    return chunk
  end)
end

-- source "until-closed": blocks until the peer closes; then closes sock
M.sourcet["until-closed"] = function(sock)
  local done = false
  return selectable(sock, function()
    if done then return nil end
    local chunk, err, partial = sock:receive(BLOCKSIZE)
    if not err then return chunk end
    if err == "closed" then
      sock:close()
      done = true
      return partial
    end
    return nil, err
  end)
end
M.sourcet["default"] = M.sourcet["until-closed"]

-- sink "close-when-done": sends chunks; the end of data closes sock
M.sinkt["close-when-done"] = function(sock)
  return selectable(sock, function(_, chunk)
    if chunk then return sock:send(chunk) end
    sock:close()
    return 1
  end)
end

-- sink "keep-open": sends chunks; the end of data leaves sock open
M.sinkt["keep-open"] = function(sock)
  return selectable(sock, function(_, chunk)
    if chunk then return sock:send(chunk) end
    return 1
  end)
end
M.sinkt["default"] = M.sinkt["keep-open"]

M.source = M.choose(M.sourcet)
M.sink = M.choose(M.sinkt)

return M
