-- spec/meta/docs_spec.lua: the docs a user reads keep up with the code.
-- docs/api.md's index lists every function of the module and of its
-- objects and is the one tools/apiindex.lua makes from the headings; every
-- link in docs/ and README.md lands on a file and a heading that exist,
-- and none in docs/ leaves the repository.

local H = require "helpers"
local ns = H.netsock
local I = dofile("tools/apiindex.lua")

local API = "docs/api.md"

-- the names the index links, as a set
local function indexed(text)
  local set = {}
  for _, sec in ipairs(I.entries(text)) do
    for _, e in ipairs(sec.entries) do set[e.name] = e.anchor end
  end
  return set
end

-- the public functions of a method table, with a prefix ("s:", "netsock.")
local function publicnames(t, prefix, out)
  for k, v in pairs(t) do
    if type(k) == "string" and not k:match("^_") and type(v) == "function" then
      out[#out + 1] = prefix .. k
    end
  end
  return out
end

-- the markdown files a user reads
local function docfiles()
  local files = { "README.md" }
  local ls = io.popen("ls docs/*.md")
  for f in ls:lines() do files[#files + 1] = f end
  ls:close()
  return files
end

-- [text](target) links outside fenced code: { target, line }
local function links(text)
  local out, n, fenced = {}, 0, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:match("^%s*```") then fenced = not fenced
    elseif not fenced then
      local plain = line:gsub("`[^`]*`", "")  -- code spans are not links
      for target in plain:gmatch("%]%(([^)%s]+)%)") do
        out[#out + 1] = { target = target, line = n }
      end
    end
  end
  return out
end

describe("docs", function()
  it("api.md's index is what tools/apiindex.lua makes of its headings", function()
    local text = assert(H.readfile(API))
    assert.is_string(I.current(text), "api.md has no <!-- index --> block")
    -- compared whole, so that a failure shows the changed line
    assert.are.equal(I.rebuild(text), text, "the index is stale: run  lua5.4 tools/apiindex.lua")
  end)

  it("api.md's index names every public function and method", function()
    local set = indexed(assert(H.readfile(API)))
    local a, b = assert(ns.socketpair())
    local f = a:makefile()
    local p = assert(ns.poller())
    finally(function() f:close() p:close() a:close() b:close() end)
    local names = publicnames(ns, "netsock.", {})
    -- and those of the module's own sub-modules (netsock.tls, ...)
    for k, v in pairs(ns) do
      if type(k) == "string" and not k:match("^_") and type(v) == "table"
         and v ~= ns.socketmethods then
        publicnames(v, "netsock." .. k .. ".", names)
      end
    end
    publicnames(debug.getmetatable(a).__index, "s:", names)
    publicnames(debug.getmetatable(f).__index, "f:", names)
    publicnames(debug.getmetatable(p).__index, "p:", names)
    assert.is_true(#names > 70, "found only " .. #names .. " functions")
    -- internal although reachable, each with the reason
    local internal = {
      ["netsock.tls.wraphandler"] = "the hook netsock.serve calls for its tls option",
    }
    local missing = {}
    for _, name in ipairs(names) do
      if not set[name] and not internal[name] then missing[#missing + 1] = name end
    end
    table.sort(missing)
    assert.are.same({}, missing,
      "not in docs/api.md: give each a ### heading (`" .. (missing[1] or "") ..
      "(...)`) or a row in a table under one, then run  lua5.4 tools/apiindex.lua")
  end)

  it("every link lands on a file and a heading that exist, none outside the repository", function()
    local anchors = {}
    local function anchorsof(path)
      if anchors[path] == nil then
        local text = H.readfile(path)
        local set = false
        if text then
          set = {}
          for _, h in ipairs(I.headings(text)) do set[h.anchor] = true end
        end
        anchors[path] = set
      end
      return anchors[path]
    end
    local bad = {}
    for _, file in ipairs(docfiles()) do
      local dir = file:match("^(.*)/") or "."
      for _, l in ipairs(links(assert(H.readfile(file)))) do
        local where = ("%s:%d: %s"):format(file, l.line, l.target)
        local t = l.target
        if t:match("^%a[%w+.-]*:") or t:match("^//") then
          if file ~= "README.md" then bad[#bad + 1] = where .. " (outside the repository)" end
        else
          local path, anchor = t:match("^([^#]*)#?(.*)$")
          local target = path == "" and file or (dir .. "/" .. path):gsub("^%./", "")
          -- normalise a/b/../c and refuse what climbs out of the checkout
          local parts = {}
          for part in target:gmatch("[^/]+") do
            if part == ".." then
              if #parts == 0 then parts = nil; break end
              parts[#parts] = nil
            elseif part ~= "." then parts[#parts + 1] = part end
          end
          if not parts then
            bad[#bad + 1] = where .. " (outside the repository)"
          else
            target = table.concat(parts, "/")
            local ok = os.execute("test -e " .. H.shquote(target)) == true
            if not ok then
              bad[#bad + 1] = where .. " (no such file)"
            elseif anchor ~= "" then
              local set = target:match("%.md$") and anchorsof(target)
              if set and not set[anchor] then bad[#bad + 1] = where .. " (no such heading)" end
            end
          end
        end
      end
    end
    assert.are.same({}, bad)
  end)

  it("the slugs are the ones renderers make", function()
    local slug = I.slugger()
    assert.are.equal("sbindhost-port-sbindpath", slug("`s:bind(host, port)`, `s:bind(path)`"))
    assert.are.equal("waiting-select-and-the-poller", slug("Waiting: select and the poller"))
    assert.are.equal("stream", slug("Stream"))
    assert.are.equal("stream-1", slug("Stream"))
  end)

  -- the tests guarantees.md names, as busted lists them. A name is a
  -- test's full name with its tags left out; "... rest" continues the
  -- describe blocks of the name before it, "describe ..." is every test
  -- under that describe, "describe ... end" one of them.
  local function strip(name) return (name:gsub(" #[%w_]+", "")) end
  local function named_tests(text)
    local out = {}
    for row in text:gmatch("[^\n]+") do
      if row:match("^|") then
        for file, names in row:gmatch("`([%w_]+_spec%.lua)`:%s*(.-)%f[`|]") do
          for name in names:gmatch('"(.-)"[,;%s|]') do out[#out + 1] = { file, strip(name) } end
        end
      end
    end
    return out
  end
  local function resolve(listed, name, prev)
    local head, tail = name:match("^(.-) ?%.%.%. ?(.*)$")
    if head and head ~= "" then
      for n in pairs(listed) do
        if n:sub(1, #head + 1) == head .. " " and (tail == "" or n:sub(-#tail) == tail) then
          return tail == "" and head or n
        end
      end
    elseif head then   -- "... rest": after each describe prefix of prev
      local pre = prev or ""
      while pre ~= "" do
        if listed[pre .. " " .. tail] then return pre .. " " .. tail end
        pre = pre:match("^(.*) [^ ]*$") or ""
      end
    elseif listed[name] then
      return name
    end
  end

  it("every test guarantees.md names exists (busted --list)", function()
    if not H.exists("build/netsock/core.so") then
      pending("needs the plain build (make) for busted --list")
      return
    end
    -- the plain core: under make sanitize the child has no ASan runtime
    local p = io.popen("env -u LD_PRELOAD -u NETSOCK_CPATH -u NETSOCK_SANITIZE "
      .. (os.getenv("BUSTED") or "busted") .. " --lua=lua5.4 --list 2>&1")
    local listed, n = {}, 0
    for line in p:lines() do
      local file, name = line:match("^spec/[%w_/]-([%w_]+%.lua):%d+: (.*)$")
      if file then
        listed[file] = listed[file] or {}
        listed[file][strip(name)] = true
        n = n + 1
      end
    end
    p:close()
    assert.is_true(n > 500, "busted --list listed " .. n .. " tests")
    local names, missing, prev = named_tests(H.readfile("docs/guarantees.md")), {}, {}
    assert.is_true(#names > 100, #names .. " names found in guarantees.md")
    for _, fn in ipairs(names) do
      local file, name = fn[1], fn[2]
      local full = resolve(listed[file] or {}, name, prev[file])
      if full then prev[file] = full else missing[#missing + 1] = file .. ": " .. name end
    end
    assert.same({}, missing)
    -- and the check can fail: a name that is not there is missing
    assert.is_nil(resolve(listed["tls_spec.lua"], "netsock.tls handshake no such test"))
  end)
end)
