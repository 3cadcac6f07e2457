-- spec/meta/release_spec.lua: the release is named the same everywhere, and
-- the rockspec ships every file the checkout builds from, so a rock
-- built from it is the code the specs test.
local H = require "helpers"
local ns = H.netsock

local function rockspec(file)
  local env = {}
  local chunk = assert(loadfile(file or "netsock-scm-1.rockspec", "t", env))
  chunk()
  return env
end

local function files(pattern)
  local p = assert(io.popen("find lua src -name '" .. pattern .. "' | LC_ALL=C sort"))
  local t = {}
  for line in p:lines() do t[#t + 1] = line end
  p:close()
  return t
end

describe("release", function()
  it("_VERSION, version and CHANGELOG.md name the same release", function()
    local maj, min, pat = ns._VERSION:match("^netsock (%d+)%.(%d+)%.(%d+)$")
    assert.truthy(maj, "_VERSION is not 'netsock X.Y.Z': " .. ns._VERSION)
    assert.same({ major = tonumber(maj), minor = tonumber(min), patch = tonumber(pat) }, ns.version)
    for _, k in ipairs({ "major", "minor", "patch" }) do
      assert.are.equal("integer", math.type(ns.version[k]))
    end
    local log = assert(H.readfile("CHANGELOG.md"))
    local first = log:match("\n## (%d+%.%d+%.%d+)")
    assert.are.equal(("%s.%s.%s"):format(maj, min, pat), first,
      "the newest CHANGELOG.md heading is not this release")
  end)

  it("the rockspec builds every C file and ships every Lua module", function()
    local spec = rockspec()
    local mods = spec.build.modules
    local csrc, winsrc = {}, {}
    for _, f in ipairs(mods["netsock.core"].sources) do csrc[f] = true end
    -- a platform's own files (build.platforms: Linux's sys_linux.c,
    -- ready_epoll.c; Windows' src/win/)
    for name, plat in pairs(spec.build.platforms or {}) do
      local core = plat.modules and plat.modules["netsock.core"]
      for _, f in ipairs(core and core.sources or {}) do
        if name == "windows" then winsrc[f] = true else csrc[f] = true end
      end
    end
    -- src/edit/: the console's line editor, in the netsock-edit rock
    local edit = rockspec("rocks/netsock-edit-scm-1.rockspec").build.modules["netsock.edit"]
    local esrc = {}
    for _, f in ipairs(edit.sources) do esrc[f] = true end
    for _, f in ipairs(files("*.c")) do
      if f:find("^src/win/") then
        -- the Windows build's files: its platform's list, no other
        assert.is_nil(csrc[f], f .. " would be built on Linux")
        assert.is_true(winsrc[f] == true, f .. " is not in the rockspec's windows platform")
      elseif f:find("^src/edit/") then
        assert.is_true(esrc[f] == true, f .. " is not in rocks/netsock-edit-scm-1.rockspec")
      else
        assert.is_true(csrc[f] == true, f .. " is not in the rockspec's netsock.core sources")
      end
    end
    for f in pairs(csrc) do
      assert.truthy(H.readfile(f), "the rockspec names " .. f .. ", which does not exist")
    end
    for f in pairs(winsrc) do
      assert.truthy(H.readfile(f), "the rockspec names " .. f .. ", which does not exist")
    end
    local lua = {}
    for name, f in pairs(mods) do
      if type(f) == "string" then lua[f] = name end
    end
    for _, f in ipairs(files("*.lua")) do
      local want = f:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      assert.are.equal(want, lua[f], f .. " is not in the rockspec as module " .. want)
    end
  end)

  it("each platform's source list, merged as LuaRocks merges it, builds every file once", function()
    -- LuaRocks lays build.platforms.P over build by index: a platform's
    -- list must be the generic one with its own files in their places,
    -- or the merged list names some files twice and misses others. What
    -- each build leaves out of src/ (the Makefile's choice: the probes
    -- pick the generic or Linux seams; make windows, WINSRCS)
    local spec = rockspec()
    local generic = spec.build.modules["netsock.core"].sources
    local linuxonly = { "src/sys_linux.c", "src/ready_epoll.c" }
    local posixonly = { "src/sys_posix.c", "src/ready_poll.c" }
    local unixonly = { "src/signal_posix.c", "src/process.c" }
    local function expect(windows, ...)
      local drop = {}
      for _, list in ipairs({ ... }) do for _, f in ipairs(list) do drop[f] = true end end
      local want = {}
      for _, f in ipairs(files("*.c")) do
        if not f:find("^src/edit/") and not drop[f] and (windows or not f:find("^src/win/")) then
          want[#want + 1] = f
        end
      end
      table.sort(want)
      return want
    end
    local function sorted(list)
      local t = table.move(list, 1, #list, 1, {})
      table.sort(t)
      return t
    end
    local want = {
      linux = expect(false, posixonly),
      windows = expect(true, posixonly, linuxonly, unixonly),
    }
    assert.same(expect(false, linuxonly), sorted(generic), "the generic list")
    local seen = {}
    for name, plat in pairs(spec.build.platforms or {}) do
      local core = plat.modules and plat.modules["netsock.core"]
      if core and core.sources then
        local merged = table.move(generic, 1, #generic, 1, {})
        for i, f in ipairs(core.sources) do merged[i] = f end
        assert.truthy(want[name], "a source list for a platform this spec does not know: " .. name)
        assert.same(want[name], sorted(merged), "the list LuaRocks builds on " .. name)
        seen[name] = true
      end
    end
    assert.same({ linux = true, windows = true }, seen)
  end)

  it("one rockspec at the top level, so luarocks make and test need no name in a folder of any name", function()
    local p = assert(io.popen("ls *.rockspec rockspec/*.rockspec rockspecs/*.rockspec 2>/dev/null"))
    local found = {}
    for l in p:lines() do found[#found + 1] = l end
    p:close()
    -- LuaRocks looks in ., rockspec/ and rockspecs/ and, finding two,
    -- picks by the folder's name or stops with "Please specify which
    -- rockspec file to use"
    assert.same({ "netsock-scm-1.rockspec" }, found)
  end)

  it("each rockspec says where it builds (supported_platforms)", function()
    -- Linux, and the systems the generic seams build on (README,
    -- "Platforms"); the core on Windows too (src/win/, README "Windows"),
    -- the line editor not (libedit: the console reads plain lines there)
    local unix = { "linux", "macosx", "freebsd", "openbsd", "netbsd" }
    assert.same(table.move(unix, 1, #unix, 1, { [#unix + 1] = "windows" }),
                rockspec("netsock-scm-1.rockspec").supported_platforms)
    assert.same(unix, rockspec("rocks/netsock-edit-scm-1.rockspec").supported_platforms)
  end)

  it("the rockspec ships docs, examples and library/ and tests without fetching", function()
    local spec = rockspec()
    local dirs = {}
    for _, d in ipairs(spec.build.copy_directories or {}) do dirs[d] = true end
    assert.same({ docs = true, examples = true, library = true }, dirs)
    assert.are.equal("command", spec.test.type)
    assert.is_nil(spec.test_dependencies, "test_dependencies make luarocks test fetch busted")
  end)
end)
