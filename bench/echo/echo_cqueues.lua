-- usage: lua5.4 bench/echo/echo_cqueues.lua PORT
-- The same line echo on cqueues (Debian lua-cqueues). cqueues raises on
-- I/O errors (a client that resets), so each client runs under pcall.
local cqueues = require "cqueues"
local socket = require "cqueues.socket"
local port = tonumber(arg[1]) or 9000
local TIMEOUT = tonumber(os.getenv("BENCH_SOCK_TIMEOUT"))  -- the timed variant

local cq = cqueues.new()
local srv = socket.listen{ host = "127.0.0.1", port = port, reuseaddr = true, backlog = 4096 }
cq:wrap(function()
  for conn in srv:clients() do
    cq:wrap(function()
      pcall(function()
        conn:setmode("b", "b")
        conn:setvbuf("no")    -- unbuffered writes, as the others
        if TIMEOUT then conn:settimeout(TIMEOUT) end
        for line in conn:lines("*L") do
          conn:write(line)
        end
      end)
      conn:close()
    end)
  end
end)
assert(cq:loop())
