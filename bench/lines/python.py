# Python makefile().readline(): usage: python3 python.py HOST PORT
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
f = s.makefile("rb")
readline = f.readline
t0, n = time.perf_counter(), 0
while readline():
    n += 1
print(n, time.perf_counter() - t0)
