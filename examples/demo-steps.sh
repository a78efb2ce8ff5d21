#!/usr/bin/env bash
# What examples/demo.sh shows, where PKU is available.
# Usage: demo-steps.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2
wrap=$build/bin/protect-wrap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { printf '\n==> %s\n' "$*"; }

step "What can be gated in SQLite (protect-wrap --check, first lines)"
echo "\$ protect-wrap --check libsqlite3.so.0"
"$wrap" --check libsqlite3.so.0 | sed -n '1,4p;/wrpkru/p;/xrstor/p'

step "The unmodified sqlite3 shell, protected by policy/sqlite3.policy"
echo "\$ protect-wrap --verbose --policy policy/sqlite3.policy -- sqlite3 :memory: < tests/runtime/workload.sql"
PROTECT_VERBOSE=1 "$wrap" --policy "$src/policy/sqlite3.policy" -- sqlite3 :memory: \
    <"$src/tests/runtime/workload.sql" >"$tmp/protected.out" 2>"$tmp/protected.err"
echo "exit status $?"
cat "$tmp/protected.err"
sed -n '1,6p' "$tmp/protected.out"
echo "... ($(wc -l <"$tmp/protected.out") lines)"
sqlite3 :memory: <"$src/tests/runtime/workload.sql" >"$tmp/plain.out" 2>&1
if cmp -s "$tmp/plain.out" "$tmp/protected.out"; then
    echo "identical to the unprotected run"
else
    echo "DIFFERENT from the unprotected run:"; diff "$tmp/plain.out" "$tmp/protected.out" | head
fi

step "A library bug made visible: kvapp writes through a pointer into its key-value store"
echo "\$ kvapp --stray-write                    (unprotected: the store is silently corrupted)"
"$build/bin/kvapp" --threads 2 --ops 1000 --stray-write
echo "\$ protect-wrap --policy kvstore.policy -- kvapp --stray-write"
"$wrap" --policy "$build/examples/kvstore.policy" -- "$build/bin/kvapp" --threads 2 --ops 1000 --stray-write
echo "exit status $? (killed by SIGSEGV: the write never happened)"

step "Hardened mode: the application cannot undo the protection through the kernel either"
echo "\$ protect-wrap --policy vault.policy -- attack_mem_calls mprotect-data   (mprotect the library's data)"
LD_LIBRARY_PATH=$build/attacks "$wrap" --policy "$build/attacks/vault.policy" -- "$build/attacks/attack_mem_calls" mprotect-data
echo "\$ protect-wrap --policy vault.policy -- attack_proc_mem write   (write through /proc/self/mem)"
LD_LIBRARY_PATH=$build/attacks "$wrap" --policy "$build/attacks/vault.policy" -- "$build/attacks/attack_proc_mem" write
echo "(the whole attack suite: ctest -R attacks, in tests/attacks/)"
