#!/bin/sh
# usage: sh bench/luasocket/instr.sh [MODES]
# Instructions per operation of bench/luasocket/cpu.lua's clients under
# callgrind (valgrind): repeatable where the CPU times of run.sh drift
# with the load of the machine. Each client runs twice, with a small and
# a large count, and the difference divided by the difference of the
# counts is the cost of one operation (start-up, loading and connection
# set-up cancel out). User-space instructions of the client process only:
# the kernel's share of a system call is not counted (run.sh's CPU
# times count it). Prints "MODE IMPL instr/op" and the layer's ratios.
# IMPLS="layer" measures only the named implementations.
cd "$(dirname "$0")/../.." || exit 1
command -v valgrind >/dev/null || { echo "instr.sh needs valgrind (Debian package valgrind)" >&2; exit 1; }
MODES=${1:-"http redis lines udp accept bulk"}
export LUA_PATH="lua/?.lua;;" LUA_CPATH="build/?.so;;"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
instr() {  # instr IMPL MODE PORT N: instructions of one client run
  if [ "$1" = real ]; then
    env -u LUA_PATH -u LUA_CPATH valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      lua5.4 bench/luasocket/cpu.lua "$@" 2>&1 >/dev/null
  else
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      lua5.4 bench/luasocket/cpu.lua "$@" 2>&1 >/dev/null
  fi | awk '/Collected/ { print $4 }'
}
for mode in $MODES; do
  case $mode in
    http) a=100 b=600 ;; redis) a=1000 b=6000 ;; lines) a=20000 b=220000 ;;
    udp) a=1000 b=6000 ;; accept) a=100 b=600 ;; bulk) a=10 b=40 ;;
    *) echo "unknown mode $mode" >&2; exit 1 ;;
  esac
  port=0 spid=
  if [ "$mode" != accept ]; then
    lua5.4 bench/luasocket/server.lua "$mode" > "$tmp/server" 2>&1 &
    spid=$!
    i=0
    while ! grep -q "^port" "$tmp/server" 2>/dev/null; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
    port=$(awk '/^port/ {print $2; exit}' "$tmp/server")
  fi
  for impl in ${IMPLS:-real layer netsock}; do
    x=$(instr "$impl" "$mode" "$port" "$a")
    y=$(instr "$impl" "$mode" "$port" "$b")
    if [ -n "$x" ] && [ -n "$y" ]; then
      echo "$mode $impl $(( (y - x) / (b - a) ))"
    else
      echo "$mode $impl failed"
    fi
  done
  if [ -n "$spid" ]; then kill "$spid"; wait "$spid" 2>/dev/null; fi
done | awk '
  { print; v[$1 " " $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
  END {
    for (i = 1; i <= n; i++) {
      m = order[i]
      printf "%-8s layer/real %.2f  layer/netsock %.2f\n", m,
        v[m " real"] ? v[m " layer"] / v[m " real"] : 0,
        v[m " netsock"] ? v[m " layer"] / v[m " netsock"] : 0
    }
  }'
