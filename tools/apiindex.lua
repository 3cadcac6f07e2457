-- usage: lua5.4 tools/apiindex.lua [docs/api.md]
-- Rewrites the index at the top of docs/api.md (between <!-- index -->
-- and <!-- /index -->) from the page's own headings: one line per "##"
-- section, one link per function named in a "###" heading (and in the
-- first column of a table under it, such as the poller's methods).
-- spec/meta/docs_spec.lua checks that the index is what this makes and that
-- every function of the module is in it; run this after adding a section.
-- Loaded with dofile, it returns its functions instead.

local M = {}

-- the anchor GitHub (and most renderers) give a heading: lower case,
-- punctuation but "-" and "_" dropped, each space a "-"; a repeated
-- heading gets "-1", "-2", ...
function M.slugger()
  local seen = {}
  return function(heading)
    local s = heading:lower():gsub("[^%w%- _]", ""):gsub(" ", "-")
    local n = seen[s]
    seen[s] = (n or 0) + 1
    if n then s = s .. "-" .. n end
    return s
  end
end

-- the headings of a markdown text, outside fenced code: { level, text, anchor }
function M.headings(text)
  local slug, out, fenced = M.slugger(), {}, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^```") then fenced = not fenced
    elseif not fenced then
      local hashes, title = line:match("^(#+)%s+(.-)%s*$")
      if hashes then out[#out + 1] = { level = #hashes, text = title, anchor = slug(title) } end
    end
  end
  return out
end

-- the name a code span documents: "netsock.socket", "s:bind", "tostring(s)"
local function callname(code)
  local name = code:match("^([%a_][%w_]*[.:][%a_][%w_.:]*)%s*%(")
  if name then return name end
  if code:match("^netsock%.[%a_][%w_]*$") then return code end
  if code:match("^tostring%(%a%)$") then return code end
  return nil
end

-- sections in order, each { title, anchor, entries = { {name, anchor} } }
function M.entries(text)
  local sections, current, under = {}, nil, nil
  local seen = {}
  local heads = M.headings(text)
  local hi = 0
  local fenced = false
  local function add(name, anchor)
    if current and not seen[name] then
      seen[name] = true
      current.entries[#current.entries + 1] = { name = name, anchor = anchor }
    end
  end
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^```") then fenced = not fenced
    elseif not fenced and line:match("^#+%s") then
      hi = hi + 1
      local h = heads[hi]
      if h.level == 2 then
        current = { title = h.text, anchor = h.anchor, entries = {} }
        sections[#sections + 1] = current
        under = nil
      elseif h.level == 3 then
        under = h.anchor
        for code in h.text:gmatch("`([^`]+)`") do
          local name = callname(code)
          if name then add(name, h.anchor) end
        end
      end
    elseif not fenced and under and line:match("^| `") then
      local code = line:match("^| `([^`]+)`")
      local name = code and callname(code)
      if name then add(name, under) end
    end
  end
  local out = {}
  for _, sec in ipairs(sections) do
    if #sec.entries > 0 then out[#out + 1] = sec end
  end
  return out
end

-- the index block, markers included
function M.index(text)
  local lines = { "<!-- index -->", "## Index", "" }
  for _, sec in ipairs(M.entries(text)) do
    local links = {}
    for i, e in ipairs(sec.entries) do
      links[i] = ("[`%s`](#%s)"):format(e.name, e.anchor)
    end
    lines[#lines + 1] = ("- **[%s](#%s)**: %s"):format(sec.title, sec.anchor,
      table.concat(links, ", "))
  end
  lines[#lines + 1] = "<!-- /index -->"
  return table.concat(lines, "\n")
end

-- the text with its index rebuilt (the index's own heading is ignored
-- when reading the sections, so rebuilding twice gives the same text)
function M.rebuild(text)
  local before, after = text:match("^(.-)<!%-%- index %-%->.-<!%-%- /index %-%->(.*)$")
  assert(before, "no <!-- index --> ... <!-- /index --> markers")
  local body = before .. after
  return before .. M.index(body) .. after
end

-- the index as it stands in the text, markers included
function M.current(text)
  return text:match("<!%-%- index %-%->.-<!%-%- /index %-%->")
end

if arg and arg[0] and arg[0]:match("apiindex%.lua$") then
  local path = arg[1] or "docs/api.md"
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  local new = M.rebuild(text)
  if new ~= text then
    f = assert(io.open(path, "wb"))
    f:write(new)
    f:close()
    print(path .. ": index rebuilt")
  else
    print(path .. ": index up to date")
  end
end

return M
