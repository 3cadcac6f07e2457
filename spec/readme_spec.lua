-- The README's examples as a new user runs them (issue 21): the serve
-- example, run as printed (only its port changed), answers lines and
-- ends a handler quietly when a client resets: no traceback on stderr.
local H = require "helpers"
local ns = H.netsock

-- the README's ```lua block that contains 'needle'
local function block(file, needle)
  local text = assert(H.readfile(file))
  for code in text:gmatch("```lua\n(.-)```") do
    if code:find(needle, 1, true) then return code end
  end
  error(file .. " has no lua block with " .. needle)
end

-- a port nobody listens on now (bound, then closed)
local function freeport()
  local s = assert(ns.create_server("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

describe("README", function()
  for _, where in ipairs({ { "README.md", 'netsock.serve("127.0.0.1", 9999' },
                           { "docs/api.md", 'local srv = netsock.serve("127.0.0.1", 9999' } }) do
    it(where[1] .. "'s serve example answers, and a client that resets ends its handler quietly", function()
      local port = freeport()
      local code = block(where[1], where[2]):gsub("9999", tostring(port))
      if not code:find("require", 1, true) then code = 'local netsock = require "netsock"\n' .. code end
      local server = H.lua(code)
      finally(function() server:kill() end)
      local client = H.python([[
import socket, struct, sys, time
port = int(sys.argv[1])
deadline = time.time() + 20
while True:
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=10); break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.05)
# one that resets in the middle of a line, one that resets after a reply
r = socket.create_connection(("127.0.0.1", port), timeout=10)
r.sendall(b"half a li")
time.sleep(0.2)
r.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
r.close()
c.sendall(b"hello\n")
print(c.recv(100).decode().strip())
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
time.sleep(0.5)
d = socket.create_connection(("127.0.0.1", port), timeout=10)
d.sendall(b"still there\n")
print(d.recv(100).decode().strip())
d.close()
]], port)
      finally(function() client:kill() end)
      assert.are.equal(0, client:wait(40), client:output() .. "\nserver:\n" .. server:output())
      assert.are.equal("HELLO\nSTILL THERE\n", client:output())
      ns.sleep(0.3)  -- a traceback, if any, would be written by now
      assert.are.equal("", server:output(), "the server wrote on a client's reset")
    end)
  end

  it("the live_server and make console lines run from the checkout as printed", function()
    local text = assert(H.readfile("README.md"))
    local server = text:match("\n    (LUA_PATH=[^\n]-\\\n%s+lua5%.4 examples/live_server%.lua[^\n]*)\n")
    local console = text:match("\n    (make console ARGS=\"console [^\"]+\")")
    assert.is_string(server, "README.md has no live_server command")
    assert.is_string(console, "README.md has no make console command")
    local path = H.tmpname(".console")
    server = server:gsub("\\\n%s+", ""):gsub("/tmp/live%.console", path) .. " --port 0"
    console = console:gsub("/tmp/live%.console", path)
    local p = H.spawn(server)
    finally(function() p:kill() end)
    assert.is_true(p:await("Console on " .. path, 20), p:output())
    local c = H.spawn("printf '= 6*7\\n' | make --no-print-directory " .. console:gsub("^make ", ""))
    finally(function() c:kill() end)
    assert.are.equal(0, c:wait(60), c:output())
    assert.matches("\n42\n", c:output())
  end)
end)
