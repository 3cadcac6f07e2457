#!/bin/sh
# usage: sh bench/http/run.sh [SECONDS] [CONNECTIONS]
# examples/http_hello.lua (netsock.serve) under wrk, beside the same
# responder on cqueues and copas and nginx; netsock_w2 and nginx_w2 are
# two worker processes each (serve's workers = 2, worker_processes 2);
# loopback only. The load generator is not pinned (2 cores: pinning wrk
# to one would pin a server worker's share too).
# wrk runs one thread with CONNECTIONS keep-alive connections; we report
# requests/s and the 99th percentile latency. Run from the checkout after
# `make`. nginx comes from Debian's nginx-light (apt-get install
# nginx-light); it is skipped when missing. Timed variants (BENCH_TIMED=0
# leaves them out): netsock_t is the same example with
# netsock.setdefaulttimeout(30) (every accepted connection has a 30 s
# timeout), cqueues_t the cqueues responder with settimeout(30); nginx has
# its timeouts (client_header_timeout, keepalive_timeout) always.
set -u
SECS=${1:-5}
CONNS=${2:-100}
cd "$(dirname "$0")/../.." || exit 1
OUT=build/bench/http
mkdir -p "$OUT"
export LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/?.so;;"
ulimit -n 8192 2>/dev/null
command -v wrk >/dev/null || { echo "bench/http: wrk is missing (apt-get install wrk)"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

port=$((21000 + $$ % 8000))   # below the ephemeral range (32768-)
start() {
  case $1 in
    netsock) lua5.4 examples/http_hello.lua --port "$port" > /dev/null & ;;
    netsock_w2) lua5.4 examples/http_hello.lua --port "$port" --workers 2 > /dev/null & ;;
    copas) lua5.4 bench/http/hello_copas.lua "$port" & ;;
    netsock_t) lua5.4 -e 'require "netsock".setdefaulttimeout(30)' examples/http_hello.lua \
                 --port "$port" > /dev/null & ;;
    cqueues) lua5.4 bench/http/hello_cqueues.lua "$port" & ;;
    cqueues_t) BENCH_SOCK_TIMEOUT=30 lua5.4 bench/http/hello_cqueues.lua "$port" & ;;
    nginx|nginx_w2)
      w=1; [ "$1" = nginx_w2 ] && w=2
      sed -e "s|@PREFIX@|$PWD/$OUT|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$w|g" \
        bench/http/nginx.conf.in > "$OUT/nginx.conf"
      "$NGINX" -p "$PWD/$OUT" -c "$PWD/$OUT/nginx.conf" -e "$PWD/$OUT/error.log" & ;;
  esac
  pid=$!
  i=0
  while ! nc -z 127.0.0.1 "$port" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 50 ] && break; sleep 0.1
  done
}

printf "%-10s %12s %10s   (wrk -t1 -c%s -d%ss, keep-alive)\n" server "requests/s" "p99" "$CONNS" "$SECS"
SERVERS="netsock netsock_w2 cqueues copas nginx nginx_w2"
[ "${BENCH_TIMED:-1}" = 0 ] || SERVERS="$SERVERS netsock_t cqueues_t"
for s in $SERVERS; do
  case $s in
    cqueues|cqueues_t) lua5.4 -e 'require "cqueues"' 2>/dev/null || { echo "cqueues    (lua-cqueues missing)"; continue; } ;;
    copas) lua5.4 -e 'package.path=package.path..";/usr/share/lua/5.2/?.lua" require "copas"' 2>/dev/null || { echo "copas      (lua-copas missing)"; continue; } ;;
    nginx|nginx_w2) [ -x "$NGINX" ] || { echo "nginx      (missing: apt-get install nginx-light)"; continue; } ;;
  esac
  port=$((port + 1))
  start $s
  wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$port/" > "$OUT/wrk_$s.txt" 2>&1
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  rps=$(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk_$s.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk_$s.txt")
  errs=$(grep -E "Non-2xx|Socket errors" "$OUT/wrk_$s.txt" | tr -s ' ' | tr '\n' ' ')
  printf "%-10s %12s %10s   %s\n" "$s" "${rps:-n/a}" "${p99:-n/a}" "$errs"
done
