#!/bin/sh
# usage: sh bench/lines/run.sh [LINES [ROUNDS]]   (from anywhere; make bench runs it)
# Builds the core and the C readers, then runs bench/lines/run.lua.
set -e
cd "$(dirname "$0")/../.."
make -s all
mkdir -p build/bench
cc -O2 -std=c99 -Wall -o build/bench/lines_reader bench/lines/reader.c
exec lua5.4 bench/lines/run.lua "$@"
