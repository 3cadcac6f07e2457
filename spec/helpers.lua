-- spec/helpers.lua: what the specs share. Real sockets, real peers.
--
--   local H = require "helpers"
--   local ns = H.netsock
--   local srv, port = H.listen_local()          -- 127.0.0.1, ephemeral port
--   local p = H.python([[ ...python code... ]], arg1, ...)  -- a child process
--   local line = p:line(5)                      -- first line it printed (bounded)
--   local rc = p:wait(5)                        -- exit status, nil on timeout
--   p:kill()                                    -- by its own PID (process group)
--   local a, p = H.python_client(code, ...)     -- a python client, accepted
--   local p, port = H.python_server(code)       -- a python server, its port
--   local q = H.lua(code, ...)                  -- a Lua child with our paths
--   local q = H.lua_with("ulimit -n 24 &&", code, ...)  -- ...after a prefix
--   H.pattern(n), H.PY_PATTERN                  -- the same n bytes in Lua, python
--   local data, msg, code = H.drain(s)          -- recv until the end
--   H.ipv6_it("name", fn)                       -- pending where ::1 is missing
--   H.linux_it("name", "/proc", fn)             -- #linux: pending elsewhere, saying why
--   H.linux, H.backend                          -- on Linux; "epoll" or "poll"
--   H.run_bounded(10 [, fn])                    -- netsock.run with a watchdog
--   local err = H.capture_stderr(fn)            -- what fn wrote on io.stderr
--   H.fdcount()                                 -- descriptors open in this process
--   H.ppid(pid), H.children(pid)               -- from ps: no /proc needed
--   H.nonblocking(s), H.unix_path_max()         -- O_NONBLOCK (Linux; nil elsewhere), longest Unix path
--   local r, s, path = H.unix_full_receiver()   -- a Unix datagram receiver with a full queue
--   local srv, path, held = H.unix_full_listener() -- a Unix listener with a full backlog
--
-- Helpers return what they make; the test registers its clean-up with
-- finally() (spec/busted_helper.lua runs every one it is given).

local ns = require "netsock"

local H = { netsock = ns }

-- What a spec file needs from the machine, checked at its top:
--   H.needs { { cmd = "python3", pkg = "python3" },
--             { lua = "socket", pkg = "lua-socket" },
--             { file = "/etc/services", pkg = "netbase" } }
-- Anything missing raises there, so busted fails the file (it is never
-- skipped) with a message naming the Debian package; `make test`
-- installs every package the specs name (DEPS_TEST in the Makefile).
-- lua52 = "copas": a pure-Lua module Debian installs for 5.2 only.
function H.needs(list)
  local missing = {}
  for _, n in ipairs(list) do
    local ok
    if n.cmd then
      ok = os.execute("command -v " .. n.cmd .. " >/dev/null 2>&1") == true
    elseif n.lua or n.lua52 then
      -- in a child lua5.4, so that this process loads nothing it did not ask for
      local code = (n.lua52 and "package.path = package.path .. ';/usr/share/lua/5.2/?.lua'; " or "")
        .. ("require '%s'"):format(n.lua or n.lua52)
      ok = os.execute("lua5.4 -e " .. H.shquote(code) .. " >/dev/null 2>&1") == true
    elseif n.file then
      ok = io.open(n.file) ~= nil
    end
    if not ok then
      missing[#missing + 1] = ("%s %s (Debian package %s)"):format(
        n.cmd and "the command" or n.file and "the file" or "the Lua module",
        n.cmd or n.file or n.lua or n.lua52, n.pkg)
    end
  end
  if #missing > 0 then
    error("this spec file needs " .. table.concat(missing, ", ")
      .. ": make test installs it (as root), or apt-get install it", 2)
  end
end

-- nearly every spec file starts peers with python3
H.needs { { cmd = "python3", pkg = "python3" } }

local tmpdir
function H.tmpdir()
  if not tmpdir then
    local p = io.popen("mktemp -d /tmp/netsock-spec.XXXXXX")
    tmpdir = p:read("l")
    p:close()
    -- tools/runspecs removes it once this file's run ends: it is ours
    local list = os.getenv("NETSOCK_SPEC_TMPLIST")
    local f = list and io.open(list, "a")
    if f then
      f:write(tmpdir, "\n")
      f:close()
    end
  end
  return tmpdir
end

local seq = 0
function H.tmpname(suffix)
  seq = seq + 1
  return ("%s/%d-%d%s"):format(H.tmpdir(), seq, math.random(1 << 30), suffix or "")
end

-- Where poll cannot say when a call may go on (ns_pause): a Unix
-- datagram receiver whose queue is full (poll says the sender is
-- writable; sendto says EAGAIN) -> receiver, sender (timeout 0), path;
-- and a Unix listener whose backlog is full (connect says EAGAIN) ->
-- listener, path, the connecting sockets that fill it
function H.unix_full_receiver()
  local path = H.tmpname(".dgram")
  local r = assert(ns.socket("unix", "dgram"))
  assert(r:bind(path))
  local s = assert(ns.socket("unix", "dgram"))
  s:settimeout(0)
  local n = 0
  while s:sendto(("x"):rep(512), path) do n = n + 1; assert(n < 1e6) end
  return r, s, path
end

function H.unix_full_listener()
  local path = H.tmpname(".sock")
  local srv = assert(ns.socket("unix", "stream"))
  assert(srv:bind(path))
  assert(srv:listen(1))
  local held = {}
  for _ = 1, 100 do
    local c = ns.socket("unix", "stream")
    c:settimeout(0)
    local ok, _, code = c:connect(path)
    held[#held + 1] = c
    if not ok and code == "EAGAIN" then break end
  end
  return srv, path, held
end

local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
H.shquote = shquote

function H.readfile(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- whether anything (a file, a directory, a socket file) is at path:
-- test(1), since io.open cannot open a socket file (ENXIO)
function H.exists(path)
  return os.execute("test -e " .. shquote(path) .. " 2>/dev/null") == true
end

function H.writefile(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- A child process: started in its own session (setsid) so that kill
-- stops it and its children by its own PID, and nothing else. Its
-- stdout+stderr go to a file; its exit status to another. Children
-- never inherit the sanitizer preload.
local Proc = {}
Proc.__index = Proc

function H.spawn(cmd, opts)
  opts = opts or {}
  local out, rc = H.tmpname(".out"), H.tmpname(".rc")
  local stdin = opts.stdin and ("< " .. shquote(opts.stdin)) or "< /dev/null"
  local line = ("env -u LD_PRELOAD -u ASAN_OPTIONS setsid sh -c %s > %s 2>&1 %s & echo $!")
    :format(shquote(cmd .. "; echo $? > " .. shquote(rc)), shquote(out), stdin)
  local p = assert(io.popen(line))
  local pid = tonumber(p:read("l"))
  p:close()
  assert(pid, "could not start: " .. cmd)
  return setmetatable({ pid = pid, out = out, rcfile = rc, cmd = cmd }, Proc)
end

-- the exit status once it ended (waits at most 'timeout' seconds)
function Proc:wait(timeout)
  local deadline = ns.monotime() + (timeout or 10)
  repeat
    local s = H.readfile(self.rcfile)
    if s and s:match("%d") then return tonumber(s:match("%d+")) end
    ns.sleep(0.01)
  until ns.monotime() > deadline
  return nil
end

function Proc:output()
  return H.readfile(self.out) or ""
end

-- whether the process printed 'text' (plain, not a pattern) within
-- timeout seconds (default 10)
function Proc:await(text, timeout)
  local deadline = ns.monotime() + (timeout or 10)
  repeat
    if self:output():find(text, 1, true) then return true end
    ns.sleep(0.01)
  until ns.monotime() > deadline
  return false
end

-- the n-th line the process printed (default 1), waiting at most timeout
function Proc:line(timeout, n)
  n = n or 1
  local deadline = ns.monotime() + (timeout or 10)
  repeat
    local lines, i = {}, 0
    for l in self:output():gmatch("([^\n]*)\n") do
      i = i + 1
      lines[i] = l
    end
    if lines[n] then return lines[n] end
    if H.readfile(self.rcfile) then break end  -- ended without it
    ns.sleep(0.01)
  until ns.monotime() > deadline
  return nil, self:output()
end

-- whether process 'pid' still runs (a zombie does not)
local function alive(pid)
  local stat = H.readfile("/proc/" .. pid .. "/stat")
  local state = stat and stat:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z" and state ~= "X"
end

-- stop it and its process group; the group's shell dies with it and
-- writes no exit status, so watch the process itself, not the rc file
function Proc:kill()
  if self.killed or not self:running() then return end
  self.killed = true
  os.execute(("kill -TERM -%d 2>/dev/null"):format(self.pid))
  local deadline = ns.monotime() + 2
  while alive(self.pid) and ns.monotime() < deadline do ns.sleep(0.005) end
  if alive(self.pid) then
    os.execute(("kill -KILL -%d 2>/dev/null"):format(self.pid))
  end
end

function Proc:running()
  if self.killed then return false end
  local s = H.readfile(self.rcfile)
  return not (s and s:match("%d"))
end

-- python3 -u running 'code' with the given arguments (sys.argv[1:])
function H.python(code, ...)
  local file = H.tmpname(".py")
  H.writefile(file, code)
  local args = {}
  for i = 1, select("#", ...) do args[i] = shquote(select(i, ...)) end
  -- -B: a module it imports from spec/ (ptyconsole.py) leaves no
  -- __pycache__ in the checkout, whatever PYTHONDONTWRITEBYTECODE says
  return H.spawn("python3 -u -B " .. shquote(file) .. " " .. table.concat(args, " "))
end

-- a Lua script run by the same interpreter with the checkout's paths,
-- after 'prefix' (nil, or shell words that end by running the next
-- command: "ulimit -n 24 &&", "strace -o /dev/null", "python3 run.py").
-- Under make sanitize the child loads the sanitized core, so it needs
-- the runtime back that H.spawn drops from the environment (leak checks
-- off, as in the parent).
function H.lua_with(prefix, code, ...)
  local file = H.tmpname(".lua")
  H.writefile(file, code)
  local args = {}
  for i = 1, select("#", ...) do args[i] = shquote(select(i, ...)) end
  local env = ""
  local preload = os.getenv("LD_PRELOAD")
  if os.getenv("NETSOCK_SANITIZE") and preload then
    env = ("env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 "):format(shquote(preload))
  end
  local setpath = ("package.path=%q..package.path package.cpath=%q..package.cpath")
    :format("lua/?.lua;lua/?/init.lua;", (os.getenv("NETSOCK_CPATH") or "build/?.so") .. ";")
  return H.spawn(("%s %slua5.4 -e %s %s %s"):format(prefix or "", env,
    shquote(setpath), shquote(file), table.concat(args, " ")))
end

function H.lua(code, ...)
  return H.lua_with(nil, code, ...)
end

-- whether this process may make network and mount namespaces (root and
-- unshare(1)), and whether strace is there and allowed to trace (ptrace
-- may be denied); specs that need one are pending where it cannot
H.can_unshare = os.execute("unshare -mn true 2>/dev/null") == true
H.can_strace = os.execute("strace -f -qq -o /dev/null true >/dev/null 2>&1") == true

-- a Lua child that cannot reach the network: inside a network and mount
-- namespace of its own (`unshare -mn`), with loopback up and an
-- /etc/resolv.conf that names 127.0.0.1, where nothing answers, so a
-- lookup that /etc/hosts cannot answer fails at once and no query
-- leaves the machine. For the reverse lookups of unnamed addresses,
-- which always go to DNS. Needs H.can_unshare.
function H.lua_offline(code, ...)
  local resolv, wrap = H.tmpname(".resolv"), H.tmpname(".sh")
  H.writefile(resolv, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
  H.writefile(wrap, 'set -e\nip link set lo up\nmount --bind "$1" /etc/resolv.conf\n'
    .. 'shift\nexec "$@"\n')
  return H.lua_with(("unshare -mn sh %s %s"):format(shquote(wrap), shquote(resolv)), code, ...)
end

-- a prefix for H.lua_with that runs the child with SIGPIPE's default
-- action (python's subprocess restores it, whatever make or busted did),
-- so a raised SIGPIPE kills the child; its exit status is the child's
H.SIGPIPE_DEFAULT =
  "python3 -c 'import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)'"

-- examples/<script>.lua run as a user runs it (the plain build, the
-- checkout's paths; under make sanitize too): 'args' is one string,
-- already quoted
local EXAMPLE_ENV = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s LUA_PATH=%s LUA_CPATH=%s ")
  :format(shquote "lua/?.lua;lua/?/init.lua;;", shquote "build/?.so;;",
          shquote "lua/?.lua;lua/?/init.lua;;", shquote "build/?.so;;")
function H.example(script, args, opts)
  return H.spawn(EXAMPLE_ENV .. "lua5.4 examples/" .. script .. ".lua " .. (args or ""), opts)
end

-- a server example started with --port 0: the process and the port of
-- its first line ("Listening on 127.0.0.1:PORT", a URL ending in PORT/)
function H.start_example(script, args, opts)
  local p = H.example(script, "--port 0 " .. (args or ""), opts)
  local line, out = p:line(10)
  local port = line and tonumber(line:match(":(%d+)/?$"))
  if not port then
    p:kill()
    error(script .. " did not start: " .. tostring(line or out), 2)
  end
  return p, port
end

-- the seeds of a randomized spec: NETSOCK_<NAME>_SEEDS="12 345" gives
-- exactly those, NETSOCK_<NAME>_COUNT=N gives N new ones (printed),
-- otherwise 'default' (the fixed seeds of every run)
function H.seedlist(name, default)
  local list, seeds = os.getenv("NETSOCK_" .. name .. "_SEEDS"), {}
  if list and list:match("%d") then
    for s in list:gmatch("%d+") do seeds[#seeds + 1] = tonumber(s) end
    return seeds
  end
  local count = tonumber(os.getenv("NETSOCK_" .. name .. "_COUNT") or "")
  if count then
    local base = os.time() % 1000000 * 1000
    for i = 1, count do seeds[i] = base + i end
    print(("%s: seeds %d..%d"):format(name:lower(), base + 1, base + count))
    return seeds
  end
  return default
end

-- n bytes that both sides can make: numbered 8-byte records ("0000000\n",
-- "0000001\n", ...), cut to n, so that a lost, doubled or reordered byte
-- shows. PY_PATTERN is the same as a python expression of a variable n.
function H.pattern(n)
  local t = {}
  for j = 0, (n + 7) // 8 - 1 do t[j + 1] = ("%07d\n"):format(j) end
  return table.concat(t):sub(1, n)
end
H.PY_PATTERN = '(b"".join(b"%07d\\n" % j for j in range((n + 7) // 8))[:n])'

-- what every python peer imports
local PY_IMPORTS = "import hashlib, os, random, socket, struct, sys, time\n"

-- the start of a python client: it connects to 127.0.0.1 on the port
-- in sys.argv[1]; the code after it has the socket as 'c' (a 20 s
-- timeout on it)
H.PY_CLIENT = PY_IMPORTS .. [[
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
]]

-- a python client that connects to 127.0.0.1:port and runs 'code' after
-- H.PY_CLIENT; its arguments are sys.argv[2:]
function H.python_connect(port, code, ...)
  return H.python(H.PY_CLIENT .. code, port, ...)
end

-- H.python_connect to a fresh 127.0.0.1 listener, accepted: our end of
-- the connection (timeout 5 s) and the process. The listener is closed.
function H.python_client(code, ...)
  local srv, port = H.listen_local()
  local p = H.python_connect(port, code, ...)
  srv:settimeout(5)
  local a, msg = srv:accept()
  srv:close()
  if not a then
    p:kill()
    error("the python client did not connect: " .. tostring(msg) .. "\n" .. p:output(), 2)
  end
  a:settimeout(5)
  return a, p
end

-- a python server on 127.0.0.1 (or ::1 for family "inet6") that accepts
-- one client and runs 'code' with it as 'c' (a 20 s timeout on both);
-- its arguments are sys.argv[1:]. Returns the process and its port.
function H.python_server(code, family, ...)
  local host = family == "inet6" and "::1" or "127.0.0.1"
  local p = H.python(PY_IMPORTS .. ([[
srv = socket.create_server((%q, 0), family=socket.%s)
print(srv.getsockname()[1], flush=True)
srv.settimeout(20)
c, addr = srv.accept()
c.settimeout(20)
]]):format(host, family == "inet6" and "AF_INET6" or "AF_INET") .. code, ...)
  local port = tonumber((p:line(10)))
  if not port then
    p:kill()
    error("the python server did not start:\n" .. p:output(), 2)
  end
  return p, port
end

-- recv until end of stream or an error: all bytes, then the end's triple
function H.drain(s, size)
  local got = {}
  while true do
    local d, msg, code = s:recv(size or 65536)
    if not d then return table.concat(got), msg, code end
    got[#got + 1] = d
  end
end

-- a listening TCP socket on 127.0.0.1 (or ::1), ephemeral port
function H.listen_local(family)
  local host = family == "inet6" and "::1" or "127.0.0.1"
  local srv = assert(ns.create_server(host, 0, { family = family }))
  local _, port = srv:getsockname()
  return srv, port
end

-- whether ::1 can be bound here
H.has_ipv6 = (function()
  local s = ns.socket("inet6")
  if not s then return false end
  local ok = s:bind("::1", 0)
  s:close()
  return ok == true
end)()

-- Linux itself, and the readiness backend the core was built with
-- ("epoll", or "poll" in the portable build, make test PORTABLE=1)
-- NETSOCK_SPEC_NOT_LINUX=1 makes the specs behave as they do elsewhere
-- (README, "Specs": how the suite's own portability is checked here)
H.linux = io.popen("uname -s"):read("l") == "Linux" and not os.getenv("NETSOCK_SPEC_NOT_LINUX")
H.backend = (function()
  local p = assert(ns.poller())
  local name = tostring(p):match("%((%w+) fd") or "?"
  p:close()
  return name
end)()

-- A test that needs Linux itself, not the core (an abstract Unix name,
-- /proc, unshare, strace): it() on Linux, in both builds, and
-- pending() with the reason elsewhere. The name says what it needs:
--   H.linux_it("...", "abstract Unix names", fn)
-- 'usable' false: Linux, but what it needs is not usable here (strace
-- denied, no namespaces): pending with that reason too.
-- The name carries the tag #linux (busted --exclude-tags=linux leaves
-- them out; docs name tests without their tags).
--
-- busted records where a test was declared from the call of it(); a
-- call made here would put every such test in helpers.lua. So the call
-- goes through a one-line function compiled under the caller's file name
-- and line, and busted (--list, failures, docs_spec) names the spec file.
local function fromcaller(f, ...)
  local info = debug.getinfo(3, "Sl")
  local src = ("\n"):rep(math.max(info.currentline - 1, 0))
    .. "local f = ... return function(...) f(...) end"
  assert(load(src, info.source, "t"))(f)(...)
end

function H.linux_it(name, needs, fn, usable)
  local busted = require "busted"
  local full = name .. " #linux"
  if not H.linux then fromcaller(busted.pending, full .. " (needs Linux: " .. needs .. ")")
  elseif usable == false then fromcaller(busted.pending, full .. " (" .. needs .. " not usable here)")
  else fromcaller(busted.it, full, fn) end
end

-- a whole describe block that needs Linux (its helpers read /proc)
function H.linux_describe(name, needs, fn)
  local busted = require "busted"
  if H.linux then return fromcaller(busted.describe, name .. " #linux", fn) end
  fromcaller(busted.pending, name .. " #linux (needs Linux: " .. needs .. ")")
end

-- it() where IPv6 loopback works, pending() elsewhere
function H.ipv6_it(name, fn)
  local busted = require "busted"
  if H.has_ipv6 then fromcaller(busted.it, name, fn)
  else fromcaller(busted.pending, name .. " (no ::1 here)") end
end

-- describe() where netsock was built with OpenSSL, pending() elsewhere
function H.describe_tls(name, fn)
  local busted = require "busted"
  if H.netsock.tls ~= nil then fromcaller(busted.describe, name, fn)
  else fromcaller(busted.pending, name .. " (no OpenSSL)") end
end

-- the number of descriptors this process has open, listed in-process:
-- a child listing /proc/PID/fd could run before popen closed its copy
-- of the pipe's other end, and count one too many now and then
function H.fdcount()
  local lfs = require "lfs"
  local n = 0
  for e in lfs.dir(H.linux and "/proc/self/fd" or "/dev/fd") do
    if e ~= "." and e ~= ".." then n = n + 1 end
  end
  return n - 1  -- the directory stream lfs.dir holds open while listing
end

-- the descriptor count once it reaches 'want', or what it is after
-- 'timeout' seconds (default 2): a resolver thread of an earlier spec may
-- hold a socket for a moment, which is not a leak of the code under test
function H.fdcount_settled(want, timeout)
  local deadline = ns.monotime() + (timeout or 2)
  local n = H.fdcount()
  while n ~= want and ns.monotime() < deadline do
    ns.sleep(0.02)
    collectgarbage()
    n = H.fdcount()
  end
  return n
end

-- the system calls `strace -c` counted in its output file: name -> count
function H.strace_counts(file)
  local t = {}
  for line in (H.readfile(file) or ""):gmatch("[^\n]+") do
    local calls, name = line:match("^%s*[%d.]+%s+[%d.]+%s+%d+%s+(%d+)%s+%d*%s*(%w+)%s*$")
    if calls then t[name] = tonumber(calls) end
  end
  return t
end

-- this process's PID (the core's getpid: no /proc needed)
function H.pid()
  return require("netsock.core")._getpid()
end

-- processes as ps(1) lists them (procps on Linux, the BSDs' and macOS's
-- own ps take the same -A -o): pid -> { ppid = n, state = "S" }
local function processes()
  local out = {}
  -- the shell popen starts becomes ps (exec): it says its pid first, so
  -- that ps itself, a child of ours, is not counted
  -- (without make sanitize's ASan preload, as H.spawn: under it ps hangs)
  local p = assert(io.popen("echo $$; exec env -u LD_PRELOAD -u ASAN_OPTIONS ps -A -o pid= -o ppid= -o stat= 2>/dev/null"))
  local self = tonumber(p:read("l"))
  for line in p:lines() do
    local pid, pp, st = line:match("^%s*(%d+)%s+(%d+)%s+(%S+)")
    if pid and tonumber(pid) ~= self then out[tonumber(pid)] = { ppid = tonumber(pp), state = st } end
  end
  p:close()
  return out
end

-- the parent of a live process; nil once it is gone or a zombie
function H.ppid(pid)
  local e = processes()[tonumber(pid)]
  if not e or e.state:match("^[ZX]") then return nil end
  return e.ppid
end

-- the live (not zombie) children of a process, sorted
function H.children(pid)
  local out = {}
  for child, e in pairs(processes()) do
    if e.ppid == pid and not e.state:match("^[ZX]") then out[#out + 1] = child end
  end
  table.sort(out)
  return out
end

-- the longest Unix-domain path this system takes, its terminating zero
-- not counted: sun_path's size less one (107 on Linux, 103 on macOS and
-- the BSDs), asked of python3 rather than of netsock: Python refuses a
-- path that leaves no room for the zero ("AF_UNIX path too long")
local sun_path
function H.unix_path_max()
  if not sun_path then
    local p = assert(io.popen([[python3 -c '
import socket
s = socket.socket(socket.AF_UNIX)
for n in range(300, 40, -1):
    try:
        s.connect("/" + "x" * (n - 1))
    except OSError as e:
        if "too long" in str(e): continue
    print(n); break
']]))
    sun_path = tonumber(p:read("a"):match("%d+"))
    p:close()
    assert(sun_path, "python3 could not tell the size of sun_path (Debian package python3)")
  end
  return sun_path
end

-- flags of a descriptor of this process, from /proc/self/fdinfo (octal)
function H.fdflags(fd)
  if not H.linux then
    -- no /proc: /dev/fd lists our descriptors, and a child shell keeps
    -- only those without close-on-exec (O_NONBLOCK stays unseen: see
    -- H.nonblocking)
    local lfs = require "lfs"
    if not lfs.attributes("/dev/fd/" .. fd) then return nil end
    return os.execute(("test -e /dev/fd/%d"):format(fd)) == true and 0 or H.O_CLOEXEC
  end
  local s = H.readfile(("/proc/%d/fdinfo/%d"):format(H.pid(), fd))
  return s and tonumber(s:match("flags:%s*(%d+)"), 8)
end

-- whether a socket's descriptor has O_NONBLOCK set: true or false on
-- Linux (/proc/self/fdinfo, Linux's O_NONBLOCK), nil elsewhere, where
-- nothing outside the process can tell (the specs that check "waited in
-- the kernel" check it where they can and their timing everywhere)
function H.nonblocking(s)
  if not H.linux then return nil end
  return H.fdflags(s:fileno()) & tonumber("4000", 8) ~= 0
end
H.O_CLOEXEC = tonumber("2000000", 8)

-- A coroutine registered as a task (wait.c's protocol), driven by the
-- spec itself rather than netsock.run: its waits come back from
-- coroutine.resume as (waittoken, fd, events, deadline). Returns the
-- coroutine and the registry's task set.
function H.task(fn)
  local reg = debug.getregistry()
  local tasks = reg["netsock.tasks"]
  if not tasks then
    tasks = setmetatable({}, { __mode = "k" })
    reg["netsock.tasks"] = tasks
  end
  local co = coroutine.create(fn)
  tasks[co] = true
  return co, tasks
end

-- netsock.run with a watchdog task: a hang fails the test (after
-- 'seconds') instead of hanging busted. 'fn', if given, is spawned first.
local watchdog  -- the watchdog task of the last run_bounded
function H.run_bounded(seconds, fn)
  local timedout = false
  if fn then ns.spawn(fn) end
  watchdog = ns.spawn(function()
    local deadline = ns.monotime() + seconds
    while ns._tasks.stats().live > 1 do
      if ns.monotime() > deadline then timedout = true; break end
      ns.sleep(0.01)
    end
    ns.stop()
  end)
  ns.run()
  require("luassert").is_false(timedout,
    "the loop did not finish within " .. seconds .. " s")
end

-- the loop's timers now, the watchdog's own left out: netsock.tasks()
-- says whether it holds one right now (a flag set around its sleep was
-- wrong under valgrind: the sleep's timer fires, and the watchdog waits
-- in the ready queue without one)
function H.loop_timers()
  local n = ns._tasks.stats().timers
  for _, e in ipairs(ns.tasks()) do
    if e.task == watchdog and e.timeout then n = n - 1 end
  end
  return n
end

-- after a test of a waiting primitive: no timer and no blocked wait
-- outlived the tasks that made them
function H.loop_clean()
  local timers, blocked = H.loop_timers(), ns._tasks.stats().blocked
  if timers ~= 0 then error(("a timer outlived its wait (%d left)"):format(timers), 2) end
  if blocked ~= 0 then error(("a wait outlived its task (%d left)"):format(blocked), 2) end
end

-- what fn writes on io.stderr (the loop reports task errors there)
function H.capture_stderr(fn)
  local real, got = io.stderr, {}
  io.stderr = { write = function(self, ...)
    for i = 1, select("#", ...) do got[#got + 1] = tostring(select(i, ...)) end
    return self
  end }
  local ok, err = pcall(fn)
  io.stderr = real
  if not ok then error(err, 0) end
  return table.concat(got)
end

-- connect a client to 127.0.0.1:port and accept it: client, server side
function H.pair_tcp(srv, port)
  local c = assert(ns.create_connection("127.0.0.1", port, 5))
  srv:settimeout(5)
  local a = assert(srv:accept())
  return c, a
end


-- {====== TLS: certificates and real peers (H.tls) ======
-- Certificates are made at test time by spec/tls/mkcerts.sh (openssl
-- req, EC P-256, SANs DNS:localhost, IP:127.0.0.1, IP:::1); peers are
-- real programs: openssl s_server / s_client, python3's ssl module.
--   local T = H.tls
--   local dir = T.certs()                 -- ca.pem, leaf.pem ...
--   local srv = T.s_server("-cert ... ")  -- openssl s_server on 127.0.0.1:0
do
local ns = H.netsock
local T = {}
H.tls = T

local certdir
function T.certs()
  if not certdir then
    certdir = H.tmpdir() .. "/certs"
    local p = io.popen("sh spec/tls/mkcerts.sh " .. H.shquote(certdir) .. " 2>&1")
    local out = p:read("a")
    p:close()
    assert(out:match("ok"), "mkcerts failed: " .. out)
  end
  return certdir
end

function T.path(name) return T.certs() .. "/" .. name end

function T.server_ctx(extra)
  local o = { mode = "server", certfile = T.path("leaf.pem"), keyfile = T.path("leaf.key") }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(ns.tls.context(o))
end

function T.client_ctx(extra)
  local o = { cafile = T.path("ca.pem") }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(ns.tls.context(o))
end

-- a command whose stdin is a FIFO the test writes (unbuffered), so each
-- line written reaches the program as a read of its own: openssl's
-- commands ("R", "k" ...) count only at the start of a read
local function fed(cmd)
  local fifo = H.tmpname(".fifo")
  assert(os.execute("mkfifo " .. H.shquote(fifo)))
  local p = H.spawn(cmd .. " < " .. H.shquote(fifo))
  local w = assert(io.open(fifo, "w"))   -- meets the program's open for reading
  w:setvbuf("no")
  return p, w
end

-- openssl s_server on 127.0.0.1, an ephemeral port; args after -accept.
-- With 'input' true, srv.input writes its stdin (see fed); else it has none.
function T.s_server(args, input)
  local cmd = "openssl s_server -accept 127.0.0.1:0 -naccept 1 " .. args
  local p, w
  if input then p, w = fed(cmd) else p = H.spawn("sleep 60 | " .. cmd) end
  local deadline = ns.monotime() + 10
  repeat
    local port = p:output():match("ACCEPT 127%.0%.0%.1:(%d+)")
    if port then return { port = tonumber(port), proc = p, input = w } end
    ns.sleep(0.01)
  until ns.monotime() > deadline or not p:running()
  p:kill()
  error("s_server did not start: " .. p:output())
end

-- openssl s_client to 127.0.0.1:port, verifying against the spec CA with
-- SNI localhost; its stdin is written through the second result (see fed)
function T.s_client(port, args)
  return fed(("openssl s_client -connect 127.0.0.1:%d -CAfile %s -servername localhost %s")
    :format(port, H.shquote(T.path("ca.pem")), args or ""))
end

-- a python3 program given the certificate directory as sys.argv[1]
-- followed by the other arguments; its first line is "port N" for servers
function T.python(code, ...)
  return H.python(code, T.certs(), ...)
end

function T.pyport(p)
  local line, out = p:line(10)
  local port = line and line:match("^port (%d+)")
  if not port then
    p:kill()
    error("python peer did not start: " .. tostring(line) .. " " .. tostring(out))
  end
  return tonumber(port)
end
end
-- }======

return H
