-- spec/console_spec.lua: the `netsock` console and the lua5.4 prompt,
-- driven through a pseudo-terminal as a person types (python3's pty
-- module, spec/ptyconsole.py), against python3 clients. Each scenario is
-- a python3 script that prints "ok" at its end; every wait in it is
-- bounded, and the spec bounds the whole.
local H = require "helpers"
local ns = H.netsock

local HEAD = [[
import os, re, socket, sys, threading, time
sys.path.insert(0, os.path.join(os.getcwd(), "spec"))
from ptyconsole import *
]]

-- the ASan runtime for the console under make sanitize, "-" otherwise
local function asanrt()
  if os.getenv("NETSOCK_SANITIZE") and os.getenv("LD_PRELOAD") then
    return os.getenv("LD_PRELOAD")
  end
  return "-"
end

local function scenario(code, timeout, ...)
  local p = H.python(HEAD .. code, asanrt(), ...)
  local rc = p:wait(timeout or 60)
  if rc == nil then p:kill() end
  local out = p:output()
  assert.equal(0, rc, out)
  assert.truthy(out:find("\nok\n", 1, true) or out:find("^ok\n"), out)
  return out
end

-- an upper-casing line server typed at the prompt; PORT from its socket
local SERVE = [[
def serve_at_prompt(c):
    c.expect(r"> ")
    c.line('srv = netsock.serve("127.0.0.1", 0, function(c) for l in c:makefile():lines() do c:sendall(l:upper() .. "\\n") end end)')
    c.expect(r"> ")
    c.line('=select(2, srv:getsockname())')
    port = int(c.expect(r"(\d+)\r?\n").group(1))
    c.expect(r"> ")
    return port

class Pinger(threading.Thread):
    """a python3 client that keeps talking to the server and counts replies"""
    def __init__(self, port):
        super().__init__(daemon=True)
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.f = self.s.makefile("rwb")
        self.count, self.error, self.stop = 0, None, False
    def run(self):
        try:
            while not self.stop:
                self.f.write(b"ping %d\n" % self.count); self.f.flush()
                line = self.f.readline()
                if line != b"PING %d\n" % self.count:
                    raise Exception("bad reply %r" % line)
                self.count += 1
                time.sleep(0.02)
        except Exception as e:
            self.error = e
    def served_more(self, seconds=3):
        n, end = self.count, time.monotonic() + seconds
        while time.monotonic() < end and self.error is None:
            if self.count >= n + 3:
                return True
            time.sleep(0.01)
        raise Exception("python client not served (count %d, error %r)" % (self.count, self.error))
]]

describe("the netsock console #console", function()
  it("serves at the prompt: the prompt's own client and a python3 client at once, also while idle", function()
    scenario(SERVE .. [[
c = console()
port = serve_at_prompt(c)
py = Pinger(port); py.start()
py.served_more()                        # served while the prompt is idle
c.line('c = netsock.create_connection("127.0.0.1", %d, 5)' % port)
c.expect(r"> ")
c.line('c:sendall("from the prompt\\n")')
c.expect(r"true")
c.line('c:recv(100)')
c.expect(r"FROM THE PROMPT")
c.expect(r"> ")
py.served_more()
c.line('netsock.sleep(0.5)')            # a chunk that waits: the rest goes on
py.served_more(0.45)
c.expect(r"> ")
py.stop = True
c.eof()
assert c.close() == 0
print("ok")
]])
  end)

  it("Ctrl-C ends a recv that waits for ever within a second, and a busy loop; the python3 client is still served", function()
    scenario(SERVE .. [[
c = console()
port = serve_at_prompt(c)
py = Pinger(port); py.start()
c.line('k = netsock.create_connection("127.0.0.1", %d); k:settimeout(nil)' % port)
c.expect(r"> ")
c.line('k:recv(100)')                   # nothing ever comes
py.served_more()                        # served while the chunk waits
t0 = time.monotonic()
c.intr()
c.expect(r"interrupted!", timeout=1)
took = time.monotonic() - t0
c.expect(r"> ")
assert took < 1, took
py.served_more()
c.line('n = 0; while true do n = n + 1 end')
time.sleep(0.3)
c.intr()
c.expect(r"interrupted!", timeout=2)
c.expect(r"> ")
c.line('=n > 0')
c.expect(r"true")
py.served_more()                        # the loop runs again
c.line('k:sendall("still here\\n")')   # the chunk's socket stays usable
c.expect(r"true")
c.line('k:recv(100)')
c.expect(r"STILL HERE")
c.expect(r"> ")
py.stop = True
c.eof()
assert c.close() == 0
print("interrupt took %.3f s" % took)
print("ok")
]])
  end)

  it("does what lua5.4 -i does: all results, nils too, =expr, >> for incomplete chunks, errors, globals", function()
    scenario([[
c = console()
c.expect(r"> ")
c.line('x = 41')
c.expect(r"> ")
c.line('=x + 1')
c.expect(r"\n42\r?\n")
c.line('nil, 2, nil')
c.expect(r"nil\t2\tnil")
c.line('function f(a)')
c.expect(r">> ")
c.line('  return a * 2')
c.expect(r">> ")
c.line('end')
c.expect(r"> ")
c.line('f(21)')
c.expect(r"\n42\r?\n")
c.line('error("boom")')
c.expect(r"netsock: stdin:1: boom")
c.expect(r"stack traceback:")
c.expect(r"> ")
c.line('=x +')
c.expect(r">> ")
c.line('')
c.expect(r">> ")
c.line('1')
c.expect(r"\n42\r?\n")
c.line('x +')                           # not incomplete: an error, as in lua5.4
c.expect(r"syntax error near '\+'")
c.expect(r"> ")
c.line('local y = 5')                   # a local lives for its chunk only
c.expect(r"> ")
c.line('=y')
c.expect(r"\nnil\r?\n")
c.line('= 1 +* 2')
c.expect(r"unexpected symbol")
c.expect(r"> ")
c.line('=x')                            # the global is still there
c.expect(r"\n41\r?\n")
c.line('x = nil')
c.line('="mark"')                       # a result, so the next prompt is fresh:
c.expect(r"[\n ]mark\r?\n> ")            # a line typed ahead echoes with a stale one
                                        # (the plain reader: "> mark" after the echo)
c.send("abc def")                       # Ctrl-C drops the line
c.expect(r"abc def")                    # ... once the prompt reads it
c.intr()
c.expect(r"\r?\n> ")
c.line('function g()')                  # ... and an unfinished chunk
c.expect(r">> ")
c.intr()
c.expect(r"\r?\n> ")
c.line('=g')
c.expect(r"\nnil\r?\n")
c.expect(r"> ")
c.line('netsock.stop()')                # stops the loop, not the console
c.expect(r"> ")
c.line('netsock.run()')                 # the loop runs already: an error
c.expect(r"running already")
c.expect(r"> ")
c.line('=2 + 2')
c.expect(r"\n4\r?\n")
c.expect(r"> ")
c.eof()
assert c.close() == 0
print("ok")
]])
  end)

  it("recalls history with the arrow keys (libedit)", function()
    local out = scenario([[
if not HAS_EDIT:
    print("skip: netsock.edit not built (no libedit)")
    print("ok"); sys.exit(0)
c = console()
c.expect(r"> ")
c.line('=6 * 7')
c.expect(r"\n42\r?\n")
c.expect(r"> ")
c.line('=1')
c.expect(r"\n1\r?\n")
c.expect(r"> ")
c.send("\x1b[A\x1b[A")                  # up, up: "=6 * 7" again
time.sleep(0.2)
c.send("\r")
c.expect(r"\n42\r?\n")
c.expect(r"> ")
c.eof()
assert c.close() == 0
print("ok")
]])
    if out:find("skip:", 1, true) then pending("netsock.edit not built (no libedit)") end
  end)

  it("prints a task's output above the prompt and keeps the line being typed (libedit)", function()
    local out = scenario([[
if not HAS_EDIT:
    print("skip: netsock.edit not built (no libedit)")
    print("ok"); sys.exit(0)
c = console()
c.expect(r"> ")
c.line('netsock.spawn(function() netsock.sleep(0.5) print("from a task") end)')
c.expect(r"thread: ")
c.expect(r"> ")
c.send("=6 *")                           # half a line when the task prints
c.expect(r"from a task\r\n> =6 \*", timeout=5)
c.send(" 7\r")                          # the line goes on where it was
c.expect(r"\n42\r?\n")
c.expect(r"> ")
c.eof()
assert c.close() == 0
print("ok")
]])
    if out:find("skip:", 1, true) then pending("netsock.edit not built (no libedit)") end
  end)

  it("Ctrl-D leaves, closing what the console opened", function()
    scenario(SERVE .. [[
c = console()
port = serve_at_prompt(c)
socket.create_connection(("127.0.0.1", port), timeout=5).close()
c.eof()
assert c.close() == 0
try:
    socket.create_connection(("127.0.0.1", port), timeout=5)
    raise Exception("the server outlived the console")
except ConnectionRefusedError:
    pass
print("ok")
]])
  end)

  it("loses no key typed while a chunk runs: a line, an arrow key, then Ctrl-D", function()
    scenario([[
c = console()
c.expect(r"> ")
c.line('=6 * 7')
c.expect(r"\n42\r?\n")
c.expect(r"> ")
c.line('netsock.sleep(0.5)')
time.sleep(0.2)
c.send("=1 + 1\r")                      # typed ahead, while the chunk sleeps
c.expect(r"[\n ]2\r?\n", timeout=5)     # (plain reader: "> 2" after the echo)
c.expect(r"> ")
c.line('netsock.sleep(0.5)')
time.sleep(0.2)
if HAS_EDIT:
    c.send("\x1b[A\x1b[A\r")             # up, up: "=1 + 1" again, typed ahead
    c.expect(r"\n2\r?\n", timeout=5)
    c.expect(r"> ")
    c.line('netsock.sleep(0.5)')
    time.sleep(0.2)
c.eof()                                 # Ctrl-D typed ahead: the console leaves
assert c.close(5) == 0
print("ok")
]])
  end)

  it("reads plain lines and echoes them when stdin is no terminal (a scripted session)", function()
    local rt = asanrt()
    local pre = rt ~= "-" and ("LD_PRELOAD=" .. H.shquote(rt) .. " ASAN_OPTIONS=detect_leaks=0 ") or ""
    local p = H.spawn("printf '%s\\n' 'x = 6' '=x * 7' 'error(\"e\")' '=1' | env NETSOCK_NOEDIT=1 " .. pre
      .. "LUA_PATH='lua/?.lua;;' LUA_CPATH='" .. (os.getenv("NETSOCK_CPATH") or "build/?.so")
      .. ";;' lua5.4 bin/netsock")
    finally(function() p:kill() end)
    assert.equal(0, p:wait(20))
    local out = p:output()
    assert.truthy(out:find("> =x * 7\n42\n", 1, true), out)
    assert.truthy(out:find("netsock: stdin:1: e", 1, true), out)
    assert.truthy(out:find("> =1\n1\n", 1, true), out)
  end)
end)

describe("the console's line editor #console", function()
  it("keeps a bounded history: the last 1,000 lines, none longer than 4 KiB", function()
    local out = scenario([[
if not HAS_EDIT:
    print("skip: netsock.edit not built (no libedit)")
    print("ok"); sys.exit(0)
CODE = """
local e = assert(require("netsock.edit").new("t"))
for i = 1, 1500 do e:add(("x"):rep(100) .. i) end
e:add(("y"):rep(5000))
e:add(("z"):rep(4096))
local n, bytes = e:_history()
e:close()
print(("history %d lines %d bytes"):format(n, bytes))
"""
c = Console(["lua5.4", "-e", CODE])
m = c.expect(r"history (\d+) lines (\d+) bytes")
n, nbytes = int(m.group(1)), int(m.group(2))
assert n == 1000, n
assert nbytes == 498 * 103 + 501 * 104 + 4096, nbytes  # x*100 .. 502..1500, then the 4 KiB line
assert c.close() == 0
print("ok")
]])
    if out:find("skip:", 1, true) then pending("netsock.edit not built (no libedit)") end
  end)
end)

describe("Ctrl-C at the lua5.4 prompt #console", function()
  it("interrupts a blocking netsock call within 0.1 s with the prompt's own error, and the session goes on", function()
    local out = scenario([[
c = Console(["lua5.4", "-l", "netsock", "-i"])
c.expect(r"> ")
c.line('s = netsock.create_server("127.0.0.1", 0); k = netsock.create_connection(s:getsockname()); a = s:accept()')
c.expect(r"> ")
worst = 0
for call in ['s:accept()', 'a:recv(100)', 'a:makefile():read("l")', 'netsock.sleep(100)',
             'netsock.select({a}, nil)', 'p = netsock.poller(); p:add(a, "r"); p:wait()',
             'netsock.create_connection("127.0.0.1", select(2, s:getsockname())):recv(1)']:
    c.line(call)
    time.sleep(0.3)
    t0 = time.monotonic()
    c.intr()
    c.expect(r"stdin:1: interrupted!", timeout=2)
    took = time.monotonic() - t0
    c.expect(r"> ")
    worst = max(worst, took)
    assert took < 0.1, (call, took)
c.line('=1 + 1')                         # the session goes on
c.expect(r"[^\d]2\r\n")
c.line('a:settimeout(0.2)')             # a timeout still holds
c.expect(r"> ")
c.line('=a:recv(1)')
c.expect(r"nil\ttimeout\ttimeout")
c.expect(r"> ")
c.eof()
assert c.close() == 0
print("worst %.4f s" % worst)
print("ok")
]])
    assert.truthy(out:find("worst", 1, true))
  end)
end)

describe("Ctrl-C at the lua5.4 prompt over TLS #console", function()
  it("interrupts a TLS recv that waits inside the kernel", function()
    if not ns.tls or not ns.tls.context then pending("netsock.tls not built") return end
    local T = H.tls
    scenario([[
import ssl
certs = sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(certs + "/leaf.pem", certs + "/leaf.key")
ls = socket.create_server(("127.0.0.1", 0))
port = ls.getsockname()[1]
held = []
def serve():
    conn, _ = ls.accept()
    held.append(ctx.wrap_socket(conn, server_side=True))  # then says nothing
threading.Thread(target=serve, daemon=True).start()
c = Console(["lua5.4", "-l", "netsock", "-i"])
c.expect(r"> ")
c.line('ctx = netsock.tls.context{cafile = "%s/ca.pem"}' % certs)
c.expect(r"> ")
c.line('t = assert(netsock.tls.connect("127.0.0.1", %d, {context = ctx}))' % port)
c.expect(r"> ")
c.line('t:recv(10)')
time.sleep(0.3)
t0 = time.monotonic()
c.intr()
c.expect(r"stdin:1: interrupted!", timeout=2)
took = time.monotonic() - t0
c.expect(r"> ")
assert took < 0.1, took
held[0].sendall(b"late")
c.line('=t:recv(10)')                    # the TLS session is still whole
c.expect(r"late")
c.expect(r"> ")
c.eof()
assert c.close() == 0
print("ok")
]], 60, T.certs())
  end)
end)

describe("netsock console PATH (attach) #console", function()
  local function start_server(path)
    local p = H.lua(([[
      arg = { [0] = "examples/live_server.lua", "--port", "0", "--console", %q }
      dofile("examples/live_server.lua")
    ]]):format(path))
    local port = (p:line(10) or ""):match(":(%d+)$")
    assert.truthy(port, p:output())
    assert.equal("Console on " .. path, p:line(10, 2))
    return p, tonumber(port)
  end

  it("listen(path) raises naming its argument; an unusable path is a failure triple", function()
    local console = require "netsock.console"
    assert.has_error(function() console.listen() end,
      "bad argument #1 to 'listen' (string expected, got no value)")
    assert.has_error(function() console.listen(5) end,
      "bad argument #1 to 'listen' (string expected, got number)")
    local r, msg, code = console.listen(H.tmpname("") .. "/no/such/dir/console")
    assert.is_nil(r)
    assert.is_string(msg)
    assert.equal("ENOENT", code)
  end)

  it("attaches to a running example server: lists its tasks, spawns one, detaches; the server goes on", function()
    local path = H.tmpname(".console")
    local srv, port = start_server(path)
    finally(function() srv:kill() end)
    -- the endpoint is mode 0600
    local lfs = require "lfs"
    assert.equal("rw-------", lfs.attributes(path, "permissions"))
    scenario([[
port, path = int(sys.argv[2]), sys.argv[3]
def hello():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rwb")
    assert f.readline().startswith(b"Welcome"), "no welcome"
    f.write(b"hi\n"); f.flush()
    assert f.readline() == b"OK...hi\n"
    return s
keep = hello()                          # a client the server serves meanwhile
c = console("console", path)
c.expect(r"> ")
c.line('= netsock.tasks()')
listing = c.expect(r"([\s\S]*?)\n> ").group(1)
assert re.search(r"serve 127\.0\.0\.1:%d\s+socket:accept" % port, listing), listing
assert re.search(r"socket:recv.*127\.0\.0\.1:%d" % port, listing), listing  # the python client's task
c.line('netsock.spawn(function() while true do netsock.sleep(0.02); ticks = (ticks or 0) + 1 end end)')
c.expect(r"thread: ")
c.line('print("inside", 1, nil)')       # print goes to the attached terminal
c.expect(r"inside\t1\tnil")
c.line('netsock.sleep(100)')            # Ctrl-C ends a chunk in the program
time.sleep(0.2)
hello().close()                         # served while the chunk waits
c.intr()
c.expect(r"interrupted!", timeout=2)
c.expect(r"> ")
c.line('=ticks > 0')
c.expect(r"true")
c.expect(r"> ")
c.eof()                                 # detach
assert c.close() == 0
hello().close()                         # the server is untouched
time.sleep(0.2)
c = console("console", path)            # the spawned task went on
c.expect(r"> ")
c.line('=ticks')
n1 = int(c.expect(r"\n(\d+)\r?\n").group(1))
time.sleep(0.2)
c.line('=ticks')
n2 = int(c.expect(r"\n(\d+)\r?\n").group(1))
assert n2 > n1, (n1, n2)
c.expect(r"> ")
c.eof()
assert c.close() == 0
keep.sendall(b"again\n")
assert keep.recv(100) == b"OK...again\n"
print("ok")
]], 60, port, path)
    assert.is_true(srv:running())
  end)

  it("Ctrl-C stops an attached chunk that never waits; the program goes on serving", function()
    local path = H.tmpname(".console")
    local srv, port = start_server(path)
    finally(function() srv:kill() end)
    scenario([[
port, path = int(sys.argv[2]), sys.argv[3]
def hello():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rwb")
    assert f.readline().startswith(b"Welcome"), "no welcome"
    f.write(b"hi\n"); f.flush()
    assert f.readline() == b"OK...hi\n"
    s.close()
c = console("console", path)
c.expect(r"> ")
c.line('netsock.spawn(function() while true do netsock.sleep(0.01); beats = (beats or 0) + 1 end end)')
c.expect(r"thread: ")
c.expect(r"> ")
worst = 0
for chunk in ['n = 0; while true do n = n + 1 end',
              'while true do pcall(function() while true do end end) end',
              'coroutine.wrap(function() while true do end end)()',
              'local t = {} while true do t[#t % 10 + 1] = tostring(#t) end']:
    c.line(chunk)
    time.sleep(0.3)                     # the program is frozen now
    t0 = time.monotonic()
    c.intr()
    c.expect(r"interrupted!", timeout=3)
    worst = max(worst, time.monotonic() - t0)
    c.expect(r"> ")
    hello()                             # serving again
c.line('b = beats; netsock.sleep(0.2)')
c.expect(r"> ")
c.line('=beats > b')                    # the task the session spawned runs on
c.expect(r"true")
c.expect(r"> ")
c.line('=1 + 1')                        # no Ctrl-C left over: the prompt works
c.expect(r"\n2\r?\n")
c.expect(r"> ")
c.eof()
assert c.close() == 0
hello()
print("worst %.3f s" % worst)
print("ok")
]], 60, port, path)
    assert.is_true(srv:running())
  end)

  it("leaves with a message when the program goes away under an attached terminal", function()
    local path = H.tmpname(".console")
    local srv = start_server(path)
    finally(function() srv:kill() end)
    scenario([[
import signal
pid, path = int(sys.argv[2]), sys.argv[3]
c = console("console", path)
c.expect(r"> ")
c.line('=1')
c.expect(r"\n1\r?\n")
c.expect(r"> ")
os.killpg(pid, signal.SIGTERM)          # the program's process group
c.expect(r"the program closed the console")
assert c.close() == 0
print("ok")
]], 30, srv.pid, path)
  end)

  it("the terminal refuses an endpoint another user bound first: nothing typed reaches it", function()
    local uid = ns.geteuid()
    local have = os.execute("command -v setpriv >/dev/null 2>&1")
    if uid ~= 0 or not have then
      pending("needs root and setpriv to run an endpoint under another uid (uid "
        .. uid .. (have and "" or ", no setpriv (Debian: util-linux)") .. ")")
      return
    end
    local dir = H.tmpname(".dir")
    assert(os.execute("mkdir -m 0777 " .. H.shquote(dir) .. " && chmod 0711 " .. H.shquote(H.tmpdir())))
    finally(function() os.execute("rm -rf " .. H.shquote(dir)) end)
    scenario([[
import subprocess
path = sys.argv[2] + "/console"
IMPOSTOR = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
s.settimeout(10)
c, _ = s.accept()
c.settimeout(3)
got = b""
try:
    c.sendall(b"P2:> ")
    while True:
        d = c.recv(100)
        if not d: break
        got += d
except (socket.timeout, OSError):
    pass
print("got %r" % got, flush=True)
"""
imp = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "python3", "-c", IMPOSTOR, path], stdout=subprocess.PIPE, text=True)
assert imp.stdout.readline().strip() == "listening"
c = console("console", path)
try:
    c.expect(r"will not attach to .*uid 65534", timeout=5)
finally:
    c.send("secret line\r")
st = c.close()
assert st == 1, st
out = imp.communicate(timeout=10)[0]
assert out.strip() == "got b''", out
print("ok")
]], 30, dir)
  end)

  it("the endpoint's output reaches the terminal with control sequences shown, not obeyed", function()
    scenario([[
path = sys.argv[2]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path); srv.listen(1)
got = []
def endpoint():
    c, _ = srv.accept()
    def frame(kind, data):
        c.sendall(kind.encode() + str(len(data)).encode() + b":" + data)
    frame("O", b"\x1b]0;pwned\x07\x1b[2Jtitle\rspoof\x9b31m\xc2\x9b32m caf\xc3\xa9\r\n")
    frame("P", b"\x1b[31m" + b"p" * 200 + b"> ")
    f = c.makefile("rb")
    head = b""
    while not head.endswith(b":"):
        head += f.read(1)
    got.append(f.read(int(head[1:-1])))
    c.sendall(b"O99999999999:")          # breaks the protocol
    time.sleep(2)
threading.Thread(target=endpoint, daemon=True).start()
c = console("console", path)
c.expect(r"caf\u00e9")
c.expect(r"ppp")
c.send("=1\r")
c.expect(r"broke the console's protocol", timeout=5)
assert c.close() == 0
out = c.buf
for bad in ["\x1b]0;pwned", "\x1b[2J", "\x07", "\u009b", "title\rspoof", "\x1b[31m"]:
    assert bad not in out, (bad, out)
for shown in [r"\027]0;pwned\007\027[2Jtitle\013spoof\155" + "31m" + r"\194\155" + "32m caf\u00e9",
              r"\027[31mppp"]:
    assert shown in out, (shown, out)
assert got == [b"=1"], got
os.unlink(path)
print("ok")
]], 30, H.tmpname(".console"))
  end)

  it("refuses a second user: by the socket's mode, and by SO_PEERCRED when the mode allows", function()
    local uid = ns.geteuid()
    local have = os.execute("command -v setpriv >/dev/null 2>&1")
    if uid ~= 0 or not have then
      pending("needs root and setpriv to run a client under another uid (uid "
        .. uid .. (have and "" or ", no setpriv") .. ")")
      return
    end
    -- the other user runs the checkout's bin/netsock, Lua files and the
    -- core this run uses (build/asan/ under make sanitize, with the ASan
    -- runtime preloaded as here): a checkout under a folder it cannot
    -- enter (mktemp -d is 0700) is no test
    local pwd = os.getenv("PWD")
    local cpath = os.getenv("NETSOCK_CPATH") or "build/?.so"
    if cpath:sub(1, 1) ~= "/" then cpath = pwd .. "/" .. cpath end
    local core = cpath:gsub("%?", "netsock/core")
    local rt = asanrt()
    local pre = rt ~= "-" and ("LD_PRELOAD=" .. H.shquote(rt) .. " ASAN_OPTIONS=detect_leaks=0 ") or ""
    for _, f in ipairs({ pwd .. "/lua/netsock/console.lua", core }) do
      local check = ("setpriv --reuid=65534 --regid=65534 --clear-groups test -r %s")
        :format(H.shquote(f))
      if not os.execute(check) then
        pending("uid 65534 cannot read " .. f .. " (the checkout is at " .. pwd .. ")")
        return
      end
    end
    -- a directory every user can enter, a socket only this one may use
    local dir = H.tmpname(".dir")
    assert(os.execute("mkdir -m 0711 " .. H.shquote(dir)))
    local path = dir .. "/console"
    local srv = start_server(path)
    finally(function() srv:kill(); os.execute("rm -rf " .. H.shquote(dir)) end)
    local cmd = ("chmod 0711 %s; setpriv --reuid=65534 --regid=65534 --clear-groups "
      .. "env %sLUA_PATH=%s LUA_CPATH=%s lua5.4 bin/netsock console %s 2>&1")
      :format(H.shquote(H.tmpdir()), pre, H.shquote(pwd .. "/lua/?.lua;;"),
              H.shquote(cpath .. ";;"), H.shquote(path))
    local p = io.popen(cmd .. " </dev/null")
    local out1 = p:read("a")
    p:close()
    assert.truthy(out1:find("cannot attach", 1, true) and out1:find("ermission denied"), out1)
    -- the mode opened up: the kernel lets the other user connect, the
    -- endpoint's SO_PEERCRED check refuses it
    assert(os.execute("chmod 0666 " .. H.shquote(path)))
    p = io.popen(cmd .. " </dev/null")
    local out2 = p:read("a")
    p:close()
    assert.truthy(out2:find("permission denied (another user)", 1, true), out2)
    assert.is_true(srv:running())
  end)
end)

-- a terminal speaking the endpoint's frames from inside this process:
-- fc:send(kind, data), fc:frame() -> kind, data (bounded by the socket's
-- timeout); fc:until_prompt() -> the output before the next prompt
local function frameclient(path)
  local s = assert(ns.socket("unix", "stream"))
  s:settimeout(5)
  assert(s:connect(path))
  local f = s:makefile("r")
  local fc = { s = s }
  function fc:send(kind, data) return s:sendall(kind .. #data .. ":" .. data) end
  function fc:frame()
    local head = {}
    while true do
      local c, msg, code = f:read(1)
      if not c then return nil, msg, code end
      if c == ":" then break end
      head[#head + 1] = c
    end
    head = table.concat(head)
    local n = tonumber(head:sub(2))
    return head:sub(1, 1), n > 0 and f:read(n) or ""
  end
  function fc:until_prompt()
    local out = {}
    while true do
      local kind, data = self:frame()
      if kind == nil then return nil, table.concat(out) end
      if kind == "P" then return table.concat(out), data end
      out[#out + 1] = data
    end
  end
  function fc:close() s:close() end
  return fc
end

describe("netsock.console.listen never deletes what it did not make #console", function()
  local console = require "netsock.console"

  local function refused(path)
    local ep, msg, code = console.listen(path)
    if ep then ep:close() end
    assert.is_nil(ep, "listen took the path")
    assert.equal("EADDRINUSE", code, msg)
    assert.truthy(msg:find(path, 1, true), msg)
    return msg
  end

  it("a regular file at the path is left alone: nil, message, EADDRINUSE", function()
    local path = H.tmpname(".console")
    H.writefile(path, "precious data\n")
    finally(function() os.remove(path) end)
    refused(path)
    assert.equal("precious data\n", H.readfile(path))
  end)

  it("an empty directory at the path is left alone", function()
    local path = H.tmpname(".console")
    assert(os.execute("mkdir " .. H.shquote(path)))
    finally(function() os.execute("rmdir " .. H.shquote(path)) end)
    refused(path)
    assert.equal("directory", (ns._core or require "netsock.core")._lstat(path))
  end)

  it("a symbolic link, even to a dead socket of ours, is left alone (and what it names)", function()
    local dead = H.tmpname(".sock")
    local s = assert(ns.socket("unix", "stream"))
    assert(s:bind(dead)); s:close()              -- a dead socket file of ours
    local path = H.tmpname(".console")
    assert(os.execute(("ln -s %s %s"):format(H.shquote(dead), H.shquote(path))))
    finally(function() os.remove(path); os.remove(dead) end)
    refused(path)
    assert.equal("link", require("netsock.core")._lstat(path))
    assert.equal("socket", require("netsock.core")._lstat(dead))
  end)

  it("a dead socket of another user is left alone", function()
    if ns.geteuid() ~= 0 then
      pending("needs root to make a socket file owned by another uid (uid " .. ns.geteuid() .. ")")
      return
    end
    local path = H.tmpname(".console")
    local s = assert(ns.socket("unix", "stream"))
    assert(s:bind(path)); s:close()
    assert(os.execute("chown 65534 " .. H.shquote(path)))
    finally(function() os.remove(path) end)
    local msg = refused(path)
    assert.truthy(msg:find("another user", 1, true), msg)
    assert.equal("socket", require("netsock.core")._lstat(path))
  end)

  it("a dead endpoint's socket file of ours is reused; a live endpoint gives EADDRINUSE", function()
    local path = H.tmpname(".console")
    local s = assert(ns.socket("unix", "stream"))
    assert(s:bind(path)); s:close()              -- left by a program that died
    local ep = assert(console.listen(path))
    finally(function() ep:close() end)
    local msg = refused(path)                    -- ep listens there now
    assert.truthy(msg:find("listening", 1, true), msg)
    ep:close()
    assert.is_false(H.exists(path))              -- close removes what it made
  end)

  it("close removes the socket file only if it is still the one listen made", function()
    local path = H.tmpname(".console")
    local ep = assert(console.listen(path))
    finally(function() ep:close(); os.remove(path) end)
    assert(os.remove(path))                      -- someone replaced it
    H.writefile(path, "someone else's\n")
    ep:close()
    assert.equal("someone else's\n", H.readfile(path))
    -- and a new socket file of ours there is not ours to take either
    os.remove(path)
    local other = assert(console.listen(path))
    local ep2 = assert(console.listen(H.tmpname(".console")))
    other.made = ep2.made                        -- pretend: another inode
    other:close(); ep2:close()
    assert.is_true(H.exists(path))
    assert(os.remove(path))
  end)
end)

describe("netsock.console.listen options fail closed #console", function()
  local console = require "netsock.console"

  it("raises at the call naming a wrong path or option; nothing is made", function()
    local path = H.tmpname(".console")
    assert.has_error(function() console.listen(path, 5) end,
      "bad argument #2 to 'listen' (table expected, got number)")
    assert.has_error(function() console.listen(path, { mode = "0666" }) end,
      "bad argument #2 to 'listen' (unknown option 'mode')")
    assert.has_error(function() console.listen(path, { users = { 1000 } }) end,
      "bad argument #2 to 'listen' (unknown option 'users')")
    assert.has_error(function() console.listen(path, { env = "globals" }) end,
      "bad argument #2 to 'listen' (option 'env': table expected, got string)")
    assert.has_error(function() console.listen(path .. "\0x") end,
      "bad argument #1 to 'listen' (path empty or with a zero byte)")
    assert.has_error(function() console.listen("") end,
      "bad argument #1 to 'listen' (path empty or with a zero byte)")
    assert.is_false(H.exists(path))
  end)

  it("an I frame stops a busy chunk of the endpoint in this process (the watch hook under ASan and valgrind)", function()
    local path = H.tmpname(".console")
    local ep = assert(console.listen(path))
    finally(function() ep:close() end)
    local p = H.python([[
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
f = s.makefile("rb")
def frame():
    head = b""
    while not head.endswith(b":"):
        b = f.read(1)
        if not b: return None, b""
        head += b
    return head[:1], f.read(int(head[1:-1]))
def until_prompt():
    out = b""
    while True:
        k, d = frame()
        if k is None or k == b"P": return out
        out += d
def send(kind, data): s.sendall(kind + str(len(data)).encode() + b":" + data)
until_prompt()
for chunk in [b"while true do end", b"while true do pcall(function() while true do end end) end"]:
    send(b"L", chunk)
    time.sleep(0.3)
    send(b"I", b"")
    out = until_prompt()
    assert b"interrupted!" in out, out
send(b"L", b"=40 + 2")
out = until_prompt()
assert out == b"42\n", out
print("ok", flush=True)
s.close()
]], path)
    finally(function() p:kill() end)
    local ticks = 0
    H.run_bounded(30, function()
      ns.spawn(function()                      -- the loop runs between the chunks
        while p:running() do ticks = ticks + 1; ns.sleep(0.01) end
      end)
      while p:running() do ns.sleep(0.02) end
    end)
    assert.equal(0, p:wait(5), p:output())
    assert.equal("ok\n", p:output())
    assert.truthy(ticks > 0)
  end)

  -- A Ctrl-C that arrives with its line (one read of the endpoint, or
  -- before the session's task resumed) found no chunk running yet and was
  -- dropped: the chunk then ran with nothing left to stop it, and a chunk
  -- that never waits froze the program until the terminal went away
  -- (found by the task-loop fuzzer). The endpoint runs in a child, so a
  -- freeze shows as a timeout here.
  it("a Ctrl-C sent right behind its line stops that chunk, even one that never waits; one behind an unfinished chunk drops it; a detach behind a line runs nothing", function()
    local path = H.tmpname(".console")
    local p = H.lua([[
local ns = require "netsock"
local ep = assert(require("netsock.console").listen(arg[1]))
ns.spawn(function() while true do ns.sleep(0.05) end end)
print("ready"); io.stdout:flush()
ns.run()
]], path)
    finally(function() p:kill(); os.remove(path) end)
    assert.truthy(p:await("ready", 10), p:output())
    local fc = frameclient(path)
    finally(function() fc:close() end)
    assert.equal("", (fc:until_prompt()))
    for _, chunk in ipairs { "while true do end", "while true do pcall(function() while true do end end) end",
                             "netsock.sleep(30)" } do
      assert(fc.s:sendall(("L%d:%sI0:"):format(#chunk, chunk)))   -- one write
      local out, prompt = fc:until_prompt()
      assert.equal("netsock: interrupted!\n", out, chunk)
      assert.equal("> ", prompt)
    end
    assert(fc.s:sendall("L15:for i = 1, 2 doI0:"))               -- unfinished: dropped
    local out, prompt = fc:until_prompt()                        -- no ">>": a fresh "> "
    assert.are.same({ "", "> " }, { out, prompt })
    fc:send("L", "=40 + 2")
    assert.equal("42\n", (fc:until_prompt()))
    -- a detach right behind a line: its chunk never runs, nobody is there
    local chunk = "netsock.sleep(0.2) ran = true"
    assert(fc.s:sendall(("L%d:%s"):format(#chunk, chunk)))
    fc:close()
    ns.sleep(0.6)
    local fc2 = frameclient(path)
    finally(function() fc2:close() end)
    assert.equal("", (fc2:until_prompt()))
    fc2:send("L", "=ran")
    assert.equal("nil\n", (fc2:until_prompt()))
  end)

  -- A Ctrl-C that cancelled the chunk after its task was spawned but
  -- before it first ran (its frame read just after the line's) ran none
  -- of the chunk's <close> variables, and the session waited for the flag
  -- one of them sets: the console hung for good. The interrupter below
  -- runs in exactly that gap (the ready queue is FIFO).
  it("a Ctrl-C that cancels a chunk before it ever ran: the session goes on", function()
    local lines, out = { "ran = true", "=40 + 2" }, {}
    local term = { reading = false }
    function term:read(prompt)
      out[#out + 1] = prompt
      self.reading = false
      return table.remove(lines, 1)
    end
    function term:write(text) out[#out + 1] = text end
    function term:history() end
    function term:abandon() end
    local env = setmetatable({}, { __index = _G })
    local sess = console.session(term, { env = env, progname = "fz",
                                         print = function(...) out[#out + 1] = table.concat({ ... }, "\t") end })
    H.run_bounded(5, function()
      ns.spawn(function()
        while not sess.chunk do coroutine.yield() end
        sess:interrupt()                        -- the chunk's task has not run yet
      end)
      sess:loop()
    end)
    assert.is_nil(rawget(env, "ran"))
    assert.are.same({ "> ", "fz: interrupted!\n", "> ", "> " }, { out[1], out[2], out[3], out[#out] })
    assert.truthy(table.concat(out):find("42", 1, true))
    H.loop_clean()
  end)

  it("env: the chunks of an attached terminal see that table, not the globals", function()
    local path = H.tmpname(".console")
    local env = { answer = 42 }
    local ep = assert(console.listen(path, { env = env }))
    finally(function() ep:close() end)
    local got = {}
    H.run_bounded(10, function()
      local fc = frameclient(path)
      assert(fc:until_prompt())
      fc:send("L", "=answer, string")
      got[1] = fc:until_prompt()
      fc:send("L", "x = 7")
      assert(fc:until_prompt())
      fc:close()
    end)
    assert.equal("42\tnil\n", got[1])
    assert.equal(7, env.x)
    assert.is_nil(rawget(_G, "x"))
  end)
end)
