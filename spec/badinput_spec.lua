-- spec/badinput_spec.lua: every public function and method called with
-- every wrong kind of value. Each call must raise a Lua error that
-- names the function (or says the socket is closed), or return
-- nil, message, code, or succeed where the value happens to be valid;
-- never crash, and never leave the sockets it was given unusable.
--
-- The matrix is generated from a table of signatures. Numbers and
-- plain strings are never passed where a host name goes: Lua turns a
-- number into a string there, and a string that is not a numeric
-- address would be looked up in DNS (the specs never resolve real
-- names). Hosts get every other kind of value, and embedded zeros.

local H = require "helpers"
local ns = H.netsock

local unpack, pack = table.unpack, table.pack

-- {====== values ======
local closed = ns.tcp()
closed:close()

local values = {
  { "nil", nil }, { "true", true }, { "false", false },
  { "0", 0 }, { "-1", -1 }, { "1.5", 1.5 }, { "2^31", 2.0 ^ 31 },
  { "2^63 float", 2.0 ^ 63 }, { "maxinteger", math.maxinteger },
  { "mininteger", math.mininteger }, { "NaN", 0 / 0 },
  { "+inf", math.huge }, { "-inf", -math.huge },
  { "empty string", "" }, { "word", "bogus" }, { "NUL string", "a\0b" },
  { "long string", ("x"):rep(300) }, { "table", {} },
  { "function", print }, { "thread", coroutine.create(print) },
  { "closed socket", closed },
}

local function isnumstr(v) return type(v) == "number" or type(v) == "string" end

-- kinds of argument: which values are skipped for them and why
local skip = {
  -- a host: no number or plain word (it would be resolved), and no ""
  -- (the any address: specs bind loopback only); NUL strings are kept
  host = function(v)
    return type(v) == "number" or (type(v) == "string" and not v:find("\0", 1, true))
  end,
  -- seconds to wait for: nothing that would really wait long
  wait = function(v) return type(v) == "number" and v > 0.01 and v == v end,
  -- a wait where nil means for ever
  waitnil = function(v) return v == nil or (type(v) == "number" and v > 0.01 and v == v) end,
  -- a name that nil or "" would make the resolver look up this host's
  -- own name: only values that cannot be looked up
  name = function(v)
    return v == nil or type(v) == "number" or (type(v) == "string" and not v:find("\0", 1, true))
  end,
  -- getnameinfo flags: a number without NI_NUMERICHOST could ask DNS
  niflags = function(v) return type(v) == "number" end,
}
-- }======

-- {====== fixtures ======
-- a fresh set of sockets, all with timeout 0 so nothing blocks
local function fixtures()
  local f = {}
  f.srv, f.port = H.listen_local()
  f.conn, f.peer = H.pair_tcp(f.srv, f.port)
  f.udp = assert(ns.udp())
  assert(f.udp:bind("127.0.0.1", 0))
  f.tcp = assert(ns.tcp())
  f.unix = assert(ns.socket("unix", "stream"))
  for _, s in pairs(f) do
    if type(s) ~= "number" and s.settimeout then s:settimeout(0) end
  end
  f.path = H.tmpname(".sock")
  f.closed = closed
  f.file = f.peer:makefile("rw")
  f.poller = ns.poller()
  f.wpoller = ns.poller()   -- holds a writable socket: wait never blocks
  assert(f.wpoller:add(f.conn, "w"))
  return f
end

local function closeall(f)
  for _, k in ipairs({ "file", "poller", "wpoller" }) do
    if f[k] then f[k]:close() end
  end
  for _, s in pairs(f) do
    if type(s) == "userdata" then s:close() end
  end
  os.remove(f.path)
end

-- the sockets still work: the listener accepts, the pair exchanges
local function checkusable(f, where)
  if f.srv:fileno() >= 0 then
    local c = assert(ns.create_connection("127.0.0.1", f.port, 5))
    f.srv:settimeout(5)
    local a, msg = f.srv:accept()
    assert(a, where .. ": listener no longer accepts: " .. tostring(msg))
    f.srv:settimeout(0)
    c:close(); a:close()
  end
  if f.conn:fileno() >= 0 and f.peer:fileno() >= 0 then
    f.peer:settimeout(0)
    repeat until not f.peer:recv(65536)  -- what the calls sent
    f.peer:settimeout(5)
    local ok = f.conn:sendall("ping")
    if ok then  -- a call may have shut the writing side down: that is allowed
      local got = {}
      repeat
        local d = f.peer:recv(4 - #table.concat(got))
        got[#got + 1] = d
      until not d or #table.concat(got) >= 4
      assert.are.equal("ping", table.concat(got), where .. ": the pair lost bytes")
    end
    f.peer:settimeout(0)
  end
end
-- }======

-- {====== calling and judging ======
-- calls obj:name(...) or fn(...) so that errors carry the name
local callers = {}
local function caller(name, method)
  local key = (method and ":" or ".") .. name
  if not callers[key] then
    local src = method
      and ("local o = ...; local r = table.pack(o:%s(select(2, ...))); return table.unpack(r, 1, r.n)")
      or ("local netsock = ...; local r = table.pack(netsock.%s(select(2, ...))); return table.unpack(r, 1, r.n)")
    callers[key] = assert(load(src:format(name), "=" .. key))
  end
  return callers[key]
end

local function describe_args(args, n)
  local t = {}
  for i = 1, n do
    local v = args[i]
    t[i] = type(v) == "string" and ("%q"):format(#v > 20 and v:sub(1, 20) .. "..." or v)
      or tostring(v)
  end
  return table.concat(t, ", ")
end

-- one call; raises (a spec failure) if its outcome is not an allowed one
local counts = { raised = 0, failed = 0, succeeded = 0 }
-- the facade's functions in Lua pass arguments on to the core: an
-- error may name the core function that got the argument
-- (the functions that check their own arguments are not listed: their
-- errors name what the user called)
local aliases = {
  tcp = { "socket" }, udp = { "socket" },
}
local function namesalias(plain, name)
  for _, a in ipairs(aliases[name] or {}) do
    if plain:find(a .. "'", 1, true) then return true end
  end
  return false
end
local function judge(name, what, ok, ...)
  local r = pack(...)
  if not ok then
    local err = r[1]
    assert(type(err) == "string", what .. ": error is not a string: " .. tostring(err))
    local plain = err:gsub("^[^:]*:%d+: ", "")
    local clear = plain:find(name .. "'", 1, true)
      or namesalias(plain, name)
      or plain:find("attempt to use a closed", 1, true)
    assert(clear, what .. ": unclear error: " .. err)
    counts.raised = counts.raised + 1
  elseif r[1] == nil and r.n >= 2 then
    assert(type(r[2]) == "string" and type(r[3]) == "string",
      what .. ": failure is not nil, message, code")
    counts.failed = counts.failed + 1
  else
    counts.succeeded = counts.succeeded + 1
  end
  return ok, r
end

local function try(name, method, fn_or_obj, args, n)
  local what = ("%s%s(%s)"):format(method and "s:" or "netsock.", name, describe_args(args, n))
  return judge(name, what, pcall(caller(name, method), fn_or_obj, unpack(args, 1, n)))
end
-- }======

-- {====== signatures ======
-- Each: name; self = the fixture a method is called on (nil for a
-- module function); args = kinds of argument, each {kind, good value or
-- function(f) returning it}; fresh = the call changes its socket, so
-- each try gets new fixtures.
local function A(kind, good) return { kind = kind, good = good } end

local methods = {
  { "bind", self = "tcp", fresh = true, args = { A("host", "127.0.0.1"), A("port", 0) } },
  { "bind", self = "unix", fresh = true, label = "bind(path)",
    args = { A("path", function(f) return f.path end) } },
  { "listen", self = "tcp", fresh = true, args = { A("int", 5) } },
  { "accept", self = "srv", args = {} },
  { "connect", self = "tcp", fresh = true,
    args = { A("host", "127.0.0.1"), A("port", function(f) return f.port end) } },
  { "connect", self = "unix", fresh = true, label = "connect(path)",
    args = { A("path", function(f) return f.path end) } },
  { "connect_ex", self = "tcp", fresh = true,
    args = { A("host", "127.0.0.1"), A("port", function(f) return f.port end) } },
  { "send", self = "conn", args = { A("str", "x"), A("int", 1), A("int", -1) } },
  { "sendall", self = "conn", args = { A("str", "x"), A("int", 1), A("int", -1) } },
  { "recv", self = "conn", args = { A("int", 10), A("int", 0) } },
  { "pending", self = "conn", args = {} },
  { "shutdown", self = "conn", fresh = true, args = { A("how", "rw") } },
  { "close", self = "conn", fresh = true, args = {} },
  { "fileno", self = "conn", args = {} },
  { "getsockname", self = "conn", args = {} },
  { "getpeername", self = "conn", args = {} },
  { "settimeout", self = "conn", args = { A("num", 0) } },
  { "gettimeout", self = "conn", args = {} },
  { "setblocking", self = "conn", args = { A("bool", false) } },
  { "getblocking", self = "conn", args = {} },
  { "setoption", self = "conn", args = { A("optname", "nodelay"), A("any", true) } },
  { "setoption", self = "conn", label = "setoption(linger)",
    args = { A("optname", "linger"), A("any", { on = false, timeout = 0 }) } },
  { "getoption", self = "conn", args = { A("optname", "keepalive") } },
  { "setsockopt", self = "conn",
    args = { A("int", ns.SOL_SOCKET), A("int", ns.SO_KEEPALIVE), A("any", 1) } },
  { "getsockopt", self = "conn",
    args = { A("int", ns.SOL_SOCKET), A("int", ns.SO_RCVBUF), A("int", nil) } },
  -- datagrams, sendfile, makefile (present once those branches are in)
  { "sendto", self = "udp",
    args = { A("str", "x"), A("host", "127.0.0.1"), A("port", function(f) return select(2, f.udp:getsockname()) end) } },
  { "recvfrom", self = "udp", args = { A("int", 100), A("int", 0) } },
  { "sendfile", self = "conn", fresh = true,
    args = { A("file", function() return H.tmpname(".missing") end), A("int", 0), A("int", 10) } },
  { "makefile", self = "conn", args = { A("mode", "rw") } },
}

-- methods of the other objects: files and pollers
local objmethods = {
  { "read", self = "file", args = { A("fmt", "l"), A("fmt", 1) } },
  { "lines", self = "file", args = { A("fmt", "l") } },
  { "write", self = "file", args = { A("str", "x"), A("str", 1) } },
  { "flush", self = "file", args = {} },
  { "setvbuf", self = "file", args = { A("mode", "full"), A("int", 1024) } },
  { "setlimit", self = "file", args = { A("int", 100) } },
  { "pending", self = "file", args = {} },
  { "fileno", self = "file", args = {} },
  { "close", self = "file", fresh = true, args = {} },
  { "add", self = "poller", fresh = true, args = { A("obj", function(f) return f.peer end), A("events", "r") } },
  { "modify", self = "wpoller", args = { A("obj", function(f) return f.conn end), A("events", "w") } },
  { "remove", self = "wpoller", fresh = true, args = { A("obj", function(f) return f.conn end) } },
  { "wait", self = "wpoller", args = { A("waitnil", 0) } },
  { "fileno", self = "poller", args = {} },
  { "close", self = "poller", fresh = true, args = {} },
}

local funcs = {
  { "socket", args = { A("family", "inet"), A("type", "stream"), A("int", 0) } },
  { "tcp", args = { A("family", "inet") } },
  { "udp", args = { A("family", "inet") } },
  { "socketpair", args = { A("family", "unix"), A("type", "stream"), A("int", 0) } },
  { "fromfd", args = { A("fd", function(f) return f.conn:fileno() end),
                       A("family", "inet"), A("type", "stream"), A("int", 0) } },
  { "getaddrinfo", args = { A("host", "127.0.0.1"), A("port", 80), A("family", "inet"),
                            A("type", "stream"), A("int", 0),
                            A("int", ns.AI_NUMERICHOST) } },
  { "create_connection", args = { A("host", "127.0.0.1"), A("port", function(f) return f.port end),
                                  A("num", 5) } },
  { "create_server", args = { A("host", "127.0.0.1"), A("port", 0), A("table", nil) } },
  { "setdefaulttimeout", args = { A("num", nil) } },
  { "getdefaulttimeout", args = {} },
  { "sleep", args = { A("wait", 0) } },
  { "monotime", args = {} },
  { "gettime", args = {} },
  -- resolution and helpers (datagram branch); no real name is looked up
  { "getnameinfo", args = { A("host", "127.0.0.1"), A("port", 80),
                            A("niflags", (ns.NI_NUMERICHOST or 0) | (ns.NI_NUMERICSERV or 0)) } },
  { "gethostname", args = {} },
  { "getfqdn", args = { A("name", "localhost") } },
  { "gethostbyname", args = { A("name", "localhost") } },
  { "gethostbyname_ex", args = { A("name", "localhost") } },
  { "gethostbyaddr", args = { A("name", "127.0.0.1") } },
  { "getservbyname", args = { A("str", "http"), A("str", "tcp") } },
  { "getservbyport", args = { A("port", 80), A("str", "tcp") } },
  { "getprotobyname", args = { A("str", "tcp") } },
  { "inet_pton", args = { A("family", "inet"), A("str", "127.0.0.1") } },
  { "inet_ntop", args = { A("family", "inet"), A("str", "\127\0\0\1") } },
  { "inet_aton", args = { A("str", "127.0.0.1") } },
  { "inet_ntoa", args = { A("str", "\127\0\0\1") } },
  { "htons", args = { A("int", 80) } },
  { "ntohs", args = { A("int", 80) } },
  { "htonl", args = { A("int", 80) } },
  { "ntohl", args = { A("int", 80) } },
  -- waiting and tasks (tasks branch)
  { "select", args = { A("table", function(f) return { f.conn } end), A("table", function() return {} end),
                       A("waitnil", 0) } },
  { "poller", args = {} },
  { "spawn", args = { A("fn", function() return function() end end) } },
  { "run", args = { A("fn", function() return function() end end) } },
  { "stop", args = {} },
  { "serve", args = { A("host", "127.0.0.1"), A("port", 0), A("fn", function() return function() end end),
                      A("table", nil) } },
}
-- }======

local function present(list, where)
  local out = {}
  for _, sig in ipairs(list) do
    if where(sig) then out[#out + 1] = sig end
  end
  return out
end
methods = present(methods, function(sig) return ns.socketmethods[sig[1]] ~= nil end)
funcs = present(funcs, function(sig) return ns[sig[1]] ~= nil end)
do
  local f = fixtures()
  objmethods = present(objmethods, function(sig)
    local o = f[sig.self]
    return o ~= nil and o[sig[1]] ~= nil
  end)
  closeall(f)
end

-- close whatever a successful call returned (sockets, arrays of them)
-- the data-path methods: on a closed socket they return nil, "closed",
-- "closed" (API.md, "Data-path calls on a closed socket"); the others raise
local datapath = { accept = true, send = true, sendall = true, recv = true,
                   sendto = true, recvfrom = true, sendfile = true }

local function release(r)
  for i = 1, r.n do
    local v = r[i]
    if type(v) == "userdata" and v.close then v:close() end
    -- serve's server object (a table with the socket's close)
    if type(v) == "table" and getmetatable(v) and v.close then v:close() end
    if type(v) == "thread" and ns.run then ns.run() end  -- a spawned task
  end
end

local function goodargs(sig, f)
  local args = {}
  for i, a in ipairs(sig.args) do
    local g = a.good
    if type(g) == "function" then g = g(f) end
    args[i] = g
  end
  return args
end

describe("bad input", function()
  local fdbase

  setup(function()
    collectgarbage(); collectgarbage()
    fdbase = H.fdcount()
  end)

  for _, sig in ipairs(methods) do
    local name = sig[1]
    it("s:" .. (sig.label or name) .. " with every wrong argument", function()
      local f = fixtures()
      for i = 1, #sig.args do
        if sig.args[i].kind ~= "any" or true then
          for _, pair in ipairs(values) do
            local v = pair[2]
            local kind = sig.args[i].kind
            if not (skip[kind] and skip[kind](v)) then
              if sig.fresh then closeall(f); f = fixtures() end
              local args = goodargs(sig, f)
              args[i] = v
              local ok, r = try(name, true, f[sig.self], args, math.max(#sig.args, i))
              if ok then release(r) end
              if kind == "path" and ok and r[1] then
                -- a wrong value that works as a path (-1, 1.5, "bogus") is a
                -- file in the working directory: remove the one bound
                local bound = f[sig.self]:getsockname()
                if bound and bound ~= "" and bound:sub(1, 1) ~= "\0" then os.remove(bound) end
              end
            end
          end
        end
      end
      if not sig.fresh then checkusable(f, "s:" .. name) end
      closeall(f)
    end)

    it("s:" .. (sig.label or name) .. " on every wrong self", function()
      local f = fixtures()
      local args = goodargs(sig, f)
      for _, pair in ipairs(values) do
        local v = pair[2]
        if not (sig.fresh and v == closed and name == "close") then
          local ok = pcall(caller(name, true), setmetatable({}, { __index = ns.socketmethods }),
            unpack(args, 1, #sig.args))
          assert.is_false(ok)  -- a table that only looks like a socket
          local err = select(2, pcall(ns.socketmethods[name], v, unpack(args, 1, #sig.args)))
          if v == closed then
            -- a closed socket: close, fileno and tostring work; the rest raise
            -- (or, where API.md says so, fail)
          else
            assert.is_truthy(type(err) == "string" and err:find("netsock.socket expected", 1, true),
              "s:" .. name .. " on " .. pair[1] .. ": " .. tostring(err))
          end
        end
      end
      -- on a closed socket: close/fileno answer, the data path returns
      -- nil, "closed", "closed" (API.md), everything else raises
      for _, pair in ipairs({ { "closed", closed } }) do
        local ok, r = try(name, true, pair[2], args, #sig.args)
        if name == "close" then
          assert.is_true(ok and r[1] == true)
        elseif name == "fileno" then
          assert.are.equal(-1, r[1])
        elseif datapath[name] then
          assert.is_true(ok and r[1] == nil and r[2] == "closed" and r[3] == "closed",
            "s:" .. name .. " on a closed socket: " .. tostring(ok and r[2] or r))
        else
          assert.is_false(ok, "s:" .. name .. " on a closed socket did not raise")
        end
      end
      closeall(f)
    end)

    it("s:" .. (sig.label or name) .. " on every kind of socket", function()
      for _, kind in ipairs({ "srv", "udp", "tcp", "unix", "conn" }) do
        -- binding or connecting a Unix socket to an inet address makes a
        -- file named like the address; those pairs are left out
        local skipme = kind == "unix" and (name == "bind" or name == "connect" or name == "connect_ex")
          and not sig.label
        skipme = skipme or (sig.label and kind ~= "unix")
        if not skipme then
          local f = fixtures()
          local args = goodargs(sig, f)
          if name == "recv" or name == "accept" then f[kind]:settimeout(0) end
          local ok, r = try(name, true, f[kind], args, #sig.args)
          if ok then release(r) end
          if not sig.fresh then checkusable(f, kind .. ":" .. name) end
          closeall(f)
        end
      end
    end)
  end

  for _, sig in ipairs(funcs) do
    local name = sig[1]
    it("netsock." .. name .. " with every wrong argument", function()
      local f = fixtures()
      for i = 1, math.max(#sig.args, 1) do
        for _, pair in ipairs(values) do
          local v = pair[2]
          local kind = sig.args[i] and sig.args[i].kind or "extra"
          if not (skip[kind] and skip[kind](v)) then
            local args = goodargs(sig, f)
            args[i] = v
            local ok, r = try(name, false, ns, args, math.max(#sig.args, i))
            if ok then release(r) end
            if name == "setdefaulttimeout" then ns.setdefaulttimeout(nil) end
            -- tasks a call left (spawn, serve's accepting task): run them out
            if ns.run and (name == "spawn" or name == "serve" or name == "stop") then ns.run() end
          end
        end
      end
      checkusable(f, "netsock." .. name)
      closeall(f)
    end)
  end

  for _, sig in ipairs(objmethods) do
    local name = sig[1]
    local label = sig.self .. ":" .. name
    it(label .. " with every wrong argument", function()
      local f = fixtures()
      for i = 1, #sig.args do
        local kind = sig.args[i].kind
        for _, pair in ipairs(values) do
          local v = pair[2]
          if not (skip[kind] and skip[kind](v)) then
            if sig.fresh then closeall(f); f = fixtures() end
            local args = goodargs(sig, f)
            args[i] = v
            local ok, r = try(name, true, f[sig.self], args, math.max(#sig.args, i))
            if ok and name ~= "lines" then release(r) end
          end
        end
      end
      if not sig.fresh then checkusable(f, label) end
      closeall(f)
    end)

    it(label .. " on every wrong self and once closed", function()
      local f = fixtures()
      local obj = f[sig.self]
      local method = obj[name]
      local args = goodargs(sig, f)
      for _, pair in ipairs(values) do
        local ok, err = pcall(method, pair[2], table.unpack(args, 1, #sig.args))
        assert.is_false(ok, label .. " accepted " .. pair[1] .. " as self")
        assert.is_truthy(type(err) == "string" and err:find("expected", 1, true),
          label .. " on " .. pair[1] .. ": " .. tostring(err))
      end
      -- a socket where a file or poller is expected, and the reverse
      assert.is_false(pcall(method, f.conn, table.unpack(args, 1, #sig.args)))
      -- once closed: close answers again, the rest raise (or fail)
      obj:close()
      local ok, r = try(name, true, obj, args, #sig.args)
      if name == "close" then
        assert.is_true(ok, label .. ": a second close raised")
      elseif ok and name == "lines" then   -- an iterator that ends at once
        assert.is_nil(r[1](), label .. " worked on a closed object")
      elseif ok then
        assert.is_truthy(r[1] == nil or name == "fileno" or name == "pending",
          label .. " worked on a closed object")
      end
      closeall(f)
    end)
  end

  it("made every kind of outcome and leaked no descriptor", function()
    assert.is_true(counts.raised > 100)
    assert.is_true(counts.failed > 10)
    assert.is_true(counts.succeeded > 10)
    collectgarbage(); collectgarbage()
    -- sockets the calls created and dropped are collected: the count
    -- is back where it started (fromfd duplicates are closed by GC too;
    -- objects of specs that ran before may be collected now: fewer is fine)
    local now = H.fdcount()
    assert.is_true(now <= fdbase, ("descriptors: %d before, %d after"):format(fdbase, now))
  end)
end)

-- the error a method call raises (called as a method, so the message
-- names it as a user sees it)
local function perr(obj, name, ...)
  local ok, err = pcall(caller(name, true), obj, ...)
  assert.is_false(ok, name .. " did not raise")
  return err
end

describe("bad input: ranges", function()
  local s
  before_each(function() s = ns.tcp() end)
  after_each(function() s:close() end)

  it("rejects ports outside 0..65535 in every form", function()
    for _, p in ipairs({ -1, 65536, 1e10, 1.5, -0.5, 0 / 0, math.huge, -math.huge,
                         math.maxinteger, math.mininteger, "65536", "-1", "99999999999999999999",
                         "", "8\0", "0x50\0" }) do
      assert.matches("bad argument #2 to 'bind'", perr(s, "bind", "127.0.0.1", p))
    end
  end)

  it("accepts every port form in range", function()
    assert.is_true(s:bind("127.0.0.1", "0"))
    assert.is_truthy(select(2, s:getsockname()) > 0)
  end)

  it("rejects negative and NaN timeouts, takes +inf as for ever", function()
    for _, t in ipairs({ -1, -0.001, 0 / 0, -math.huge, "x" }) do
      assert.matches("bad argument #1 to 'settimeout'", perr(s, "settimeout", t))
    end
    assert.is_true(s:settimeout(math.huge))
    assert.is_nil(s:gettimeout())
    assert.is_true(s:settimeout(1e300))
    assert.is_true(s:settimeout(0))
    assert.are.equal(0, s:gettimeout())
  end)

  it("rejects negative backlogs and clamps huge ones", function()
    assert.is_true(s:bind("127.0.0.1", 0))
    assert.has_error(function() s:listen(-1) end)
    assert.has_error(function() s:listen(math.mininteger) end)
    assert.has_error(function() s:listen(1.5) end)
    assert.is_true(s:listen(math.maxinteger))
  end)

  it("rejects huge and negative recv sizes and answers a huge one with what is there", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    assert.has_error(function() a:recv(-1) end)
    assert.has_error(function() a:recv(math.maxinteger) end)
    assert.has_error(function() a:recv(2 ^ 53) end)
    assert.has_error(function() a:recv(0 / 0) end)
    assert.is_true(b:sendall("hello"))
    a:settimeout(5)
    assert.are.equal("hello", a:recv(1 << 30))
  end)

  it("never returns more than bufsize, whatever the flags (MSG_TRUNC)", function()
    -- regression: with MSG_TRUNC recv(2) returns a datagram's whole
    -- length; the core pushed that many bytes from a buffer of bufsize
    -- (a stack over-read below 64 KiB, a heap overflow above)
    local a, b = assert(ns.socketpair("unix", "dgram"))
    finally(function() a:close(); b:close() end)
    b:settimeout(5)
    assert.are.equal(100, a:send(("x"):rep(100)))
    assert.are.equal(("x"):rep(10), b:recv(10, ns.MSG_TRUNC))
    assert.is_true(a:setoption("sndbuf", 1 << 20))
    local big = ("y"):rep(100000)
    assert.are.equal(#big, a:send(big))
    assert.are.equal(("y"):rep(70000), b:recv(70000, ns.MSG_TRUNC))
    assert.are.equal(5, a:send("hello"))
    assert.are.equal("hel", b:recv(3, ns.MSG_TRUNC | ns.MSG_PEEK))
    assert.are.equal("hello", b:recv(100))
  end)

  it("rejects send ranges that are not integers, clamps integer ones", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    assert.has_error(function() a:send("abc", 1.5) end)
    assert.has_error(function() a:send("abc", 0 / 0) end)
    assert.are.equal(3, a:send("abc", math.mininteger, math.maxinteger))
    assert.are.equal(0, a:send("abc", math.maxinteger, math.mininteger))
    assert.are.equal(1, a:send("abc", -1))
    b:settimeout(5)
    assert.are.equal("abcc", b:recv(10))
  end)

  it("rejects hosts with embedded zeros", function()
    for _, h in ipairs({ "127.0.0.1\0", "\0", "127.0.0.1\0evil.example" }) do
      assert.has_error(function() s:bind(h, 0) end, "bad argument #1 to 'bind' (host contains a zero byte)")
      assert.has_error(function() s:connect(h, 1) end, "bad argument #1 to 'connect' (host contains a zero byte)")
      assert.has_error(function() ns.getaddrinfo(h, 1) end)
    end
  end)

  it("rejects Unix paths with embedded zeros, empty, or too long", function()
    local u = ns.socket("unix")
    finally(function() u:close() end)
    -- sun_path: 108 bytes on Linux, 104 on macOS and the BSDs
    local size = H.unix_path_max() + 1
    for _, p in ipairs({ "", "/tmp/a\0b", ("x"):rep(size), ("x"):rep(4096) }) do
      assert.matches("bad argument #1 to 'bind'", perr(u, "bind", p))
      assert.matches("bad argument #1 to 'connect'", perr(u, "connect", p))
    end
    -- the longest a path may be: sun_path less its zero (107 bytes on
    -- Linux); abstract (Linux): all 108
    local ok = pcall(u.connect, u, "/" .. ("x"):rep(size - 2))
    assert.is_true(ok)
    if not H.linux then return end  -- the rest: abstract names, Linux's own
    assert.matches("too long", perr(u, "bind", "\0" .. ("x"):rep(108)))
    local a = ns.socket("unix")
    assert.is_true(a:bind("\0" .. ("n"):rep(107)))
    local name = a:getsockname()
    assert.are.equal(108, #name)
    a:close()
  end)

  it("rejects unknown families, types and option names", function()
    assert.has_error(function() ns.socket("inet7") end)
    assert.has_error(function() ns.socket(12345) end)
    assert.has_error(function() ns.socket("inet", "streams") end)
    assert.has_error(function() ns.socket("inet", 999) end)
    assert.has_error(function() ns.socket("inet", "stream", -1) end)
    assert.has_error(function() s:setoption("nodelays", true) end)
    assert.has_error(function() s:setoption("a\0b", true) end)
    -- regression (fuzz_options): a name with a zero byte was cut there
    -- and taken for the option before it
    assert.has_error(function() s:setoption("reuseport\0\0\0", true) end,
      "bad argument #1 to 'setoption' (unknown option 'reuseport')")
    assert.has_error(function() s:getoption("nodelay\0x") end)
    assert.has_error(function() s:getoption("") end)
    assert.has_error(function() s:setsockopt(-1, 1, 1) end)
    assert.has_error(function() s:setsockopt(1, 1, 2 ^ 40) end)
    assert.has_error(function() s:getsockopt(ns.SOL_SOCKET, ns.SO_RCVBUF, 0) end)
    assert.has_error(function() s:getsockopt(ns.SOL_SOCKET, ns.SO_RCVBUF, 1 << 40) end)
  end)

  it("select with writers nil (or left out) still honours its timeout", function()
    -- regression: filling in the missing writers table dropped the
    -- timeout argument, so select(readers, nil, t) waited for ever; run
    -- in a child so that a regression fails instead of hanging the suite
    local p = H.lua([[
local ns = require "netsock"
local a, b = assert(ns.socketpair())
local t0 = ns.monotime()
local r, w, what = ns.select({ a }, nil, 0.05)
assert(#r == 0 and #w == 0 and what == "timeout", "not a timeout")
r, w, what = ns.select(nil, nil, 0.05)
assert(#r == 0 and #w == 0 and what == "timeout", "not a timeout")
assert(ns.monotime() - t0 < 2, "too slow")
print("ok")
]])
    finally(function() p:kill() end)
    assert.are.equal(0, p:wait(10), "select hung or failed: " .. p:output())
    assert.are.equal("ok", p:line(1))
  end)

  it("select refuses tables whose length is negative or absurd", function()
    local a, b = assert(ns.socketpair())
    finally(function() a:close(); b:close() end)
    local function liar(n) return setmetatable({}, { __len = function() return n end }) end
    for _, n in ipairs({ -1, -(1 << 40), 1 << 40, math.maxinteger, math.mininteger }) do
      local ok, err = pcall(ns.select, liar(n), { a, a, a }, 0)
      assert.is_false(ok, "length " .. n .. " accepted")
      assert.matches("bad argument #1", err)
      ok, err = pcall(ns.select, { a }, liar(n), 0)
      assert.is_false(ok, "length " .. n .. " accepted")
      assert.matches("bad argument #2", err)
    end
  end)

  it("a failed call leaves the socket usable", function()
    local srv, port = H.listen_local()
    finally(function() srv:close() end)
    pcall(s.connect, s, "127.0.0.1", 70000)
    pcall(s.connect, s, {}, port)
    assert.is_true(s:connect("127.0.0.1", port))
    srv:settimeout(5)
    local a = assert(srv:accept())
    assert.is_true(s:sendall("ok"))
    a:settimeout(5)
    assert.are.equal("ok", a:recv(2))
    a:close()
  end)
end)

-- The Lua-written functions raise as the C ones do: the message names
-- the function the user called and the argument, and the position is
-- the user's line (here, this file), not a line inside lua/.
describe("bad input: errors name what the user called", function()
  local here = "spec/badinput_spec.lua:"
  local function raises(want, fn, ...)
    local ok, err = pcall(function(...) fn(...) end, ...)  -- called from this file
    assert.is_false(ok, "did not raise: " .. want)
    assert.are.equal(here, err:sub(1, #here), "not blamed on the caller's line: " .. err)
    assert.are.equal(want, err:gsub("^[^:]*:%d+: ", ""), err)
  end

  it("create_connection without a port raises (it used to connect to port 0)", function()
    raises("bad argument #2 to 'create_connection' (port expected, got no value)",
           ns.create_connection, "127.0.0.1")
    raises("bad argument #2 to 'create_connection' (port expected, got table)",
           ns.create_connection, "127.0.0.1", {})
  end)

  it("out-of-range ports name create_connection and create_server, not getaddrinfo", function()
    for _, p in ipairs({ -1, 65536, 70000, "70000", "-1", 2.0 ^ 63, math.huge }) do
      raises("bad argument #2 to 'create_connection' (port out of range)",
             ns.create_connection, "127.0.0.1", p)
      raises("bad argument #2 to 'create_server' (port out of range)",
             ns.create_server, "127.0.0.1", p)
      raises("bad argument #5 to 'create_connection' (port out of range)",
             ns.create_connection, "127.0.0.1", 9, 1, "127.0.0.1", p)
    end
    raises("bad argument #2 to 'create_server' (number has no integer representation)",
           ns.create_server, "127.0.0.1", 1.5)
    raises("bad argument #2 to 'create_server' (invalid port)", ns.create_server, "127.0.0.1", "")
    raises("bad argument #1 to 'create_connection' (host contains a zero byte)",
           ns.create_connection, "127.0.0.1\0evil", 80)
    raises("bad argument #1 to 'create_server' (string expected, got boolean)",
           ns.create_server, true, 0)
  end)

  it("create_server names its options argument and each bad option", function()
    raises("bad argument #3 to 'create_server' (table expected, got number)",
           ns.create_server, "127.0.0.1", 0, 5)
    raises("bad argument #3 to 'create_server' (backlog: integer expected, got string)",
           ns.create_server, "127.0.0.1", 0, { backlog = "x" })
    raises("bad argument #3 to 'create_server' (backlog: out of range)",
           ns.create_server, "127.0.0.1", 0, { backlog = -1 })
    raises("bad argument #3 to 'create_server' (family: inet or inet6 expected, got 'bogus')",
           ns.create_server, "127.0.0.1", 0, { family = "bogus" })
    raises("bad argument #3 to 'create_server' (dualstack needs family inet6)",
           ns.create_server, "127.0.0.1", 0, { family = "inet", dualstack = true })
  end)

  it("run(true) names run and serve(true, ...) names serve", function()
    raises("bad argument #1 to 'run' (function expected, got boolean)", ns.run, true)
    raises("bad argument #1 to 'spawn' (function expected, got boolean)", ns.spawn, true)
    local h = function() end
    raises("bad argument #1 to 'serve' (string expected, got boolean)", ns.serve, true, 0, h)
    raises("bad argument #2 to 'serve' (port out of range)", ns.serve, "127.0.0.1", 70000, h)
    raises("bad argument #3 to 'serve' (function expected, got no value)", ns.serve, "127.0.0.1", 0)
    raises("bad argument #4 to 'serve' (table expected, got number)", ns.serve, "127.0.0.1", 0, h, 5)
    raises("bad argument #4 to 'serve' (backlog: out of range)",
           ns.serve, "127.0.0.1", 0, h, { backlog = -1 })
    raises("bad argument #4 to 'serve' (limit must be a positive integer)",
           ns.serve, "127.0.0.1", 0, h, { limit = 0 })
    assert.are.equal(0, ns._tasks.stats().live, "a refused serve left a task")
  end)

  it("a good port still works everywhere a port goes (numbers, digits, service names)", function()
    for _, p in ipairs({ 0, "0", 0.0 }) do
      local srv = assert(ns.create_server("127.0.0.1", p))
      local port = select(2, srv:getsockname())
      local c = assert(ns.create_connection("127.0.0.1", tostring(port), 5))
      c:close(); srv:close()
    end
    local ok, msg, code = ns.create_connection("127.0.0.1", "no-such-service-x", 1)
    assert.is_nil(ok)
    assert.are.equal("EAI_SERVICE", code, msg)
  end)
end)
