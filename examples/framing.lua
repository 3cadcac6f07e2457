-- usage: lua5.4 examples/framing.lua [--host H] [--port P]
-- Sockets carry streams, not messages: one send may arrive as several
-- recvs, several sends as one. To send messages, frame them: here each
-- message is a Lua table, encoded with string.pack and sent after its
-- length (4 bytes, big-endian). A server on --host/--port (default: a
-- free port) receives what a client in the same script sends, awkwardly.
local netsock = require "netsock"

local opt, i = { host = "127.0.0.1", port = 0 }, 1
while arg[i] do  -- --name value; an option whose default is false is a flag
  local k = arg[i]:match("^%-%-([%w-]+)$")
  if opt[k] == nil or (opt[k] ~= false and not arg[i + 1]) then
    io.stderr:write("bad option ", arg[i], ": see the usage line of ", arg[0], "\n") os.exit(2)
  end
  if opt[k] == false then opt[k], i = true, i + 1 else opt[k], i = arg[i + 1], i + 2 end
end
local pack, unpack = string.pack, string.unpack

-- Values as bytes: a one-letter tag, then the value. Unlike pickle or
-- load(), decoding builds data only: a peer cannot make us run code.
local function encode(v, out)
  local t = math.type(v) or type(v)
  if t == "string" then out[#out + 1] = pack(">c1s4", "s", v)
  elseif t == "integer" then out[#out + 1] = pack(">c1j", "i", v)
  elseif t == "float" then out[#out + 1] = pack(">c1n", "f", v)
  elseif t == "boolean" then out[#out + 1] = v and "T" or "F"
  elseif t == "table" then
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    out[#out + 1] = pack(">c1I4", "t", n)
    for k, x in pairs(v) do encode(k, out) encode(x, out) end
  else error("cannot send a " .. t) end
  return out
end

local function decode(s, pos)
  local tag = s:sub(pos, pos)
  if tag == "s" then return unpack(">s4", s, pos + 1)
  elseif tag == "i" then return unpack(">j", s, pos + 1)
  elseif tag == "f" then return unpack(">n", s, pos + 1)
  elseif tag == "T" or tag == "F" then return tag == "T", pos + 1
  elseif tag == "t" then
    local t, n = {}, nil
    n, pos = unpack(">I4", s, pos + 1)
    for _ = 1, n do
      local k, v
      k, pos = decode(s, pos)
      v, pos = decode(s, pos)
      t[k] = v
    end
    return t, pos
  end
  error("bad message")
end

-- A frame: the length, then the bytes (">s4" packs both at once).
local function frame(t) return pack(">s4", table.concat(encode(t, {}))) end

-- recv(n) returns up to n bytes: loop until all n are here.
local function recv_exactly(sock, n)
  local parts = {}
  while n > 0 do
    local data, msg = sock:recv(n)
    if not data then return nil, msg end
    parts[#parts + 1], n = data, n - #data
  end
  return table.concat(parts)
end

local function recv_message(sock)
  local head, msg = recv_exactly(sock, 4)
  if not head then return nil, msg end            -- "closed": no more messages
  local size = unpack(">I4", head)
  -- Never trust a length from the network: it could announce 4 GiB.
  if size > 1 << 20 then return nil, "message too large" end
  local body = assert(recv_exactly(sock, size))
  return (decode(body, 1))
end

local function show(v)     -- a table as text, keys sorted so the output is stable
  if type(v) ~= "table" then return type(v) == "string" and ("%q"):format(v) or tostring(v) end
  local keys, out = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do out[#out + 1] = ("%s=%s"):format(k, show(v[k])) end
  return "{" .. table.concat(out, ", ") .. "}"
end

local server = assert(netsock.create_server(opt.host, opt.port))
local client = assert(netsock.create_connection(server:getsockname()))
local conn = assert(server:accept())
conn:settimeout(5)

-- Two messages in one sendall: the receiver must find the boundary.
assert(client:sendall(frame { user = "ada", id = 1 } .. frame { "a", "list", 3.5 }))
-- One message a byte at a time: the receiver must wait for all of it.
local bytes = frame { nested = { ok = true, n = 42 }, text = "bytes arrive as they please" }
for k = 1, #bytes do assert(client:sendall(bytes, k, k)) end
client:close()

local count = 0
while true do
  local t = recv_message(conn)
  if not t then break end
  count = count + 1
  print(("message %d: %s"):format(count, show(t)))
end
print(("%d messages, boundaries intact"):format(count))
conn:close() server:close()
