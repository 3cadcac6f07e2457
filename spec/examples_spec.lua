-- spec/examples_spec.lua: every script in examples/ runs as its own
-- process (lua5.4 with LUA_PATH/LUA_CPATH set to the checkout) against real
-- peers: python3, nc, curl, netsock itself. Servers start with --port 0 and
-- print "Listening on HOST:PORT" (or a line ending so) first: the port is
-- read from there. Every wait is bounded; every child is killed by PID.
local H = require "helpers"
-- service names ("http") come from /etc/services
H.needs { { file = "/etc/services", pkg = "netbase" } }
local ns = H.netsock

-- Every handle this spec opens is closed at once, never left to the
-- collector: other specs count this process's descriptors.
local function firstline(cmd)
  local p = io.popen(cmd)
  local l = p:read("l")
  p:close()
  return l
end

-- the children load the plain build (under make sanitize too: examples
-- run as they are, without the ASan runtime); without it each example
-- is pending, with the reason
local built = H.exists("build/netsock/core.so")
local function eit(name, fn)
  if built then it(name, fn) else pending(name .. " (needs the build: run make)") end
end

local q = H.shquote
local run, start = H.example, H.start_example

-- wait until the output of p matches pattern; the output, or nil and it
local function await(p, pattern, timeout)
  local deadline = ns.monotime() + (timeout or 5)
  repeat
    local out = p:output()
    if out:find(pattern) then return out end
    ns.sleep(0.02)
  until ns.monotime() > deadline
  return nil, p:output()
end

-- a port nobody listens on (bound, read back, closed)
local function freeport()
  local s, port = H.listen_local()
  s:close()
  return port
end

-- read from a netsock socket until pattern matches what came (5 s)
local function recv_until(sock, pattern)
  local got, deadline = "", ns.monotime() + 5
  sock:settimeout(0.1)
  while not got:find(pattern) and ns.monotime() < deadline do
    local data, msg = sock:recv(4096)
    if data then got = got .. data elseif msg ~= "timeout" then break end
  end
  return got
end

-- python3 -m http.server on 127.0.0.1, serving dir: process and port
local function http_server(dir)
  local port = freeport()
  local p = H.spawn(("python3 -m http.server --bind 127.0.0.1 --directory %s %d")
    :format(q(dir), port))
  local deadline = ns.monotime() + 10
  repeat
    local c = ns.create_connection("127.0.0.1", port, 1)
    if c then c:close() return p, port end
    ns.sleep(0.05)
  until ns.monotime() > deadline
  p:kill()
  error("python3 -m http.server did not start: " .. p:output())
end

local function lines_of(path)
  local t = {}
  for l in (H.readfile(path) or ""):gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

local CTIME = "%a%a%a %a%a%a [ %d]%d %d%d:%d%d:%d%d %d%d%d%d"

describe("examples", function()
  describe("every script", function()
    local scripts = {}
    local ls = io.popen("ls examples/*.lua")
    for f in ls:lines() do scripts[#scripts + 1] = f end
    ls:close()

    eit("opens with a usage line and takes --host and --port", function()
      assert.is_true(#scripts >= 25)
      for _, f in ipairs(scripts) do
        local name = f:match("examples/(.+)%.lua$")
        local first = firstline("head -n 1 " .. H.shquote(f))
        assert.truthy(first:find("^%-%- usage: lua5%.4 examples/" .. name:gsub("%p", "%%%0") .. "%.lua"), f)
        if name ~= "demo" and name ~= "tour" then
          assert.truthy(first:find("[--host H] [--port ", 1, true), f)
        end
      end
    end)

    eit("rejects an unknown option with status 2 and says why", function()
      local p = run("time_client", "--bogus 1")
      finally(function() p:kill() end)
      assert.equal(2, p:wait(5))
      assert.matches("bad option %-%-bogus", p:output())
    end)
  end)

  describe("time_server / time_client", function()
    eit("serves the time in ctime form to time_client and to nc", function()
      local srv, port = start("time_server")
      finally(function() srv:kill() end)
      local c = run("time_client", "--port " .. port)
      assert.equal(0, c:wait(5))
      assert.matches("^Current time: " .. CTIME .. "\n$", c:output())
      assert.matches(os.date("%Y"), c:output())
      local nc = H.spawn("nc -N 127.0.0.1 " .. port)
      assert.equal(0, nc:wait(5))
      assert.matches("^" .. CTIME .. "\n$", nc:output())
      assert.truthy(await(srv, "Connection from 127%.0%.0%.1:%d+\n.-Connection from 127%.0%.0%.1:%d+\n"))
    end)

    eit("time_client prints what a Python time server sends", function()
      local py, port = H.python_server([[
c.sendall(time.ctime(0).encode() + b"\n")
c.close()
]])
      finally(function() py:kill() end)
      local c = run("time_client", "--host 127.0.0.1 --port " .. port)
      assert.equal(0, c:wait(5))
      assert.equal("Current time: " .. os.date("%a %b %e %H:%M:%S %Y", 0) .. "\n", c:output())
      assert.equal(0, py:wait(5))
    end)

    eit("time_client reports a refused connection", function()
      local c = run("time_client", "--port " .. freeport())
      assert.equal(1, c:wait(5))
      assert.matches("cannot connect to 127%.0%.0%.1:%d+: Connection refused", c:output())
    end)
  end)

  describe("hello_server / hello_client", function()
    eit("thanks the client by host name and logs it", function()
      local hn = firstline("hostname")
      local srv, port = start("hello_server")
      finally(function() srv:kill() end)
      local c = run("hello_client", "--port " .. port)
      assert.equal(0, c:wait(5))
      local out = c:output()
      assert.truthy(out:find("This is " .. hn .. ", calling 127.0.0.1:" .. port, 1, true))
      assert.truthy(out:find("Thank you for connecting to " .. hn .. "\n", 1, true))
      assert.truthy(await(srv, "Got connection from 127%.0%.0%.1:%d+"))
      local py = H.python(([[
import socket
s = socket.create_connection(("127.0.0.1", %d), 5)
print(s.recv(1024).decode().strip())
]]):format(port))
      assert.equal(0, py:wait(5))
      assert.equal("Thank you for connecting to " .. hn, py:line(1))
    end)
  end)

  describe("upper_server / upper_client", function()
    eit("answers nc in upper case until nc closes, then serves the next", function()
      local srv, port = start("upper_server")
      finally(function() srv:kill() end)
      local input = H.tmpname(".txt")
      H.writefile(input, "hello\nworld, 42\n")
      for _ = 1, 2 do
        local nc = H.spawn("nc -N 127.0.0.1 " .. port, { stdin = input })
        assert.equal(0, nc:wait(5))
        assert.equal("HELLO\nWORLD, 42\n", nc:output())
      end
      assert.truthy(await(srv, "Disconnected: 127%.0%.0%.1:%d+\n.*Disconnected"))
      assert.matches("Connected: 127%.0%.0%.1:%d+", srv:output())
    end)

    eit("binds the --host it is given: ::1 with nc -6", function()
      if not H.has_ipv6 then return pending("no ::1 here") end
      local srv, port = start("upper_server", "--host ::1")
      finally(function() srv:kill() end)
      assert.equal("Listening on ::1:" .. port, srv:line(1))
      local nc = H.spawn("printf 'six\\n' | nc -6 -N ::1 " .. port)
      assert.equal(0, nc:wait(5))
      assert.equal("SIX\n", nc:output())
      assert.truthy(await(srv, "Connected: ::1:%d+"))
    end)

    eit("upper_client sends stdin lines and stops at q", function()
      local srv, port = start("upper_server")
      finally(function() srv:kill() end)
      local input = H.tmpname(".txt")
      H.writefile(input, "abc\nMixed Case 1\n\nq\nnot sent\n")
      local c = run("upper_client", "--port " .. port, { stdin = input })
      assert.equal(0, c:wait(5))
      assert.equal("ABC\nMIXED CASE 1\n\n", c:output())
      assert.truthy(await(srv, "Disconnected"))
    end)
  end)

  describe("echo_server / echo_client", function()
    eit("echoes one client's message and exits", function()
      local srv, port = start("echo_server")
      finally(function() srv:kill() end)
      local c = run("echo_client", "--port " .. port .. " --message " .. q "hello, world!")
      assert.equal(0, c:wait(5))
      assert.equal("hello, world!\n", c:output())
      assert.equal(0, srv:wait(5))
      assert.matches("Client connected: 127%.0%.0%.1:%d+\nConnection closed: 127%.0%.0%.1:%d+\n$", srv:output())
    end)

    eit("--forever serves clients one after another with progress lines, 200 kB intact", function()
      local srv, port = start("echo_server", "--forever")
      finally(function() srv:kill() end)
      local py = H.python(([[
import socket
s = socket.create_connection(("127.0.0.1", %d), 5)
data = bytes(range(256)) * 800
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b: break
    got += b
print("same" if got == data else "differ %%d" %% len(got))
]]):format(port))
      assert.equal(0, py:wait(10))
      assert.equal("same", py:line(1))
      local c = run("echo_client", "--port " .. port .. " --message again")
      assert.equal(0, c:wait(5))
      assert.equal("again\n", c:output())
      local out = assert(await(srv, "Connection closed.*Connection closed"))
      assert.matches("Received from 127%.0%.0%.1:%d+: again\nSent to 127%.0%.0%.1:%d+: again\n", out)
      assert.is_true(srv:running())
    end)
  end)

  describe("live_server", function()
    eit("greets and answers several clients at once", function()
      local srv, port = start("live_server")
      finally(function() srv:kill() end)
      local a = assert(ns.create_connection("127.0.0.1", port, 5))
      local b = assert(ns.create_connection("127.0.0.1", port, 5))
      finally(function() a:close() b:close() end)
      assert.equal("Welcome to the server. Type something and hit enter\n", recv_until(b, "\n"))
      assert.equal("Welcome to the server. Type something and hit enter\n", recv_until(a, "\n"))
      assert(b:sendall("from b\n"))
      assert.equal("OK...from b\n", recv_until(b, "\n"))
      assert(a:sendall("from a\n"))
      assert.equal("OK...from a\n", recv_until(a, "\n"))
      local nc = H.spawn("printf 'hi\\n' | nc -N 127.0.0.1 " .. port)
      assert.equal(0, nc:wait(5))
      assert.matches("^Welcome.-\nOK%.%.%.hi\n$", nc:output())
      assert.truthy(await(srv, "Connected with 127%.0%.0%.1:%d+.*Connected with.*Connected with"))
    end)

    eit("--limit 1 makes the second client wait for the first", function()
      local srv, port = start("live_server", "--limit 1")
      finally(function() srv:kill() end)
      local a = assert(ns.create_connection("127.0.0.1", port, 5))
      finally(function() a:close() end)
      assert.matches("^Welcome", recv_until(a, "\n"))
      local b = assert(ns.create_connection("127.0.0.1", port, 5))
      finally(function() b:close() end)
      b:settimeout(0.5)
      assert.same({ nil, "timeout", "timeout" }, { b:recv(100) })
      a:close()
      assert.matches("^Welcome", recv_until(b, "\n"))
    end)
  end)

  describe("nonblocking_accept", function()
    eit("prints its waiting line until a client comes", function()
      local srv, port = start("nonblocking_accept")
      finally(function() srv:kill() end)
      assert.truthy(await(srv, "Waiting for connection%.%.%.\nWaiting for connection%.%.%.\n", 5))
      local c = assert(ns.create_connection("127.0.0.1", port, 5))
      finally(function() c:close() end)
      assert.equal("Hello from a non-blocking accept loop\n", recv_until(c, "\n"))
      assert.equal(0, srv:wait(5))
      assert.matches("Connected: 127%.0%.0%.1:%d+\n$", srv:output())
    end)
  end)

  describe("select_server", function()
    eit("polls once a second until a client comes", function()
      local srv, port = start("select_server")
      finally(function() srv:kill() end)
      assert.truthy(await(srv, "Waiting for connection%.%.%.\nWaiting for connection%.%.%.\n", 5))
      local nc = H.spawn("nc -N 127.0.0.1 " .. port)
      assert.equal(0, nc:wait(5))
      assert.equal("Hello from a select() loop\n", nc:output())
      assert.equal(0, srv:wait(5))
      assert.matches("Connected: 127%.0%.0%.1:%d+\n$", srv:output())
    end)
  end)

  describe("chat_server / chat_client", function()
    local function fifo()
      local path = H.tmpname(".fifo")
      assert(os.execute("mkfifo " .. q(path)))
      -- read-write: opening does not wait for the reader, and the reader
      -- sees no end of file while we hold it
      return path, assert(io.open(path, "r+"))
    end

    eit("relays lines between clients, announces joins and leaves, quits", function()
      local sin, sw = fifo()
      local srv, port = start("chat_server", "", { stdin = sin })
      local in1, w1 = fifo()
      local in2, w2 = fifo()
      local c1 = run("chat_client", "--port " .. port, { stdin = in1 })
      local c2
      finally(function()
        srv:kill() c1:kill() if c2 then c2:kill() end
        sw:close() w1:close() w2:close()
      end)
      assert.truthy(await(c1, "Welcome 127%.0%.0%.1:%d+, type quit"))
      c2 = run("chat_client", "--port " .. port, { stdin = in2 })
      assert.truthy(await(c2, "Welcome 127%.0%.0%.1:%d+, type quit"))
      local name2 = c2:output():match("Welcome (127%.0%.0%.1:%d+)")
      -- c1 hears c2 join, then c2's first line
      assert.truthy(await(c1, "%* " .. name2:gsub("%p", "%%%0") .. " joined the chat"))
      assert.truthy(await(c1, "%[" .. name2:gsub("%p", "%%%0") .. "%] i am client at 127%.0%.0%.1:%d+"))
      w1:write("hello from one\n") w1:flush()
      assert.truthy(await(c2, "%] hello from one\n"))
      -- nc joins, speaks and leaves; both clients hear it
      local nc = H.spawn("printf 'nc says hi\\n' | nc -N 127.0.0.1 " .. port)
      assert.equal(0, nc:wait(5))
      assert.truthy(await(c1, "%] nc says hi\n"))
      assert.truthy(await(c2, "%] nc says hi\n.*left the chat"))
      w2:write("quit\n") w2:flush()
      assert.equal(0, c2:wait(5))
      assert.truthy(await(c1, "%* " .. name2:gsub("%p", "%%%0") .. " left the chat"))
      assert.falsy(c2:output():find("hello from one\n.*hello from one"))  -- once, not echoed
      sw:write("quit\n") sw:flush()
      assert.equal(0, srv:wait(5))
      assert.equal(0, c1:wait(5))
      assert.truthy(c1:output():find("* the server is closing\n", 1, true))
      assert.matches("%[127%.0%.0%.1:%d+%] hello from one", srv:output())
    end)

    -- the broadcast chat of issue 17: one client resets, one never reads,
    -- 200 come and go at random (some by reset); two others talk through
    -- it all and every line arrives, in order
    eit("serves the others through resets, a client that never reads and 200 coming and going", function()
      local sin, sw = fifo()
      local srv, port = start("chat_server", "", { stdin = sin })
      finally(function() srv:kill() sw:close() end)
      local p = H.python([[
import random, socket, struct, sys, threading, time
port = int(sys.argv[1])
random.seed(17)
def conn(rcvbuf=None):
    c = socket.socket()
    if rcvbuf: c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    c.settimeout(30)
    c.connect(("127.0.0.1", port))
    return c
def reset(c):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
class Lines:
    def __init__(self, c): self.c, self.buf = c, b""
    def next(self):
        while b"\n" not in self.buf:
            d = self.c.recv(65536)
            if not d: return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()
a, b = conn(), conn()
la, lb = Lines(a), Lines(b)
name_a = la.next().split()[1].rstrip(",")   # "Welcome HOST:PORT, ..."
lb.next()
never = conn(4096)                          # never reads a byte
never.sendall(b"i will not read\n")
r = conn(); r.sendall(b"about to reset\n"); time.sleep(0.05); reset(r)
def churn(i):
    time.sleep(random.random() * 1.5)
    try:
        c = conn()
        if random.random() < 0.5: c.sendall(b"churn %d\n" % i)
        time.sleep(random.random() * 0.5)
        if random.random() < 0.3: reset(c)
        else: c.close()
    except OSError as e:
        print("churner failed", i, e, flush=True)
threads = [threading.Thread(target=churn, args=(i,)) for i in range(200)]
for t in threads: t.start()
N, pad = 1500, "x" * 1000
got, bad = [], []
def reader():
    while len(got) < N:
        line = lb.next()
        if line is None: bad.append("b was dropped"); return
        if line.startswith("[%s] " % name_a): got.append(line)
rt = threading.Thread(target=reader); rt.start()
t0 = time.monotonic()
for i in range(N):
    a.sendall(("%d %s\n" % (i, pad)).encode())
    if i % 50 == 49: time.sleep(0.01)
rt.join(60)
for t in threads: t.join(10)
ok = len(got) == N and all(g.split()[1] == str(i) for i, g in enumerate(got))
print("got", len(got), "in order" if ok else "OUT OF ORDER", "%.1f s" % (time.monotonic() - t0), *bad, flush=True)
c = conn(); print("after:", Lines(c).next(), flush=True)
]], port)
      finally(function() p:kill() end)
      assert.equal(0, p:wait(90), p:output())
      local out = p:output()
      assert.matches("got 1500 in order", out)
      assert.matches("after: Welcome 127", out)
      assert.falsy(out:find("churner failed"), out)
      assert.falsy(srv:output():find("failed"), srv:output())   -- no task died
    end)
  end)

  describe("udp_sender / udp_receiver", function()
    eit("4096 symbols from the sender, and from Python", function()
      local rcv, port = start("udp_receiver")
      finally(function() rcv:kill() end)
      local s = run("udp_sender", "--port " .. port)
      assert.equal(0, s:wait(5))
      assert.equal(("Sent 4096 symbols to 127.0.0.1:%d\n"):format(port), s:output())
      assert.truthy(await(rcv, "Received 4096 symbols from 127%.0%.0%.1:%d+\n"))
      local py = H.python(([[
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"b" * 100, ("127.0.0.1", %d))
]]):format(port))
      assert.equal(0, py:wait(5))
      assert.truthy(await(rcv, "Received 100 symbols from 127%.0%.0%.1:%d+\n"))
    end)

    eit("over ::1 when --host says so", function()
      if not H.has_ipv6 then return pending("no ::1 here") end
      local rcv, port = start("udp_receiver", "--host ::1")
      finally(function() rcv:kill() end)
      local s = run("udp_sender", "--host ::1 --port " .. port)
      assert.equal(0, s:wait(5))
      assert.truthy(await(rcv, "Received 4096 symbols from ::1:%d+\n"))
    end)

    eit("a Python receiver gets the sender's 4096 bytes", function()
      local py = H.python([[
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(5)
print(s.getsockname()[1])
data, addr = s.recvfrom(65536)
print(len(data), set(data.decode()))
]])
      finally(function() py:kill() end)
      local port = assert(tonumber(py:line(5)))
      local s = run("udp_sender", "--port " .. port)
      assert.equal(0, s:wait(5))
      assert.equal(0, py:wait(5))
      assert.equal("4096 {'a'}", py:line(5, 2))
    end)
  end)

  describe("udp_echo_server / udp_client", function()
    eit("echoes the prompts' lines back", function()
      local srv, port = start("udp_echo_server")
      finally(function() srv:kill() end)
      local input = H.tmpname(".txt")
      H.writefile(input, "ping\nsecond line\n")
      local c = run("udp_client", "--port " .. port, { stdin = input })
      assert.equal(0, c:wait(5))
      assert.equal("Enter message to send: Server reply : ping\n"
        .. "Enter message to send: Server reply : second line\n"
        .. "Enter message to send: \n", c:output())
      assert.truthy(await(srv, "127%.0%.0%.1:%d+ says: ping\n.*says: second line\n"))
      local py = H.python(([[
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"from python", ("127.0.0.1", %d))
print(s.recvfrom(1024)[0].decode())
]]):format(port))
      assert.equal(0, py:wait(5))
      assert.equal("from python", py:line(1))
    end)

    eit("udp_client reports a lost reply and a resolver error", function()
      local quiet = assert(ns.udp())      -- bound, never answers
      finally(function() quiet:close() end)
      assert(quiet:bind("127.0.0.1", 0))
      local _, port = quiet:getsockname()
      local input = H.tmpname(".txt")
      H.writefile(input, "anyone?\n")
      local c = run("udp_client", "--port " .. port .. " --timeout 0.3", { stdin = input })
      assert.equal(0, c:wait(5))
      assert.matches("No reply within 0%.3 s", c:output())
      assert.equal("anyone?", (quiet:recvfrom(100)))
      local bad = run("udp_client", "--port no-such-service", { stdin = input })
      assert.equal(1, bad:wait(5))
      assert.matches("Error code: EAI_SERVICE Message: %S", bad:output())
    end)
  end)

  describe("timeout_server", function()
    eit("times out accept and recv, and serves a client that speaks", function()
      local srv, port = start("timeout_server", "--timeout 0.3")
      finally(function() srv:kill() end)
      assert.truthy(await(srv, "No client within 0%.3 s, still waiting\n"))
      local silent = assert(ns.create_connection("127.0.0.1", port, 5))
      finally(function() silent:close() end)
      assert.equal("Too slow, goodbye\n", recv_until(silent, "\n"))
      assert.truthy(await(srv, "Client sent no data within 0%.3 s\n"))
      local py = H.python(([[
import socket
s = socket.create_connection(("127.0.0.1", %d), 5)
s.sendall(b"ping")
print(s.recv(100).decode().strip())
]]):format(port))
      assert.equal(0, py:wait(5))
      assert.equal("Thanks, got 4 bytes", py:line(1))
      assert.truthy(await(srv, "Client sent: ping\n"))
    end)
  end)

  describe("sensor_client / metrics_server", function()
    local RECORD = "^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d, load1, %d+%.%d%d$"

    local function await_lines(path, n)
      local deadline = ns.monotime() + 10
      while #lines_of(path) < n and ns.monotime() < deadline do ns.sleep(0.05) end
      return lines_of(path)
    end

    eit("over TCP keeps every record while clients come and go", function()
      local file = H.tmpname(".log")
      local srv, port = start("metrics_server", "--file " .. q(file))
      finally(function() srv:kill() end)
      local sensors = {}
      for k = 1, 3 do
        sensors[k] = run("sensor_client", "--port " .. port .. " --interval 0.1 --count 5")
      end
      local py = H.python(([[
import socket, time
port = %d
a = socket.create_connection(("127.0.0.1", port), 5)       # a burst
a.sendall(b"".join(b"2026-01-01 00:00:%%02d, burst, %%d.00\n" %% (i %% 60, i) for i in range(50)))
a.close()
b = socket.create_connection(("127.0.0.1", port), 5)       # no final newline
b.sendall(b"2026-01-01 00:00:00, unterminated, 1.00")
b.close()
c = socket.create_connection(("127.0.0.1", port), 5)       # a record in two pieces
c.sendall(b"2026-01-01 00:00:00, spl")
time.sleep(0.2)
c.sendall(b"it, 2.00\n")
c.close()
]]):format(port))
      assert.equal(0, py:wait(10))
      for k = 1, 3 do assert.equal(0, sensors[k]:wait(10)) end
      local lines = await_lines(file, 15 + 52)
      assert.equal(15 + 52, #lines)
      local bursts, sensed = 0, 0
      for _, l in ipairs(lines) do
        if l:find(", burst, ") then bursts = bursts + 1 end
        if l:find(RECORD) then sensed = sensed + 1 end
      end
      assert.equal(50, bursts)
      assert.equal(15, sensed)
      local all = table.concat(lines, "\n")
      assert.truthy(all:find("2026-01-01 00:00:00, unterminated, 1.00", 1, true))
      assert.truthy(all:find("2026-01-01 00:00:00, split, 2.00", 1, true))
      assert.matches("sent: %d%d%d%d%-.-, load1, ", sensors[1]:output())
      assert.truthy(await(srv, "connected.*left"))
    end)

    eit("over UDP writes each datagram's records", function()
      local file = H.tmpname(".log")
      local srv, port = start("metrics_server", "--udp --file " .. q(file))
      finally(function() srv:kill() end)
      local sensor = run("sensor_client", "--udp --port " .. port .. " --interval 0.1 --count 3")
      assert.equal(0, sensor:wait(10))
      local py = H.python(([[
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
    b"2026-01-01 00:00:00, a, 1.00\n2026-01-01 00:00:01, b, 2.00\n", ("127.0.0.1", %d))
]]):format(port))
      assert.equal(0, py:wait(5))
      local lines = await_lines(file, 5)
      assert.equal(5, #lines)
      local sensed = 0
      for _, l in ipairs(lines) do if l:find(RECORD) then sensed = sensed + 1 end end
      assert.equal(3, sensed)
    end)
  end)

  describe("http_get", function()
    eit("fetches a page from python3 -m http.server", function()
      local dir = H.tmpname(".d")
      assert(os.execute("mkdir " .. q(dir)))
      H.writefile(dir .. "/hello.txt", "hello from python's http.server\n")
      local web, port = http_server(dir)
      finally(function() web:kill() end)
      for _, host in ipairs { "127.0.0.1", "localhost" } do
        local c = run("http_get", ("--host %s --port %d --path /hello.txt"):format(host, port))
        assert.equal(0, c:wait(10))
        local out = c:output()
        assert.truthy(out:find("IP address of " .. host .. " is 127.0.0.1\n", 1, true))
        assert.matches("\nHTTP/1%.[01] 200 OK\r\n", out)
        assert.truthy(out:find("\r\n\r\nhello from python's http.server\n", 1, true))
      end
      local refused = run("http_get", "--host 127.0.0.1 --port " .. freeport())
      assert.equal(3, refused:wait(5))
      assert.matches("Connect failed: Connection refused", refused:output())
    end)
  end)

  describe("socket_errors", function()
    eit("prints the reply of a working server and exits 0", function()
      local dir = H.tmpname(".d")
      assert(os.execute("mkdir " .. q(dir)))
      H.writefile(dir .. "/page.txt", "the page\n")
      local web, port = http_server(dir)
      finally(function() web:kill() end)
      local c = run("socket_errors", "--port " .. port .. " --file /page.txt")
      assert.equal(0, c:wait(10))
      assert.matches("^HTTP/1%.[01] 200 OK\r\n", c:output())
      assert.matches("\r\n\r\nthe page\n$", c:output())
    end)

    eit("gives each failure its own message and exit status", function()
      -- 2: the resolver (an unknown service name: no network needed)
      local c = run("socket_errors", "--port no-such-service")
      assert.equal(2, c:wait(5))
      assert.matches("^Address%-related error connecting to server: .+ %(EAI_SERVICE%)\n$", c:output())
      -- 3: nobody listening
      c = run("socket_errors", "--port " .. freeport())
      assert.equal(3, c:wait(5))
      assert.matches("^Connection error: Connection refused %(ECONNREFUSED%)\n$", c:output())
      -- 5: a server that never answers (the backlog completes the connect)
      local silent, port = H.listen_local()
      finally(function() silent:close() end)
      c = run("socket_errors", "--port " .. port .. " --timeout 0.3")
      assert.equal(5, c:wait(5))
      assert.matches("^Error receiving data: timeout %(timeout%)\n$", c:output())
      -- 5: a server that reads the request, then resets the connection
      local py, pyport = H.python_server([[
c.recv(1024)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
]])
      finally(function() py:kill() end)
      c = run("socket_errors", "--port " .. pyport)
      assert.equal(5, c:wait(5))
      assert.matches("^Error receiving data: .+ %(ECONNRESET%)\n$", c:output())
    end)
  end)

  describe("port_scanner", function()
    eit("finds a listening port on 127.0.0.1", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local first = math.max(1, port - 3)
      local last = math.min(65535, first + 6)
      local c = run("port_scanner", ("--port %d-%d --timeout 1"):format(first, last))
      assert.equal(0, c:wait(10))
      local out = c:output()
      assert.matches("\n?" .. port .. " open", out)
      assert.matches(("Scanned %d ports of 127%%.0%%.0%%.1 %%(127%%.0%%.0%%.1%%) in [%%d.]+ s: %%d+ open\n$")
        :format(last - first + 1), out)
    end)

    eit("refuses a non-loopback target without --allow-remote", function()
      local c = run("port_scanner", "--host 192.0.2.1 --port 80")  -- TEST-NET-1, numeric
      assert.equal(2, c:wait(5))
      assert.matches("refusing to scan 192%.0%.2%.1 %(192%.0%.2%.1%): not this machine; add %-%-allow%-remote", c:output())
      assert.falsy(c:output():find("Scanned"))
    end)
  end)

  describe("addrinfo", function()
    eit("prints the host name and the addresses of localhost", function()
      local hn = firstline("hostname")
      local c = run("addrinfo")
      assert.equal(0, c:wait(5))
      local out = c:output()
      assert.truthy(out:find("gethostname()          " .. hn .. "\n", 1, true))
      assert.matches('getaddrinfo%("localhost", "http"%)  %d+ entries:\n', out)
      assert.matches("family inet   type stream proto 6   host 127%.0%.0%.1%s+port 80\n", out)
      assert.matches("gethostbyname%(%)%s+127%.0%.0%.1\n", out)
      assert.matches("getservbyport%(80%)%s+http\n", out)
      assert.matches('getprotobyname%("tcp"%)  6\n', out)
    end)
  end)

  describe("buffers", function()
    eit("sets the buffer sizes, reads them back and fills them", function()
      local c = run("buffers", "--size 65536")
      assert.equal(0, c:wait(10))
      local out = c:output()
      local snd, rcv = out:match("after setting 65536:%s+SO_SNDBUF%s+(%d+)%s+SO_RCVBUF%s+(%d+)")
      assert.is_true(tonumber(snd) >= 65536)  -- Linux doubles it
      assert.is_true(tonumber(rcv) >= 65536)
      local took = tonumber(out:match("the kernel took (%d+) bytes"))
      assert.is_true(took > 0)
    end)
  end)

  describe("framing", function()
    eit("keeps message boundaries over a stream", function()
      local c = run("framing")
      assert.equal(0, c:wait(10))
      assert.equal('message 1: {id=1, user="ada"}\n'
        .. 'message 2: {1="a", 2="list", 3=3.5}\n'
        .. 'message 3: {nested={n=42, ok=true}, text="bytes arrive as they please"}\n'
        .. "3 messages, boundaries intact\n", c:output())
    end)
  end)

  describe("http_hello", function()
    eit("answers curl, keeping the connection alive", function()
      local srv, port = start("http_hello")
      finally(function() srv:kill() end)
      local url = ("http://127.0.0.1:%d/"):format(port)
      local c = H.spawn(("curl -sS --max-time 5 %s %s -v"):format(url, url))
      assert.equal(0, c:wait(10))
      local out = c:output()
      local _, hellos = out:gsub("Hello, World!\n", "")
      assert.equal(2, hellos)
      assert.matches("< HTTP/1%.1 200 OK", out)
      assert.matches("[Rr]e%-?using existing connection", out)
      local one = H.spawn(("curl -sS --max-time 5 --http1.0 %s"):format(url))
      assert.equal(0, one:wait(10))
      assert.equal("Hello, World!\n", one:output())
    end)

    -- run as H.lua runs a script: on the sanitized core under make sanitize
    it("answers curl, keep-alive and HTTP/1.0 (as an H.lua child)", function()
      local probe = assert(ns.create_server("127.0.0.1", 0))
      local _, port = probe:getsockname()
      probe:close()
      local p = H.lua(H.readfile("examples/http_hello.lua"), "--port", port)
      finally(function() p:kill() end)
      assert.matches("serving on http://127%.0%.0%.1:" .. port, p:line(10) or "")
      -- H.spawn, not io.popen: curl hangs with the ASan runtime preloaded
      -- (make sanitize), and H.spawn starts children without it
      local c = H.spawn(("curl -s -m 5 -w ' %%{num_connects}' http://127.0.0.1:%d/a http://127.0.0.1:%d/b"
        .. " && curl -s -m 5 --http1.0 -i http://127.0.0.1:%d/"):format(port, port, port))
      finally(function() c:kill() end)
      assert.equal(0, c:wait(15), c:output())
      local out = c:output()
      -- two requests on one connection: curl made 1 connect, then 0
      assert.matches("^Hello, World!\n 1Hello, World!\n 0", out)
      assert.matches("HTTP/1.1 200 OK", out)
      assert.matches("Connection: close", out)
    end)
  end)

  describe("demo and tour", function()
    eit("demo.lua still runs", function()
      local c = run("demo")
      assert.equal(0, c:wait(10))
      assert.matches("server: got     hello\n", c:output())
      assert.matches("done\n$", c:output())
    end)

    eit("tour.lua runs servers and clients and stops them within 15 s", function()
      local c = run("tour")
      finally(function() c:kill() end)
      assert.equal(0, c:wait(15))
      local out = c:output()
      assert.matches("\n    Current time: " .. CTIME .. "\n", out)
      assert.matches("\n    SOCKETS ARE STREAMS\n", out)
      assert.matches("\n    hello, world!\n", out)
      assert.matches("\n    3 messages, boundaries intact\n", out)
      assert.matches("%-%- echo_server%.lua said:\n    Listening on 127%.0%.0%.1:%d+\n", out)
      assert.matches("\n    Received 4096 symbols from 127%.0%.0%.1:%d+\n", out)
      -- the servers it started are gone
      for port in out:gmatch("%-> +Listening on 127%.0%.0%.1:(%d+)") do
        ns.sleep(0.1)
        assert.is_nil(ns.create_connection("127.0.0.1", tonumber(port), 1))
      end
    end)
  end)
end)
