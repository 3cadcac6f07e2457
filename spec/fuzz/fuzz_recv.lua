-- spec/fuzz/fuzz_recv.lua: the receive path against a reference model.
-- The input is a program: each op byte picks an action, the bytes after
-- it its operands. Writes go into one end of a Unix stream socketpair
-- (random chunkings, any bytes: zeros, "\r", "\n"); reads at the other
-- end use s:recv with random sizes and MSG_PEEK. The model is a plain
-- string of the bytes written and not yet read: every read must return
-- a non-empty prefix of it (no loss, no reordering, no duplication),
-- "timeout" when it is empty, "closed" once the writer shut down, and
-- at the end the rest must come out exactly.
local core = ...

local PEEK = core.MSG_PEEK

return function(data)
  local a, b = assert(core.socketpair("unix", "stream"))
  a:settimeout(0)
  b:settimeout(0)
  local pos, model, shut = 1, "", false
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
    elseif kind == 1 or kind == 2 then  -- recv(n [, MSG_PEEK])
      local n = op >> 2
      if n == 63 then n = 1 << 20 elseif n == 62 then n = 65537 end
      local flags = kind == 2 and PEEK or 0
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
        assert(model:sub(1, #r) == r, "bytes differ")
        if flags == 0 then model = model:sub(#r + 1) end
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
    local r, _, code = b:recv(4096)
    rest[#rest + 1] = r
  until not r
  assert(table.concat(rest) == model, "the rest differs")
  b:close()
end
