-- spec/tls_edges_spec.lua: TLS at its edges (issue 22 #1, #8, #10, the
-- close_notify decision; issue 21's TLS messages). Security options fail
-- closed at the call; no cache is kept that nobody reads; every callback
-- from OpenSSL into Lua runs protected; a missing close_notify hands the
-- data over with the error. Real peers: python3's ssl module, openssl,
-- netsock itself, on loopback.
local H = require "helpers"
local ns = H.netsock
local has_tls = ns.tls ~= nil
local T = has_tls and H.tls

local describe_tls = H.describe_tls

-- a python TLS client: connects to 127.0.0.1:port verifying the spec CA
-- for "localhost", sends argv[3], prints what it reads until the end
local PYCLIENT = [[
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(sys.argv[3].encode())
out = b""
while True:
    try:
        b = s.recv(100)
    except ssl.SSLError:
        break
    if not b:
        break
    out += b
print("got " + out.decode(), flush=True)
]]

-- what a plaintext client gets from 127.0.0.1:port after sending 'line':
-- every byte until the end (or 3 s of silence)
local function plaintext_reply(port, line)
  local c = assert(ns.create_connection("127.0.0.1", port, 5))
  c:settimeout(3)
  c:sendall(line)
  local got = H.drain(c)
  c:close()
  return got
end

describe_tls("TLS at its edges", function()

  describe("a security option fails closed (#1)", function()
    -- a handler of every kind that Lua can call
    local function kinds(reply)
      local function f(conn) conn:sendall(reply) end
      return {
        ["a function"] = f,
        ["a callable table"] = setmetatable({}, { __call = function(_, conn) f(conn) end }),
        ["a callable userdata-like table with __metatable"] =
          setmetatable({}, { __call = function(_, conn) f(conn) end, __metatable = false }),
      }
    end

    for kind, handler in pairs(kinds("SECRET")) do
      it("serve{tls = ctx} with " .. kind .. " as handler speaks TLS, never plaintext", function()
        local srv = assert(ns.serve("127.0.0.1", 0, handler, { tls = T.server_ctx() }))
        local port = select(2, srv:getsockname())
        local plain, p
        ns.run(function()
          ns.spawn(function()
            plain = plaintext_reply(port, "GET / HTTP/1.0\r\n\r\n")
            p = T.python(PYCLIENT, tostring(port), "hi")
            local deadline = ns.monotime() + 15
            while p:running() and ns.monotime() < deadline do ns.sleep(0.02) end
            srv:close()
          end)
        end)
        p:kill()
        assert.falsy(plain:find("SECRET", 1, true), "plaintext served: " .. plain)
        assert.truthy(p:output():find("got SECRET", 1, true), p:output())
      end)
    end

    it("serve{tls = ctx, workers = 1} with a callable table speaks TLS in the worker", function()
      local sup = H.lua(([[
local ns = require "netsock"
local core = require "netsock.core"
local ctx = assert(ns.tls.context{ mode = "server", certfile = %q, keyfile = %q })
local h = setmetatable({}, { __call = function(_, conn) conn:sendall("SECRET") end })
local sup = assert(ns.serve("127.0.0.1", 0, h, { tls = ctx, workers = 1 }))
print(("port %%d"):format(select(2, sup:getsockname())))
io.stdout:flush()
ns.run()
]]):format(T.path("leaf.pem"), T.path("leaf.key")))
      finally(function() sup:kill() end)
      local line = sup:line(15)
      local port = tonumber(line and line:match("^port (%d+)"))
      assert(port, sup:output())
      ns.sleep(0.3)   -- the worker is up
      local plain = plaintext_reply(port, "GET / HTTP/1.0\r\n\r\n")
      assert.falsy(plain:find("SECRET", 1, true), "plaintext served: " .. plain)
      local p = T.python(PYCLIENT, tostring(port), "hi")
      finally(function() p:kill() end)
      assert.is_true(p:await("got SECRET", 15), p:output())
    end)

    it("serve's tls takes a server context only, and says so at the call", function()
      local h = function() end
      local bad = {
        { T.client_ctx(), "server context" },
        { ns.tcp(), "server context" },
        { io.stdout, "server context" },
        { "ctx", "server context" },
        { false, "server context" },
        { {}, "server context" },
      }
      for _, case in ipairs(bad) do
        local ok, err = pcall(ns.serve, "127.0.0.1", 0, h, { tls = case[1] })
        assert.is_false(ok, tostring(case[1]))
        assert.truthy(err:find("bad argument #4 to 'serve'", 1, true), err)
        assert.truthy(err:find("tls", 1, true), err)
        assert.truthy(err:find(case[2], 1, true), err)
        if type(case[1]) == "userdata" and case[1].close then case[1]:close() end
      end
      -- with workers too: nothing is forked before the options are checked
      local ok, err = pcall(ns.serve, "127.0.0.1", 0, h, { tls = T.client_ctx(), workers = 2 })
      assert.is_false(ok)
      assert.truthy(err:find("server context", 1, true), err)
    end)

    it("serve and create_server raise on an option they do not know (a misspelt tls serves plaintext)", function()
      local h = function() end
      for _, case in ipairs({
        { ns.serve, { "127.0.0.1", 0, h, { tsl = 1 } }, "bad argument #4 to 'serve' (unknown option 'tsl')" },
        { ns.serve, { "127.0.0.1", 0, h, { TLS = 1 } }, "bad argument #4 to 'serve' (unknown option 'TLS')" },
        { ns.serve, { "127.0.0.1", 0, h, { [1] = true } }, "bad argument #4 to 'serve' (unknown option '1')" },
        { ns.create_server, { "127.0.0.1", 0, { tls = T.server_ctx() } },
          "bad argument #3 to 'create_server' (unknown option 'tls'" },
        { ns.create_server, { "127.0.0.1", 0, { limit = 3 } },
          "bad argument #3 to 'create_server' (unknown option 'limit'" },
      }) do
        local ok, err = pcall(case[1], table.unpack(case[2]))
        assert.is_false(ok)
        assert.truthy(err:find(case[3], 1, true), err)
      end
    end)

    it("create_server's and serve's boolean options take booleans", function()
      for _, name in ipairs({ "reuse_port", "dualstack" }) do
        for _, v in ipairs({ "yes", 1, {} }) do
          local ok, err = pcall(ns.create_server, "127.0.0.1", 0, { [name] = v })
          assert.is_false(ok)
          assert.truthy(err:find("bad argument #3 to 'create_server' (" .. name .. ": boolean expected", 1, true), err)
          ok, err = pcall(ns.serve, "127.0.0.1", 0, function() end, { [name] = v })
          assert.is_false(ok)
          assert.truthy(err:find("bad argument #4 to 'serve' (" .. name .. ": boolean expected", 1, true), err)
        end
      end
    end)

    it("serve's onerror takes every callable, and its message names it", function()
      local cb = setmetatable({}, { __call = function() end })
      local srv = assert(ns.serve("127.0.0.1", 0, function() end, { onerror = cb }))
      srv:close()
      local ok, err = pcall(ns.serve, "127.0.0.1", 0, function() end, { onerror = "x" })
      assert.is_false(ok)
      assert.truthy(err:find("onerror", 1, true), err)
    end)

    it("tls.context: an option that would be ignored raises, naming it", function()
      local leaf, key = T.path("leaf.pem"), T.path("leaf.key")
      for _, case in ipairs({
        { { verify = false, check_hostname = true }, "check_hostname" },
        { { mode = "server", certfile = leaf, keyfile = key, verify = true }, "verify" },
        { { mode = "server", certfile = leaf, keyfile = key, check_hostname = true }, "check_hostname" },
        { { mode = "server", certfile = leaf, keyfile = key, sni = { ["a.test"] = T.client_ctx() } }, "sni" },
        { { min_version = "tls1.3", max_version = "tls1.2" }, "min_version" },
        { { check_hostname = "yes" }, "check_hostname" },
        { { suppress_ragged_eofs = "yes" }, "suppress_ragged_eofs" },
      }) do
        local ok, err = pcall(ns.tls.context, case[1])
        assert.is_false(ok, case[2])
        assert.truthy(err:find("bad argument #1 to 'context'", 1, true), err)
        assert.truthy(err:find(case[2], 1, true), err)
      end
    end)

    it("starttls: an option its context's side does not use raises, naming it", function()
      local a, b = ns.socketpair()
      finally(function() a:close(); b:close() end)
      a:settimeout(0.5)   -- on a build that starts the handshake, it ends
      local sctx = T.server_ctx()
      for _, case in ipairs({
        { { server_hostname = "x.test" }, "server_hostname" },
        { { alpn = { "h2" } }, "alpn" },
      }) do
        local ok, err = pcall(a.starttls, a, sctx, case[1])
        assert.is_false(ok)
        assert.truthy(err:find("bad argument #2 to 'starttls'", 1, true), err)
        assert.truthy(err:find(case[2], 1, true), err)
        assert.is_nil(a:tlsinfo())
      end   -- nothing was started
    end)

    it("tls.connect checks its context before it connects", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      srv:settimeout(0)
      for _, ctx in ipairs({ T.server_ctx(), "ctx", ns.tcp(), {} }) do
        local ok, err = pcall(ns.tls.connect, "127.0.0.1", port, { context = ctx, timeout = 5 })
        assert.is_false(ok)
        assert.truthy(err:find("bad argument #3 to 'connect' (context: a client context", 1, true), err)
      end
      assert.is_nil(srv:accept())   -- nobody connected
    end)

    it("tls.connect checks server_hostname, session and alpn before it connects", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      srv:settimeout(0)
      for _, case in ipairs({
        { { server_hostname = 5 }, "server_hostname" },
        { { server_hostname = true }, "server_hostname" },
        { { session = "s" }, "session" },
        { { session = T.client_ctx() }, "session" },
        { { alpn = "h2" }, "alpn" },
        { { alpn = { "h2", 5 } }, "alpn[2]" },
        { { alpn = {} }, "alpn" },
      }) do
        case[1].context, case[1].timeout = T.client_ctx(), 5
        local ok, err = pcall(ns.tls.connect, "127.0.0.1", port, case[1])
        assert.is_false(ok)
        assert.truthy(err:find("bad argument #3 to 'connect' (" .. case[2], 1, true), err)
        assert.is_nil(srv:accept())   -- nobody connected
      end
    end)
  end)

  describe("no cache that nobody reads; every cache bounded (#8)", function()
    it("a client context keeps no sessions however many connections it makes", function()
      local sctx, cctx = T.server_ctx(), T.client_ctx()
      local srv = assert(ns.serve("127.0.0.1", 0, function(conn) conn:sendall("x") end, { tls = sctx }))
      local port = select(2, srv:getsockname())
      local got = 0
      ns.run(function()
        for _ = 1, 40 do
          local s = assert(ns.tls.connect("localhost", port, { context = cctx, timeout = 10 }))
          if s:recv(1) == "x" then got = got + 1 end
          s:close()
        end
        srv:close()
      end)
      assert.equal(40, got)
      assert.equal(0, cctx:info().sessions)
      local dflt = assert(ns.tls.default_context())
      assert.equal(0, dflt:info().sessions)
    end)

    it("s:tlssession() still resumes with the client cache off", function()
      local sctx, cctx = T.server_ctx(), T.client_ctx()
      local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
        conn:sendall("x"); conn:recv(1)
      end, { tls = sctx }))
      local port = select(2, srv:getsockname())
      local reused
      ns.run(function()
        local s = assert(ns.tls.connect("localhost", port, { context = cctx, timeout = 10 }))
        assert.equal("x", s:recv(1))   -- TLS 1.3 tickets come after the handshake
        local sess = s:tlssession()
        s:close()
        local s2 = assert(ns.tls.connect("localhost", port, { context = cctx, timeout = 10, session = sess }))
        assert.equal("x", s2:recv(1))
        reused = s2:tlsinfo().session_reused
        s2:close()
        srv:close()
      end)
      assert.is_true(reused)
    end)

    it("a server context's session cache is bounded, and read (TLS 1.2 clients without tickets resume)", function()
      local sctx = T.server_ctx{ max_version = "tls1.2" }
      assert.equal(1024, sctx:info().session_cache_size)
      local srv = assert(ns.serve("127.0.0.1", 0, function(conn) conn:sendall("x") end, { tls = sctx }))
      local port = select(2, srv:getsockname())
      local p = T.python([[
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
ctx.options |= ssl.OP_NO_TICKET
sess = None
for i in range(3):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=sess)
    s.recv(1)
    print("reused" if s.session_reused else "full", flush=True)
    sess = s.session
    s.close()
print("done", flush=True)
]], tostring(port))
      ns.run(function()
        local deadline = ns.monotime() + 15
        while p:running() and ns.monotime() < deadline do ns.sleep(0.02) end
        srv:close()
      end)
      p:kill()
      assert.equal("full\nreused\nreused\ndone\n", p:output())
      assert.equal(1, sctx:info().sessions)
    end)

    it("sendto's destination cache holds at most 64 names", function()
      local u = assert(ns.udp())
      finally(function() u:close() end)
      local r = assert(ns.udp())
      finally(function() r:close() end)
      assert(r:bind("127.0.0.1", 0))
      local _, port = r:getsockname()
      for i = 1, 300 do   -- a name, 300 ports: 300 keys
        assert(u:sendto("x", "localhost", i == 1 and port or 20000 + i))
      end
      local cache = debug.getregistry()["netsock.addrcache"]
      local n = 0
      for k in pairs(cache) do if k ~= "n" then n = n + 1 end end
      assert.truthy(n <= 64, n)
    end)
  end)

  describe("every callback from OpenSSL into Lua runs protected (#10)", function()
    local function sni_case(sni)
      local sctx = T.server_ctx{ sni = sni }
      local results, fine = {}, nil
      local srv = assert(ns.create_server("127.0.0.1", 0))
      local port = select(2, srv:getsockname())
      ns.run(function()
        ns.spawn(function()
          for i = 1, 2 do
            local c = srv:accept()
            c:settimeout(10)
            results[i] = table.pack(pcall(c.starttls, c, sctx))
            if results[i][2] then c:sendall("ok") end
            c:close()
          end
        end)
        local s = assert(ns.create_connection("127.0.0.1", port, 10))
        local r1 = { s:starttls(T.client_ctx(), { server_hostname = "boom.test" }) }
        s:close()
        assert.is_nil(r1[1])
        -- the server goes on: a name the table does not raise for
        s = assert(ns.create_connection("127.0.0.1", port, 10))
        assert(s:starttls(T.client_ctx(), { server_hostname = "localhost" }))
        fine = s:recv(2)
        s:close()
      end)
      srv:close()
      return results, fine
    end

    it("an sni table whose __index raises fails that handshake alone; the server goes on", function()
      local results, fine = sni_case(setmetatable({}, {
        __index = function(_, name) if name == "boom.test" then error("boom") end end }))
      assert.is_true(results[1][1], "starttls raised: " .. tostring(results[1][2]))
      assert.is_nil(results[1][2])
      assert.equal("tls", results[1][4])
      assert.truthy(results[1][3]:find("sni", 1, true), results[1][3])
      assert.is_true(results[2][1])
      assert.equal("ok", fine)
    end)

    it("an sni function that raises, or yields, fails that handshake alone", function()
      for _, fn in ipairs({
        function(name) if name == "boom.test" then error({ "not even a string" }) end end,
        function(name) if name == "boom.test" then coroutine.yield() end end,
        function(name) if name == "boom.test" then ns.sleep(0.01) end end,
      }) do
        local results, fine = sni_case(fn)
        assert.is_true(results[1][1], "starttls raised: " .. tostring(results[1][2]))
        assert.is_nil(results[1][2])
        assert.equal("tls", results[1][4])
        assert.is_true(results[2][1])
        assert.equal("ok", fine)
      end
    end)
  end)

    it("an sni lookup that closes, reads, writes or unwraps its own socket fails that handshake alone", function()
      for _, what in ipairs({ "close", "recv", "sendall", "unwrap", "handshake", "tlsinfo" }) do
        local conn
        local sctx = T.server_ctx{ sni = function(name)
          if name == "boom.test" then
            if what == "close" then conn:close(); collectgarbage()
            elseif what == "recv" then conn:recv(1)
            elseif what == "sendall" then conn:sendall("x")
            else conn[what](conn) end
          end
        end }
        local srv = assert(ns.create_server("127.0.0.1", 0))
        local port = select(2, srv:getsockname())
        local res, fine
        ns.run(function()
          ns.spawn(function()
            for i = 1, 2 do
              conn = srv:accept()
              conn:settimeout(10)
              local r = table.pack(pcall(conn.starttls, conn, sctx))
              if i == 1 then res = r end
              if r[2] then conn:sendall("ok") end
              conn:close()
            end
          end)
          local s = assert(ns.create_connection("127.0.0.1", port, 10))
          assert.is_nil(s:starttls(T.client_ctx(), { server_hostname = "boom.test" }))
          s:close()
          s = assert(ns.create_connection("127.0.0.1", port, 10))
          assert(s:starttls(T.client_ctx(), { server_hostname = "localhost" }))
          fine = s:recv(2)
          s:close()
        end)
        srv:close()
        assert.is_true(res[1], what .. ": starttls raised: " .. tostring(res[2]))
        assert.is_nil(res[2], what)
        assert.equal("ok", fine, what)
      end
    end)

  describe("a peer that closes without close_notify", function()
    -- a python TLS server that sends argv[2] and closes without close_notify
    local RAGGED = [[
import socket, ssl, sys
d = sys.argv[1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(d + "/leaf.pem", d + "/leaf.key")
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
ls.settimeout(20)
print("port %d" % ls.getsockname()[1], flush=True)
raw, _ = ls.accept()
s = ctx.wrap_socket(raw, server_side=True)
s.sendall(sys.argv[2].encode())
s.recv(1)
raw2 = s.unwrap() if sys.argv[3] == "clean" else None
s.close()
]]
    local function connect(data, how, ctxopts)
      local p = T.python(RAGGED, data, how)
      local port = T.pyport(p)
      local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(ctxopts), timeout = 10 }))
      s:sendall("k")
      return s, p
    end

    it("f:read('a') returns the data it has with tls_eof, in the same call", function()
      local s, p = connect("one\ntwo", "ragged")
      finally(function() s:close(); p:kill() end)
      local f = s:makefile("r")
      local res = table.pack(f:read("a"))
      assert.is_nil(res[1])
      assert.equal("tls_eof", res[3])
      assert.truthy(res[2]:find("close_notify", 1, true), res[2])
      assert.equal("one\ntwo", res[4])
      local again = { s:recv(10) }   -- the end stays visible: tls_eof again
      assert.is_nil(again[1])
      assert.equal("tls_eof", again[3])
    end)

    it("f:read('l') and f:read(n) give the line or bytes they have with tls_eof", function()
      local s, p = connect("one\ntwo", "ragged")
      finally(function() s:close(); p:kill() end)
      local f = s:makefile("r")
      assert.equal("one", f:read("l"))
      local res = table.pack(f:read(10))
      assert.is_nil(res[1])
      assert.equal("tls_eof", res[3])
      assert.equal("two", res[4])
      local s2, p2 = connect("line without end", "ragged")
      finally(function() s2:close(); p2:kill() end)
      res = table.pack(s2:makefile("r"):read("l", "l"))
      assert.is_nil(res[1])
      assert.equal("tls_eof", res[3])
      assert.equal("line without end", res[4])
    end)

    it("the same for a plain TCP reset: f:read('a') hands over what came before it", function()
      local p, port = H.python_server([[
c.sendall(b"before the reset")
time.sleep(0.3)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
time.sleep(1)
]])
      finally(function() p:kill() end)
      local c = assert(ns.create_connection("127.0.0.1", port, 10))
      finally(function() c:close() end)
      local res = table.pack(c:makefile("r"):read("a"))
      assert.is_nil(res[1])
      assert.equal("ECONNRESET", res[3])
      assert.equal("before the reset", res[4])
    end)

    it("f:lines() raises tls_eof with the message, not the rest", function()
      local s, p = connect("one\ntwo", "ragged")
      finally(function() s:close(); p:kill() end)
      local seen = {}
      local ok, err = pcall(function()
        for l in s:makefile("r"):lines() do seen[#seen + 1] = l end
      end)
      assert.is_false(ok)
      assert.same({ "one" }, seen)
      assert.truthy(err:find("close_notify", 1, true) and err:find("(tls_eof)", 1, true), err)
    end)

    it("suppress_ragged_eofs = true: a missing close_notify reads as the end of stream", function()
      local s, p = connect("one\ntwo", "ragged", { suppress_ragged_eofs = true })
      finally(function() s:close(); p:kill() end)
      assert.is_true(s.tlsinfo and true)
      assert.equal("one\ntwo", s:makefile("r"):read("a"))
      assert.same({ nil, "closed", "closed" }, { s:recv(10) })
      local ctx = T.client_ctx{ suppress_ragged_eofs = true }
      assert.is_true(ctx:info().suppress_ragged_eofs)
      assert.is_false(T.client_ctx():info().suppress_ragged_eofs)
    end)

    it("a clean close_notify still reads as closed, whatever the option", function()
      for _, opt in ipairs({ false, true }) do
        local s, p = connect("data", "clean", { suppress_ragged_eofs = opt })
        assert.equal("data", s:makefile("r"):read("a"))
        s:close()
        p:kill()
      end
    end)
  end)

  describe("messages that say what to do (issue 21)", function()
    it("a verify failure names the way out: cafile, SSL_CERT_FILE, verify", function()
      local srv = T.s_server(("-cert %s -key %s"):format(T.path("rogue.pem"), T.path("rogue.key")))
      finally(function() srv.proc:kill() end)
      local s, msg, code = ns.tls.connect("localhost", srv.port, { context = T.client_ctx(), timeout = 10 })
      assert.is_nil(s)
      assert.equal("tls_verify", code)
      assert.truthy(msg:find("local issuer certificate", 1, true), msg)
      for _, word in ipairs({ "cafile", "SSL_CERT_FILE", "verify = false" }) do
        assert.truthy(msg:find(word, 1, true), msg)
      end
    end)

    it("a host name mismatch names server_hostname and check_hostname", function()
      local srv = T.s_server(("-cert %s -key %s"):format(T.path("leaf.pem"), T.path("leaf.key")))
      finally(function() srv.proc:kill() end)
      local s, msg, code = ns.tls.connect("127.0.0.1", srv.port,
        { context = T.client_ctx(), timeout = 10, server_hostname = "wrong.test" })
      assert.is_nil(s)
      assert.equal("tls_verify", code)
      assert.truthy(msg:lower():find("hostname mismatch", 1, true), msg)
      assert.truthy(msg:find("server_hostname", 1, true), msg)
    end)

    it("a TLS client meeting a plaintext server says the peer does not speak TLS", function()
      for _, greeting in ipairs({ "220 smtp.example ESMTP ready\r\n", "HTTP/1.0 400 Bad Request\r\n\r\n" }) do
        local p, port = H.python_server("c.sendall(sys.argv[1].encode())\ntime.sleep(2)\n", nil, greeting)
        local s, msg, code = ns.tls.connect("127.0.0.1", port,
          { context = T.client_ctx{ verify = false }, timeout = 10 })
        p:kill()
        assert.is_nil(s)
        assert.equal("tls", code)
        assert.truthy(msg:find("does not speak TLS", 1, true), msg)
        assert.falsy(msg:find("wrong version number", 1, true), msg)
      end
    end)

    it("a TLS server meeting a plaintext client says the peer does not speak TLS", function()
      for _, line in ipairs({ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "EHLO me\r\n", "hello there\n" }) do
        local srv = assert(ns.create_server("127.0.0.1", 0))
        local port = select(2, srv:getsockname())
        local res
        ns.run(function()
          ns.spawn(function()
            local c = srv:accept()
            c:settimeout(10)
            res = { c:starttls(T.server_ctx()) }
            c:close()
          end)
          local c = assert(ns.create_connection("127.0.0.1", port, 5))
          c:sendall(line)
          c:settimeout(5)
          H.drain(c)
          c:close()
        end)
        srv:close()
        assert.is_nil(res[1])
        assert.equal("tls", res[3])
        assert.truthy(res[2]:find("does not speak TLS", 1, true), res[2])
      end
    end)
  end)
end)
