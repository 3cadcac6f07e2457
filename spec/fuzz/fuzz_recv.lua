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

local function stream(data, pos)
  local a, b = assert(core.socketpair("unix", "stream"))
  a:settimeout(0)
  b:settimeout(0)
  local model, shut = "", false
  local function byte()
    local c = data:byte(pos) or 0
    pos = pos + 1
    return c
  end
  while pos <= #data do
    local op = byte()
    local kind = op & 3
    if kind == 0 then  -- write a chunk of the next n bytes
      local n = byte()
      local chunk = data:sub(pos, pos + n - 1)
      pos = pos + #chunk
      if not shut then
        assert(a:sendall(chunk))
        model = model .. chunk
      end
    elseif kind == 1 or kind == 2 then  -- recv(n [, flags])
      local n = readsize(op)
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
      assert(b:pending() >= 0)
    else  -- 3: the writer shuts down its side
      if not shut then assert(a:shutdown("w")); shut = true end
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
