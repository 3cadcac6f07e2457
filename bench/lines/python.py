# Python makefile().readline(): usage: python3 python.py HOST PORT
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
if os.environ.get("BENCH_SOCK_TIMEOUT"):  # the timed variant
    s.settimeout(float(os.environ["BENCH_SOCK_TIMEOUT"]))
f = s.makefile("rb")
readline = f.readline
t0, n = time.perf_counter(), 0
while readline():
    n += 1
print(n, time.perf_counter() - t0)
