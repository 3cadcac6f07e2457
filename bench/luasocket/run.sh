#!/bin/sh
# usage: sh bench/luasocket/run.sh [ROUNDS]
# CPU per operation of netsock.luasocket against Debian's LuaSocket
# (http: socket.http with a new connection per GET; redis: request and
# response on one connection) and against plain netsock (lines, udp,
# accept, bulk), each client a process of its own, the implementations
# alternating round by round against the same netsock server; the median
# of the rounds is reported with the ratios.
cd "$(dirname "$0")/../.." || exit 1
ROUNDS=${1:-5}
export LUA_PATH="lua/?.lua;;" LUA_CPATH="build/?.so;;"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() {  # run MODE N IMPL...
  mode=$1 n=$2; shift 2
  port=
  if [ "$mode" != accept ]; then
    fifo=$(mktemp -u)
    lua5.4 bench/luasocket/server.lua "$mode" > "$fifo.out" 2>&1 &
    spid=$!
    i=0
    while ! grep -q "^port" "$fifo.out" 2>/dev/null; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
    port=$(awk '/^port/ {print $2; exit}' "$fifo.out")
  fi
  r=1
  while [ $r -le "$ROUNDS" ]; do
    for impl in "$@"; do
      if [ "$impl" = real ]; then
        env -u LUA_PATH -u LUA_CPATH lua5.4 bench/luasocket/cpu.lua real "$mode" "${port:-0}" "$n"
      else
        LUA_PATH="lua/?.lua;;" lua5.4 bench/luasocket/cpu.lua "$impl" "$mode" "${port:-0}" "$n"
      fi
    done
    r=$((r + 1))
  done >> "$out"
  if [ -n "${spid:-}" ]; then kill "$spid"; wait "$spid" 2>/dev/null; rm -f "$fifo.out"; spid=; fi
}
run http 3000 real layer
run redis 20000 real layer
run lines 400000 layer netsock
run udp 20000 layer netsock
run accept 3000 layer netsock
run bulk 400 layer netsock
# the medians, and layer / other
awk '
  { key = $1 " " $2; cpu[key] = cpu[key] " " $4; wall[key] = wall[key] " " $5; modes[$2] = 1; impls[$2 " " $1] = 1 }
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-8s %-8s %12s %12s\n", "mode", "impl", "cpu us/op", "wall us/op"
    for (k in cpu) { split(k, p, " "); c[k] = median(cpu[k]); w[k] = median(wall[k]); printf "%-8s %-8s %12.2f %12.2f\n", p[2], p[1], c[k], w[k] | "sort" }
    close("sort")
    for (m in modes) {
      other = ("real " m) in cpu ? "real" : "netsock"
      if (("layer " m) in cpu && (other " " m) in cpu)
        printf "%-8s layer/%s CPU %.2f  wall %.2f\n", m, other, c["layer " m] / c[other " " m], w["layer " m] / w[other " " m]
    }
  }' "$out"
