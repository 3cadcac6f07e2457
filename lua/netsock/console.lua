-- netsock.console: a Lua prompt with the task loop running underneath
-- (the `netsock` command, bin/netsock), and the endpoint through which
-- a terminal attaches to a program that runs the loop.
--
-- A session reads chunks as lua5.4 -i does (a line is first tried as
-- `return line`, `=expr` is `return expr`, an incomplete chunk goes on
-- at `>>`) and runs each as a task of its own: a call that waits in it
-- suspends that chunk alone while every other task goes on. The session
-- itself is a task that waits for its next line through a "term":
--
--   term:read(prompt)   the next line; nil at end of input; false when
--                       the line was abandoned (Ctrl-C at the prompt)
--   term:write(text)    output for the person at the prompt
--   term:history(text)  a chunk worth recalling
--
-- Local terminals: libedit (netsock.edit, where it was built) or a plain
-- line reader. Attached terminals: a Unix-domain socket speaking a small
-- framed protocol (see the Endpoint section).

local netsock = require "netsock"
local core = require "netsock.core"
local tasks = require "netsock.tasks"
local check = require "netsock.check"

local error, load, pcall, xpcall, select, setmetatable, getmetatable =
      error, load, pcall, xpcall, select, setmetatable, getmetatable
local tostring, tonumber, type, rawget, rawset = tostring, tonumber, type, rawget, rawset
local io, os, string, table, debug, coroutine = io, os, string, table, debug, coroutine
local utf8 = utf8
local pack, unpack, concat = table.pack, table.unpack, table.concat
local require = require
local G = _G
_ENV = nil

local M = {}

-- {====== Sessions ======

local Session = {}
Session.__index = Session

-- what lua.c prints for an error value
local function errtext(e)
  if type(e) == "string" then return e end
  local mt = getmetatable(e)
  if mt and mt.__tostring then return tostring(e) end
  return ("(error object is a %s value)"):format(type(e))
end

-- the traceback as lua.c shows it: the console's own frames cut off
local function msghandler(e)
  local tb = debug.traceback(errtext(e), 2)
  return (tb:gsub("\n\t%[C%]: in function 'xpcall'\n.*$", ""))
end

-- the same under core._watchcall, whose message handler calls this one
local function watchmsghandler(e)
  local tb = debug.traceback(errtext(e), 3)
  return (tb:gsub("\n\t%[C%]: in [^\n]*_watchcall'?\n.*$", ""))
end

-- M.session(term, opts): opts.env (the chunks' environment, default _G),
-- opts.progname (the prefix of error messages), opts.print (how results
-- are printed), opts.interrupt_hook (SIGINT may stop a busy chunk),
-- opts.watchfd (a descriptor whose becoming readable stops a busy chunk:
-- the attached terminal's connection)
function M.session(term, opts)
  opts = opts or {}
  return setmetatable({
    term = term,
    env = opts.env or G,
    progname = opts.progname or "netsock",
    print = opts.print or G.print,
    hook = opts.interrupt_hook,
    watchfd = opts.watchfd,
    chunk = nil,        -- the task running the current chunk
    task = nil,         -- the session's own task
    hooked = false,     -- the last chunk ended by the SIGINT hook
    interrupted = false, -- a Ctrl-C for the line handed over (interrupt)
  }, Session)
end

-- a line from the terminal; false at once when a Ctrl-C came after the
-- last line was handed over and found no chunk to stop (see interrupt)
function Session:readline(prompt)
  if self.interrupted then
    self.interrupted = false
    return false
  end
  return self.term:read(prompt)
end

-- the next chunk as a function; nil at end of input; false when Ctrl-C
-- dropped it; or nil, message for a syntax error
function Session:readchunk()
  local line = self:readline("> ")
  if not line then return line end
  if line:sub(1, 1) == "=" then line = "return " .. line:sub(2) end
  local fn = load("return " .. line .. ";", "=stdin", "t", self.env)
  if fn then
    self.term:history(line)
    return fn
  end
  local buf = line
  while true do
    local f, err = load(buf, "=stdin", "t", self.env)
    if f then
      self.term:history(buf)
      return f
    end
    if not err:find("<eof>$") then
      self.term:history(buf)
      return nil, err
    end
    local more = self:readline(">> ")
    if more == nil then return nil, err end
    if more == false then return false end
    buf = buf .. "\n" .. more
  end
end

-- run fn as a task, wait until it ends; true, results or false, error
function Session:runchunk(fn)
  if self.interrupted then   -- Ctrl-C came right behind the line: never run it
    self.interrupted = false
    return false, "interrupted!"
  end
  local res = nil
  local chunk = tasks.spawn(function()
    local _ <close> = setmetatable({}, { __close = function()
      if self.hook then self.hooked = core._siginterrupt() end
    end })
    if self.watchfd then
      local r = pack(core._watchcall(self.watchfd, fn, watchmsghandler))
      self.hooked = r[1]
      res = pack(unpack(r, 2, r.n))
    else
      res = pack(xpcall(fn, msghandler))
    end
  end)
  tasks.label(chunk, "console chunk")
  self.chunk = chunk
  if self.hook then core._siginterrupt(chunk) end
  -- join, not a flag its <close> sets: a Ctrl-C that cancels the chunk
  -- before it ever ran (its frame read just after the line's) runs no
  -- <close> of it, and the session waited for ever
  tasks.join(chunk)
  self.chunk = nil
  if res == nil then return false, "interrupted!" end  -- cancelled
  return res
end

function Session:report(msg)
  self.term:write(("%s: %s\n"):format(self.progname, msg))
end

-- the session's body: read, run, print, until end of input
function Session:loop()
  self.task = coroutine.running()
  while true do
    local fn, err = self:readchunk()
    if fn == nil and err == nil then break end     -- end of input
    if fn == false then                             -- Ctrl-C at the prompt
    elseif not fn then self:report(err)
    else
      local res, msg = self:runchunk(fn)
      if res == false then self:report(msg)
      elseif not res[1] then self:report(res[2])
      elseif res.n > 1 then
        local ok, perr = pcall(self.print, unpack(res, 2, res.n))
        if not ok then self:report("error calling 'print' (" .. errtext(perr) .. ")") end
      end
    end
  end
end

-- Ctrl-C: end the running chunk, or drop the line being typed. A Ctrl-C
-- that comes after a line was handed over (term.reading false) but
-- before its chunk runs (frames read together, or the session's task
-- not resumed yet) is kept for that chunk, which then never starts: lost,
-- it would leave a chunk that never waits running with nothing left to
-- stop it. Once the chunk has ended it drops the next prompt's line.
function Session:interrupt()
  if self.hooked then  -- this SIGINT's hook stopped the chunk already
    self.hooked = false
    return
  end
  if self.chunk then self:stopchunk()
  elseif self.term.reading == false then self.interrupted = true
  else self.term:abandon() end
end

-- cancel the running chunk: the hooks that may stop it go first, so
-- that none fires in the __close handlers that closing the chunk runs
function Session:stopchunk()
  local chunk = self.chunk
  if not chunk then return end
  if self.hook then core._siginterrupt() end
  if self.watchfd then core._unwatch(chunk) end
  tasks.cancel(chunk)
end

-- }======

-- {====== Local terminals: libedit, or plain lines ======

local Term = {}
Term.__index = Term

local function newterm()
  local self = setmetatable({ reading = false, waiter = nil, result = nil }, Term)
  local ok, edit = pcall(require, "netsock.edit")
  if ok and os.getenv("NETSOCK_NOEDIT") == nil then
    self.ed = edit.new("netsock")
  end
  self.tty = core._isatty(0)
  if not self.ed then io.stdin:setvbuf("no") end  -- select sees every byte
  return self
end

function Term:deliver(v)
  self.reading = false
  self.result = v
  tasks.wake(self.waiter)
end

-- the editor failed (it raised): said once; the session ends as at end
-- of input rather than with a dead input task
function Term:failed(err)
  io.stderr:write("\nnetsock: the line editor failed: ", tostring(err), "\n")
  self.broken = true
end

-- one keystroke's worth (libedit) or one line (plain); false at the end
function Term:feed()
  if self.ed then
    if self.broken then return false end
    local ok, v = pcall(self.ed.feed, self.ed)
    if ok then return v end
    self:failed(v)
    return false
  end
  local line = io.stdin:read("L")
  if line == nil then return false end
  line = line:gsub("\r?\n$", "")
  if not self.tty then io.stdout:write(line, "\n") end  -- a transcript
  return line
end

function Term:feeder()
  while true do
    while not self.reading do tasks.park() end
    netsock.select({ 0 }, nil)
    if self.reading then
      local v = self:feed()
      if v ~= nil then
        if v == false then v = nil end
        self:deliver(v)
      end
    end
  end
end

function Term:read(prompt)
  self.waiter = coroutine.running()
  self.prompt = prompt
  if self.ed then
    if self.broken then return nil end
    local ok, err = pcall(self.ed.prompt, self.ed, prompt)
    if not ok then self:failed(err); return nil end
  else io.stdout:write(prompt); io.stdout:flush() end
  self.reading = true
  if not self.task then
    self.task = tasks.spawn_daemon(self.feeder, self)
    tasks.label(self.task, "console input")
  else
    tasks.wake(self.task)
  end
  while self.reading do tasks.park() end
  return self.result
end

function Term:abandon()
  if not self.reading then return end
  if self.ed then self.ed:abandon() end
  io.stdout:write("\n")
  io.stdout:flush()
  self:deliver(false)
end

-- the read ends as at end of input (the other side went away)
function Term:cancel()
  if not self.reading then return end
  if self.ed then self.ed:abandon() end
  io.stdout:write("\n")
  io.stdout:flush()
  self:deliver(nil)
end

function Term:write(text)
  io.stderr:write(text)
end

function Term:history(text)
  if self.ed then self.ed:add(text) end
end

function Term:close()
  if self.ed then self.ed:close() end
end

-- }======

-- {====== The endpoint: netsock.console.listen(path), attach ======
--
-- Frames both ways: one letter, the length in decimal, ':', the bytes.
--   program -> terminal  P prompt (read a line)   O output
--   terminal -> program  L line    I interrupt (Ctrl-C)
-- A terminal that closes the connection has detached.

local MAXFRAME = 1 << 20   -- the longest frame either side sends or takes

local function frame(kind, data)
  return kind .. #data .. ":" .. data
end

-- read one frame from a file object: kind, data, or nil, message, code
-- at the end or on a frame that breaks the protocol (a length that is
-- not plain digits, or above MAXFRAME: memory stays bounded whatever
-- the other side sends)
local function readframe(f)
  local head = {}
  while true do
    local c, msg, code = f:read(1)
    if not c then return nil, msg, code end
    if c == ":" then break end
    head[#head + 1] = c
    if #head > 8 then return nil, "bad frame", "EPROTO" end
  end
  local kind, digits = concat(head):match("^(%a)(%d+)$")
  local len = tonumber(digits)
  if not len then return nil, "bad frame", "EPROTO" end
  if len > MAXFRAME then return nil, "frame too long", "EPROTO" end
  if len == 0 then return kind, "" end
  local data, msg, code = f:read(len)
  if not data or #data < len then return nil, msg or "closed", code or "closed" end
  return kind, data
end

-- What the endpoint sends reaches the operator's terminal as text: tabs,
-- line ends and printable UTF-8 as they are; every other control
-- character (C0 but tab and newline, a carriage return not before a
-- newline, DEL, C1 whether UTF-8 or a raw byte) and every byte that is
-- not part of valid UTF-8 is shown as a Lua escape ("\027"), so output
-- cannot retitle, clear or reprogram the terminal.
local UNSAFE = "[%z\1-\8\11-\31\127-\255]"

local function escaped(b) return ("\\%03d"):format(b) end

local function shown(s)
  if not s:find(UNSAFE) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local j = s:find(UNSAFE, i)
    if not j then out[#out + 1] = s:sub(i); break end
    if j > i then out[#out + 1] = s:sub(i, j - 1) end
    local b, len = s:byte(j), 1
    if b == 13 and s:byte(j + 1) == 10 then
      out[#out + 1] = "\r\n"; len = 2
    elseif b >= 0xC2 and b <= 0xF4 then
      local l = b >= 0xF0 and 4 or b >= 0xE0 and 3 or 2
      local seq = s:sub(j, j + l - 1)
      local ok, cp = pcall(utf8.codepoint, seq, 1, 1)   -- strict: no overlong, no surrogate
      if #seq == l and ok and cp >= 0xA0 and utf8.len(seq) == 1 then
        out[#out + 1] = seq; len = l
      else
        out[#out + 1] = escaped(b)
      end
    else
      out[#out + 1] = escaped(b)
    end
    i = j + len
  end
  return concat(out)
end

-- a prompt from the endpoint: shown, and short (the editor takes 63 bytes)
local function shownprompt(p)
  p = shown(p)
  if #p <= 48 then return p end
  p = p:sub(1, 48)
  while #p > 0 and not utf8.len(p) do p = p:sub(1, -2) end  -- no cut character
  return p
end
M._shown = shown

local Remote = {}
Remote.__index = Remote

function Remote:send(kind, data)
  local i = 1
  repeat                                -- longer output in several frames
    if self.closed then return end
    local ok = self.conn:sendall(frame(kind, data:sub(i, i + MAXFRAME - 1)))
    if not ok then self.closed = true end
    i = i + MAXFRAME
  until i > #data
end

function Remote:read(prompt)
  if self.closed then return nil end
  self:send("P", prompt)
  self.waiter = coroutine.running()
  self.reading = true
  while self.reading do tasks.park() end
  return self.result
end

function Remote:deliver(v)
  if not self.reading then return end
  self.reading = false
  self.result = v
  tasks.wake(self.waiter)
end

function Remote:abandon()
  self:deliver(false)
end

function Remote:write(text) self:send("O", text) end
function Remote:history() end

-- the task reading the terminal's frames
function Remote:reader(session)
  local f = self.conn:makefile("r")
  while true do
    local kind, data = readframe(f)
    if kind == nil then break end
    if kind == "L" then self:deliver(data)
    elseif kind == "I" then session:interrupt() end
  end
  self.closed = true
  session:stopchunk()
  -- a line handed over whose chunk has not started yet never runs:
  -- nobody is there any more to see it or to stop it
  if self.reading == false then session.interrupted = true end
  self:deliver(nil)
end

-- a session in this program for one attached terminal: the chunks see
-- the program's globals (reads and writes go to _G) except print, which
-- goes to the terminal, and netsock, there even when the program keeps
-- it in a local
local function attached(conn, genv)
  local remote = setmetatable({ conn = conn }, Remote)
  genv = genv or G
  local function rprint(...)
    local n, parts = select("#", ...), {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    remote:write(concat(parts, "\t") .. "\n")
  end
  local env = setmetatable({ print = rprint, netsock = netsock }, {
    __index = genv,
    __newindex = function(_, k, v) genv[k] = v end,
  })
  local session = M.session(remote, { env = env, print = rprint,
                                      progname = "netsock", watchfd = conn:fileno() })
  local r = tasks.spawn_daemon(Remote.reader, remote, session)
  tasks.label(r, "console attached (frames)")
  tasks.label(coroutine.running(), "console attached")
  session:loop()
  conn:close()
end

local Endpoint = {}
Endpoint.__index = Endpoint

-- A path is ours to take when nothing is there, or when what is there
-- is a socket file of this user that nobody listens on (a dead
-- endpoint's leftover): only that is removed. A regular file, a
-- directory, a link, another user's socket or a live endpoint is left
-- alone: nil, message, "EADDRINUSE".
local function claim(path)
  if path:sub(1, 1) == "\0" then return true end  -- abstract: no file
  local kind, uid, dev, ino = core._lstat(path)
  if kind == nil then                             -- uid, dev: message, code
    if dev == "ENOENT" then return true end
    return nil, path .. ": " .. uid, dev
  end
  local function inuse(why)
    return nil, ("%s: %s (left alone)"):format(path, why), "EADDRINUSE"
  end
  if kind ~= "socket" then return inuse("a " .. kind .. " is there, not a socket") end
  if uid ~= core.geteuid() then return inuse("a socket of another user (uid " .. uid .. ")") end
  local probe = netsock.socket("unix", "stream")
  probe:settimeout(1)
  local ok, _, code = probe:connect(path)
  probe:close()
  if ok then return inuse("a console is listening there") end
  if code ~= "ECONNREFUSED" then return inuse("a socket that is not provably dead (" .. tostring(code) .. ")") end
  local gone, msg, ucode = core._unlinksocket(path, dev, ino)
  if not gone and ucode ~= "ENOENT" then
    if ucode == "EEXIST" then return inuse("it changed while we looked") end
    return nil, path .. ": " .. msg, ucode
  end
  return true
end

local OPTIONS = { env = "table" }

-- the options table of listen, each checked when the call is made: an
-- unknown name or a wrong type raises naming it (a mistyped option
-- never falls back to a default silently)
local function checkoptions(opts)
  opts = check.opttable("listen", 2, opts, 3)
  for k, v in G.pairs(opts) do
    local want = OPTIONS[k]
    if want == nil then
      check.argerror("listen", 2, "unknown option '" .. tostring(k) .. "'", 3)
    end
    if type(v) ~= want then
      check.argerror("listen", 2, ("option '%s': %s expected, got %s")
        :format(k, want, check.typename(v)), 3)
    end
  end
  return opts
end

-- netsock.console.listen(path [, options]): a console endpoint on a
-- Unix-domain socket, mode 0600, for this user only (SO_PEERCRED);
-- `netsock console PATH` attaches to it. options.env: the chunks'
-- environment (default: the program's globals). Returns an object with
-- close() (which removes the socket file it made, and nothing else)
-- and path; or nil, message, code.
function M.listen(path, options)
  check.string("listen", 1, path)
  if path == "" or (path:sub(1, 1) ~= "\0" and path:find("\0", 1, true)) then
    check.argerror("listen", 1, "path empty or with a zero byte")
  end
  options = checkoptions(options)
  -- Windows: no file modes, owners or peer credentials to keep the
  -- endpoint to this user (src/win/process_win.c)
  if core._noconsole then error("console.listen: " .. core._noconsole, 2) end
  local ok, msg, code = claim(path)
  if not ok then return nil, msg, code end
  tasks.track(true)  -- from now on netsock.tasks() says where tasks were spawned
  local srv = netsock.socket("unix", "stream")
  local old = core._umask(0x7f)        -- 0177: the socket is made 0600
  ok, msg, code = srv:bind(path)
  core._umask(old)
  if ok then ok, msg, code = srv:listen(8) end
  if not ok then
    srv:close()
    return nil, msg, code
  end
  local me = core.geteuid()
  local ep = setmetatable({ path = path, socket = srv }, Endpoint)
  if path:sub(1, 1) ~= "\0" then        -- the file we made, to remove it
    local kind, _, dev, ino = core._lstat(path)
    if kind == "socket" then ep.made = { dev = dev, ino = ino } end
  end
  ep.task = tasks.spawn_daemon(function()
    while true do
      local conn = srv:accept()
      if not conn then break end
      local _, uid = conn:getpeercred()
      if uid ~= me then
        conn:sendall(frame("O", "netsock console: permission denied (another user)\n"))
        conn:close()
      else
        tasks.spawn_daemon(attached, conn, options.env)
      end
    end
  end)
  tasks.label(ep.task, "console endpoint " .. path)
  return ep
end

-- closes the endpoint; its socket file goes only if it is still the one
-- listen made (someone may have replaced it since)
function Endpoint:close()
  if self.socket:fileno() >= 0 then
    self.socket:close()
    if self.made then core._unlinksocket(self.path, self.made.dev, self.made.ino) end
  end
  return true
end
Endpoint.__close = Endpoint.close

-- the terminal's side: attach this terminal to the endpoint at path
function M.attach(path)
  check.string("attach", 1, path)
  if core._noconsole then error("console.attach: " .. core._noconsole, 2) end
  local conn, msg, code = netsock.socket("unix", "stream")
  if conn then
    conn:settimeout(5)
    local ok
    ok, msg, code = conn:connect(path)
    if not ok then conn:close(); conn = nil end
  end
  if not conn then
    io.stderr:write(("netsock: cannot attach to %s: %s\n"):format(path, msg))
    return 1, code
  end
  -- the endpoint proves who runs it, as we prove it to the endpoint:
  -- whoever bound the path first (in /tmp, while the program was down)
  -- would read every line typed and write to this terminal
  local _, uid = conn:getpeercred()
  local me = core.geteuid()
  if uid ~= me and uid ~= 0 then
    conn:close()
    io.stderr:write(("netsock: will not attach to %s: the endpoint is run by uid %s, "
      .. "not by you (uid %d) or root\n"):format(path, tostring(uid), me))
    return 1, "EACCES"
  end
  conn:settimeout(nil)
  local term = newterm()
  local f = conn:makefile("r")
  netsock.onsignal("SIGINT", function()
    term:abandon()                  -- the line being typed, if any
    conn:sendall(frame("I", ""))    -- the program drops or cancels its part
  end)
  -- two tasks: one reads the program's frames (so that output, and the
  -- program going away, are seen while the prompt waits), one the lines
  local pending, done, detached, broken = nil, false, false, nil
  local input
  local reader = netsock.spawn(function()
    while true do
      local kind, data, code = readframe(f)
      if kind == nil then
        if code == "EPROTO" then broken = data end
        break
      end
      if kind == "O" then
        data = shown(data)
        if term.reading and term.ed then    -- above the prompt, as at home
          io.stdout:write("\r\27[K", data)
          io.stdout:flush()
          term.ed:redraw()
        else
          io.stdout:write(data)
          io.stdout:flush()
        end
      elseif kind == "P" then
        pending = shownprompt(data)
        tasks.wake(input)
      end
    end
    done = true
    if not detached then
      term:cancel()
      if broken then
        io.stderr:write(("netsock: the endpoint broke the console's protocol (%s)\n"):format(broken))
      else
        io.stderr:write("netsock: the program closed the console\n")
      end
    end
    tasks.wake(input)
  end)
  input = netsock.spawn(function()
    while not done do
      if pending == nil then tasks.park()
      else
        local prompt = pending
        pending = nil
        local line = term:read(prompt)
        if done then break end
        if line == nil then                 -- Ctrl-D: detach
          detached = true
          io.stdout:write("\n")
          break
        end
        if line and #line > MAXFRAME then   -- dropped, as by Ctrl-C
          io.stderr:write(("netsock: a line of %d bytes is too long (at most %d)\n")
            :format(#line, MAXFRAME))
          if not conn:sendall(frame("I", "")) then break end
        elseif line then                    -- false: Ctrl-C, a new P comes
          term:history(line)
          if not conn:sendall(frame("L", line)) then break end
        end
      end
    end
    detached = detached or not done
    conn:close()                            -- the reader ends, if it has not
  end)
  tasks.label(reader, "console terminal (frames)")
  tasks.label(input, "console terminal")
  netsock.run()
  term:close()
  netsock.onsignal("SIGINT", nil)
  return 0
end

-- }======

-- {====== The command: netsock [console PATH] ======

local usage = [[
usage: netsock                  a Lua prompt with the task loop running
       netsock console PATH     attach to a program's console endpoint
                                (netsock.console.listen(PATH))
]]

function M.main(args)
  args = args or {}
  if args[1] == "console" or args[1] == "attach" then
    if not args[2] then io.stderr:write(usage); return 2 end
    return M.attach(args[2])
  elseif args[1] == "-h" or args[1] == "--help" then
    io.stdout:write(usage)
    return 0
  elseif args[1] ~= nil then
    io.stderr:write(usage)
    return 2
  end
  G.netsock = netsock
  tasks.track(true)  -- netsock.tasks() says where each task was spawned
  local term = newterm()
  local session = M.session(term, { interrupt_hook = true, progname = "netsock" })
  if term.tty then
    io.stdout:write(("netsock console (%s, %s): the task loop runs underneath; Ctrl-D leaves\n")
      :format(netsock._VERSION, G._VERSION))
  end
  netsock.onsignal("SIGINT", function() session:interrupt() end)
  local rawprint = G.print
  if term.ed then
    netsock.onsignal("SIGWINCH", function() term.ed:resize() end)
    -- a task printing while the prompt waits: its line goes above the
    -- prompt, and the prompt and what was typed are drawn again below
    G.print = function(...)
      if not term.reading then return rawprint(...) end
      io.stdout:write("\r\27[K")
      rawprint(...)
      io.stdout:flush()
      term.ed:redraw()
    end
  end
  local finished = false
  local t = netsock.spawn(function()
    session:loop()
    io.stdout:write("\n")
    term:close()
    netsock.onsignal("SIGINT", nil)
    netsock.onsignal("SIGWINCH", nil)
    G.print = rawprint
    finished = true
    netsock.stop()
  end)
  tasks.label(t, "console")
  -- a chunk that calls netsock.stop() stops the loop, not the console
  repeat netsock.run() until finished
  return 0
end

-- }======

return M
