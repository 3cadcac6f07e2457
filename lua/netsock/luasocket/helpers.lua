-- netsock.luasocket.helpers: the pure-Lua parts of LuaSocket's API
-- (choose, the sink and source factories; skip, newtry and protect are
-- C, src/lsutil.c), written after LuaSocket's reference manual.
-- Internal to netsock.luasocket.

local error, setmetatable, tostring, type = error, setmetatable, tostring, type
local min = math.min
local _ENV = nil

local M = {}

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
