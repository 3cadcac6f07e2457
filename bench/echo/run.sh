#!/bin/sh
# usage: sh bench/echo/run.sh [SECONDS] [ROUNDS]
# Line-echo servers side by side: netsock.serve, cqueues, copas (LuaSocket)
# and a C epoll server, each under the C load generator with N = 1, 100 and
# 1,000 concurrent clients (closed loop: one 32-byte line in flight per
# client). Each cell is the median of ROUNDS runs of SECONDS, the servers
# taking turns so that noise on the machine spreads over all of them.
# Timed variants (BENCH_TIMED=0 leaves them out): the Lua servers again with
# a 30 s timeout on every connection (settimeout(30), BENCH_SOCK_TIMEOUT),
# printed as a second table against the untimed C server. Inside tasks and
# event loops a timeout is a deadline in the loop's timer heap, not a
# kernel wait, so this measures what the loops' timers cost.
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

SERVERS="netsock netsock_w2 cqueues copas c"
[ "${BENCH_TIMED:-1}" = 0 ] || SERVERS="$SERVERS netsock_t cqueues_t copas_t"
have() {
  case ${1%_t} in
    cqueues) lua5.4 -e 'require "cqueues"' 2>/dev/null ;;
    copas) lua5.4 -e 'package.path=package.path..";/usr/share/lua/5.2/?.lua" require "copas" require "socket"' 2>/dev/null ;;
    *) true ;;
  esac
}

port=$((12000 + $$ % 8000))   # below the ephemeral range (32768-)
start() {  # start server $1 on $port; sets pid
  case $1 in
    c) "$OUT/echo_c" "$port" & ;;
    netsock_w2) BENCH_WORKERS=2 lua5.4 bench/echo/echo_netsock.lua "$port" & ;;
    *_t) BENCH_SOCK_TIMEOUT=30 lua5.4 "bench/echo/echo_${1%_t}.lua" "$port" & ;;
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
-- one table: 'list' the servers shown, 'ours' the netsock column the
-- ratios divide, 'others' the servers it is divided by
local function tab(title, list, ours, others)
  print(title)
  io.write(("%-6s"):format("N"))
  for _, s in ipairs(list) do io.write(("%12s"):format(s)) end
  for _, s in ipairs(others) do io.write(("%14s"):format("vs " .. s)) end
  print()
  for _, n in ipairs({ 1, 100, 1000 }) do
    io.write(("%-6d"):format(n))
    local ns = median(cells[ours .. "/" .. n])
    for _, s in ipairs(list) do
      local m = median(cells[s .. "/" .. n])
      io.write(("%12s"):format(m and tostring(m) or "n/a"))
    end
    for _, s in ipairs(others) do
      local m = median(cells[s .. "/" .. n])
      io.write(("%14s"):format((m and m > 0 and ns) and ("%.2f"):format(ns / m) or "n/a"))
    end
    print()
  end
end
local plain, timed = {}, {}
for _, s in ipairs(servers) do
  if s:match("_t$") then timed[#timed + 1] = s else plain[#plain + 1] = s end
end
local others = {}
for _, s in ipairs(plain) do
  if s ~= "netsock" and s ~= "netsock_w2" then others[#others + 1] = s end
end
tab("line echo, requests/s (median of runs); ratio = netsock / other",
    plain, "netsock", others)
if cells["netsock_w2/1"] then
  print()
  tab("netsock_w2 (serve with workers = 2: two processes); ratio = netsock_w2 / other",
      plain, "netsock_w2", others)
end
if #timed > 0 then
  local tothers = {}
  for _, s in ipairs(timed) do if s ~= "netsock_t" then tothers[#tothers + 1] = s end end
  tothers[#tothers + 1] = "c"
  timed[#timed + 1] = "c"
  print()
  tab("timed (_t: settimeout(30) on every connection; c: the untimed C server); ratio = netsock_t / other",
      timed, "netsock_t", tothers)
end
LUA
