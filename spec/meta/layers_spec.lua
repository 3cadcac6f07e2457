-- spec/meta/layers_spec.lua: docs/design.md's layer table is the truth about
-- the sources. It reads the table ("Layers") and the files: every C file
-- of src/ and Lua file of lua/ has its row; a C file calls (directly or
-- through a macro of src/*.h) exactly the ns_* functions of the files its
-- "uses" column names, all of them above it (so src/ has no circle); a
-- Lua file requires exactly what its row names; only io.c includes
-- tls.h, and the data-path files never test s->tls or NS_HAVE_TLS; no C
-- file passes 800 lines and no function 80 (issue 23's targets).

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function ls(cmd)
  local out, p = {}, assert(io.popen(cmd))
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

-- comments and string literals out, so that prose naming a function
-- is not a call
local function code(text)
  text = text:gsub("/%*.-%*/", function(c) return (c:gsub("[^\n]", "")) end)
  text = text:gsub('"[^"\n]*"', '""')
  return text
end

local SHORT = { sys = "sys_linux.c", ready = "ready_epoll.c" }
-- a seam's other implementations (the build takes one of each: the
-- Makefile's probes) stand for the same layer as the Linux file
local ALT = { ["sys_posix.c"] = "sys_linux.c", ["ready_poll.c"] = "ready_epoll.c" }

-- the rows of the table: { files = {...}, uses = {...} or "every", order }
local function table_rows()
  local doc = readfile("docs/design.md")
  local sect = assert(doc:match("\n## Layers\n(.-)\n## "), "design.md has no Layers section")
  local rows = {}
  for line in sect:gmatch("[^\n]+") do
    if line:match("^| `") then
      local cells = {}
      for cell in (line .. "|"):gmatch("([^|]*)|") do cells[#cells + 1] = cell end
      -- cells[1] is "" (before the first bar); 2 file(s), 3 holds, 4 uses
      local files = {}
      for f in cells[2]:gmatch("`([^`]+)`") do files[#files + 1] = f end
      local usescell = cells[#cells - 1] or ""
      local uses
      if usescell:match("every file") then uses = "every"
      else
        uses = {}
        for u in usescell:gmatch("`([^`]+)`") do uses[#uses + 1] = u end
        if #uses == 0 then
          for u in usescell:gmatch("[%w_]+") do uses[#uses + 1] = u end
        end
      end
      rows[#rows + 1] = { files = files, uses = uses }
    end
  end
  return rows
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function sorted(s)
  local l = {}
  for k in pairs(s) do l[#l + 1] = k end
  table.sort(l)
  return l
end

local function cfile(short)
  return SHORT[short] or (short .. ".c")
end

-- which C file defines each ns_ function; the macros of netsock.h and
-- the ns_ functions each expands to
local function cdefs(files)
  local defs = {}
  for _, f in ipairs(files) do
    local text = code(readfile("src/" .. f))
    for name in text:gmatch("\n[%w_][^\n;{}]-[%s%*](ns_[%w_]+)%s*%b()%s*{") do
      defs[name] = ALT[f] or f
    end
  end
  local macros = {}
  for _, hf in ipairs(ls("ls src/*.h")) do
    local h = code(readfile(hf))
    for name, body in h:gmatch("#define%s+([%w_]+)(%b()[^\n]*\\?\n?[^#]-)\n[^ ]") do
      local callees = {}
      for c in body:gmatch("(ns_[%w_]+)%s*%(") do callees[#callees + 1] = c end
      macros[name] = callees
    end
  end
  return defs, macros
end

local function cuses(f, defs, macros)
  local text = code(readfile("src/" .. f))
  local used = {}
  local function use(name, depth)
    local d = defs[name]
    if d and d ~= (ALT[f] or f) then used[d] = true end
    if macros[name] and depth < 4 then
      for _, c in ipairs(macros[name]) do use(c, depth + 1) end
    end
  end
  for name in text:gmatch("([%w_]+)%s*%(") do use(name, 0) end
  return used
end

describe("the layers (docs/design.md)", function()
  local rows = table_rows()
  local cfiles = ls("cd src && ls *.c")
  local defs, macros = cdefs(cfiles)

  -- the C rows in order, by file name; the Lua rows by module path
  local order, crow, luarow = {}, {}, {}
  for _, r in ipairs(rows) do
    for _, f in ipairs(r.files) do
      local c = f:match("^src/([%w_]+%.c)$")
      if c then order[#order + 1] = c; crow[c] = r end
      if f:match("^lua/.*%.lua$") then luarow[f] = r end
    end
  end
  local rank = {}
  for i, c in ipairs(order) do rank[c] = i end

  it("every C file of src/ and Lua file of lua/ has a row, and every row's file exists", function()
    for _, f in ipairs(cfiles) do
      assert.is_truthy(crow[f], "src/" .. f .. " has no row in design.md's layer table")
    end
    for _, f in ipairs(ls("find lua -name '*.lua' | sort")) do
      assert.is_truthy(luarow[f], f .. " has no row in design.md's layer table")
    end
    for _, r in ipairs(rows) do
      for _, f in ipairs(r.files) do
        if f:match("^src/") or f:match("^lua/") then
          assert.is_truthy(io.open(f), f .. " is in the table but does not exist")
        end
      end
    end
  end)

  it("each C file calls exactly the files its row names, all above it: no circle", function()
    for _, f in ipairs(cfiles) do
      local r = crow[f]
      if r and r.uses ~= "every" then
        local declared = {}
        for _, u in ipairs(r.uses) do declared[cfile(u)] = true end
        local used = cuses(f, defs, macros)
        assert.are.same(sorted(declared), sorted(used),
          "src/" .. f .. ": the uses column says " .. table.concat(sorted(declared), ", ") ..
          ", the file calls " .. table.concat(sorted(used), ", "))
        for u in pairs(used) do
          assert.is_truthy(rank[u] and rank[u] < rank[f],
            "src/" .. f .. " calls " .. u .. ", which is not above it in the table")
        end
      end
    end
  end)

  it("each Lua file requires exactly what its row names", function()
    for path, r in pairs(luarow) do
      local text = readfile(path):gsub("%-%-[^\n]*", "")
      local req = {}
      for m in text:gmatch("require%s*%(?%s*[\"']([%w%._]+)[\"']") do req[m] = true end
      for m in text:gmatch("pcall%(%s*require%s*,%s*[\"']([%w%._]+)[\"']") do req[m] = true end
      assert.are.same(sorted(set(r.uses)), sorted(req), path .. "'s requires")
    end
  end)

  it("only io.c (and tls*.c) include tls.h; socket.c, file.c, sendfile.c, select.c never see TLS", function()
    for _, f in ipairs(cfiles) do
      local text = readfile("src/" .. f)
      if f ~= "io.c" and not f:match("^tls") then
        assert.is_nil(text:find('#include "tls.h"', 1, true), f .. " includes tls.h")
      end
    end
    for _, f in ipairs({ "socket.c", "connect.c", "file.c", "sendfile.c", "select.c", "dgram.c",
                          "luasocket.c", "mmsg.c" }) do
      local text = code(readfile("src/" .. f))
      assert.is_nil(text:find("->tls", 1, true), f .. " looks at s->tls")
      assert.is_nil(text:find("NS_HAVE_TLS", 1, true), f .. " tests NS_HAVE_TLS")
    end
  end)

  it("no C file passes 800 lines, no function 80", function()
    for _, f in ipairs(cfiles) do
      local text = readfile("src/" .. f)
      local n = select(2, text:gsub("\n", ""))
      assert.is_true(n <= 800, ("src/%s has %d lines"):format(f, n))
      local start, startline
      local lineno = 0
      for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        lineno = lineno + 1
        if line:match("^[%a_][^;=]*%(") and not line:match(";%s*$") and not line:match("^static const") then
          start, startline = lineno, line
        elseif line:match("^}") and start then
          local len = lineno - start + 1
          assert.is_true(len <= 80, ("src/%s:%d %s is %d lines"):format(f, start, startline, len))
          start = nil
        end
      end
    end
  end)
end)
