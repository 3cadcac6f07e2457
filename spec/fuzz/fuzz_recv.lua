-- spec/fuzz/fuzz_recv.lua: the receive path against a reference model.
-- The input is a program: its first byte picks a Unix stream or
-- datagram socketpair; then each op byte picks an action, the bytes
-- after it its operands. Writes go into one end (random chunkings, any
-- bytes: zeros, "\r", "\n"); reads at the other end use s:recv with
-- random sizes and flags (MSG_PEEK, MSG_TRUNC). The model is plain Lua:
-- for a stream, the string of bytes written and not yet read (every
-- read returns a non-empty prefix of it: no loss, no reordering, no
-- duplication; "timeout" when it is empty, "closed" after the writer's
-- shutdown); for datagrams, a queue (a read returns the head datagram
-- cut at bufsize, never more). At the end the rest must come out exactly.
local core = ...

local PEEK, TRUNC = core.MSG_PEEK, core.MSG_TRUNC

local function readsize(op)
  local n = op >> 2
  if n == 63 then n = 100000 elseif n == 62 then n = 65537 end  -- the heap path
  return n
end

-- the file-object model: what f:read(fmt) must return given the bytes
-- not yet read ('model'), whether the writer shut down, and the file's
-- line limit; and how many bytes it takes. Returns (values, taken).
local function readmodel(fmt, model, shut, limit)
  if fmt == "l" or fmt == "L" then
    local i = model:find("\n", 1, true)
    if i and i <= limit then
      local line = model:sub(1, i)
      if fmt == "l" then line = line:gsub("\r?\n$", "") end
      return { line }, i
    elseif #model >= limit then
      return { nil, "overflow" }, 0
    elseif shut then
      if #model == 0 then return { nil, "closed" }, 0 end
      return { model }, #model
    end
    return { nil, "timeout" }, 0
  elseif fmt == "a" then
    if shut then return { model }, #model end
    return { nil, "timeout" }, 0
  else  -- a count
    local n = fmt
    if n == 0 then
      if #model > 0 then return { "" }, 0 end
      return { nil, shut and "closed" or "timeout" }, 0
    end
    if #model >= n then return { model:sub(1, n) }, n end
    if shut then
      if #model == 0 then return { nil, "closed" }, 0 end
      return { model }, #model
    end
    return { nil, "timeout" }, 0
  end
end

local formats = { "l", "L", "a", "*l", "*L", "*a" }

local function stream(data, pos)
  local a, b = assert(core.socketpair("unix", "stream"))
  a:settimeout(0)
  b:settimeout(0)
  local files, limits = {}, {}
  if b.makefile then
    files[1], files[2] = b:makefile("r"), b:makefile("rw")
    limits[1], limits[2] = 1024 * 1024, 1024 * 1024
  end
  local model, shut = "", false
  local function byte()
    local c = data:byte(pos) or 0
    pos = pos + 1
    return c
  end
  local function format(c, op)
    if c < 192 then
      local f = formats[c % #formats + 1]
      return f, f:gsub("^%*", "")
    end
    local n = op >> 3
    if n == 31 then n = 100000 end
    return n, n
  end
  while pos <= #data do
    local op = byte()
    local kind = op & 7
    if kind == 0 or kind == 7 then  -- write a chunk of the next n (or 16n) bytes
      local n = byte() * (kind == 7 and 16 or 1)
      local chunk = data:sub(pos, pos + n - 1)
      pos = pos + #chunk
      if not shut then
        assert(a:sendall(chunk))
        model = model .. chunk
      end
    elseif kind == 1 or kind == 2 then  -- s:recv(n [, flags])
      local n = readsize(op << 1)
      local flags = kind == 2 and PEEK or 0
      if kind == 1 then
        local f = byte()
        flags = ((f & 1) ~= 0 and PEEK or 0) | ((f & 2) ~= 0 and TRUNC or 0)
      end
      local r, msg, code = b:recv(n, flags)
      if n == 0 then
        assert(r == "" or code == "timeout" or code == "closed", tostring(msg))
      elseif #model == 0 then
        assert(r == nil, "data out of nowhere")
        assert(code == (shut and "closed" or "timeout"), "wrong code " .. tostring(code))
        assert(msg == code)
      else
        assert(r, "lost data: " .. tostring(msg))
        assert(#r >= 1 and #r <= n and #r <= #model, "bad length " .. #r)
        -- MSG_TRUNC on a stream discards the bytes (Linux TCP) or is
        -- ignored (Unix): either way it must not hand out other bytes
        if flags & TRUNC == 0 then
          assert(model:sub(1, #r) == r, "bytes differ")
        end
        if flags & PEEK == 0 then model = model:sub(#r + 1) end
      end
      assert(b:pending() >= 0 and b:pending() <= #model, "pending out of range")
    elseif kind == 3 then  -- the writer shuts down its side
      if not shut then assert(a:shutdown("w")); shut = true end
    elseif files[1] and (kind == 4 or kind == 5) then  -- f:read with 1 or 2 formats
      local c1 = byte()
      local which = (c1 & 1) + 1
      local f = files[which]
      local fmts, keys = {}, {}
      fmts[1], keys[1] = format(c1, op)
      if kind == 5 then
        local c2 = byte()
        fmts[2], keys[2] = format(c2, op)
      end
      local got = table.pack(f:read(table.unpack(fmts)))
      local want = {}
      for i = 1, #fmts do
        local vals, taken = readmodel(keys[i], model, shut, limits[which])
        model = model:sub(taken + 1)
        if vals[1] == nil then
          want[#want + 1] = { fail = vals[2] }
          break
        end
        want[#want + 1] = vals[1]
      end
      for i, w in ipairs(want) do
        if type(w) == "table" then
          assert(got[i] == nil, ("read %d: %q where the model fails with %s")
            :format(i, tostring(got[i]), w.fail))
          assert(got[i + 2] == w.fail, ("read %d: code %s, model %s")
            :format(i, tostring(got[i + 2]), w.fail))
          assert(type(got[i + 1]) == "string")
        else
          assert(got[i] == w, ("read %d (%s): %q, model %q")
            :format(i, tostring(fmts[i]), tostring(got[i]), w))
        end
      end
      assert(b:pending() <= #model, "buffered more than was sent")
    elseif files[1] and kind == 6 then  -- f:setlimit(n), 1..256 or the default
      local c = byte()
      local which = (c & 1) + 1
      local n = c >> 1
      if n == 0 then n = 1024 * 1024 end
      assert(files[which]:setlimit(n))
      limits[which] = n
    end
  end
  a:close()
  assert(a:close() == true)  -- idempotent
  local rest = {}
  repeat
    local r = b:recv(4096)
    rest[#rest + 1] = r
  until not r
  assert(table.concat(rest) == model, "the rest differs")
  for _, f in ipairs(files) do assert(f:close()) end
  b:close()
end

local function dgram(data, pos)
  local a, b = assert(core.socketpair("unix", "dgram"))
  a:settimeout(0)
  b:settimeout(0)
  local queue, head, tail = {}, 1, 0  -- queue[head..tail]
  local function byte()
    local c = data:byte(pos) or 0
    pos = pos + 1
    return c
  end
  while pos <= #data do
    local op = byte()
    local kind = op & 3
    if kind == 0 or kind == 3 then  -- one datagram of the next n (or 8n) bytes
      local n = byte() * (kind == 3 and 8 or 1)
      local chunk = data:sub(pos, pos + n - 1)
      pos = pos + #chunk
      if tail - head < 100 then  -- stay below the socket's queue limit
        assert(a:send(chunk) == #chunk)
        tail = tail + 1
        queue[tail] = chunk
      end
    else
      local n = readsize(op)
      local f = kind == 1 and byte() or 2
      local flags = ((f & 1) ~= 0 and TRUNC or 0) | ((f & 2) ~= 0 and PEEK or 0)
      local r, msg, code = b:recv(n, flags)
      local d = queue[head]
      if d == nil then
        assert(r == nil and code == "timeout", "data out of nowhere: " .. tostring(msg))
      else
        assert(r, "lost a datagram: " .. tostring(msg))
        assert(r == d:sub(1, n), "datagram differs (" .. #r .. " bytes for " .. #d .. ")")
        if flags & PEEK == 0 then
          queue[head] = nil
          head = head + 1
        end
      end
    end
  end
  a:close()
  for i = head, tail do
    assert(b:recv(65536) == queue[i], "the rest differs")
  end
  local r, _, code = b:recv(65536)
  assert(r == nil and code == "timeout", "a datagram too many")
  b:close()
end

return function(data)
  if #data == 0 then return end
  if data:byte(1) & 1 == 0 then stream(data, 2) else dgram(data, 2) end
end
