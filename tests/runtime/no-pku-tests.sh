#!/usr/bin/env bash
# On a CPU without PKU (./run no-pku starts a QEMU guest with pku=off):
# libprotect refuses to run a program protected, and runs it gated in dry
# run.  Usage: no-pku-tests.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2
wrap=$build/bin/protect-wrap
. "$src/tests/check.sh"

run "$build/tests/pku_probe"
is "the CPU has no PKU" "$status" 1
run "$wrap" -p "$src/policy/sqlite3.policy" -- sqlite3 :memory: "select 40 + 2;"
is "without --dry-run: refused" "$status" 1
has "without --dry-run: one line saying why, and what to do" "$tmp/err" \
    "^libprotect: this CPU or kernel has no memory protection keys \\(PKU\\): cannot run the program protected \\(protect-wrap --dry-run, or PROTECT_DRY_RUN=1,"
sqlite3 :memory: <"$src/tests/runtime/workload.sql" >"$tmp/sql.plain" 2>&1
run "$wrap" --dry-run -p "$src/policy/sqlite3.policy" -- sqlite3 :memory: <"$src/tests/runtime/workload.sql"
is "--dry-run: sqlite3 runs" "$status" 0
same "--dry-run: same output as unprotected" "$tmp/sql.plain" "$tmp/out"
has "--dry-run: says it protects nothing" "$tmp/err" "^libprotect: DRY RUN: libsqlite3.so.0 is gated but NOT protected"
for t in regs many varargs callbacks threads trap; do
    run "$wrap" --dry-run -p "$build/tests/gatetest.policy" -- "$build/tests/gatetest" "$t"
    if [ "$status" = 0 ] && ! grep -q FAIL "$tmp/out"; then ok "gate: $t"; else bad "gate: $t (exit $status)" "$(cat "$tmp/out" "$tmp/err")"; fi
done
run "$wrap" --dry-run -p "$build/tests/gatetest.policy" -- "$build/tests/signal_test" torn 10
has "signals: SIGTERM still waits for the update to finish" "$tmp/out" "^torn: 0 of 10$"
finish no-pku
