#!/bin/sh
# usage: sh bench/waits/run.sh [COUNT [ROUNDS]]
# What a timed wait costs in C (bench/waits/waits.c): a ping-pong of
# COUNT round trips (default 100,000) on one CPU for each way of waiting,
# ROUNDS times in turn (default 7), then the medians; and how late the
# kernel's SO_RCVTIMEO and poll(2) end. docs/performance.md, "Timed calls".
set -e
cd "$(dirname "$0")/../.."
COUNT=${1:-100000}
ROUNDS=${2:-7}
mkdir -p build/bench
cc -O2 -std=c99 -D_GNU_SOURCE -Wall -Wextra -o build/bench/waits bench/waits/waits.c
out=build/bench/waits.txt
: > "$out"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for m in block rcvtimeo every pollrecv eagain dontwait; do
    taskset -c 0 build/bench/waits pingpong "$m" "$COUNT" >> "$out"
  done
  r=$((r + 1))
done
echo "ping-pong on one CPU, $COUNT round trips, median of $ROUNDS (ratios to block)"
python3 - "$out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m, rate, _, cpu = line.split()[:4]
    rows.setdefault(m, []).append((float(rate), float(cpu)))
base = None
for m in ("block", "rcvtimeo", "every", "pollrecv", "eagain", "dontwait"):
    rate = statistics.median(r for r, _ in rows[m])
    cpu = statistics.median(c for _, c in rows[m])
    if base is None:
        base = (rate, cpu)
    print("  %-9s %8.0f RT/s  %.2f x   %6.2f us CPU/RT  %.2f x"
          % (m, rate, rate / base[0], cpu, cpu / base[1]))
PY
echo
build/bench/waits late 0.001 0.01 0.05 0.25 0.5 1 1.5 3 5
