-- spec/fuzz/fuzz_tls.lua: random and mutated TLS records fed to a
-- server-side handshake (s:starttls on a server context). The input is
-- the client's side of the conversation: its first byte picks how it is
-- delivered (all at once before starttls, so that starttls feeds the
-- buffered bytes to the handshake; or after it, in two writes; with or
-- without the client's end of stream), the rest goes to the server as
-- the client's bytes. The seeds are real ClientHellos (TLS 1.3, TLS
-- 1.2-only, with ALPN and SNI); libFuzzer mutates them. Whatever comes,
-- starttls and the reads after it must return, and fail only as the API
-- says: nil, a message, and one of the codes below. Never a crash
-- (ASan+UBSan), never a hang (a timeout of 0: nothing waits).
local core = ...
local tls = assert(core._tls, "fuzz_tls needs netsock built with OpenSSL")

local CODES = { timeout = true, tls = true, tls_eof = true, tls_verify = true,
                closed = true, ECONNRESET = true, EPIPE = true }

-- the server's certificate: made once, at start-up, by the specs' helper
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local mk = io.popen("mktemp -d /tmp/netsock-fuzz.XXXXXX")  -- ours: no remove-then-reuse race
local dir = mk:read("l")
mk:close()
local p = io.popen(("sh %q %q 2>&1"):format(here .. "/../tls/mkcerts.sh", dir))
local out = p:read("a")
p:close()
assert(out:match("ok"), "mkcerts: " .. out)
local ctx = assert(tls.context{ mode = "server", certfile = dir .. "/leaf.pem",
                                keyfile = dir .. "/leaf.key", alpn = { "h2", "http/1.1" } })
local cctx = assert(tls.context{ mode = "server", certfile = dir .. "/leaf.pem",
                                 keyfile = dir .. "/leaf.key", verify_client = "require",
                                 cafile = dir .. "/ca.pem" })

local function failure(what, ok, msg, code)
  if ok == nil then
    if type(msg) ~= "string" or not CODES[code] then
      error(("%s: bad failure %s, %s"):format(what, tostring(msg), tostring(code)))
    end
    return true
  end
  return false
end

return function(input)
  if #input == 0 then return end
  local mode = input:byte(1)
  local data = input:sub(2)
  local a, b = assert(core.socketpair())
  a:settimeout(0)
  b:settimeout(0)
  local before = mode & 1 == 0
  if before then a:send(data) end
  if mode & 2 ~= 0 and before then a:shutdown("w") end
  local ok, msg, code = b:starttls(mode & 4 ~= 0 and cctx or ctx)
  if not failure("starttls", ok, msg, code) then
    error("a random handshake completed")
  end
  if not before then
    local half = #data // 2
    a:send(data:sub(1, half))
    a:send(data:sub(half + 1))
    if mode & 2 ~= 0 then a:shutdown("w") end
    if b:tlsinfo() == nil then
      ok, msg, code = b:handshake()
      if ok then error("a random handshake completed") end
      failure("handshake", ok, msg, code)
    end
  end
  local w = b:tlswant()
  assert(w == nil or w == "r" or w == "w", "tlswant: " .. tostring(w))
  -- whatever state it is in, the data paths fail cleanly too
  failure("recv", b:recv(100))
  assert(b:pending() == 0, "plaintext out of a failed handshake")
  b:close()
  a:close()
end
