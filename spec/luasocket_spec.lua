-- spec/luasocket_spec.lua: netsock.luasocket with the libraries written
-- for LuaSocket, unchanged: Debian's socket.http, ltn12, socket.smtp,
-- copas and LuaSec, against peers we did not write (python3's
-- http.server, openssl s_server) or a small python SMTP responder; the
-- layer's sockets inside netsock tasks; install() and SIGPIPE. Each case
-- runs in a child lua5.4 (install() changes package.loaded and the
-- process's SIGPIPE disposition, which the busted process keeps clean).
-- The side-by-side comparison with the real LuaSocket is
-- spec/luasocket_diff_spec.lua.

local H = require "helpers"
local ns = H.netsock
H.needs { { lua = "socket", pkg = "lua-socket" }, { lua = "ssl", pkg = "lua-sec" },
  { lua52 = "copas", pkg = "lua-copas" }, { cmd = "openssl", pkg = "openssl" } }

-- run code in a child with the checkout's paths; its output once it ends
local function child(code, timeout, ...)
  local p = H.lua(code, ...)
  local rc = p:wait(timeout or 30)
  p:kill()
  return rc, p:output()
end

local INSTALL = [[
package.path = package.path .. ";/usr/share/lua/5.2/?.lua"  -- copas, coxpcall
local netsock = require "netsock"
local socket = require("netsock.luasocket").install()
]]

-- a python3 HTTP server on 127.0.0.1 (threaded: every request its own
-- thread); each GET sleeps 'delay' seconds, then answers with the most
-- requests it ever had in progress at once. POST echoes the body.
local HTTP_SERVER = [[
import http.server, sys, threading, time
delay = float(sys.argv[1])
lock = threading.Lock()
now = 0
most = 0
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a): pass
    def do_GET(self):
        global now, most
        with lock:
            now += 1
            most = max(most, now)
        time.sleep(delay)
        with lock:
            body = ("%s %d" % (self.path, most)).encode()
            now -= 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers["Content-Length"])
        body = self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Got", str(len(body)))
        self.end_headers()
        self.wfile.write(body[::-1])
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128   # 20 clients connect at once
s = Server(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
]]

local function http_server(delay)
  local p = H.python(HTTP_SERVER, delay or 0)
  local port = assert(tonumber((p:line(10))), "the http server did not start")
  return p, port
end

describe("netsock.luasocket #luasocket", function()
  -- in this process, without install() (which would change package.loaded
  -- and SIGPIPE for the specs after this one): so make valgrind and make
  -- sanitize see the layer's C paths (receive's closure in file.c)
  describe("without install()", function()
    local layer = require "netsock.luasocket"
    local function pair()
      local srv = assert(layer.bind("127.0.0.1", 0))
      local _, port = srv:getsockname()
      local c = assert(layer.connect("127.0.0.1", port))
      srv:settimeout(5)
      local a = assert(srv:accept())
      srv:close()
      return c, a
    end

    it("leaves package.loaded alone, and reads lines, CRs, counts and partials", function()
      assert.is_nil(package.loaded["socket"] == layer or nil)
      local c, a = pair()
      finally(function() c:close() a:close() end)
      assert.are.equal(13.0, c:send("one\r\nt\rwo\nabc"))
      assert.are.same({ "one", nil, nil }, { a:receive() })
      assert.are.same({ "two", nil, nil }, { a:receive("*l") })
      assert.are.same({ "ab", nil, nil }, { a:receive(2) })
      a:settimeout(0.05)
      assert.are.same({ nil, "timeout", "c" }, { a:receive() })
      c:send(("x"):rep(100000) .. "\n" .. ("y"):rep(10))
      a:settimeout(5)
      local long = a:receive()
      assert.are.equal(100000, #long)
      c:close()
      assert.are.same({ nil, "closed", ("y"):rep(10) }, { a:receive() })
      assert.are.same({ nil, "closed", "" }, { a:receive("*a") })
      local r = { a:getstats() }
      assert.are.equal(13.0 + 100011, r[1])
    end)

    it("drops every \\r of a line however the buffer was scanned before (counts, lines, prefixes)", function()
      local c, a = pair()
      finally(function() c:close() a:close() end)
      -- lines with and without \r, read by lines, by counts that stop
      -- inside a line, and with a prefix: the '\r' scan of the buffer
      -- (once per fill) must follow every way of consuming it
      local lines, want = {}, {}
      for i = 1, 3000 do
        local l = ("l%d"):format(i) .. (i % 7 == 0 and "a\rb" or "ab") .. (i % 3 == 0 and "\r" or "")
        lines[i] = l
        want[i] = l:gsub("\r", "")
      end
      local data = table.concat(lines, "\n") .. "\n"
      a:settimeout(5)
      assert(c:send(data))
      for i = 1, 3000 do
        if i % 11 == 0 then
          local head = assert(a:receive(2))
          assert.are.equal(lines[i]:sub(1, 2), head)
          assert.are.equal(want[i]:sub(3), (a:receive("*l")))
        elseif i % 13 == 0 then
          assert.are.equal(">" .. want[i], (a:receive("*l", ">")))
        else
          assert.are.equal(want[i], (a:receive()))
        end
      end
    end)

    it("closes the descriptor of an object the program drops, once it is collected", function()
      local c, a = pair()
      finally(function() a:close() end)
      c = nil   -- luacheck: ignore
      collectgarbage() collectgarbage()
      a:settimeout(5)
      assert.are.same({ nil, "closed", "" }, { a:receive() })
      assert.are.equal("function", type(getmetatable(a).__gc))
    end)

    H.linux_it("waits for an answer with recv, poll, recv: a socket that waits once pays no switch to kernel waits (strace -c)", "strace", function()
      -- the child connects N times, sends a line and receives the
      -- answer, which this process sends only after a pause: each
      -- receive waits once. Kernel waits (a blocking descriptor) would
      -- cost two fcntl and a setsockopt per connection for that one wait
      local N = 30
      local srv = assert(ns.create_server("127.0.0.1", 0, { backlog = N }))
      finally(function() srv:close() end)
      local port = select(2, srv:getsockname())
      local out = H.tmpname(".strace")
      local p = H.lua_with(("strace -f -qq -c -o %s"):format(H.shquote(out)), [[
local socket = require "netsock.luasocket"
for _ = 1, tonumber(arg[2]) do
  local c = assert(socket.connect("127.0.0.1", tonumber(arg[1])))
  c:settimeout(5)
  assert(c:send("question\n"))
  assert(assert(c:receive("*l")) == "answer")
  c:close()
end
print("done")
]], tostring(port), tostring(N))
      finally(function() p:kill() end)
      srv:settimeout(10)
      for _ = 1, N do
        local a = assert(srv:accept())
        a:settimeout(10)
        local f = a:makefile("r")
        assert.equal("question", f:read("l"))
        ns.sleep(0.01)
        assert(a:sendall("answer\n"))
        a:close()
      end
      assert.equal("done", p:line(30), p:output())
      assert.equal(0, p:wait(10))
      local t, calls = H.strace_counts(out), H.readfile(out)
      assert.is_true((t.poll or 0) + (t.ppoll or 0) >= N / 2, calls)
      if H.backend == "epoll" then   -- (the portable build's socket() is followed by fcntl)
        assert.is_true((t.fcntl or 0) < N / 3, "fcntl per connection:\n" .. calls)
      end
      assert.is_true((t.setsockopt or 0) < N / 3, "setsockopt per connection:\n" .. calls)
    end, H.can_strace)

    it("raises LuaSocket's messages through receive's C closure", function()
      local s = layer.tcp()
      finally(function() s:close() end)
      local ok, err = pcall(function() s:receive() end)
      assert.is_false(ok)
      assert.matches("calling 'receive' on bad self %(tcp{client} expected%)", err)
      local c, a = pair()
      finally(function() c:close() a:close() end)
      ok, err = pcall(function() a:receive({}) end)
      assert.matches("bad argument #1 to 'receive' %(string expected, got table%)", err)
    end)
  end)

  describe("_SETSIZE", function()
    it("is the descriptor limit: a loop making sockets reaches it, select refuses more", function()
      -- (LuaSocket's own suite makes _SETSIZE + 1 sockets expecting the
      -- last ones to fail or select to refuse them; with 2^31 it ran for
      -- hours)
      local rc, out = child(INSTALL .. [[
local n = tonumber(io.popen("sh -c 'ulimit -n'"):read("l"))
assert(socket._SETSIZE == n, socket._SETSIZE .. " vs " .. n)
local made, err = {}, nil
for i = 1, socket._SETSIZE + 1 do
  local u, e = socket.udp4()
  if not u then err = e break end
  made[#made + 1] = u
end
assert(#made < socket._SETSIZE and err, "made " .. #made)
for _, u in ipairs(made) do u:close() end
print("ok", #made, err)
]], 60)
      assert.are.equal(0, rc, out)
      assert.matches("^ok", out)
    end)
  end)

  describe("install()", function()
    it("makes socket, socket.core and socket.unix this layer, for LuaSocket's own modules too", function()
      local rc, out = child(INSTALL .. [[
local layer = require "netsock.luasocket"
assert(require("socket") == layer and require("socket.core") == layer)
assert(require("socket.unix") == layer.unix)
local http = require "socket.http"
local url = require "socket.url"
local smtp = require "socket.smtp"
local ftp = require "socket.ftp"
local tp = require "socket.tp"
local mime = require "mime"
local ltn12 = require "ltn12"
-- socket.http makes its sockets with socket.tcp: count them
local made = 0
local tcp = layer.tcp
layer.tcp = function(...) made = made + 1 return tcp(...) end
local srv = assert(layer.bind("127.0.0.1", 0))
local _, port = srv:getsockname()
srv:close()   -- nothing listens there now
local b, code = http.request("http://127.0.0.1:" .. port .. "/")
print(b, code, made)
print(url.escape("a b"), mime.b64("hi"), type(smtp.send), type(ftp.get), type(tp.connect), type(ltn12.pump.all))
]])
      assert.are.equal(0, rc, out)
      -- refused, in LuaSocket's words, through the layer's tcp()
      assert.matches("nil\tconnection refused\t1\n", out, 1, true)
      assert.matches("a%20b\taGk=\tfunction\tfunction\tfunction\tfunction", out, 1, true)
    end)

    it("ignores SIGPIPE for the process (the layer's one global effect); plain netsock does not", function()
      -- python's subprocess gives the child SIGPIPE's default action back
      -- (whatever make or busted did), so a raised SIGPIPE would kill it
      local file = H.tmpname(".lua")
      H.writefile(file, [[
-- the ignored-signal mask from ps (no /proc needed): the shell popen
-- starts is our child, so its $PPID is us (ps without the sanitizer's
-- LD_PRELOAD, under which it hangs: make sanitize)
local function ignored()
  local f = io.popen("env -u LD_PRELOAD ps -o sigignore= -p $PPID")
  local mask = tonumber(f:read("a"):match("%x+"), 16)
  f:close()
  return mask & (1 << 12) ~= 0   -- SIGPIPE is 13
end
local before = ignored()
require "netsock"
local layer = require "netsock.luasocket"
local loaded = ignored()
layer.install()
print(before, loaded, ignored())
-- a write without MSG_NOSIGNAL (as LuaSec's are) to a pipe with no reader
local p = io.popen("exec true", "w")
os.execute("sleep 0.2")
p:write(("x"):rep(1 << 20))
p:close()
print("alive")
]])
      local setup = ("package.path=%q..package.path package.cpath=%q..package.cpath")
        :format("lua/?.lua;", (os.getenv("NETSOCK_CPATH") or "build/?.so") .. ";")
      local exe = "lua5.4"
      if os.getenv("NETSOCK_SANITIZE") and os.getenv("LD_PRELOAD") then
        exe = ("env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 lua5.4")
          :format(H.shquote(os.getenv("LD_PRELOAD")))
      end
      local p = H.spawn(("python3 -c %s %s -e %s %s"):format(
        H.shquote("import subprocess, sys; sys.exit(subprocess.run(' '.join(sys.argv[1:]), shell=True).returncode)"),
        exe, H.shquote(H.shquote(setup)), H.shquote(file)))
      local rc = p:wait(20)
      p:kill()
      assert.are.equal(0, rc, p:output())
      assert.matches("false\tfalse\ttrue\nalive\n", p:output())
    end)
  end)

  describe("inside netsock tasks", function()
    it("20 socket.http requests in 20 tasks overlap in time", function()
      local server, port = http_server(0.5)
      finally(function() server:kill() end)
      local rc, out = child(INSTALL .. [[
local http = require "socket.http"
local port = ...
local inflight, most, done, t0 = 0, 0, 0, netsock.monotime()
local bodies = {}
for i = 1, 20 do
  netsock.spawn(function()
    inflight = inflight + 1
    if inflight > most then most = inflight end
    local body, code = http.request(("http://127.0.0.1:%s/r%d"):format(port, i))
    inflight = inflight - 1
    assert(code == 200, tostring(code))
    bodies[i] = body
    done = done + 1
  end)
end
netsock.run()
local server_most = 0
for i = 1, 20 do
  local path, n = bodies[i]:match("^(%S+) (%d+)$")
  assert(path == "/r" .. i, bodies[i])
  server_most = math.max(server_most, tonumber(n))
end
print(done, most, server_most, netsock.monotime() - t0)
]], 60, port)
      assert.are.equal(0, rc, out)
      local done, most, smost, secs = out:match("(%d+)\t(%d+)\t(%d+)\t([%d.e+-]+)")
      assert.are.equal("20", done, out)
      -- every task was inside its request at once, and the server saw it
      -- (each request takes 0.5 s: one after the other would take 10 s)
      assert.are.equal("20", most, out)
      assert.is_true(tonumber(smost) >= 10, out)
      assert.is_true(tonumber(secs) < 8, out)
    end)

    it("a layer socket's receive suspends only its task; settimeout holds there", function()
      local rc, out = child(INSTALL .. [[
local srv = assert(socket.bind("127.0.0.1", 0))
local _, port = srv:getsockname()
local log = {}
local function say(v) log[#log + 1] = tostring(v) end
netsock.spawn(function()
  local c = assert(srv:accept())
  say("accepted")
  c:settimeout(0.1)
  local line, err = c:receive()   -- times out
  say(err)
  c:settimeout(nil)
  say((c:receive()))
  c:send("bye\n")
  c:close()
end)
netsock.spawn(function()
  local c = assert(socket.connect("127.0.0.1", port))
  say("connected")
  netsock.sleep(0.3)
  c:send("hello\r\n")
  say((c:receive()))
  c:close()
end)
local ticks = 0
netsock.spawn(function()
  for _ = 1, 10 do netsock.sleep(0.02) ticks = ticks + 1 end
end)
netsock.run()
print(table.concat(log, " "), ticks)
]])
      assert.are.equal(0, rc, out)
      assert.matches("connected accepted timeout hello bye\t10", out, 1, true)
    end)
  end)

  describe("LuaSocket's own modules over the layer", function()
    it("socket.http with ltn12 sources and sinks: GET and POST", function()
      local server, port = http_server(0)
      finally(function() server:kill() end)
      local rc, out = child(INSTALL .. [[
local http = require "socket.http"
local ltn12 = require "ltn12"
local port = ...
local chunks = {}
local ok, code, headers = http.request {
  url = ("http://127.0.0.1:%s/get"):format(port),
  sink = ltn12.sink.table(chunks),
}
print(ok, code, headers["content-length"], table.concat(chunks))
local body = ("0123456789"):rep(1000)
chunks = {}
ok, code, headers = http.request {
  url = ("http://127.0.0.1:%s/post"):format(port),
  method = "POST",
  source = ltn12.source.string(body),
  headers = { ["content-length"] = #body },
  sink = ltn12.sink.table(chunks),
}
print(ok, code, headers["x-got"], table.concat(chunks) == body:reverse())
print(http.request(("http://127.0.0.1:%d/"):format(1)))
]], 30, port)
      assert.are.equal(0, rc, out)
      assert.matches("1\t200\t6\t/get 1\n", out, 1, true)
      assert.matches("1\t201\t10000\ttrue\n", out, 1, true)
      assert.matches("nil\tconnection refused\n", out, 1, true)
    end)

    it("socket.smtp sends a message to a python SMTP responder", function()
      local server = H.python([[
import socketserver, sys
class S(socketserver.StreamRequestHandler):
    def handle(self):
        w = lambda s: self.wfile.write(s.encode() + b"\r\n")
        w("220 localhost test responder")
        data = False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if data:
                if line == b".\r\n":
                    data = False
                    w("250 2.0.0 queued")
                else:
                    sys.stdout.write("DATA " + line.decode())
                continue
            cmd = line.decode().strip()
            print("CMD " + cmd, flush=True)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-localhost\r\n250 HELP\r\n")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                w("250 OK")
            elif verb == "DATA":
                data = True
                w("354 go ahead")
            elif verb == "QUIT":
                w("221 bye")
                sys.stdout.flush()
                return
            else:
                w("500 what")
s = socketserver.TCPServer(("127.0.0.1", 0), S)
print(s.server_address[1], flush=True)
s.serve_forever()
]])
      finally(function() server:kill() end)
      local port = assert(tonumber((server:line(10))))
      local rc, out = child(INSTALL .. [[
local smtp = require "socket.smtp"
local port = ...
local r, e = smtp.send {
  from = "<alice@example.com>",
  rcpt = { "<bob@example.com>", "<carol@example.com>" },
  server = "127.0.0.1", port = tonumber(port),
  source = smtp.message {
    headers = { to = "bob@example.com", subject = "over netsock" },
    body = "line one\r\n.starts with a dot\r\n",
  },
}
print(r, e)
]], 30, port)
      assert.are.equal(0, rc, out)
      assert.matches("^1\tnil", out)
      -- the responder saw the whole conversation, dot-stuffing included
      local deadline = H.netsock.monotime() + 5
      while not server:output():find("CMD QUIT", 1, true) and H.netsock.monotime() < deadline do
        H.netsock.sleep(0.02)
      end
      local seen = server:output()
      assert.matches("CMD EHLO", seen, 1, true)
      assert.matches("CMD MAIL FROM:<alice@example.com>", seen, 1, true)
      assert.matches("CMD RCPT TO:<bob@example.com>", seen, 1, true)
      assert.matches("CMD RCPT TO:<carol@example.com>", seen, 1, true)
      assert.matches("data subject: over netsock", seen:lower(), 1, true)
      assert.matches("DATA line one\r\n", seen, 1, true)
      assert.matches("DATA ..starts with a dot\r\n", seen, 1, true)
      assert.matches("CMD QUIT", seen, 1, true)
    end)
  end)

  describe("copas and LuaSec, unchanged", function()
    it("copas serves and connects with the layer's sockets", function()
      local rc, out = child(INSTALL .. [[
local copas = require "copas"
local srv = assert(socket.bind("127.0.0.1", 0))
local _, port = srv:getsockname()
copas.addserver(srv, function(raw)
  local c = copas.wrap(raw)
  while true do
    local line = c:receive("*l")
    if not line then return end
    c:send(line:upper() .. "\n")
  end
end)
local answers = {}
for i = 1, 5 do
  copas.addthread(function()
    local raw = socket.tcp()
    assert(copas.connect(raw, "127.0.0.1", port))
    local c = copas.wrap(raw)
    for j = 1, 3 do
      c:send(("client %d line %d\n"):format(i, j))
      local answer = c:receive("*l")   -- (it yields: index after it)
      answers[#answers + 1] = answer
    end
    raw:close()
  end)
end
local t0 = socket.gettime()
while #answers < 15 and socket.gettime() - t0 < 10 do copas.step(0.1) end
table.sort(answers)
print(#answers, answers[1], answers[15])
]])
      assert.are.equal(0, rc, out)
      assert.matches("15\tCLIENT 1 LINE 1\tCLIENT 5 LINE 3", out, 1, true)
    end)

    it("LuaSec's ssl.wrap takes a layer socket to openssl s_server and back", function()
      local dir = H.tmpdir()
      local key, crt = dir .. "/ls-key.pem", dir .. "/ls-crt.pem"
      assert(os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s "
        .. "-days 1 -subj /CN=localhost >/dev/null 2>&1"):format(key, crt)))
      -- a free port: bind 0, read it back, let go (s_server needs a number)
      local probe = assert(H.netsock.create_server("127.0.0.1", 0))
      local _, port = probe:getsockname()
      probe:close()
      local server = H.spawn(("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -rev -quiet")
        :format(port, crt, key))
      finally(function() server:kill() end)
      local rc, out = child(INSTALL .. [[
local ssl = require "ssl"
local port = tonumber((...))
local c
for _ = 1, 100 do   -- until s_server listens
  c = socket.tcp()
  c:settimeout(5)
  if c:connect("127.0.0.1", port) then break end
  c:close() c = nil
  socket.sleep(0.05)
end
assert(c, "s_server did not listen")
local fd = c:getfd()
local s = assert(ssl.wrap(c, { mode = "client", protocol = "any", verify = "none" }))
print("taken", c:getfd(), s:getfd() == fd)
s:settimeout(5)
assert(s:dohandshake())
assert(s:send("hello netsock\n"))
-- socket.select takes LuaSec's objects (getfd, dirty)
local r = socket.select({ s }, nil, 5)
print("select", #r, r[1] == s)
print(s:receive("*l"))
s:close()
]], 30, port)
      assert.are.equal(0, rc, out)
      assert.matches("taken\t-1.0\ttrue\n", out, 1, true)
      assert.matches("select\t1\ttrue\n", out, 1, true)
      assert.matches("kcosten olleh\t", out, 1, true)
    end)
  end)
end)
