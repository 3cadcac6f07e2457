-- netsock f:lines(): usage: lua5.4 ns_lines.lua HOST PORT
local ns = require "netsock"
local s = assert(ns.create_connection(arg[1], tonumber(arg[2])))
if os.getenv("BENCH_SOCK_TIMEOUT") then  -- the timed variant
  s:settimeout(tonumber(os.getenv("BENCH_SOCK_TIMEOUT")))
end
local f = s:makefile("r")
local t0, n = ns.monotime(), 0
for _ in f:lines() do n = n + 1 end
print(n, ns.monotime() - t0)
