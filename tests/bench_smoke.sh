#!/usr/bin/env bash
# Smoke test of the benchmark suite: a quick run (no timings are judged)
# prints every row and writes its CSV.  Usage: bench_smoke.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2
. "$src/tests/check.sh"
run python3 "$src/bench/suite.py" --quick --build "$build" --src "$src" --out "$tmp/results"
is "suite runs" "$status" 0
for row in "plain call" "bare limit" "gate \\(integrity\\)" "gate \\(confidential\\)" "8 stack arguments" varargs \
    "nested entry" "callback round trip" "int3-gated entry" "gate \\(integrity\\), without the counters" "mprotect on entry and exit" "library in another process" \
    "a thread started that makes one library call" "kvstore, 2 threads" "SQLite join" "LMDB read" "zlib 4 KiB blocks" "malloc/free in a gated call, 2 threads"; do
    has "row: $row" "$tmp/out" "^$row"
done
has "header names the mode and the CPU" "$tmp/out" "^libprotect benchmarks: .*; modes: .*dry run"
has "the PKU estimate is labelled as one" "$tmp/out" "^estimated slowdown with PKU \\(an estimate"
csv=$(ls "$tmp"/results/*.csv 2>/dev/null | head -1)
if [ -n "$csv" ] && [ "$(grep -c '' "$csv")" -ge 20 ]; then ok "CSV written"; else bad "CSV written" "$(ls -la "$tmp/results" 2>&1)"; fi
finish bench-smoke
