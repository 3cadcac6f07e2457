-- spec/fault_spec.lua: fault injection with real peers. Peers that
-- reset mid-transfer, half-close, never read, trickle, flood a line
-- without end; descriptors running out (EMFILE); system calls
-- interrupted by signals (EINTR, injected with strace); a listener
-- closed under a waiting task. Each failure must come back as
-- nil, message, code with the right code, and nothing may be lost.

local H = require "helpers"
local ns = H.netsock

-- a python client that sends 'data' one byte at a time, 'gap' seconds
-- apart, then closes: our accepted end and the process
local function trickler(data, gap)
  return H.python_client([[
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for b in sys.argv[2].encode("latin-1"):
    c.sendall(bytes([b]))
    time.sleep(float(sys.argv[3]))
c.close()
]], data, gap)
end

describe("fault injection", function()

  describe("a peer that resets the connection (SO_LINGER 0)", function()
    it("recv gives ECONNRESET, not closed", function()
      local a, p = H.python_client([[
c.sendall(b"partial data")
c.recv(10)  # wait until the other side has read it and says go
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
print("reset", flush=True)
]])
      finally(function() a:close() p:kill() end)
      a:settimeout(5)
      local got = ""
      while #got < 12 do got = got .. assert(a:recv(12 - #got)) end
      assert.are.equal("partial data", got)
      assert.is_true(a:sendall("go"))
      assert.are.equal("reset", p:line(5))
      local d, msg, code = a:recv(10)
      assert.is_nil(d)
      assert.are.equal("ECONNRESET", code)
      assert.are_not.equal("closed", msg)
      assert.is_string(msg)
      -- and after the reset the socket says so again, then closes cleanly
      local _, _, code2 = a:recv(10)
      assert.is_truthy(code2 == "closed" or code2 == "ECONNRESET")
      assert.is_true(a:close())
    end)

    it("sendall mid-transfer gives ECONNRESET or EPIPE with the bytes sent", function()
      local a, p = H.python_client([[
got = 0
while got < 100000:
    got += len(c.recv(65536))
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
print("reset", got, flush=True)
]])
      finally(function() a:close() p:kill() end)
      a:settimeout(10)
      local big = ("x"):rep(64 * 1024 * 1024)
      local ok, msg, code, sent = a:sendall(big)
      assert.is_nil(ok)
      assert.is_truthy(code == "ECONNRESET" or code == "EPIPE", tostring(code))
      assert.is_string(msg)
      assert.are.equal("integer", math.type(sent))
      assert.is_true(sent >= 100000 and sent < #big)
      assert.matches("^reset", p:line(5))
      -- no SIGPIPE: we are still here, and a further send fails the same way
      local n, _, code2 = a:send("more")
      assert.is_nil(n)
      assert.is_truthy(code2 == "EPIPE" or code2 == "ECONNRESET")
      -- and sendall, whose first send fails: nothing sent
      local ok3, msg3, code3, sent3 = a:sendall("more")
      assert.is_nil(ok3)
      assert.is_string(msg3)
      assert.is_truthy(code3 == "EPIPE" or code3 == "ECONNRESET", tostring(code3))
      assert.equal(0, sent3)
    end)
  end)

  describe("a peer that half-closes", function()
    it("its end of stream reads as closed while we can still send", function()
      local a, p = H.python_client([[
c.sendall(b"last words")
c.shutdown(socket.SHUT_WR)
data = b""
while True:
    d = c.recv(65536)
    if not d: break
    data += d
print("got", len(data), data[:5].decode(), flush=True)
]])
      finally(function() a:close() p:kill() end)
      a:settimeout(5)
      local data, msg, code = H.drain(a)
      assert.are.equal("last words", data)
      assert.are.equal("closed", msg)
      assert.are.equal("closed", code)
      -- end of stream stays end of stream
      assert.are.same({ nil, "closed", "closed" }, { a:recv(10) })
      -- the other direction still works
      assert.are.equal(200000, #("hello"):rep(40000))
      assert.is_true(a:sendall(("hello"):rep(40000)))
      assert.is_true(a:shutdown("w"))
      assert.are.equal("got 200000 hello", p:line(5))
    end)

    it("our half-close lets the peer answer after our end of stream", function()
      local p, pport = H.python_server([[
n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(b"you sent %d" % n)
c.close()
]])
      finally(function() p:kill() end)
      local c = assert(ns.create_connection("127.0.0.1", pport, 5))
      finally(function() c:close() end)
      assert.is_true(c:sendall(("z"):rep(123456)))
      assert.is_true(c:shutdown("w"))
      local data, _, code = H.drain(c)
      assert.are.equal("you sent 123456", data)
      assert.are.equal("closed", code)
    end)
  end)

  describe("a peer that never reads", function()
    it("sendall times out with the byte count, and nothing is lost", function()
      local srv, port = H.listen_local()
      finally(function() srv:close() end)
      local N = 8 * 1024 * 1024
      local data = H.pattern(N)
      assert.are.equal(N, #data)
      local go = H.tmpname(".go")  -- the peer reads once this file exists
      local p = H.python([[
import os, socket, sys, time
n = int(sys.argv[2])
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
c.connect(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
while not os.path.exists(sys.argv[3]):  # read nothing: the sender's buffer fills
    time.sleep(0.01)
data = bytearray()
while len(data) < n:
    d = c.recv(1 << 20)
    if not d: break
    data += d
want = ]] .. H.PY_PATTERN .. [[

print("ok" if bytes(data) == want else "differ", len(data), flush=True)
]], port, N, go)
      finally(function() p:kill() end)
      srv:settimeout(5)
      local a = assert(srv:accept())
      finally(function() a:close() end)
      assert.are.equal("connected", p:line(5))
      assert.is_true(a:setoption("sndbuf", 65536))
      a:settimeout(0.3)
      local t0 = ns.monotime()
      local ok, msg, code, sent = a:sendall(data)
      local took = ns.monotime() - t0
      assert.is_nil(ok)
      assert.are.equal("timeout", msg)
      assert.are.equal("timeout", code)
      assert.are.equal("integer", math.type(sent))
      assert.is_true(sent > 0 and sent < N, "sent " .. tostring(sent))
      assert.is_true(took >= 0.29 and took < 1.5, "took " .. took)
      H.writefile(go, "go")
      -- the rest, from where it stopped, once the peer reads again
      a:settimeout(20)
      assert.is_true(a:sendall(data, sent + 1))
      assert.are.equal("ok " .. N, p:line(20, 2))
    end)
  end)

  describe("a peer that trickles a byte at a time", function()
    it("recv with short deadlines times out in between and loses nothing", function()
      local a, p = trickler("slow line\r\nnext\n", 0.03)
      finally(function() a:close() p:kill() end)
      a:settimeout(0.01)
      local got, timeouts = {}, 0
      local deadline = ns.monotime() + 10
      while ns.monotime() < deadline do
        local t0 = ns.monotime()
        local d, msg, code = a:recv(100)
        local took = ns.monotime() - t0
        assert.is_true(took < 1, "a 10 ms deadline took " .. took)
        if d then got[#got + 1] = d
        elseif code == "timeout" then timeouts = timeouts + 1
        else
          assert.are.equal("closed", code)
          break
        end
      end
      assert.are.equal("slow line\r\nnext\n", table.concat(got))
      assert.is_true(timeouts > 0)
    end)

    it("f:read('l') completes lines and its deadline holds across timeouts", function()
      local a, p = trickler("first line\r\nsecond\nthird", 0.02)
      finally(function() a:close() p:kill() end)
      local f = a:makefile("r")
      -- short deadlines: timeouts, and the partial line stays buffered
      a:settimeout(0.05)
      local lines, timeouts = {}, 0
      local deadline = ns.monotime() + 10
      while ns.monotime() < deadline and #lines < 3 do
        local t0 = ns.monotime()
        local l, msg, code = f:read("l")
        assert.is_true(ns.monotime() - t0 < 1)
        if l then lines[#lines + 1] = l
        elseif code == "timeout" then
          assert.are.equal("timeout", msg)
          timeouts = timeouts + 1
        else
          assert.are.equal("closed", code)
          break
        end
      end
      assert.are.same({ "first line", "second", "third" }, lines)
      assert.is_true(timeouts > 0)
      assert.are.same({ nil, "closed", "closed" }, { f:read("l") })
    end)
  end)

  describe("a peer that floods a line without end", function()
    it("f:read('l') stops at the limit with overflow and buffers no more", function()
      local a, p = H.python_client([[
chunk = b"A" * 65536
try:
    for _ in range(20000):  # up to 1.3 GB, never a newline
        c.sendall(chunk)
except OSError:
    pass
]])
      finally(function() a:close() p:kill() end)
      a:settimeout(10)
      local f = a:makefile("r")
      f:setlimit(256 * 1024)
      collectgarbage()
      local before = collectgarbage("count")
      local l, msg, code = f:read("l")
      assert.is_nil(l)
      assert.are.equal("overflow", code)
      assert.is_string(msg)
      -- the buffer holds at most the limit (plus one refill)
      assert.is_true(a:pending() <= 256 * 1024 + 65536, "pending " .. a:pending())
      assert.is_true(collectgarbage("count") - before < 4096, "Lua memory grew")
      -- the default limit holds too
      local g = a:makefile("r")
      local l2, _, code2 = g:read("L")
      assert.is_nil(l2)
      assert.are.equal("overflow", code2)
      assert.is_true(a:pending() <= 1024 * 1024 + 65536)
    end)
  end)

  describe("descriptors running out (EMFILE)", function()
    it("accept fails clearly and the server serves again once some are freed", function()
      local child = H.lua_with("ulimit -n 24 &&", [[
local ns = require "netsock"
local srv = assert(ns.create_server("127.0.0.1", 0))
print(select(2, srv:getsockname()))
io.stdout:flush()
srv:settimeout(5)
local conns = {}
while true do
  local c, msg, code = srv:accept()
  if not c then
    print("failed", code, msg)
    io.stdout:flush()
    break
  end
  conns[#conns + 1] = c
end
-- a second try fails the same way at once: no busy wait, no crash
local c, _, code = srv:accept()
print("again", code)
for i = 1, 5 do conns[i]:close() end
c = srv:accept()
print(c and "recovered" or "still failing")
io.stdout:flush()
c:settimeout(5)
assert(c:sendall("served\n"))
assert(c:recv(4))
print("done", #conns)
]])
      finally(function() child:kill() end)
      local port = tonumber(child:line(10))
      assert.is_number(port, child:output())
      local clients = {}
      finally(function() for _, c in ipairs(clients) do c:close() end end)
      for i = 1, 40 do
        clients[i] = assert(ns.create_connection("127.0.0.1", port, 5))
      end
      local failed = child:line(10, 2)
      assert.matches("^failed\tEMFILE\t", failed or child:output())
      assert.are.equal("again\tEMFILE", child:line(10, 3))
      assert.are.equal("recovered", child:line(10, 4))
      -- which client it took is the kernel's choice: find it
      local served
      local deadline = ns.monotime() + 10
      while not served and ns.monotime() < deadline do
        for _, c in ipairs(clients) do
          c:settimeout(0)
          local d = c:recv(100)
          if d then served = c; assert.are.equal("served\n", d) end
        end
        ns.sleep(0.01)
      end
      assert.is_truthy(served, "no client was served")
      assert.is_true(served:sendall("thx!"))
      assert.matches("^done", child:line(10, 5))
      assert.are.equal(0, child:wait(10))
    end)

    it("socket() and socketpair() fail with EMFILE, nothing is leaked", function()
      local child = H.lua_with("ulimit -n 16 &&", [[
local ns = require "netsock"
local keep = {}
local msg, code
while true do
  local s
  s, msg, code = ns.tcp()
  if not s then break end
  keep[#keep + 1] = s
end
print("socket", code)
local a, m2, c2 = ns.socketpair()
print("socketpair", a and "ok" or c2)
keep[#keep]:close(); keep[#keep] = nil
local b = ns.tcp()
print("after close", b and "ok" or "fail")
]])
      finally(function() child:kill() end)
      assert.are.equal("socket\tEMFILE", child:line(10), child:output())
      assert.are.equal("socketpair\tEMFILE", child:line(10, 2))
      assert.are.equal("after close\tok", child:line(10, 3))
      assert.are.equal(0, child:wait(10))
    end)
  end)

  describe("descriptors running out under netsock.serve", function()
    it("clients past the limit wait in the backlog and are served once others leave", function()
      local child = H.lua_with("ulimit -n 20 &&", [[
local ns = require "netsock"
local srv = assert(ns.serve("127.0.0.1", 0, function(conn)
  conn:settimeout(20)
  local d = conn:recv(100)
  if d then conn:sendall("echo " .. d) end
  conn:recv(100)  -- until the client leaves
end))
print(select(2, srv:getsockname()))
io.stdout:flush()
ns.spawn(function() ns.sleep(30); srv:close() end)  -- a bounded life
ns.run()
]])
      finally(function() child:kill() end)
      local port = tonumber(child:line(10))
      assert.is_number(port, child:output())
      local clients, served = {}, {}
      finally(function() for _, c in ipairs(clients) do c:close() end end)
      for i = 1, 30 do
        clients[i] = assert(ns.create_connection("127.0.0.1", port, 5))
        assert.is_true(clients[i]:sendall("hi" .. i))
      end
      -- collect the echoes that come; the process has ~14 descriptors free
      local function collect(wait)
        local deadline = ns.monotime() + wait
        repeat
          for i, c in ipairs(clients) do
            if not served[i] then
              c:settimeout(0)
              local d = c:recv(100)
              if d then
                assert.are.equal("echo hi" .. i, d)
                served[i] = true
              end
            end
          end
          ns.sleep(0.02)
        until ns.monotime() > deadline
        local n = 0
        for _ in pairs(served) do n = n + 1 end
        return n
      end
      local first = collect(1.5)
      assert.is_true(first > 0 and first < 30, "served at first: " .. first)
      -- the served clients leave: their descriptors free up
      for i in pairs(served) do clients[i]:close() end
      local total = first
      local deadline = ns.monotime() + 20
      while total < 30 and ns.monotime() < deadline do
        local before = {}
        for i in pairs(served) do before[i] = true end
        total = collect(0.5)
        for i in pairs(served) do
          if not before[i] then clients[i]:close() end
        end
      end
      assert.are.equal(30, total)
      assert.is_true(child:running(), "the server died: " .. child:output())
    end)
  end)

  describe("system calls interrupted by signals (EINTR)", function()
    local function sit(name, fn) H.linux_it(name, "strace", fn, H.can_strace) end
    sit("every call retries; deadlines still hold (strace injects EINTR)", function()
      local calls = "recvfrom,sendto,poll,accept4,connect,nanosleep,clock_nanosleep"
      -- only the Lua process is traced (no -f): the python peer is left
      -- alone (CPython takes an injected EINTR from connect for success)
      local strace_eintr = ("strace -qq -o /dev/null -e trace=%s -e inject=%s:error=EINTR:when=1+2")
        :format(calls, calls)
      local child = H.lua_with(strace_eintr, [[
local ns = require "netsock"
local a, b = assert(ns.socketpair())
a:settimeout(5); b:settimeout(5)
assert(a:sendall(("p"):rep(300000)) == nil or true)
local srv = assert(ns.create_server("127.0.0.1", 0))
local _, port = srv:getsockname()
local c = ns.tcp(); c:settimeout(5)
assert(c:connect("127.0.0.1", port))
srv:settimeout(5)
local s = assert(srv:accept())
s:settimeout(5)
local data = ("0123456789"):rep(100000)
assert(c:sendall(data))
local got = {}
local n = 0
while n < #data do
  local d = assert(s:recv(65536))
  got[#got + 1] = d; n = n + #d
end
assert(table.concat(got) == data, "bytes differ")
s:settimeout(0.3)
local t0 = ns.monotime()
local d, msg, code = s:recv(10)
local took = ns.monotime() - t0
assert(code == "timeout" and took >= 0.29 and took < 2, "deadline: " .. took)
t0 = ns.monotime()
ns.sleep(0.2)
took = ns.monotime() - t0
assert(took >= 0.19 and took < 2, "sleep: " .. took)
-- no timeout: accept and recv wait in the kernel (blocking descriptor);
-- a python peer connects and writes a little later
local lsrv = assert(ns.create_server("127.0.0.1", 0))
local _, lport = lsrv:getsockname()
lsrv:settimeout(nil)
os.execute(("python3 -c 'import socket, time; time.sleep(0.3); " ..
  "c = socket.create_connection((\"127.0.0.1\", %d)); time.sleep(0.3); " ..
  "c.sendall(b\"late\"); c.recv(10)' &"):format(lport))
local conn = assert(lsrv:accept())
conn:settimeout(nil)
assert(conn:recv(4) == "late", "blocking recv")
assert(conn:sendall("bye"))
conn:close()
print("ok")
]])
      finally(function() child:kill() end)
      assert.are.equal("ok", child:line(30), child:output())
      assert.are.equal(0, child:wait(10))
    end)
  end)

  describe("a listener closed under a waiting task", function()
    it("the task's accept returns closed and the loop goes on", function()
      local srv = assert(ns.create_server("127.0.0.1", 0))
      local result
      ns.spawn(function()
        result = { srv:accept() }
      end)
      ns.spawn(function()
        ns.sleep(0.05)
        srv:close()
      end)
      local t0 = ns.monotime()
      ns.run()
      assert.is_true(ns.monotime() - t0 < 5)
      assert.are.same({ nil, "closed", "closed" }, result)
      assert.are.equal(-1, srv:fileno())
    end)

    it("a task's recv returns closed when another task closes its socket", function()
      local a, b = assert(ns.socketpair())
      finally(function() b:close() end)
      local result
      ns.spawn(function() result = { a:recv(10) } end)
      ns.spawn(function() ns.sleep(0.05); a:close() end)
      ns.run()
      assert.are.same({ nil, "closed", "closed" }, result)
    end)
  end)
end)
