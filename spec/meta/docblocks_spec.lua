-- spec/meta/docblocks_spec.lua: the Lua code blocks of README.md and docs/*.md that
-- are marked as self-contained run as written, so they stay true.
--
-- The marker (opt-in): an HTML comment line `<!-- run -->` right before
-- the ```lua fence (blank lines between are allowed; indented blocks
-- inside list items too). Mark a block only when it runs alone, ends by
-- itself within a few seconds, and touches only loopback (127.0.0.1, ::1,
-- Unix paths it removes again). Each block runs in a fresh lua5.4 with
-- the checkout's netsock; a global `netsock` is there already (most
-- blocks of api.md assume it). A failure names the file and line.

local H = require "helpers"

local MARK = "<!-- run -->"

local function docfiles()
  local p = assert(io.popen("ls README.md docs/*.md 2>/dev/null | LC_ALL=C sort"))
  local t = {}
  for line in p:lines() do t[#t + 1] = line end
  p:close()
  return t
end

-- the marked blocks of one file: {where = "FILE:LINE", code = ...}
local function marked(path, text)
  local blocks, lines = {}, {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local i = 1
  while i <= #lines do
    if lines[i]:match("^%s*" .. MARK:gsub("%p", "%%%0") .. "%s*$") then
      local j = i + 1
      while j <= #lines and lines[j]:match("^%s*$") do j = j + 1 end
      local indent = lines[j] and lines[j]:match("^(%s*)```lua%s*$")
      if not indent then
        error(("%s:%d: %s is not followed by a ```lua block"):format(path, i, MARK), 0)
      end
      local code, k = {}, j + 1
      while k <= #lines and not lines[k]:match("^%s*```%s*$") do
        code[#code + 1] = lines[k]:sub(1, #indent) == indent and lines[k]:sub(#indent + 1) or lines[k]
        k = k + 1
      end
      if k > #lines then error(("%s:%d: the block never closes"):format(path, j), 0) end
      blocks[#blocks + 1] = { where = ("%s:%d"):format(path, j), code = table.concat(code, "\n") }
      i = k + 1
    else
      i = i + 1
    end
  end
  return blocks
end

-- addresses a marked block may name: loopback only
local function offloopback(code)
  for a in code:gmatch("%d+%.%d+%.%d+%.%d+") do
    if not a:match("^127%.") then return a end
  end
  return nil
end

local all = {}
for _, path in ipairs(docfiles()) do
  for _, b in ipairs(marked(path, assert(H.readfile(path)))) do all[#all + 1] = b end
end

describe("doc blocks marked to run", function()
  it("are there (the marker was not lost in an edit)", function()
    assert.is_true(#all >= 10, "only " .. #all .. " blocks are marked " .. MARK)
  end)

  for _, b in ipairs(all) do
    it(b.where .. " runs as written", function()
      local far = offloopback(b.code)
      assert.is_nil(far, b.where .. ": names " .. tostring(far) .. ", which is not loopback")
      local p = H.lua("netsock = require 'netsock'\n" .. b.code .. "\n")
      finally(function() p:kill() end)
      local rc = p:wait(20)
      if os.getenv("NETSOCK_DOCS_VERBOSE") then print(b.where, p:output()) end
      assert(rc == 0, ("%s: %s\n%s"):format(b.where,
        rc and ("exit status " .. rc) or "still running after 20 s", p:output()))
    end)
  end

  it("a failing block is reported with its file and line (the check can fail)", function()
    local blocks = marked("x.md", "text\n" .. MARK .. "\n\n```lua\nerror('no')\n```\n")
    assert.are.equal(1, #blocks)
    assert.are.equal("x.md:4", blocks[1].where)
    local p = H.lua(blocks[1].code)
    finally(function() p:kill() end)
    assert.are_not.equal(0, p:wait(20))
    assert.truthy(p:output():find("no", 1, true))
    local ok, err = pcall(marked, "y.md", MARK .. "\nplain text\n")
    assert.is_false(ok)
    assert.are.equal("y.md:1: " .. MARK .. " is not followed by a ```lua block", err)
    assert.are.equal("10.0.0.1", offloopback('s:connect("10.0.0.1", 80)'))
  end)
end)
