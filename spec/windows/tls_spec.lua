-- spec/windows/tls_spec.lua: netsock.tls against Linux's own TLS
-- programs on 127.0.0.1: a netsock client against openssl s_server, a
-- netsock server against openssl s_client and curl, verification on
-- against a CA made for the test, a wrong host name refused. Under wine
-- (make test-windows) the Windows netsock talks to the Linux programs;
-- the peers come from spec/windows/peers.py, which tools/windows-test
-- starts on Linux (a program under wine cannot start Linux programs)
-- and names in NETSOCK_WIN_PEERS; under busted on Linux (make test) this
-- file starts the agent itself.
local netsock = require "netsock"

local WINDOWS = package.config:sub(1, 1) == "\\"

-- the agent: its port, and the directory of its certificates as this
-- process names it (wine's Z: drive is the Linux root)
local agent, certs, agentproc
local function peers()
  if agent then return agent end
  local port, dir = os.getenv("NETSOCK_WIN_PEERS"), os.getenv("NETSOCK_WIN_CERTS")
  if not port and not WINDOWS then
    -- its curl and openssl without make sanitize's ASan preload (as
    -- H.spawn's peers): under it curl never answers
    agentproc = assert(io.popen("env -u LD_PRELOAD -u ASAN_OPTIONS python3 spec/windows/peers.py 2>&1", "r"))
    port = (agentproc:read("l") or ""):match("^port (%d+)$")
    dir = (agentproc:read("l") or ""):match("^certs (.+)$")
  end
  assert(port and dir, "no TLS peers: tools/windows-test starts spec/windows/peers.py"
    .. " (Debian: python3, openssl, curl) and sets NETSOCK_WIN_PEERS, NETSOCK_WIN_CERTS")
  agent, certs = tonumber(port), (WINDOWS and "Z:" or "") .. dir
  return agent
end

-- one request to the agent; 'nowait': the connection, to read later
local function ask(line, nowait)
  local c = assert(netsock.create_connection("127.0.0.1", peers(), 10))
  c:settimeout(40)
  assert(c:sendall(line .. "\n"))
  if nowait then return c end
  local f = c:makefile("r")
  local reply = f:read("a")
  c:close()
  return reply
end

local function reply_of(c)
  local reply = c:makefile("r"):read("a")
  c:close()
  return reply
end

local function path(name) peers(); return certs .. "/" .. name end

local function client_ctx(extra)
  local o = { cafile = path("ca.pem") }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(netsock.tls.context(o))
end

local function server_ctx()
  return assert(netsock.tls.context{ mode = "server", certfile = path("leaf.pem"),
                                     keyfile = path("leaf.key") })
end

local function s_server()
  local port = ask("s_server"):match("^port (%d+)")
  return assert(tonumber(port), "openssl s_server did not start (Debian: openssl)")
end

describe("netsock.tls with Linux's TLS programs as peers", function()
  assert(netsock.tls, "this build has no TLS (make windows builds it with OpenSSL)")

  teardown(function()
    if agentproc then
      pcall(ask, "quit")
      agentproc:close()
    end
  end)

  it("a client verifies openssl s_server's certificate for localhost and talks", function()
    local port = s_server()
    local s = assert(netsock.create_connection("127.0.0.1", port, 10))
    finally(function() s:close() end)
    assert.equal(s, assert(s:starttls(client_ctx(), { server_hostname = "localhost" })))
    local info = s:tlsinfo()
    assert.truthy(info.version:match("^TLSv1%.[23]$"), info.version)
    local cert = s:getpeercertificate()
    assert.equal("CN=localhost", cert.subject)
    assert.equal("CN=netsock spec CA", cert.issuer)
    -- s_server -rev sends each line back reversed
    assert(s:sendall("hello windows\n"))
    local f = s:makefile("r")
    assert.equal("swodniw olleh", f:read("l"))
  end)

  it("tls.connect verifies too, the name given being checked", function()
    local port = s_server()
    local s = assert(netsock.tls.connect("localhost", port,
      { context = client_ctx(), timeout = 10, server_hostname = "localhost" }))
    s:close()
  end)

  it("a wrong host name is refused: nil, 'hostname mismatch', 'tls_verify'", function()
    local port = s_server()
    local s = assert(netsock.create_connection("127.0.0.1", port, 10))
    finally(function() s:close() end)
    local ok, msg, code = s:starttls(client_ctx(), { server_hostname = "wrong.test" })
    assert.is_nil(ok)
    assert.equal("tls_verify", code)
    assert.truthy(msg:lower():match("hostname mismatch"), msg)
  end)

  it("verification is on by default: a context with no CA refuses the test CA's server", function()
    local port = s_server()
    local ctx = assert(netsock.tls.context{})
    assert.is_true(ctx:info().verify)
    assert.is_true(ctx:info().check_hostname)
    local s = assert(netsock.create_connection("127.0.0.1", port, 10))
    finally(function() s:close() end)
    local ok, msg, code = s:starttls(ctx, { server_hostname = "localhost" })
    assert.is_nil(ok)
    assert.equal("tls_verify", code)
    assert.truthy(msg:match("local issuer certificate"), msg)
  end)

  it("a netsock server answers openssl s_client, which verifies it", function()
    local srv = assert(netsock.create_server("127.0.0.1", 0))
    finally(function() srv:close() end)
    local port = select(2, srv:getsockname())
    local req = ask("s_client " .. port, true)
    srv:settimeout(20)
    local c = assert(srv:accept())
    c:settimeout(20)
    assert(c:starttls(server_ctx()))
    local f = c:makefile("rw")
    local line = f:read("l")
    assert(f:write("got: ", line, "\n"):flush())
    c:close()
    assert.equal("hello from linux", line)
    local reply = reply_of(req)
    assert.equal("exit 0", reply:match("^[^\n]*"), reply)
    assert.truthy(reply:find("got: hello from linux", 1, true), reply)
  end)

  it("a netsock server under serve{tls=} answers curl, which verifies it", function()
    local srv = assert(netsock.serve("127.0.0.1", 0, function(c)
      local f = c:makefile("rw")
      local first = f:read("l")
      repeat local l = f:read("l") until l == nil or l == "" or l == "\r"
      local body = "netsock says hi to " .. (first:match("^GET (%S+)") or "?") .. "\n"
      f:write("HTTP/1.1 200 OK\r\nContent-Length: ", #body, "\r\nConnection: close\r\n\r\n", body)
      f:flush()
      c:close()
    end, { tls = server_ctx() }))
    local port = select(2, srv:getsockname())
    local reply
    netsock.spawn(function()
      local req = ask("curl " .. port, true)
      reply = reply_of(req)
      srv:close()
    end)
    netsock.run()
    assert.equal("exit 0", reply:match("^[^\n]*"), reply)
    assert.truthy(reply:find("netsock says hi to /", 1, true), reply)
  end)
end)
