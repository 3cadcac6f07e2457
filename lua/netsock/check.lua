-- netsock.check: the argument checks of the Lua layer, one place for
-- the words lauxlib uses ("bad argument #2 to 'bind' (port out of
-- range)"), so a Lua-written function raises exactly as a C one does.
--
--   local check = require "netsock.check"
--   function M.f(host, port, opts)
--     check.string("f", 1, host)
--     check.port("f", 2, port)
--     opts = check.opttable("f", 3, opts)
--
-- Every check takes the name the user called, the argument's index and
-- the value, and returns the value. The optional last argument `level`
-- counts as error()'s does, from the function that calls the check: 2
-- (the default) puts the error at that function's caller, which is the
-- user's line when a public function checks its own arguments; a helper
-- that checks for a public function passes 3. Never tail-call a check
-- (`return check.x(...)`): a tail call removes the frame the level counts.
-- Internal: not part of the public API.

local error, type = error, type
local tointeger = math.tointeger
local getrealmt, rawget = debug.getmetatable, rawget  -- __metatable fields change neither
local format, find, match = string.format, string.find, string.match
local tonumber = tonumber
_ENV = nil

local M = {}

-- the message, raised `level` frames above the check that calls this
-- (raise <- check <- caller of check <- ...: hence level + 2)
local function raise(fname, argn, msg, level)
  error(format("bad argument #%d to '%s' (%s)", argn, fname, msg), (level or 2) + 2)
end

local function typename(v)
  if v == nil then return "no value" end
  local mt = getrealmt(v)
  local name = mt and rawget(mt, "__name")
  if type(name) == "string" then return name end
  return type(v)
end

-- argerror(fname, argn, msg [, level]): raise "bad argument #argn to
-- 'fname' (msg)" at the caller's caller (called directly by a public
-- function, level 2 blames the user)
function M.argerror(fname, argn, msg, level)
  error(format("bad argument #%d to '%s' (%s)", argn, fname, msg), (level or 2) + 1)
end

-- typeerror(fname, argn, expected, v [, level]): "<expected> expected, got <type>"
function M.typeerror(fname, argn, expected, v, level)
  error(format("bad argument #%d to '%s' (%s expected, got %s)",
               argn, fname, expected, typename(v)), (level or 2) + 1)
end

local function typeerr(fname, argn, expected, v, level)
  raise(fname, argn, format("%s expected, got %s", expected, typename(v)), (level or 2) + 1)
end

function M.string(fname, argn, v, level)
  if type(v) ~= "string" then typeerr(fname, argn, "string", v, level) end
  return v
end

function M.optstring(fname, argn, v, level)
  if v ~= nil and type(v) ~= "string" then typeerr(fname, argn, "string", v, level) end
  return v
end

-- a host name or address: a string without zero bytes (nil allowed
-- with opt); the resolver would cut it at the first zero
local function host(fname, argn, v, level, opt)
  if v == nil and opt then return v end
  if type(v) ~= "string" then typeerr(fname, argn, "string", v, (level or 2) + 1) end
  if find(v, "\0", 1, true) then
    raise(fname, argn, "host contains a zero byte", (level or 2) + 1)
  end
  return v
end
function M.host(fname, argn, v, level) host(fname, argn, v, level, false) return v end
function M.opthost(fname, argn, v, level) host(fname, argn, v, level, true) return v end

-- a table, or nil: returns v or a new empty table
function M.opttable(fname, argn, v, level)
  if v == nil then return {} end
  if type(v) ~= "table" then typeerr(fname, argn, "table", v, level) end
  return v
end

-- whether Lua can call v: a function, or a value whose metatable (the
-- real one: a __metatable field does not change what a call does) has
-- __call
local function callable(v)
  if type(v) == "function" then return true end
  local mt = getrealmt(v)
  return mt ~= nil and rawget(mt, "__call") ~= nil
end

function M.callable(fname, argn, v, level)
  if not callable(v) then typeerr(fname, argn, "function", v, level) end
  return v
end

function M.optcallable(fname, argn, v, level)
  if v ~= nil and not callable(v) then typeerr(fname, argn, "function", v, level) end
  return v
end

-- seconds to wait, or nil: a number >= 0 (math.huge is for ever)
function M.opttimeout(fname, argn, v, level)
  if v == nil then return v end
  if type(v) ~= "number" then typeerr(fname, argn, "number", v, level) end
  if not (v >= 0) then  -- NaN fails this too
    raise(fname, argn, "negative or NaN timeout", level)
  end
  return v
end

-- an integer (a float with an integer value counts, as in lauxlib)
-- within lo..hi; `what` names it in the message when it sits in a table
function M.integer(fname, argn, v, lo, hi, what, level)
  local prefix = what and (what .. ": ") or ""
  local n = type(v) == "number" and tointeger(v)
  if not n then
    if type(v) == "number" then
      raise(fname, argn, prefix .. "number has no integer representation", level)
    end
    raise(fname, argn, format("%sinteger expected, got %s", prefix, typename(v)), level)
  end
  if (lo and n < lo) or (hi and n > hi) then
    raise(fname, argn, prefix .. "out of range", level)
  end
  return n
end

-- a port as the C core takes it (ns_checkport in addr.c): an integer
-- 0..65535, a numeric string in that range, or a service name
local function port(fname, argn, v, level, opt)
  local t = type(v)
  if t == "string" then
    if v == "" or find(v, "\0", 1, true) then raise(fname, argn, "invalid port", level) end
    local digits = match(v, "^%s*([+-]?%d+)$")  -- what strtol reads whole
    if digits then
      local n = tonumber(digits)
      if not (n >= 0 and n <= 65535) then raise(fname, argn, "port out of range", level) end
    end
  elseif t == "number" then
    if not (v >= 0 and v <= 65535) then raise(fname, argn, "port out of range", level) end
    if not tointeger(v) then
      raise(fname, argn, "number has no integer representation", level)
    end
  elseif not (v == nil and opt) then
    raise(fname, argn, format("port expected, got %s", typename(v)), level)
  end
  return v
end
function M.port(fname, argn, v, level) port(fname, argn, v, (level or 2) + 1, false) return v end
function M.optport(fname, argn, v, level) port(fname, argn, v, (level or 2) + 1, true) return v end

M.typename = typename
M.iscallable = callable

return M
