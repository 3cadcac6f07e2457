-- spec/tls_spec.lua: netsock.tls against real peers on loopback:
-- openssl s_server / s_client, python3's ssl module, curl. Certificates
-- are made at test time (spec/tls/mkcerts.sh).
local H = require "helpers"
local ns = H.netsock
local has_tls = ns.tls ~= nil
local T = has_tls and H.tls

local describe_tls = H.describe_tls

-- a python ssl server: PRELUDE sets up ctx (server context from the
-- spec certificates) and accepts one client as 's' (TLS done); BODY runs
local PRELUDE = [[
import hashlib, os, socket, ssl, sys, time
d = sys.argv[1]
args = sys.argv[2:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(d + "/leaf.pem", d + "/leaf.key")
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
ls.settimeout(20)
print("port %d" % ls.getsockname()[1], flush=True)
]]
local ACCEPT = [[
raw, _ = ls.accept()
raw.settimeout(20)
s = ctx.wrap_socket(raw, server_side=True)
]]

local function pyserver(body, ...)
  local p = T.python(PRELUDE .. body, ...)
  return p, T.pyport(p)
end

describe_tls("netsock.tls", function()

  describe("handshake", function()
    it("a client verifies openssl s_server's certificate and sends SNI", function()
      local srv = T.s_server(("-cert %s -key %s -servername localhost -cert2 %s -key2 %s")
        :format(T.path("alt.pem"), T.path("alt.key"), T.path("leaf.pem"), T.path("leaf.key")))
      finally(function() srv.proc:kill() end)
      -- s_server: the default certificate is alt.test's; only a client
      -- that sent SNI "localhost" gets the localhost one and verifies
      local s = assert(ns.create_connection("127.0.0.1", srv.port, 10))
      finally(function() s:close() end)
      assert.equal(s, assert(s:starttls(T.client_ctx(), { server_hostname = "localhost" })))
      local info = s:tlsinfo()
      assert.is_string(info.version)
      assert.truthy(info.version:match("^TLSv1%.[23]$"))
      assert.equal("localhost", info.sni)
      local cert = s:getpeercertificate()
      assert.equal("CN=localhost", cert.subject)
      assert.equal("CN=netsock spec CA", cert.issuer)
      assert.same({ "DNS:localhost", "IP:127.0.0.1", "IP:::1" }, cert.san)
      assert.truthy(cert.notAfter > os.time())
      assert.truthy(cert.fingerprint:match("^%x%x:"))
      local der = s:getpeercertificate(true)
      assert.equal(0x30, der:byte(1))  -- a DER SEQUENCE
    end)

    it("a netsock server sees the SNI a python client sent", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      local port = select(2, srv:getsockname())
      local p = T.python([[
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                    server_hostname="localhost")
s.sendall(b"hello\n")
print("reply", s.recv(100).decode().strip(), flush=True)
s.close()
]], port)
      finally(function() p:kill(); srv:close() end)
      srv:settimeout(10)
      local c = assert(srv:accept())
      finally(function() c:close() end)
      c:settimeout(10)
      assert(c:starttls(T.server_ctx()))
      assert.equal("localhost", c:tlsinfo().sni)
      assert.is_true(c:tlsinfo().server)
      local f = c:makefile("rw")
      assert.equal("hello", f:read("l"))
      assert(f:write("HELLO\n"):flush())
      assert.equal("reply HELLO", p:line(10))
    end)

    it("a netsock server picks its certificate by SNI: a table, a function", function()
      local alt = T.server_ctx{ certfile = T.path("alt.pem"), keyfile = T.path("alt.key") }
      local seen = {}
      local ctxs = {
        T.server_ctx{ sni = { ["alt.test"] = alt } },
        T.server_ctx{ sni = function(name) seen[#seen + 1] = name; if name == "alt.test" then return alt end end },
      }
      for _, sctx in ipairs(ctxs) do
        local srv = assert(ns.create_server("127.0.0.1", 0))
        local port = select(2, srv:getsockname())
        local subjects = {}
        ns.run(function()
          ns.spawn(function()
            for _ = 1, 2 do
              local c = srv:accept()
              c:settimeout(10)
              assert(c:starttls(sctx))
              c:sendall("x")
              c:close()
            end
          end)
          for _, name in ipairs({ "alt.test", "localhost" }) do
            local s = assert(ns.create_connection("127.0.0.1", port, 10))
            assert(s:starttls(T.client_ctx(), { server_hostname = name }))
            subjects[#subjects + 1] = s:getpeercertificate().subject
            s:recv(1)
            s:close()
          end
        end)
        srv:close()
        assert.same({ "CN=alt.test", "CN=localhost" }, subjects)
      end
      assert.same({ "alt.test", "localhost" }, seen)
    end)

    it("a netsock client and server talk to each other over IPv4 and IPv6 literals", function()
      for _, host in ipairs(ns.has_ipv6 and { "127.0.0.1", "::1" } or { "127.0.0.1" }) do
        local srv = assert(ns.create_server(host, 0, { family = host:find(":") and "inet6" or "inet" }))
        local port = select(2, srv:getsockname())
        local got
        ns.run(function()
          ns.spawn(function()
            local c = srv:accept()
            c:settimeout(10)
            assert(c:starttls(T.server_ctx()))
            got = c:recv(100)
            c:sendall("ok")
            c:close()
          end)
          -- no server_hostname: the IP literal connected to is checked
          -- against the certificate's IP SANs (and no SNI is sent)
          local s = assert(ns.tls.connect(host, port, { context = T.client_ctx(), timeout = 10 }))
          assert.is_nil(s:tlsinfo().sni)
          assert(s:sendall("over " .. host))
          assert.equal("ok", s:recv(10))
          s:close()
        end)
        srv:close()
        assert.equal("over " .. host, got)
      end
    end)
  end)

  describe("verification", function()
    local function failing(args, opts, ctx)
      local srv = T.s_server(args)
      finally(function() srv.proc:kill() end)
      local s = assert(ns.create_connection("127.0.0.1", srv.port, 10))
      finally(function() s:close() end)
      return s:starttls(ctx or T.client_ctx(), opts or { server_hostname = "localhost" })
    end

    it("a host name mismatch fails with tls_verify", function()
      local ok, msg, code = failing(("-cert %s -key %s"):format(T.path("leaf.pem"), T.path("leaf.key")),
                                    { server_hostname = "wrong.test" })
      assert.is_nil(ok)
      assert.equal("tls_verify", code)
      assert.truthy(msg:lower():match("hostname mismatch"), msg)
    end)

    it("an IP that is not in the certificate fails with tls_verify", function()
      local ok, msg, code = failing(("-cert %s -key %s"):format(T.path("alt.pem"), T.path("alt.key")),
                                    { server_hostname = "127.0.0.1" })
      assert.is_nil(ok)
      assert.equal("tls_verify", code)
      assert.truthy(msg:lower():match("ip address mismatch"), msg)
    end)

    it("an unknown CA fails with tls_verify", function()
      local ok, msg, code = failing(("-cert %s -key %s"):format(T.path("rogue.pem"), T.path("rogue.key")))
      assert.is_nil(ok)
      assert.equal("tls_verify", code)
      assert.truthy(msg:match("local issuer certificate"), msg)
    end)

    it("an expired certificate fails with tls_verify", function()
      local ok, msg, code = failing(("-cert %s -key %s"):format(T.path("expired.pem"), T.path("expired.key")))
      assert.is_nil(ok)
      assert.equal("tls_verify", code)
      assert.truthy(msg:match("certificate has expired"), msg)
    end)

    it("is on by default: a context with no CA option uses the system store", function()
      local ctx = assert(ns.tls.context{})
      assert.same({ mode = "client", verify = true, check_hostname = true, sessions = 0,
                    session_cache_size = 0, suppress_ragged_eofs = false }, ctx:info())
      local ok, msg, code = failing(("-cert %s -key %s"):format(T.path("leaf.pem"), T.path("leaf.key")),
                                    nil, ctx)
      assert.is_nil(ok)
      assert.equal("tls_verify", code)
      assert.truthy(msg:match("local issuer certificate"), msg)
    end)

    it("honours SSL_CERT_FILE for the system store", function()
      local srv = T.s_server(("-cert %s -key %s"):format(T.path("leaf.pem"), T.path("leaf.key")))
      finally(function() srv.proc:kill() end)
      local p = H.lua_with("SSL_CERT_FILE=" .. H.shquote(T.path("ca.pem")), ([[
local ns = require "netsock"
local s, msg, code = ns.tls.connect("localhost", %d, { timeout = 10 })
print(s and ("ok " .. s:getpeercertificate().subject) or ("fail " .. tostring(code) .. " " .. tostring(msg)))
]]):format(srv.port))
      finally(function() p:kill() end)
      assert.equal("ok CN=localhost", p:line(15))
    end)

    it("a client with verification on and no host name fails rather than skipping the check", function()
      local a, b = ns.socketpair()
      finally(function() a:close(); b:close() end)
      local ok, msg, code = a:starttls(T.client_ctx())
      assert.is_nil(ok)
      assert.equal("tls", code)
      assert.truthy(msg:match("no host name"))
      -- verify = false is an explicit opt-out
      assert.same({ mode = "client", verify = false, check_hostname = false, sessions = 0,
                    session_cache_size = 0, suppress_ragged_eofs = false },
                  ns.tls.context{ verify = false }:info())
    end)

    it("a TLS 1.1-only peer is refused (minimum TLS 1.2)", function()
      local ok, msg, code = failing(("-cert %s -key %s -tls1_1 -cipher DEFAULT@SECLEVEL=0")
        :format(T.path("leaf.pem"), T.path("leaf.key")))
      assert.is_nil(ok)
      assert.equal("tls", code)
      assert.is_string(msg)
    end)
  end)

  describe("deadlines", function()
    it("a silent peer ends the handshake at the deadline while other tasks run #timing", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))  -- never accepts: silent
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local ticks, res, t0 = 0, nil, nil
      ns.run(function()
        local counter = ns.spawn(function()
          while not res do ticks = ticks + 1; ns.sleep(0.01) end
        end)
        local s = assert(ns.create_connection("127.0.0.1", port, 0.3))
        t0 = ns.monotime()
        res = { s:starttls(T.client_ctx(), { server_hostname = "localhost" }) }
        res.elapsed = ns.monotime() - t0
        s:close()
        local _ = counter
      end)
      assert.same({ nil, "timeout", "timeout" }, { res[1], res[2], res[3] })
      assert.truthy(res.elapsed >= 0.25 and res.elapsed < 5, res.elapsed)
      assert.truthy(ticks >= 5, ticks)  -- the loop ran on meanwhile
    end)

    it("tls.connect bounds connect + handshake by one deadline, outside tasks too #timing", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local t0 = ns.monotime()
      local ok, msg, code = ns.tls.connect("127.0.0.1", port, { context = T.client_ctx(), timeout = 0.3 })
      assert.same({ nil, "timeout", "timeout" }, { ok, msg, code })
      assert.truthy(ns.monotime() - t0 < 5)
    end)
  end)

  describe("ALPN, sessions, client certificates", function()
    it("negotiates ALPN with a python server", function()
      local p, port = pyserver([[
ctx.set_alpn_protocols(["h2", "http/1.1"])
]] .. ACCEPT .. [[
print("alpn %s" % s.selected_alpn_protocol(), flush=True)
s.recv(1)
]])
      finally(function() p:kill() end)
      local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(),
                                                            alpn = { "http/1.1", "spdy/1" }, timeout = 10 }))
      finally(function() s:close() end)
      assert.equal("http/1.1", s:tlsinfo().alpn)
      assert.equal("alpn http/1.1", p:line(10, 2))
    end)

    it("a netsock server picks ALPN for openssl s_client", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local p = H.spawn(("echo | openssl s_client -connect 127.0.0.1:%d -alpn foo,http/1.1 -CAfile %s -servername localhost")
        :format(port, H.shquote(T.path("ca.pem"))))
      finally(function() p:kill() end)
      srv:settimeout(10)
      local c = assert(srv:accept())
      finally(function() c:close() end)
      c:settimeout(10)
      assert(c:starttls(T.server_ctx{ alpn = { "http/1.1", "h2" } }))
      assert.equal("http/1.1", c:tlsinfo().alpn)
      c:close()
      assert(p:wait(10))
      assert.truthy(p:output():match("ALPN protocol: http/1.1"), p:output())
      assert.truthy(p:output():match("Verify return code: 0 %(ok%)"), p:output())
    end)

    it("resumes a session", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local sctx, cctx = T.server_ctx(), T.client_ctx()
      local reused = {}
      ns.run(function()
        ns.spawn(function()
          for _ = 1, 2 do
            local c = srv:accept()
            c:settimeout(10)
            assert(c:starttls(sctx))
            c:sendall("x")
            c:recv(1)
            c:close()
          end
        end)
        local s = assert(ns.tls.connect("localhost", port, { context = cctx, timeout = 10 }))
        assert.equal("x", s:recv(1))  -- TLS 1.3: the ticket comes after the handshake
        local sess = assert(s:tlssession())
        assert.is_true(sess:resumable())
        reused[1] = s:tlsinfo().session_reused
        s:sendall("y")
        s:close()
        s = assert(ns.tls.connect("localhost", port, { context = cctx, session = sess, timeout = 10 }))
        reused[2] = s:tlsinfo().session_reused
        s:recv(1)
        s:sendall("y")
        s:close()
      end)
      assert.same({ false, true }, reused)
    end)

    it("requires and reads a client certificate (verify_client)", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local code = [[
import socket, ssl, sys
d, port, withcert = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "yes"
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
if withcert:
    ctx.load_cert_chain(d + "/client.pem", d + "/client.key")
try:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost")
    s.sendall(b"hi")
    print("got", s.recv(10), flush=True)
except Exception as e:
    print("error", type(e).__name__, flush=True)
]]
      local sctx = T.server_ctx{ verify_client = "require", cafile = T.path("ca.pem") }
      srv:settimeout(10)
      local p = T.python(code, port, "yes")
      finally(function() p:kill() end)
      local c = assert(srv:accept())
      c:settimeout(10)
      assert(c:starttls(sctx))
      assert.equal("CN=spec-client", c:getpeercertificate().subject)
      assert.equal("hi", c:recv(10))
      c:sendall("ok")
      c:close()
      assert.equal("got b'ok'", p:line(10))
      -- without one: the handshake fails on our side with a TLS code
      local p2 = T.python(code, port, "no")
      finally(function() p2:kill() end)
      c = assert(srv:accept())
      c:settimeout(10)
      local ok, msg, ecode = c:starttls(sctx)
      c:close()
      assert.is_nil(ok)
      assert.truthy(ecode == "tls" or ecode == "tls_verify", ecode)
      assert.is_string(msg)
    end)
  end)

  describe("data paths", function()
    it("16 MiB through a random mix of recv, read('l'), read(n) with short timeouts: sha256 equal #slow", function()
      local p, port = pyserver(ACCEPT .. [[
import random
rnd = random.Random(7)
h = hashlib.sha256()
total = 16 << 20
sent = 0
while sent < total:
    n = min(total - sent, rnd.choice([1, 100, 1000, 16384, 65536, 200000]))
    chunk = bytes(rnd.choice(b"abc\n\r\x00\xff") for _ in range(min(n, 64))) * (n // 64 + 1)
    chunk = chunk[:n]
    s.sendall(chunk)
    h.update(chunk)
    sent += n
    if rnd.random() < 0.05:
        time.sleep(0.02)
print("sha %s" % h.hexdigest(), flush=True)
s.unwrap()
]])
      finally(function() p:kill() end)
      local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
      finally(function() s:close() end)
      local f = s:makefile("r")
      local out = H.tmpname(".bin")
      local fh = assert(io.open(out, "wb"))
      local seed = 11
      local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end
      local total, timeouts = 0, 0
      while true do
        s:settimeout(({ 0, 0.001, 0.01, 10 })[rnd(4) + 1])
        local op = rnd(3)
        local data, msg, code
        if op == 0 then data, msg, code = s:recv(rnd(70000) + 1)
        elseif op == 1 then
          data, msg, code = f:read("L")
        else data, msg, code = f:read(rnd(70000) + 1) end
        if data then fh:write(data); total = total + #data
        elseif code == "timeout" then timeouts = timeouts + 1
        else
          assert.equal("closed", code)
          break
        end
      end
      fh:close()
      assert.equal(16 << 20, total)
      local line = p:line(30, 2)
      local d = io.popen("openssl dgst -sha256 -r " .. H.shquote(out)):read("l")
      assert.equal(line:match("sha (%x+)"), d:match("^(%x+)"))
    end)

    it("select and the poller see plaintext buffered after a read #poll", function()
      local p, port = pyserver(ACCEPT .. [[
s.sendall(b"one\ntwo\nthree\n")
s.recv(1)
]])
      finally(function() p:kill() end)
      local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
      finally(function() s:close() end)
      local f = s:makefile("r")
      assert.equal("one", f:read("l"))
      assert.equal(#"two\nthree\n", s:pending())
      -- nothing more on the descriptor; still readable
      local r = ns.select({ s }, {}, 0)
      assert.same({ s }, r)
      local pl = ns.poller()
      finally(function() pl:close() end)
      pl:add(s, "r")
      local ready = pl:wait(0)
      assert.same({ s }, ready)
      assert.equal("two", f:read("l"))
      assert.equal("three", s:recv(100):match("^(%a+)"))
      assert.equal(0, s:pending())
      s:settimeout(0)
      assert.same({ nil, "timeout", "timeout" }, { s:recv(10) })
      assert.equal("r", s:tlswant())
      s:sendall("x")
    end)

    it("close_notify reads as closed; EOF without it as tls_eof", function()
      for _, how in ipairs({ "clean", "ragged" }) do
        local p, port = pyserver(ACCEPT .. [[
s.sendall(b"data")
s.recv(1)
if args[0] == "clean":
    s.unwrap().close()
else:
    s.close()   # Python's close sends no close_notify
]], how)
        local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
        assert.equal("data", s:recv(100))
        s:sendall("k")
        local res = { s:recv(100) }
        s:close()
        p:kill()
        if how == "clean" then
          assert.same({ nil, "closed", "closed" }, res)
        else
          assert.is_nil(res[1])
          assert.equal("tls_eof", res[3])
        end
      end
    end)

    it("STARTTLS: bytes pipelined after the command go to the handshake, never out as plaintext", function()
      -- the client sends "STARTTLS\r\n" and its ClientHello in ONE write;
      -- then, on a second connection, a plaintext command injected after
      -- STARTTLS (the classic injection): the server must not read it
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local p = T.python([[
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
raw.sendall(b"STARTTLS\r\n" + out.read())
while True:
    try:
        obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        raw.sendall(out.read())
        data = raw.recv(65536)
        if not data:
            raise SystemExit("closed")
        inc.write(data)
raw.sendall(out.read())
obj.write(b"SECRET over tls\r\n")
raw.sendall(out.read())
print("handshake ok", flush=True)
raw2 = socket.create_connection(("127.0.0.1", port), timeout=10)
raw2.sendall(b"STARTTLS\r\nINJECTED\r\n")
raw2.recv(100)
print("second done", flush=True)
]], port)
      finally(function() p:kill() end)
      srv:settimeout(10)
      local sctx = T.server_ctx()
      local c = assert(srv:accept())
      c:settimeout(10)
      local f = c:makefile("r")
      assert.equal("STARTTLS", f:read("l"))
      assert(c:starttls(sctx))
      assert.equal("SECRET over tls", f:read("l"))
      assert.equal("handshake ok", p:line(10))
      c:close()
      local c2 = assert(srv:accept())
      c2:settimeout(10)
      local f2 = c2:makefile("r")
      assert.equal("STARTTLS", f2:read("l"))
      local ok, _, code = c2:starttls(sctx)
      assert.is_nil(ok)
      assert.equal("tls", code)
      assert.equal(0, c2:pending())
      c2:close()
    end)

    it("200 task clients against serve{tls = ctx}", function()
      local sctx, cctx = T.server_ctx(), T.client_ctx()
      local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
        local f = conn:makefile("rw")
        local line = f:read("l")
        f:write(line:upper(), "\n")
        f:flush()
      end, { tls = sctx }))
      local port = select(2, srv:getsockname())
      local done, bad = 0, {}
      ns.run(function()
        for i = 1, 200 do
          ns.spawn(function()
            local s, msg = ns.tls.connect("localhost", port, { context = cctx, timeout = 20 })
            if not s then bad[#bad + 1] = msg; return end
            s:sendall("client " .. i .. "\n")
            local r = s:makefile("r"):read("l")
            if r == "CLIENT " .. i then done = done + 1 else bad[#bad + 1] = tostring(r) end
            s:close()
          end)
        end
        while done + #bad < 200 do ns.sleep(0.01) end
        srv:close()
      end)
      assert.same({}, bad)
      assert.equal(200, done)
    end)

    it("curl --cacert fetches a page from a netsock TLS server", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local p = H.spawn(("curl -sS --max-time 10 --cacert %s https://localhost:%d/hello")
        :format(H.shquote(T.path("ca.pem")), port))
      finally(function() p:kill() end)
      srv:settimeout(10)
      local c = assert(srv:accept())
      c:settimeout(10)
      assert(c:starttls(T.server_ctx{ alpn = { "http/1.1" } }))
      local f = c:makefile("rw")
      assert.equal("GET /hello HTTP/1.1", f:read("l"))
      repeat local l = f:read("l") until l == ""
      f:write("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, tls!\n")
      assert(f:flush())
      c:close()
      assert.equal(0, p:wait(10))
      assert.equal("hello, tls!\n", p:output())
    end)

    it("unwrap: close_notify both ways, then the same socket is plain again", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local got
      ns.run(function()
        ns.spawn(function()
          local c = srv:accept()
          c:settimeout(10)
          assert(c:starttls(T.server_ctx()))
          assert.equal("a", c:recv(1))
          assert(c:unwrap())
          got = c:recv(100)
          c:close()
        end)
        local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
        s:sendall("a")
        assert(s:unwrap())
        assert.is_nil(s:tlsinfo())
        s:sendall("plain now")
        s:close()
      end)
      assert.equal("plain now", got)
    end)
  end)

  describe("the rest of the socket API over TLS", function()
    it("s:connect(name) then starttls checks and sends that name", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local sni
      ns.run(function()
        ns.spawn(function()
          local c = srv:accept()
          c:settimeout(10)
          assert(c:starttls(T.server_ctx()))
          sni = c:tlsinfo().sni
          c:close()
        end)
        local s = ns.tcp()
        s:settimeout(10)
        assert(s:connect("localhost", port))
        assert(s:starttls(T.client_ctx()))
        s:close()
      end)
      assert.equal("localhost", sni)
    end)

    it("sendall to a peer that does not read times out with the count; resumed, every byte arrives once", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local N = 8 << 20
      local data = {}
      for i = 1, N // 16 do data[i] = ("%015d\n"):format(i) end
      data = table.concat(data)
      local got, timeouts, total = {}, 0, 0
      ns.run(function()
        local go = false
        ns.spawn(function()
          local c = srv:accept()
          c:settimeout(10)
          assert(c:starttls(T.server_ctx()))
          while not go do ns.sleep(0.01) end   -- not reading at first
          while true do
            local d = c:recv(65536)
            if not d then break end
            got[#got + 1] = d
          end
          c:close()
        end)
        local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
        s:settimeout(0.05)
        local sent = 0
        while sent < N do
          local ok, msg, code, n = s:sendall(data, sent + 1)
          if ok then sent = N
          else
            assert.equal("timeout", code)
            assert.truthy(n >= 0 and n <= N - sent)
            sent = sent + n
            timeouts = timeouts + 1
            go = true
          end
        end
        total = sent
        -- the count covers every byte TLS took, but after a timeout the last
        -- records may still wait in the socket, and close does not wait:
        -- end the upload as docs/api.md says, waiting for the server's end
        s:settimeout(10)
        assert.equal(s, s:unwrap())
        s:close()
      end)
      assert.truthy(timeouts >= 1, "the peer's window never filled")
      assert.equal(N, total)
      local all = table.concat(got)
      if all ~= data then
        local i = 1
        while i <= #all and all:byte(i) == data:byte(i) do i = i + 1 end
        error(("lengths %d %d, first difference at %d: %q vs %q"):format(#all, #data, i, all:sub(i - 20, i + 40), data:sub(i - 20, i + 40)))
      end
    end)

    it("a non-blocking handshake (settimeout(0)) driven by tlswant and select", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local p = T.python([[
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
s.sendall(b"ping")
print("got", s.recv(10).decode(), flush=True)
]], port)
      finally(function() p:kill() end)
      srv:settimeout(10)
      local c = assert(srv:accept())
      finally(function() c:close() end)
      c:settimeout(0)
      local ok, _, code = c:starttls(T.server_ctx())
      local rounds = 0
      while not ok do
        assert.equal("timeout", code)
        local w = c:tlswant()
        assert.truthy(w == "r" or w == "w", tostring(w))
        local r, wr = ns.select(w == "r" and { c } or {}, w == "w" and { c } or {}, 10)
        assert.truthy(#r + #wr == 1)
        ok, _, code = c:handshake()
        rounds = rounds + 1
      end
      assert.truthy(rounds >= 1)
      assert.is_nil(c:tlswant())
      local data
      repeat
        ns.select({ c }, {}, 10)
        data = c:recv(10)
      until data
      assert.equal("ping", data)
      assert.truthy(c:send("pong") == 4 or c:tlswant() == "w")
      c:settimeout(10)
      assert(c:sendall(""))
      assert.equal("got pong", p:line(10))
    end)

    it("sendfile goes through TLS (read and send), records out before it returns", function()
      local path = H.tmpname(".bin")
      local body = ("0123456789abcdef"):rep(20000) .. "end"
      H.writefile(path, body)
      local p, port = pyserver(ACCEPT .. [[
buf = b""
while True:
    try:
        b = s.recv(65536)
    except ssl.SSLEOFError:
        b = b""
    if not b:
        break
    buf += b
print("len %d sha %s" % (len(buf), hashlib.sha256(buf).hexdigest()), flush=True)
]])
      finally(function() p:kill() end)
      local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
      assert.equal(#body, s:sendfile(path))
      -- an upload ends by waiting for the server's end (docs/api.md, TLS):
      -- closing at once could reset the connection under the server
      assert(s:shutdown("w"))
      repeat local d = s:recv(100) until not d
      s:close()
      local line = p:line(10, 2)
      local sha = io.popen("sha256sum " .. H.shquote(path)):read("l"):match("^(%x+)")
      assert.equal(("len %d sha %s"):format(#body, sha), line)
    end)

    it("verify_client = 'optional' takes a client without a certificate", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local cert = false
      ns.run(function()
        ns.spawn(function()
          local c = srv:accept()
          c:settimeout(10)
          assert(c:starttls(T.server_ctx{ verify_client = "optional", cafile = T.path("ca.pem") }))
          cert = c:getpeercertificate()
          c:sendall("x")
          c:close()
        end)
        local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
        s:recv(1)
        s:close()
      end)
      assert.is_nil(cert)
    end)
  end)

  describe("what a peer may try; what a context may choose", function()
    local function accepted(srv, ctx)
      srv:settimeout(10)
      local c = assert(srv:accept())
      c:settimeout(10)
      assert(c:starttls(ctx))
      return c
    end

    it("a server refuses a client's renegotiation (TLS 1.2 by max_version; openssl s_client's R)", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local p, w = T.s_client(select(2, srv:getsockname()))
      finally(function() w:close(); p:kill() end)
      local c = accepted(srv, T.server_ctx{ max_version = "tls1.2" })
      finally(function() c:close() end)
      assert.equal("TLSv1.2", c:tlsinfo().version)
      local f = c:makefile()
      w:write("before\n")
      assert.equal("before", f:read("l"))
      w:write("R\n")
      assert.is_true(p:await("RENEGOTIATING"), p:output())
      -- the server answers no_renegotiation; s_client gives up the connection
      local line, msg, code = f:read("l")
      assert.is_nil(line)
      assert.equal("tls", code, msg)
      assert.is_true(p:await("no renegotiation"), p:output())
    end)

    it("a client refuses a server's renegotiation (openssl s_server's r, TLS 1.2)", function()
      local srv = T.s_server(("-tls1_2 -cert %s -key %s")
        :format(H.shquote(T.path("leaf.pem")), H.shquote(T.path("leaf.key"))), true)
      local p, w = srv.proc, srv.input
      finally(function() w:close(); p:kill() end)
      local s = assert(ns.create_connection("127.0.0.1", srv.port, 10))
      finally(function() s:close() end)
      assert(s:starttls(T.client_ctx(), { server_hostname = "localhost" }))
      assert.equal("TLSv1.2", s:tlsinfo().version)
      local f = s:makefile()
      w:write("hello\n")
      assert.equal("hello", f:read("l"))
      w:write("r\n")      -- s_server sends a HelloRequest
      s:settimeout(5)
      f:read("l")          -- our client meets it here and answers no_renegotiation
      assert.is_true(p:await("no renegotiation"), p:output())
    end)

    for _, cmd in ipairs { "k", "K" } do
      it("a TLS 1.3 KeyUpdate (s_client's " .. cmd .. ") is taken mid-stream; data flows both ways after it", function()
        local srv = assert(ns.create_server("127.0.0.1", 0))
        finally(function() srv:close() end)
        local p, w = T.s_client(select(2, srv:getsockname()))
        finally(function() w:close(); p:kill() end)
        local c = accepted(srv, T.server_ctx())
        finally(function() c:close() end)
        assert.equal("TLSv1.3", c:tlsinfo().version)
        local f = c:makefile()
        w:write("before\n")
        assert.equal("before", f:read("l"))
        assert(c:sendall("one\n"))
        assert.is_true(p:await("one\n"), p:output())
        w:write(cmd .. "\n")
        assert.is_true(p:await("KEYUPDATE"), p:output())
        w:write("after\n")   -- under the client's new keys
        assert.equal("after", f:read("l"))
        assert(c:sendall("two\n"))   -- under the server's (new, for K)
        assert.is_true(p:await("two\n"), p:output())
      end)
    end

    it("ciphers, ciphersuites and max_version choose what the connection uses", function()
      local cases = {
        { { max_version = "tls1.2", ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305" },
          "TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305" },
        { { max_version = "tls1.2", ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256" },
          "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256" },
        { { ciphersuites = "TLS_CHACHA20_POLY1305_SHA256" }, "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256" },
        { { min_version = "tls1.3", ciphersuites = "TLS_AES_256_GCM_SHA384" },
          "TLSv1.3", "TLS_AES_256_GCM_SHA384" },
      }
      for _, case in ipairs(cases) do
        local srv = T.s_server(("-cert %s -key %s"):format(T.path("leaf.pem"), T.path("leaf.key")))
        finally(function() srv.proc:kill() end)
        local s = assert(ns.create_connection("127.0.0.1", srv.port, 10))
        finally(function() s:close() end)
        assert(s:starttls(T.client_ctx(case[1]), { server_hostname = "localhost" }))
        local info = s:tlsinfo()
        assert.same({ case[2], case[3] }, { info.version, info.cipher })
        s:close()
        assert.is_true(srv.proc:await(case[3]), srv.proc:output())  -- s_server agrees
        srv.proc:kill()
      end
    end)

    it("capath: a hashed directory of CAs verifies the peer; one without its CA does not", function()
      local good, bad = H.tmpname(".ca"), H.tmpname(".ca")
      for dir, ca in pairs { [good] = "ca.pem", [bad] = "rogue-ca.pem" } do
        assert(os.execute(("mkdir %s && cp %s %s/ && openssl rehash %s >/dev/null 2>&1")
          :format(H.shquote(dir), H.shquote(T.path(ca)), H.shquote(dir), H.shquote(dir))))
      end
      for dir, want in pairs { [good] = true, [bad] = "tls_verify" } do
        local srv = T.s_server(("-cert %s -key %s"):format(T.path("leaf.pem"), T.path("leaf.key")))
        finally(function() srv.proc:kill() end)
        local s = assert(ns.create_connection("127.0.0.1", srv.port, 10))
        finally(function() s:close() end)
        local ctx = assert(ns.tls.context{ capath = dir })
        local ok, msg, code = s:starttls(ctx, { server_hostname = "localhost" })
        if want == true then
          assert.equal(s, ok, msg)
          assert.equal("CN=localhost", s:getpeercertificate().subject)
        else
          assert.is_nil(ok)
          assert.equal(want, code)
          assert.truthy(msg:match("local issuer certificate"), msg)
        end
        s:close()
        srv.proc:kill()
      end
    end)
  end)

  describe("bad input", function()
    it("context: types, unknown options and values raise, naming the argument", function()
      local bad = {
        { 1, "table expected" },
        { { mode = "both" }, "invalid value 'both'" },
        { { cafile = 1 }, "field 'cafile': string expected" },
        { { verify = "yes" }, "field 'verify': boolean expected" },
        { { bogus = true }, "unknown option 'bogus'" },
        { { min_version = "ssl3" }, "invalid version 'ssl3'" },
        { { alpn = "h2" }, "alpn: table expected" },
        { { alpn = {} }, "alpn: empty list" },
        { { alpn = { ("x"):rep(256) } }, "1 to 255 bytes" },
        { { mode = "server" }, "a server needs" },
        { { verify_client = "require" }, "verify_client is for servers" },
        { { sni = {} }, "sni is for servers" },
        { { mode = "server", cert = "x" }, "cert and key go together" },
      }
      for _, case in ipairs(bad) do
        local ok, err = pcall(ns.tls.context, case[1])
        assert.is_false(ok)
        assert.truthy(err:match("bad argument #1 to '[%w.]*context'"), err)
        assert.truthy(err:find(case[2], 1, true), err)
      end
    end)

    it("context: files, keys and lists OpenSSL refuses return nil, message, code", function()
      local cases = {
        { { cafile = "/nonexistent/ca.pem" }, "ENOENT" },
        { { mode = "server", certfile = T.path("leaf.pem"), keyfile = T.path("alt.key") }, "tls" },
        { { mode = "server", cert = "not pem", key = "not pem" }, "tls" },
        { { cadata = "garbage" }, "tls" },
        { { ciphers = "NO-SUCH-CIPHER" }, "tls" },
        { { ciphersuites = "TLS_NOPE" }, "tls" },
        { { mode = "server", certfile = T.path("leaf.pem"), keyfile = T.path("leaf-enc.key"),
            password = "wrong" }, "tls" },
      }
      for _, case in ipairs(cases) do
        local ctx, msg, code = ns.tls.context(case[1])
        assert.is_nil(ctx)
        assert.is_string(msg)
        assert.equal(case[2], code, msg)
      end
      -- and the right ones work: PEM strings, an encrypted key
      assert(ns.tls.context{ mode = "server", cert = H.readfile(T.path("leaf.pem")),
                             key = H.readfile(T.path("leaf.key")) })
      assert(ns.tls.context{ mode = "server", certfile = T.path("leaf.pem"),
                             keyfile = T.path("leaf-enc.key"), password = "secret" })
      assert(ns.tls.context{ cadata = H.readfile(T.path("ca.pem")) })
    end)

    it("starttls, tls.connect and the TLS methods check their arguments", function()
      local a, b = ns.socketpair()
      finally(function() a:close(); b:close() end)
      local ctx = T.client_ctx()
      assert.has_error(function() a:starttls() end)
      assert.has_error(function() a:starttls({}) end)
      assert.has_error(function() a:starttls(ctx, 5) end)
      assert.has_error(function() a:starttls(ctx, { bogus = 1 }) end)
      assert.has_error(function() a:starttls(ctx, { server_hostname = 5 }) end)
      assert.has_error(function() a:starttls(ctx, { session = "x" }) end)
      assert.has_error(function() a:starttls(ctx, { handshake = "no" }) end)
      assert.has_error(function() a:handshake() end, "socket has no TLS (call starttls first)")
      assert.has_error(function() a:getpeercertificate() end)
      assert.has_error(function() a:tlssession() end)
      assert.has_error(function() a:unwrap() end)
      assert.is_nil(a:tlsinfo())
      assert.is_nil(a:tlswant())
      assert.has_error(function() ns.tls.connect() end,
        "bad argument #1 to 'connect' (string expected, got no value)")
      assert.has_error(function() ns.tls.connect("local\0host", 1) end,
        "bad argument #1 to 'connect' (host contains a zero byte)")
      assert.has_error(function() ns.tls.connect("localhost", 1, 5) end,
        "bad argument #3 to 'connect' (table expected, got number)")
      assert.has_error(function() ns.tls.connect("localhost", 1, { bogus = 1 }) end,
        "bad argument #3 to 'connect' (unknown option 'bogus')")
      assert.has_error(function() ns.tls.connect("localhost", 1, { timeout = -1 }) end,
        "bad argument #3 to 'connect' (timeout: a non-negative number expected)")
      assert.has_error(function() ns.serve("127.0.0.1", 0, function() end, { tls = 5 }) end,
        "bad argument #4 to 'serve' (tls: a server context expected, got number)")
      local u = ns.udp()
      finally(function() u:close() end)
      assert.has_error(function() u:starttls(ctx, { server_hostname = "x" }) end)
      -- a deferred handshake; a second starttls is a run-time failure
      assert.equal(a, a:starttls(ctx, { server_hostname = "localhost", handshake = false }))
      assert.same({ nil, "starttls: the socket already speaks TLS", "tls" },
                  { a:starttls(ctx, { server_hostname = "localhost" }) })
      assert.is_nil(a:tlsinfo())
      a:close()
      assert.is_nil(a:tlswant())
      -- closed sockets: configuration calls raise
      assert.has_error(function() a:starttls(ctx) end)
    end)

    it("a closed TLS socket's data calls say closed; close and __gc never block", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local conns = {}
      srv:settimeout(10)
      ns.run(function()
        ns.spawn(function()
          for i = 1, 2 do
            local c = srv:accept()
            conns[i] = c
            c:settimeout(10)
            c:starttls(T.server_ctx())
          end
        end)
        local s = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
        -- fill the socket until the kernel takes no more, then close: no wait
        s:settimeout(0)
        local chunk = ("z"):rep(65536)
        for _ = 1, 400 do
          if not s:send(chunk) then break end
        end
        local t0 = ns.monotime()
        s:close()
        assert.truthy(ns.monotime() - t0 < 1)
        assert.is_nil(s:tlsinfo())
        -- a TLS socket dropped without close: __gc sends nothing that waits
        local s2 = assert(ns.tls.connect("localhost", port, { context = T.client_ctx(), timeout = 10 }))
        s2 = nil
        collectgarbage()
        collectgarbage()
        local _ = s2
      end)
      for _, c in pairs(conns) do c:close() end
    end)
  end)
end)

describe("netsock.tls without OpenSSL", function()
  it("is absent from netsock and says so when required", function()
    if has_tls then
      assert.is_table(package.loaded["netsock.tls"])
      assert.is_string(ns.tls.OPENSSL_VERSION)
      return
    end
    assert.is_nil(ns.tls)
    local ok, err = pcall(require, "netsock.tls")
    assert.is_false(ok)
    assert.truthy(err:match("without OpenSSL"))
  end)
end)
