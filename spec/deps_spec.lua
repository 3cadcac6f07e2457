-- tools/deps and H.needs (issue 21): what the project needs is checked
-- by what it gives (a command, a C header, a Lua module, a file), not by
-- asking dpkg; where apt-get cannot install it, the missing things are
-- named in words with their Debian, Fedora and Alpine packages, and
-- NETSOCK_DEPS=skip goes on. A spec file that needs something fails, at
-- its top, naming the Debian package; it is never skipped.
local H = require "helpers"

-- tools/deps with PATH holding only the given commands (links in a
-- scratch directory): no apt-get there, so nothing is installed
local function deps(commands, env, ...)
  local bin = H.tmpname(".bin")
  assert(os.execute("mkdir " .. H.shquote(bin)))
  for _, c in ipairs(commands) do
    assert(os.execute(("ln -s \"$(command -v %s)\" %s/"):format(c, H.shquote(bin))), c)
  end
  local args = {}
  for i, a in ipairs({ ... }) do args[i] = H.shquote(a) end
  local p = H.spawn(("%s PATH=%s /bin/sh tools/deps %s"):format(env or "", H.shquote(bin), table.concat(args, " ")))
  local rc = p:wait(30)
  p:kill()
  return rc, p:output()
end

describe("tools/deps", function()
  it("counts what is there by what it gives, whoever installed it", function()
    local rc, out = deps({ "id", "lua5.4", "python3" }, nil, "python3", "lua5.4", "lua-filesystem", "netbase")
    assert.are.equal(0, rc, out)
    assert.are.equal("", out)
  end)

  it("without apt-get, names what is missing in words with Debian, Fedora and Alpine packages, and fails", function()
    local rc, out = deps({ "id", "lua5.4" }, nil, "python3", "lua-filesystem", "lua-socket", "libssl-dev")
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("the command python3: Debian python3, Fedora python3, Alpine python3", 1, true), out)
    -- no C compiler on that PATH, so no header can be found
    assert.truthy(out:find("the C header <openssl/ssl.h>: Debian libssl-dev, Fedora openssl-devel, Alpine openssl-dev", 1, true), out)
    assert.falsy(out:find("lfs", 1, true), "lua-filesystem is there: " .. out)
    assert.truthy(out:find("NETSOCK_DEPS=skip", 1, true), out)
    assert.falsy(out:find("apt-get", 1, true), "no apt-get on this PATH: " .. out)
  end)

  it("NETSOCK_DEPS=skip says what is missing and goes on", function()
    local rc, out = deps({ "id", "lua5.4" }, "NETSOCK_DEPS=skip", "python3")
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("the command python3", 1, true), out)
  end)

  it("a Lua module counts only if the project's Lua loads it", function()
    local rc, out = deps({ "id", "lua5.4" }, "LUA=lua5.4", "lua-socket", "lua-sec", "lua-copas")
    -- make test installs these three: here they must all be found
    assert.are.equal(0, rc, out)
    rc, out = deps({ "id" }, "LUA=lua5.4", "lua-socket")
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("the Lua module 'socket' (for lua5.4): Debian lua-socket", 1, true), out)
  end)
end)

describe("H.needs", function()
  it("fails the spec file, naming the Debian package, when a command, module or file is missing", function()
    local ok, err = pcall(H.needs, {
      { cmd = "netsock-no-such-command", pkg = "netsock-pkg-a" },
      { lua = "netsock_no_such_module", pkg = "netsock-pkg-b" },
      { file = "/nonexistent/netsock", pkg = "netsock-pkg-c" },
      { cmd = "sh", pkg = "dash" },
    })
    assert.is_false(ok)
    assert.truthy(err:find("the command netsock-no-such-command (Debian package netsock-pkg-a)", 1, true), err)
    assert.truthy(err:find("the Lua module netsock_no_such_module (Debian package netsock-pkg-b)", 1, true), err)
    assert.truthy(err:find("the file /nonexistent/netsock (Debian package netsock-pkg-c)", 1, true), err)
    assert.falsy(err:find("dash", 1, true), err)
    assert.truthy(err:find("make test installs it", 1, true), err)
  end)

  it("passes quietly when everything is there", function()
    H.needs { { cmd = "sh", pkg = "dash" }, { lua52 = "copas", pkg = "lua-copas" }, { file = "/etc/services", pkg = "netbase" } }
  end)
end)
