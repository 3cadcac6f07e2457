#!/bin/sh
# usage: sh bench/tls/run.sh      (make bench BENCH=tls)
# TLS bulk throughput and full handshakes per second: netsock.tls beside
# C with OpenSSL directly, Python's ssl and LuaSec over LuaSocket, in one
# run (bench/tls/tls.py says what each table measures).
cd "$(dirname "$0")/../.." || exit 1
exec python3 bench/tls/tls.py "$@"
