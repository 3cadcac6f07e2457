#!/bin/sh
# usage: sh bench/luasocket/pair.sh MODE A B [N [ROUNDS]]
# CPU per operation of implementation A against B (real, layer or
# netsock: bench/luasocket/cpu.lua's) in one MODE, in paired rounds: each
# round runs both, in alternating order (A B, then B A), against one
# bench/luasocket/server.lua peer (none for accept). Prints the medians,
# the ratio of the medians, the median of the rounds' own ratios (what
# this loaded machine's drift, which moves both of a round alike, moves
# least) and the ratio of the totals. run.sh measures every mode at once.
cd "$(dirname "$0")/../.." || exit 1
MODE=$1 A=$2 B=$3 N=${4:-2000} ROUNDS=${5:-30}
[ -n "$B" ] || { echo "usage: sh bench/luasocket/pair.sh MODE A B [N [ROUNDS]]" >&2; exit 1; }
export LUA_PATH="lua/?.lua;;" LUA_CPATH="build/?.so;;"
tmp=$(mktemp -d)
spid=
trap 'if [ -n "$spid" ]; then kill "$spid" 2>/dev/null; fi; rm -rf "$tmp"' EXIT
port=0
if [ "$MODE" != accept ]; then
  lua5.4 bench/luasocket/server.lua "$MODE" > "$tmp/server" 2>&1 &
  spid=$!
  i=0
  while ! grep -q "^port" "$tmp/server" 2>/dev/null; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
  port=$(awk '/^port/ {print $2; exit}' "$tmp/server")
fi
one() {
  if [ "$1" = real ]; then env -u LUA_PATH -u LUA_CPATH lua5.4 bench/luasocket/cpu.lua real "$MODE" "$port" "$N"
  else lua5.4 bench/luasocket/cpu.lua "$1" "$MODE" "$port" "$N"; fi
}
r=1
while [ $r -le "$ROUNDS" ]; do
  if [ $((r % 2)) = 0 ]; then one "$A"; one "$B"; else one "$B"; one "$A"; fi
  r=$((r + 1))
done > "$tmp/out"
awk -v a="$A" -v b="$B" -v mode="$MODE" '
  function median(v, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  $1 == a { na++; x[na] = $4; sa += $4 }
  $1 == b { nb++; y[nb] = $4; sb += $4 }
  END {
    n = na < nb ? na : nb
    for (i = 1; i <= n; i++) q[i] = x[i] / y[i]
    ma = median(x, na); mb = median(y, nb)
    printf "%s %s/%s, %d rounds: medians %.4f and %.4f us/op, ratio of medians %.3f, median of the rounds'"'"' ratios %.3f, ratio of totals %.3f\n", mode, a, b, n, ma, mb, ma / mb, median(q, n), sa / sb
  }' "$tmp/out"
