-- spec/windows/wspeer_spec.lua: the Windows netsock talking to a plain
-- Winsock program of ours (spec/windows/wspeer.c, build/windows/
-- wspeer.exe) under wine: TCP echo both ways with the end of stream
-- (half-close, close), UDP echo both ways. On Linux the program is not
-- built: pending there.
local netsock = require "netsock"

local WINDOWS = package.config:sub(1, 1) == "\\"
local EXE = "build\\windows\\wspeer.exe"
local TOTAL = 200000

local function pattern(n)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = string.char(97 + (i * 7 + i // 251) % 26) end
  return table.concat(t)
end

-- the program, started with its output read through a pipe
local function start(args)
  local f = io.open(EXE, "rb")
  assert(f, EXE .. " is missing: make test-windows builds it (Debian: gcc-mingw-w64-x86-64)")
  f:close()
  return assert(io.popen(EXE .. " " .. args, "r"))
end

-- its last line, once it has ended, and its exit status
local function finish(p)
  local out = p:read("a")
  local ok, _, code = p:close()
  return out:match("([^\n]*)\n?$"), ok, code, out
end

describe("netsock and a plain Winsock program", function()
  if not WINDOWS then
    pending("the Winsock program (spec/windows/wspeer.c) runs only under wine: make test-windows")
    return
  end

  it("TCP: the program sends 200000 bytes and half-closes; netsock echoes them and closes", function()
    local srv = assert(netsock.create_server("127.0.0.1", 0))
    finally(function() srv:close() end)
    local port = select(2, srv:getsockname())
    local p = start("tcp-client " .. port)
    srv:settimeout(10)
    local c = assert(srv:accept())
    c:settimeout(10)
    local n = 0
    while true do
      local data, err = c:recv(65536)
      if not data then assert.equal("closed", err); break end
      assert(c:sendall(data))
      n = n + #data
    end
    c:close()
    assert.equal(TOTAL, n)
    local last, ok, _, out = finish(p)
    assert.equal("ok tcp-client " .. TOTAL, last, out)
    assert.is_true(ok, out)
  end)

  it("TCP: netsock sends, half-closes, reads the echo to the program's close", function()
    local p = start("tcp-server")
    local port = tonumber((p:read("l") or ""):match("^port (%d+)$"))
    assert(port, "wspeer tcp-server printed no port")
    local c = assert(netsock.create_connection("127.0.0.1", port, 10))
    c:settimeout(10)
    local data = pattern(TOTAL)
    local got, sent = {}, nil
    netsock.run(function()
      -- the program echoes as it reads: send in a task of its own, so
      -- that neither side waits on a full buffer the other never reads
      netsock.spawn(function()
        sent = assert(c:sendall(data)) and assert(c:shutdown("w"))
      end)
      while true do
        local chunk, err = c:recv(65536)
        if not chunk then assert.equal("closed", err); break end
        got[#got + 1] = chunk
      end
    end)
    c:close()
    assert.truthy(sent)
    assert.is_true(table.concat(got) == data, "the echo differs")
    local last, ok, _, out = finish(p)
    assert.equal("ok tcp-server " .. TOTAL, last, out)
    assert.is_true(ok, out)
  end)

  it("UDP: netsock echoes the program's datagrams to their sender", function()
    local u = assert(netsock.udp())
    finally(function() u:close() end)
    assert(u:bind("127.0.0.1", 0))
    u:settimeout(10)
    local port = select(2, u:getsockname())
    local p = start("udp-client " .. port)
    for i = 0, 2 do
      local d, host, from = u:recvfrom(100)
      assert.equal(("datagram %d from winsock"):format(i), d)
      assert.equal("127.0.0.1", host)
      assert(u:sendto(d, host, from))
    end
    local last, ok, _, out = finish(p)
    assert.truthy(last:match("^ok udp%-client %d+$"), out)
    assert.is_true(ok, out)
  end)

  it("UDP: the program echoes netsock's datagrams", function()
    local p = start("udp-server")
    local port = tonumber((p:read("l") or ""):match("^port (%d+)$"))
    assert(port, "wspeer udp-server printed no port")
    local u = assert(netsock.udp())
    finally(function() u:close() end)
    u:settimeout(10)
    assert(u:connect("127.0.0.1", port))
    for i = 1, 3 do
      local msg = ("netsock datagram %d"):format(i)
      assert(u:send(msg))
      assert.equal(msg, u:recv(100))
    end
    local last, ok, _, out = finish(p)
    assert.truthy(last:match("^ok udp%-server %d+$"), out)
    assert.is_true(ok, out)
  end)
end)
