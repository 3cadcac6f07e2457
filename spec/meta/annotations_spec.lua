-- spec/meta/annotations_spec.lua: the LuaCATS annotations in library/ name
-- every public function, method and field that `require "netsock"`
-- exposes, and nothing that is not there, so they cannot drift.
--
-- What counts as public, found at run time:
--   * namespaces: the table `require "netsock"` returns, every table in
--     it that holds functions (netsock.tls, netsock.console, ...), and
--     every module a library/ file names in its `---@meta NAME` line;
--   * object classes: every metatable in the registry named "netsock.*"
--     (luaL_newmetatable) with a method table, less INTERNAL below, plus
--     the Lua-made objects of OBJECTS below;
--   * names that start with "_" are internal (they may be annotated).
-- What counts as annotated, read from library/**/*.lua:
--   `---@class NAME` followed by `local VAR = {}` binds VAR to NAME;
--   `function VAR.f(...)` / `function VAR:f(...)` name a function or
--   method; `---@field f` under the class, or `VAR.f = ...`, a field.
-- A library/ file whose `---@meta NAME` module cannot be loaded here
-- (netsock.tls built without OpenSSL) is skipped, not failed.

local H = require "helpers"
local ns = H.netsock

-- Registry metatables users never see. A new one: add it here only if no
-- user can ever hold such an object; otherwise annotate it.
local INTERNAL = {
  ["netsock.loop"] = true,    -- the task loop's epoll set
  ["netsock.lookup"] = true,  -- a lookup on a thread, owned by the loop
  ["netsock.fdbox"] = true,   -- a descriptor box (select's epoll set in tasks)
  ["netsock.sendfile"] = true, -- the state of a sendfile call across waits
  ["netsock.editor"] = true,  -- the console's line editor (netsock.edit)
}

-- Objects made in Lua (setmetatable, no registry name): class name ->
-- a function returning one such object and a clean-up function. Add a
-- line when a Lua part starts returning a new kind of object.
local OBJECTS = {
  ["netsock.server"] = function()
    local srv = assert(ns.serve("127.0.0.1", 0, function() end))
    return srv, function() srv:close(); ns.run() end
  end,
  ["netsock.supervisor"] = function()
    local sup = assert(ns.serve("127.0.0.1", 0, function() end, { workers = 1 }))
    return sup, function() sup:stop(5) end
  end,
  -- netsock.luasocket's objects (one class per kind: every state of a
  -- kind has the same methods, as LuaSocket's)
  ["netsock.luasocket.tcp"] = function()
    local o = require("netsock.luasocket").tcp4()
    return o, function() o:close() end
  end,
  ["netsock.luasocket.udp"] = function()
    local o = require("netsock.luasocket").udp4()
    return o, function() o:close() end
  end,
  ["netsock.luasocket.unixstream"] = function()
    local o = require("netsock.luasocket").unix.stream()
    return o, function() o:close() end
  end,
  ["netsock.luasocket.unixdgram"] = function()
    local o = require("netsock.luasocket").unix.dgram()
    return o, function() o:close() end
  end,
  -- tasks working together (lua/netsock/sync.lua)
  ["netsock.group"] = function() return ns.group(), function() end end,
  ["netsock.queue"] = function() return ns.queue(), function() end end,
  ["netsock.semaphore"] = function() return ns.semaphore(1), function() end end,
  ["netsock.event"] = function() return ns.event(), function() end end,
  ["netsock.consoleendpoint"] = function()
    local ep = assert(ns.console.listen(H.tmpname(".sock")))
    return ep, function() ep:close() end
  end,
}

local function listfiles(dir)
  local p = assert(io.popen("find " .. H.shquote(dir) .. " -name '*.lua' | LC_ALL=C sort"))
  local files = {}
  for line in p:lines() do files[#files + 1] = line end
  p:close()
  return files
end

-- declared[class] = {file=, line=, meta=, funcs = {name = where}, fields = {name = where}}
local function parse(files)
  local declared, skipped = {}, {}
  for _, path in ipairs(files) do
    local text = assert(H.readfile(path), path)
    local meta = text:match("^%-%-%-@meta%s+([%w_.]+)")
    local vars, current, n = {}, nil, 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      local where = path .. ":" .. n
      local cls = line:match("^%-%-%-@class%s+([%w_.]+)")
      if cls then
        declared[cls] = declared[cls] or { file = path, line = n, meta = meta, funcs = {}, fields = {} }
        current = cls
      elseif line:match("^%-%-%-") then
        local field = line:match("^%-%-%-@field%s+([%w_]+)")
        if field and current then declared[current].fields[field] = where end
      else
        local var = line:match("^local%s+([%w_]+)%s*=%s*{%s*}")
        if var and current then vars[var] = current end
        current = nil
        local v, f = line:match("^function%s+([%w_]+)[.:]([%w_]+)%s*%(")
        if v and vars[v] then declared[vars[v]].funcs[f] = where end
        v, f = line:match("^([%w_]+)%.([%w_]+)%s*=")
        if v and vars[v] then declared[vars[v]].fields[f] = where end
      end
    end
    if meta and meta ~= "netsock" then
      local ok = pcall(require, meta)
      if not ok then skipped[path] = meta end
    end
  end
  return declared, skipped
end

local function isprivate(name) return name:sub(1, 1) == "_" end

local function hasfunctions(t)
  for _, v in pairs(t) do
    if type(v) == "function" then return true end
  end
  return false
end

-- the model of what is there: spaces[name] = {funcs=, fields=, sub=}, classes[name] = {methods=}
local function runtime(metas)
  local classes, methodtables = {}, {}
  local function addclass(name, index)
    local methods = {}
    for k, v in pairs(index) do
      if type(k) == "string" and k:sub(1, 1) ~= "_" and type(v) == "function" then
        methods[k] = true
      end
    end
    classes[name] = { methods = methods, index = index }
    methodtables[index] = true
  end
  for k, v in pairs(debug.getregistry()) do
    if type(k) == "string" and k:match("^netsock%.") and type(v) == "table"
       and rawget(v, "__name") == k and type(rawget(v, "__index")) == "table"
       and not INTERNAL[k] then
      addclass(k, rawget(v, "__index"))
    end
  end
  for name, make in pairs(OBJECTS) do
    local obj, done = make()
    addclass(name, getmetatable(obj).__index)
    if done then done() end
  end
  local spaces = {}
  local function walk(t, name)
    if spaces[name] then return end
    local s = { funcs = {}, fields = {}, sub = {}, value = t }
    spaces[name] = s
    for k, v in pairs(t) do
      -- (a key that is no Lua name, as LuaSocket's sinkt["keep-open"],
      -- cannot be written `function T.name`: not annotated)
      if type(k) == "string" and not isprivate(k) and k:match("^[%a_][%w_]*$") then
        if type(v) == "function" then s.funcs[k] = true
        elseif type(v) == "table" and not methodtables[v] and hasfunctions(v) then
          s.sub[k] = true
          walk(v, name .. "." .. k)
        else s.fields[k] = true end
      end
    end
  end
  walk(ns, "netsock")
  for meta in pairs(metas) do
    local ok, mod = pcall(require, meta)
    if ok and type(mod) == "table" then walk(mod, meta) end
  end
  return spaces, classes
end

local function sortedkeys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

-- every difference, one sentence each, naming the name and what to do
local function compare(declared, skipped, spaces, classes)
  local problems = {}
  local function say(fmt, ...) problems[#problems + 1] = fmt:format(...) end
  local skipfile = {}
  for path in pairs(skipped) do skipfile[path] = true end
  -- a name a skipped file adds to another class (netsock.tls's socket
  -- methods) is skipped with it
  local function fromskipped(where)
    return skipfile[tostring(where):match("^(.-):%d+$") or ""]
  end

  for _, name in ipairs(sortedkeys(spaces)) do
    local s, d = spaces[name], declared[name]
    if not d then
      say("missing: namespace %s has no `---@class %s` in library/ (annotate it, e.g. in library/%s.lua)",
          name, name, name:gsub("%.", "/"))
    else
      for _, f in ipairs(sortedkeys(s.funcs)) do
        if not isprivate(f) and not d.funcs[f] then
          say("missing: function %s.%s has no annotation (add `function %s.%s(...) end` under `---@class %s` in %s)",
              name, f, name:match("[%w_]+$"), f, name, d.file)
        end
      end
      for _, f in ipairs(sortedkeys(s.fields)) do
        if not isprivate(f) and not d.fields[f] then
          say("missing: field %s.%s has no annotation (add `---@field %s TYPE` to `---@class %s` in %s)",
              name, f, f, name, d.file)
        end
      end
      for _, f in ipairs(sortedkeys(d.funcs)) do
        if not s.funcs[f] then
          say("extra: %s names function %s.%s, which is not there at run time", d.funcs[f], name, f)
        end
      end
      for _, f in ipairs(sortedkeys(d.fields)) do
        if rawget(s.value, f) == nil and not fromskipped(d.fields[f]) then
          say("extra: %s names field %s.%s, which is not there at run time", d.fields[f], name, f)
        end
      end
    end
  end

  for _, name in ipairs(sortedkeys(classes)) do
    local c, d = classes[name], declared[name]
    if not d then
      say("missing: class %s (objects users get) has no `---@class %s` in library/; annotate it, or list it in INTERNAL of spec/meta/annotations_spec.lua if no user ever holds one",
          name, name)
    else
      for _, m in ipairs(sortedkeys(c.methods)) do
        if not d.funcs[m] then
          say("missing: method %s:%s has no annotation (add `function VAR:%s(...) end` under `---@class %s` in %s)",
              name, m, m, name, d.file)
        end
      end
      for _, m in ipairs(sortedkeys(d.funcs)) do
        if not c.methods[m] and not (isprivate(m) and c.index[m]) and not fromskipped(d.funcs[m]) then
          say("extra: %s names method %s:%s, which objects of %s do not have", d.funcs[m], name, m, name)
        end
      end
    end
  end

  for _, name in ipairs(sortedkeys(declared)) do
    local d = declared[name]
    if next(d.funcs) and not spaces[name] and not classes[name] and not skipfile[d.file] then
      say("extra: %s:%d declares class %s with functions, but there is no such module or object at run time",
          d.file, d.line, name)
    end
  end
  return problems
end

local function metasof(declared)
  local metas = {}
  for _, d in pairs(declared) do
    if d.meta and d.meta ~= "netsock" then metas[d.meta] = true end
  end
  return metas
end

describe("library/ annotations", function()
  local files = listfiles("library")

  it("exist, with library/netsock.lua as the module", function()
    assert.is_true(#files >= 1)
    local text = assert(H.readfile("library/netsock.lua"))
    assert.truthy(text:match("^%-%-%-@meta netsock\n"))
  end)

  it("are valid Lua (the language server reads them as code)", function()
    for _, path in ipairs(files) do
      local chunk, err = loadfile(path, "t", {})
      assert(chunk, err)
    end
  end)

  it("name every public function, method and field, and nothing else", function()
    local declared, skipped = parse(files)
    local spaces, classes = runtime(metasof(declared))
    local problems = compare(declared, skipped, spaces, classes)
    assert(#problems == 0, "library/ and `require \"netsock\"` differ:\n  "
           .. table.concat(problems, "\n  "))
  end)

  it("cover the classes users hold: socket, file, poller", function()
    local declared = parse(files)
    local _, classes = runtime(metasof(declared))
    for _, name in ipairs { "netsock.socket", "netsock.file", "netsock.poller" } do
      assert.is_table(classes[name], name)
      assert.is_table(declared[name], name)
    end
  end)

  it("report a missing and an extra name exactly (the check can fail)", function()
    local declared, skipped = parse(files)
    local spaces, classes = runtime(metasof(declared))
    declared["netsock"].funcs.sleep = nil
    declared["netsock.socket"].funcs.recv = nil
    declared["netsock.socket"].funcs.frobnicate = "library/x.lua:7"
    declared["netsock"].fields.AF_INET = nil
    local problems = compare(declared, skipped, spaces, classes)
    table.sort(problems)
    assert.equal(4, #problems, table.concat(problems, "\n"))
    assert.equal("extra: library/x.lua:7 names method netsock.socket:frobnicate, which objects of netsock.socket do not have",
                 problems[1])
    assert.truthy(problems[2]:find("missing: field netsock.AF_INET has no annotation", 1, true))
    assert.truthy(problems[3]:find("missing: function netsock.sleep has no annotation (add `function netsock.sleep(...) end`", 1, true))
    assert.truthy(problems[4]:find("missing: method netsock.socket:recv has no annotation", 1, true))
  end)

  it("skip a file whose optional module cannot be loaded", function()
    local path = H.tmpname(".lua")
    H.writefile(path, table.concat({
      "---@meta netsock.no_such_optional_module",
      "---@class netsock.no_such_optional_module",
      "local m = {}",
      "function m.f() end",
      "return m", "" }, "\n"))
    local declared, skipped = parse { path }
    assert.equal("netsock.no_such_optional_module", skipped[path])
    local problems = compare(declared, skipped, {}, {})
    assert.same({}, problems)
    -- and the same file for a module that loads but lacks f is reported
    local problems2 = compare(declared, {}, {}, {})
    assert.equal(1, #problems2)
    assert.truthy(problems2[1]:find("declares class netsock.no_such_optional_module", 1, true))
  end)
end)

-- {====== Return types: what the annotations say a call returns is what it returns ======
-- annotated(name): the ---@param and ---@return lines of the function
-- "netsock.serve" or method "netsock.socket:settimeout", read from library/
local function annotated(qualified)
  local cls, fname = qualified:match("^(.-)[.:]([%w_]+)$")
  for _, path in ipairs(listfiles("library")) do
    local vars, current, block = {}, nil, {}
    for line in (assert(H.readfile(path)) .. "\n"):gmatch("([^\n]*)\n") do
      local c = line:match("^%-%-%-@class%s+([%w_.]+)")
      if c then current = c end
      if line:match("^%-%-%-") then
        block[#block + 1] = line
      else
        local var = line:match("^local%s+([%w_]+)%s*=%s*{%s*}")
        if var and current then vars[var] = current end
        local v, f = line:match("^function%s+([%w_]+)[.:]([%w_]+)%s*%(")
        if v and (vars[v] or v) == cls and f == fname then
          local out = { params = {}, returns = {} }
          for _, l in ipairs(block) do
            local pn, pt = l:match("^%-%-%-@param%s+([%w_.]+%??)%s+(%S+)")
            if pn then out.params[pn:gsub("%?$", "")] = pt end
            local rt = l:match("^%-%-%-@return%s+(%S+)")
            if rt then out.returns[#out.returns + 1] = rt end
          end
          return out
        end
        block, current = {}, c and current or nil
      end
    end
  end
  error("no annotation for " .. qualified)
end

-- whether v is of the annotated type t ("true", "string?", "integer",
-- "(netsock.server|netsock.supervisor)?", a netsock class: the object
-- has every method the class declares, and no other class fits better)
local function fits(t, v, declared)
  local optional = t:sub(-1) == "?"
  t = t:gsub("%?$", ""):gsub("^%((.*)%)$", "%1")
  if v == nil then return optional or ("|" .. t .. "|"):find("|nil|", 1, true) ~= nil end
  for alt in t:gmatch("[^|]+") do
    if alt == "any" then return true
    elseif alt == "true" or alt == "false" then
      if tostring(v) == alt then return true end
    elseif alt == "integer" then
      if math.type(v) == "integer" then return true end
    elseif alt:match("^[%l]+$") then
      if type(v) == alt then return true end
    elseif declared[alt] then
      local mt = getmetatable(v)
      if mt and mt.__name == alt then return true end
      local d, ok = declared[alt], type(v) == "table" or type(v) == "userdata"
      for f in pairs(d.funcs) do
        if ok and type(v[f]) ~= "function" then ok = false end
      end
      if ok and next(d.funcs) then return true end
    end
  end
  return false
end

describe("annotated return types", function()
  local declared = parse(listfiles("library"))

  -- call fn, then check every value against qualified's ---@return lines
  local function check(qualified, ...)
    local a = annotated(qualified)
    local n = select("#", ...)
    local values = { ... }
    assert.is_true(n <= #a.returns, ("%s returned %d values, its annotation declares %d (%s)")
      :format(qualified, n, #a.returns, table.concat(a.returns, ", ")))
    for i, t in ipairs(a.returns) do
      assert.is_true(fits(t, values[i], declared), ("%s returned %s as value %d, annotated %s")
        :format(qualified, tostring(values[i]), i, t))
    end
  end

  it("serve: a server, or with workers a supervisor", function()
    local srv = assert(ns.serve("127.0.0.1", 0, function() end))
    check("netsock.serve", srv)
    srv:close(); ns.run()
    local sup = assert(ns.serve("127.0.0.1", 0, function() end, { workers = 1 }))
    finally(function() sup:stop(5) end)
    check("netsock.serve", sup)
    -- and the failure triple
    local in_use = assert(ns.create_server("127.0.0.1", 0))
    finally(function() in_use:close() end)
    check("netsock.serve", ns.serve("127.0.0.1", select(2, in_use:getsockname()), function() end))
  end)

  it("settimeout, setblocking and setdefaulttimeout return true", function()
    local s = ns.tcp()
    finally(function() s:close() end)
    check("netsock.socket:settimeout", s:settimeout(1))
    check("netsock.socket:settimeout", s:settimeout(nil))
    check("netsock.socket:setblocking", s:setblocking(false))
    local was = ns.getdefaulttimeout()
    finally(function() ns.setdefaulttimeout(was) end)
    check("netsock.setdefaulttimeout", ns.setdefaulttimeout(was))
  end)

  it("spawn and run take a callable table, and say so", function()
    for _, name in ipairs({ "netsock.spawn", "netsock.run" }) do
      local t = annotated(name).params.fn
      assert.truthy(t and ("|" .. t:gsub("%?$", "") .. "|"):find("|netsock.callable|", 1, true),
        name .. "'s fn is annotated " .. tostring(t))
    end
    local ran = false
    local callable = setmetatable({}, { __call = function() ran = true end })
    check("netsock.spawn", ns.spawn(callable))
    check("netsock.run", ns.run())
    assert.is_true(ran)
  end)

  it("serve's options include tls where netsock.tls is built", function()
    if not ns.tls then return end
    assert.truthy(declared["netsock.serveoptions"].fields.tls, "library/: serve's options lack tls")
  end)
end)
-- }======

describe("annotations and docs/api.md", function()
  it("every annotated function of netsock, netsock.tls, netsock.console and of sockets, files and pollers is in api.md's index", function()
    local I = dofile("tools/apiindex.lua")
    local indexed = {}
    for _, sec in ipairs(I.entries(assert(H.readfile("docs/api.md")))) do
      for _, e in ipairs(sec.entries) do indexed[e.name] = true end
    end
    local declared = parse(listfiles("library"))
    local prefix = { ["netsock"] = "netsock.", ["netsock.tls"] = "netsock.tls.",
                     ["netsock.console"] = "netsock.console.", ["netsock.socket"] = "s:",
                     ["netsock.file"] = "f:", ["netsock.poller"] = "p:" }
    local missing = {}
    for cls, p in pairs(prefix) do
      for f, where in pairs(declared[cls] and declared[cls].funcs or {}) do
        if not isprivate(f) and not indexed[p .. f] then
          missing[#missing + 1] = ("%s%s (annotated at %s)"):format(p, f, where)
        end
      end
    end
    table.sort(missing)
    assert.are.same({}, missing, "annotated but not documented: add a ### heading to docs/api.md, then lua5.4 tools/apiindex.lua")
  end)
end)
