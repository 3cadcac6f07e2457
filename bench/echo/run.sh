#!/bin/sh
# usage: sh bench/echo/run.sh [SECONDS] [ROUNDS]
# Line-echo servers side by side: netsock.serve, cqueues, copas (LuaSocket)
# and a C epoll server, each under the C load generator with N = 1, 100 and
# 1,000 concurrent clients (closed loop: one 32-byte line in flight per
# client). Each cell is the median of ROUNDS runs of SECONDS, the servers
# taking turns so that noise on the machine spreads over all of them.
# Run from the checkout after `make`.
set -u
SECS=${1:-2}
ROUNDS=${2:-${BENCH_REPS:-3}}
cd "$(dirname "$0")/../.." || exit 1
OUT=build/bench
mkdir -p "$OUT"
CC=${CC:-cc}
$CC -O2 -o "$OUT/echo_c" bench/echo/echo_c.c || exit 1
$CC -O2 -o "$OUT/echo_load" bench/echo/load.c || exit 1
export LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;"
ulimit -n 8192 2>/dev/null

SERVERS="netsock cqueues copas c"
have() {
  case $1 in
    cqueues) lua5.4 -e 'require "cqueues"' 2>/dev/null ;;
    copas) lua5.4 -e 'package.path=package.path..";/usr/share/lua/5.2/?.lua" require "copas" require "socket"' 2>/dev/null ;;
    *) true ;;
  esac
}

port=$((12000 + $$ % 8000))   # below the ephemeral range (32768-)
start() {  # start server $1 on $port; sets pid
  case $1 in
    c) "$OUT/echo_c" "$port" & ;;
    *) lua5.4 "bench/echo/echo_$1.lua" "$port" & ;;
  esac
  pid=$!
  i=0
  while ! nc -z 127.0.0.1 "$port" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 50 ] && break; sleep 0.1
  done
}

results="$OUT/echo_results.txt"
: > "$results"
for n in 1 100 1000; do
  r=1
  while [ $r -le "$ROUNDS" ]; do
    for s in $SERVERS; do
      have "$s" || continue
      port=$((port + 1))
      start "$s"
      v=$("$OUT/echo_load" "$port" "$n" "$SECS" 2>/dev/null)
      kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
      echo "$s $n ${v:-0}" >> "$results"
    done
    r=$((r + 1))
  done
done

lua5.4 - "$results" "$SERVERS" <<'LUA'
local file, servers = arg[1], {}
for s in arg[2]:gmatch("%S+") do servers[#servers + 1] = s end
local cells = {}
for line in io.lines(file) do
  local s, n, v = line:match("(%S+) (%d+) (%d+)")
  local k = s .. "/" .. n
  cells[k] = cells[k] or {}
  table.insert(cells[k], tonumber(v))
end
local function median(t)
  if not t then return nil end
  table.sort(t)
  return t[(#t + 1) // 2]
end
print(("line echo, requests/s (median of runs); ratio = netsock / other"))
io.write(("%-6s"):format("N"))
for _, s in ipairs(servers) do io.write(("%12s"):format(s)) end
for _, s in ipairs(servers) do if s ~= "netsock" then io.write(("%14s"):format("vs " .. s)) end end
print()
for _, n in ipairs({ 1, 100, 1000 }) do
  io.write(("%-6d"):format(n))
  local ns = median(cells["netsock/" .. n])
  for _, s in ipairs(servers) do
    local m = median(cells[s .. "/" .. n])
    io.write(("%12s"):format(m and tostring(m) or "n/a"))
  end
  for _, s in ipairs(servers) do
    if s ~= "netsock" then
      local m = median(cells[s .. "/" .. n])
      io.write(("%14s"):format((m and m > 0 and ns) and ("%.2f"):format(ns / m) or "n/a"))
    end
  end
  print()
end
LUA
