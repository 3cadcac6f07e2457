-- spec/tls_examples_spec.lua: the TLS examples as their own processes
-- against real peers on loopback: https_get against a python3 ssl web
-- server, tls_echo_server against openssl s_client and python3,
-- starttls_server against a python3 client that upgrades mid-protocol.
local H = require "helpers"
local ns = H.netsock

local ready = H.exists("build/netsock/core.so") and ns.tls ~= nil
local T = ns.tls and H.tls
local function eit(name, fn)
  if ready then it(name, fn) else pending(name .. " (needs the build with OpenSSL)") end
end

local q = H.shquote
local run, start = H.example, H.start_example

describe("TLS examples", function()
  eit("https_get fetches a page from a python3 ssl web server, verified with --cafile", function()
    local web = T.python([[
import http.server, ssl, sys, threading
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello over https\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(d + "/leaf.pem", d + "/leaf.key")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("port %d" % srv.server_address[1], flush=True)
srv.timeout = 20
srv.handle_request()
]])
    finally(function() web:kill() end)
    local port = T.pyport(web)
    local c = run("https_get", ("--host localhost --port %d --path /x --cafile %s")
      :format(port, q(T.path("ca.pem"))))
    finally(function() c:kill() end)
    assert.equal(0, c:wait(15))
    local out = c:output()
    assert.matches("Connected to localhost, TLSv1%.3 [%w_]+, certificate for CN=localhost\n", out)
    assert.matches("HTTP/1%.[01] 200 OK\r\n", out)
    assert.truthy(out:find("\r\n\r\nhello over https\n", 1, true))
  end)

  eit("https_get refuses a server its CA store does not trust", function()
    local srv = T.s_server(("-cert %s -key %s"):format(T.path("rogue.pem"), T.path("rogue.key")))
    finally(function() srv.proc:kill() end)
    local c = run("https_get", ("--host localhost --port %d --cafile %s"):format(srv.port, q(T.path("ca.pem"))))
    finally(function() c:kill() end)
    assert.equal(3, c:wait(15))
    assert.matches("TLS connect failed: certificate verify failed: unable to get local issuer certificate %(trust the issuing CA: the context.s cafile.-SSL_CERT_FILE.-%) %(tls_verify%)", c:output())
  end)

  eit("tls_echo_server echoes for openssl s_client and a python3 client at once", function()
    local srv, port = start("tls_echo_server", ("--cert %s --key %s"):format(q(T.path("leaf.pem")), q(T.path("leaf.key"))))
    finally(function() srv:kill() end)
    local py = T.python([[
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
f = s.makefile("rwb")
for i in range(100):
    f.write(b"line %d\n" % i)
f.flush()
ok = all(f.readline() == b"line %d\n" % i for i in range(100))
print("python", "ok" if ok else "bad", flush=True)
]], port)
    finally(function() py:kill() end)
    local sc = H.spawn(("(echo 'hello from s_client'; sleep 1) | openssl s_client -connect 127.0.0.1:%d -CAfile %s -servername localhost -verify_return_error -quiet -no_ign_eof")
      :format(port, q(T.path("ca.pem"))))
    finally(function() sc:kill() end)
    assert.equal("python ok", py:line(15))
    assert.equal(0, sc:wait(15))
    assert.truthy(sc:output():find("hello from s_client\n", 1, true), sc:output())
    assert.matches("Client 127%.0%.0%.1:%d+, TLSv1%.3", srv:output())
  end)

  eit("tls_echo_client verifies tls_echo_server and gets its line back", function()
    local srv, port = start("tls_echo_server", ("--cert %s --key %s"):format(q(T.path("leaf.pem")), q(T.path("leaf.key"))))
    finally(function() srv:kill() end)
    local c = run("tls_echo_client", ("--port %d --cafile %s --message %s"):format(port, q(T.path("ca.pem")), q "hi there"))
    finally(function() c:kill() end)
    assert.equal(0, c:wait(15))
    assert.matches("^Connected, TLSv1%.3, certificate for CN=localhost\nEcho: hi there\n$", c:output())
    local bad = run("tls_echo_client", ("--port %d --cafile %s"):format(port, q(T.path("rogue-ca.pem"))))
    finally(function() bad:kill() end)
    assert.equal(3, bad:wait(15))
    assert.matches("%(tls_verify%)", bad:output())
  end)

  eit("starttls_server upgrades the same connection mid-protocol", function()
    local srv, port = start("starttls_server", ("--cert %s --key %s"):format(q(T.path("leaf.pem")), q(T.path("leaf.key"))))
    finally(function() srv:kill() end)
    local py = T.python([[
import socket, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
f = raw.makefile("rwb", buffering=0)
def cmd(c):
    raw.sendall(c + b"\r\n")
    return f.readline().strip().decode()
print(f.readline().strip().decode())
print(cmd(b"HELLO"))
print(cmd(b"SECRET"))
print(cmd(b"STARTTLS"))
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
s = ctx.wrap_socket(raw, server_hostname="localhost")
tf = s.makefile("rwb")
def tcmd(c):
    tf.write(c + b"\r\n"); tf.flush()
    return tf.readline().strip().decode()
print(tcmd(b"SECRET"))
print(tcmd(b"QUIT"))
]], port)
    finally(function() py:kill() end)
    local want = { "220 ready", "250 hello", "530 STARTTLS first", "220 go ahead",
                   "250 the secret is 42", "221 bye" }
    for n, line in ipairs(want) do assert.equal(line, py:line(15, n)) end
    assert.matches("TLS on: TLSv1%.3", srv:output())
  end)
end)
