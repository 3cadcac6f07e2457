#!/bin/sh
# usage: sh bench/luasocket/run.sh [ROUNDS [MODES]]
# CPU per operation of netsock.luasocket against Debian's LuaSocket and
# against plain netsock, in every mode (http: socket.http with a new
# connection per GET, and plain netsock's same request; redis: request
# and response on one connection; lines, udp, accept, bulk), each client
# a process of its own, the three alternating round by round against the
# same netsock server; the median of the rounds is reported with the
# ratios. bench/luasocket/instr.sh counts instructions instead (callgrind:
# repeatable where these CPU times drift with the machine's load).
cd "$(dirname "$0")/../.." || exit 1
ROUNDS=${1:-5}
MODES=${2:-"http redis lines udp accept bulk"}
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
for mode in $MODES; do
  case $mode in
    http) n=3000 ;; redis) n=20000 ;; lines) n=400000 ;; udp) n=20000 ;;
    accept) n=3000 ;; bulk) n=400 ;; *) echo "unknown mode $mode" >&2; exit 1 ;;
  esac
  run "$mode" "$n" real layer netsock
done
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
      if (!(("layer " m) in cpu)) continue
      if (("real " m) in cpu)
        printf "%-8s layer/real    CPU %.2f  wall %.2f\n", m, c["layer " m] / c["real " m], w["layer " m] / w["real " m]
      if (("netsock " m) in cpu)
        printf "%-8s layer/netsock CPU %.2f  wall %.2f\n", m, c["layer " m] / c["netsock " m], w["layer " m] / w["netsock " m]
    }
  }' "$out"
