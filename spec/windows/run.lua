-- spec/windows/run.lua: a small runner for spec files written for busted,
-- for a Lua that has no busted (the Windows Lua under wine: busted's C
-- dependencies are not cross-built). It gives the spec files describe,
-- it, pending, before_each, after_each, and the part of luassert they
-- use (assert(...), assert.equal/same/truthy/falsy/is_nil/is_true/
-- is_false/matches/has_error/error_matches with their are_/is_/not_
-- spellings), runs them, and ends with the line tools/runspecs prints:
-- "specs: N passed, N failed, N skipped". Exit status 0 when nothing
-- failed. Under busted on Linux the same files run with busted's own.
--
-- usage: lua run.lua SPEC-FILE...

local passed, failed, skipped = 0, 0, 0
local failures = {}
local stack = {}        -- the describe blocks we are inside: names, hooks

local function fullname(name)
  local parts = {}
  for _, d in ipairs(stack) do parts[#parts + 1] = d.name end
  parts[#parts + 1] = name
  return table.concat(parts, " ")
end

function describe(name, fn)
  stack[#stack + 1] = { name = name, before = {}, after = {} }
  local ok, err = xpcall(fn, debug.traceback)
  if not ok then
    failed = failed + 1
    failures[#failures + 1] = fullname("(describe)") .. "\n" .. tostring(err)
  end
  -- its it blocks ran inside fn: the block's teardown runs now
  local down = stack[#stack].teardown
  if down then
    local dok, derr = xpcall(down, debug.traceback)
    if not dok then
      failed = failed + 1
      failures[#failures + 1] = fullname("(teardown)") .. "\n" .. tostring(derr)
    end
  end
  stack[#stack] = nil
end
context = describe

function before_each(fn) table.insert(stack[#stack].before, fn) end
function after_each(fn) table.insert(stack[#stack].after, fn) end
function setup(fn) fn() end
function teardown(fn) stack[#stack].teardown = fn end

function pending(name)
  skipped = skipped + 1
  io.write("  pending: ", fullname(name), "\n")
end

local finals   -- finally(fn) of the running it: run after it, pass or fail
function finally(fn) finals[#finals + 1] = fn end

function it(name, fn)
  if fn == nil then return pending(name) end
  finals = {}
  local function run()
    for _, d in ipairs(stack) do for _, b in ipairs(d.before) do b() end end
    fn()
  end
  local t0 = os.clock()
  local ok, err = xpcall(run, debug.traceback)
  for i = #finals, 1, -1 do
    local fok, ferr = xpcall(finals[i], debug.traceback)
    if ok and not fok then ok, err = false, ferr end
  end
  for i = #stack, 1, -1 do
    for _, a in ipairs(stack[i].after) do pcall(a) end
  end
  if ok then
    passed = passed + 1
    io.write("  ok: ", fullname(name), (" (%.2fs cpu)\n"):format(os.clock() - t0))
  else
    failed = failed + 1
    io.write("  FAIL: ", fullname(name), "\n")
    failures[#failures + 1] = fullname(name) .. "\n" .. tostring(err)
  end
  io.flush()
end

-- {====== assert ======
local function fmt(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

local function deepeq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not deepeq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local checks = {
  equal = function(exp, got) return exp == got, ("expected %s, got %s"):format(fmt(exp), fmt(got)) end,
  equals = function(exp, got) return exp == got, ("expected %s, got %s"):format(fmt(exp), fmt(got)) end,
  same = function(exp, got) return deepeq(exp, got), ("expected the same as %s, got %s"):format(fmt(exp), fmt(got)) end,
  truthy = function(v) return not not v, ("expected a true value, got %s"):format(fmt(v)) end,
  falsy = function(v) return not v, ("expected a false value, got %s"):format(fmt(v)) end,
  ["true"] = function(v) return v == true, ("expected true, got %s"):format(fmt(v)) end,
  ["false"] = function(v) return v == false, ("expected false, got %s"):format(fmt(v)) end,
  ["nil"] = function(v) return v == nil, ("expected nil, got %s"):format(fmt(v)) end,
  number = function(v) return type(v) == "number", ("expected a number, got %s"):format(fmt(v)) end,
  string = function(v) return type(v) == "string", ("expected a string, got %s"):format(fmt(v)) end,
  matches = function(pat, s) return type(s) == "string" and s:find(pat) ~= nil,
    ("expected %s to match %s"):format(fmt(s), fmt(pat)) end,
  error = function(fn) local ok = pcall(fn); return not ok, "expected an error" end,
  error_matches = function(fn, pat)
    local ok, err = pcall(fn)
    return not ok and tostring(err):find(pat) ~= nil,
      ("expected an error matching %s, got %s"):format(fmt(pat), ok and "none" or fmt(err))
  end,
}
checks.errors = checks.error
checks.has_error = checks.error

local function lookup(key, negate)
  local name = key
  for _, prefix in ipairs({ "is_", "are_", "has_", "not_", "is_not_", "are_not_" }) do
    if name:sub(1, #prefix) == prefix and checks[name:sub(#prefix + 1)] then
      negate = negate ~= (prefix:find("not") ~= nil)
      name = name:sub(#prefix + 1)
      break
    end
  end
  local check = checks[name]
  if not check then return nil end
  return function(...)
    local ok, msg = check(...)
    if negate then ok, msg = not ok, "not: " .. msg end
    local extra = select(select("#", ...), ...)
    if not ok then error(msg .. (type(extra) == "string" and (" (" .. extra .. ")") or ""), 2) end
    return ...
  end
end

-- assert.is.truthy, assert.are.equal, assert.is_not.equal and friends
local function chain(negate)
  return setmetatable({}, { __index = function(_, k)
    if k == "not_" or k == "no" then return chain(not negate) end
    return lookup(k, negate)
  end })
end

local plain = assert
assert = setmetatable({}, {
  __call = function(_, ...) return plain(...) end,
  __index = function(_, k)
    if k == "is" or k == "are" or k == "has" then return chain(false) end
    if k == "is_not" or k == "are_not" or k == "has_no" then return chain(true) end
    return lookup(k, false) or error("spec/windows/run.lua: no assert." .. k, 2)
  end,
})
-- }======

-- what spec/helpers.lua asks of busted's modules
package.preload["luassert"] = function() return assert end

-- helpers.lua asks the shell whether a command is there (command -v);
-- under wine there is no POSIX shell, so the question is answered by
-- looking for the program in /usr/bin and /bin (wine's Z: drive is /).
-- It stays true that a spec file whose peers are Linux programs cannot
-- start them from here: those files are not in this lane.
local execute = os.execute
function os.execute(cmd)
  local name = type(cmd) == "string" and cmd:match("^command %-v ([%w%._%-]+) >/dev/null 2>&1$")
  if not name then return execute(cmd) end
  for _, dir in ipairs({ "/usr/bin/", "/bin/" }) do
    local f = io.open(dir .. name, "rb")
    if f then f:close(); return true, "exit", 0 end
  end
  return nil, "exit", 1
end

-- helpers.lua makes its scratch directory with mktemp(1); here it is a
-- directory under %TEMP% made with cmd's mkdir, removed at the end
local scratch
local function helpers()
  local ok, H = pcall(require, "helpers")
  if not ok then return end
  function H.tmpdir()
    if not scratch then
      local base = (os.getenv("TEMP") or "C:\\windows\\temp"):gsub("\\", "/")
      scratch = ("%s/netsock-spec-%d"):format(base, math.random(1 << 30))
      assert(os.execute('mkdir "' .. scratch:gsub("/", "\\") .. '"'), "mkdir " .. scratch)
    end
    return scratch
  end
end

for _, file in ipairs(arg) do
  if file:find("^spec/[%w_]+_spec%.lua$") then helpers() end
  io.write(file, "\n")
  local chunk, err = loadfile(file)
  if not chunk then
    failed = failed + 1
    failures[#failures + 1] = file .. ": " .. err
  else
    local ok, e = xpcall(chunk, debug.traceback)
    if not ok then
      failed = failed + 1
      failures[#failures + 1] = file .. "\n" .. tostring(e)
    end
  end
end

if scratch then os.execute('rmdir /s /q "' .. scratch:gsub("/", "\\") .. '"') end

for _, f in ipairs(failures) do io.write("\nFAILED: ", f, "\n") end
io.write(("specs: %d passed, %d failed, %d skipped\n"):format(passed, failed, skipped))
os.exit(failed == 0 and 0 or 1)
