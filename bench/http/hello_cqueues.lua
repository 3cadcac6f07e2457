-- usage: lua5.4 bench/http/hello_cqueues.lua PORT
-- examples/http_hello.lua's responder written for cqueues, for bench/http.
local cqueues = require "cqueues"
local socket = require "cqueues.socket"
local port = tonumber(arg[1]) or 8080
local TIMEOUT = tonumber(os.getenv("BENCH_SOCK_TIMEOUT"))  -- the timed variant

local body = "Hello, World!\n"
local reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
  .. #body .. "\r\n\r\n" .. body

local cq = cqueues.new()
local srv = socket.listen{ host = "127.0.0.1", port = port, reuseaddr = true, backlog = 4096 }
cq:wrap(function()
  for conn in srv:clients() do
    cq:wrap(function()
      pcall(function()
        conn:setmode("b", "bn")  -- no buffering of writes
        if TIMEOUT then conn:settimeout(TIMEOUT) end
        while true do
          local close = false
          local line = conn:read("*l")           -- request line
          if not line then return end
          if line:find("HTTP/1%.0") then close = true end
          local length = 0
          for h in conn:lines("*h") do           -- headers
            local lh = h:lower()
            length = tonumber(lh:match("^content%-length:%s*(%d+)")) or length
            if lh:find("^connection:%s*close") then close = true end
            if lh:find("^connection:%s*keep%-alive") then close = false end
          end
          conn:read("*l")                        -- the empty line
          if length > 0 then conn:read(length) end
          conn:write(reply)
          if close then return end
        end
      end)
      conn:close()
    end)
  end
end)
assert(cq:loop())
