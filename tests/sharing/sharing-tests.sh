#!/usr/bin/env bash
# Several processes sharing one protected library's state (README "Sharing
# across processes"), with keys enforced: the shmring chaos test protected
# and unprotected, LMDB and SQLite shared while a buggy peer scribbles.
# Usage: sharing-tests.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2
. "$src/tests/check.sh"
wrap=$build/bin/protect-wrap
ring=$build/bin/shmring
ringpol=$build/examples/shmring.policy
"$build/tests/pku_probe" >/dev/null || { echo "sharing-tests: this machine has no PKU"; exit 77; }
died_segv() { is "$1" "$status" 139; }
field() { sed -nE "s/.*$2 ([0-9]+).*/\\1/p" "$1" | head -1; }

echo "# shmring: the chaos test, protected"
run "$ring" chaos -p 3 -c 2 -t 6 --scribble --state "$tmp/chaos" -- "$wrap" -p "$ringpol" --
cp "$tmp/out" "$tmp/chaos.protected"
sed 's/^/     /' "$tmp/out"
is "chaos, protected: intact (exit status)" "$status" 0
has "chaos, protected: messages flowed" "$tmp/out" "^messages: sent [1-9][0-9]{2,}"
has "chaos, protected: none duplicated, lost, torn or made up" "$tmp/out" \
    "duplicated 0, lost 0, torn 0, never sent 0$"
has "chaos, protected: no unfinished enqueue but a SIGKILLed producer's" "$tmp/out" \
    "SIGKILLed producers, 0 of producers another signal killed inside one$"
has "chaos, protected: no process stalled" "$tmp/out" "^stalled processes: 0; worker errors: 0$"
tried=$(field "$tmp/out" "stray writes") refused=$(sed -nE 's/.*stray writes [0-9]+ \(refused ([0-9]+)\).*/\1/p' "$tmp/out")
if [ -n "$tried" ] && [ "$tried" -gt 0 ] && [ "$tried" = "$refused" ]; then ok "chaos, protected: every stray write refused ($refused)"
else bad "chaos, protected: every stray write refused" "$(cat "$tmp/out")"; fi
has "chaos, protected: every write through the kernel refused" "$tmp/out" \
    "writes through the kernel ([0-9]+) \\(refused \\1\\)$"
has "chaos, protected: the stray writes reported" "$tmp/chaos.log" \
    "^libprotect: blocked write of libshmring.so \\(integrity\\) at 0x[0-9a-f]+ by shmring!run_scribbler"
has "chaos, protected: the ring's file opened anew, refused and reported" "$tmp/chaos.log" \
    "^libprotect: blocked openat: a file of libshmring.so \\(mapped shared, or its database: opened anew for writing\\)$"

echo "# shmring: the same, unprotected"
run "$ring" chaos -p 3 -c 2 -t 6 --scribble --state "$tmp/chaos-plain"
cp "$tmp/out" "$tmp/chaos.unprotected"
sed 's/^/     /' "$tmp/out"
is "chaos, unprotected: the test sees the corruption (exit status 1)" "$status" 1
has "chaos, unprotected: CORRUPTED" "$tmp/out" "^verdict: CORRUPTED$"
run "$ring" chaos -p 2 -c 2 -t 3 --state "$tmp/chaos-calm" -- "$wrap" -p "$ringpol" --
is "chaos without a scribbler, protected: intact" "$status" 0

echo "# LMDB shared by processes while a buggy one scribbles"
lmdb=$build/tests/lmdb_peers lpol=$src/policy/lmdb.policy
mkdir -p "$tmp/lmdb"
pids=()
for w in 1 2; do "$wrap" -p "$lpol" -- "$lmdb" "$tmp/lmdb" writer 300 >"$tmp/lw$w" 2>&1 & pids+=($!); done
for r in 1 2; do "$wrap" -p "$lpol" -- "$lmdb" "$tmp/lmdb" reader 4 >"$tmp/lr$r" 2>&1 & pids+=($!); done
sleep 1
run "$wrap" -p "$lpol" -- "$lmdb" "$tmp/lmdb" scribble lock
died_segv "LMDB: a write into the lock table kills the buggy process"
has "LMDB: ... reported" "$tmp/err" "^libprotect: blocked write of liblmdb.so.0 \\(integrity\\) at 0x[0-9a-f]+ by lmdb_peers!"
run "$wrap" -p "$lpol" -- "$lmdb" "$tmp/lmdb" scribble map
died_segv "LMDB: a write into the map kills the buggy process"
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
is "LMDB: the other processes carry on (exit statuses)" "$fails" 0
cat "$tmp/lw1" "$tmp/lw2" >"$tmp/lw"
if [ "$(grep -c "^writer: 300 transactions$" "$tmp/lw")" = 2 ]; then ok "LMDB: both writers committed"
else bad "LMDB: both writers committed" "$(cat "$tmp/lw")"; fi
if grep -q "inconsistent 0$" "$tmp/lr1" && grep -q "inconsistent 0$" "$tmp/lr2" && grep -q "snapshots many" "$tmp/lr1"; then
    ok "LMDB: readers saw only whole transactions"
else bad "LMDB: readers saw only whole transactions" "$(cat "$tmp/lr1" "$tmp/lr2")"; fi
run "$wrap" -p "$lpol" -- "$lmdb" "$tmp/lmdb" check
has "LMDB: every transaction of both writers is there" "$tmp/out" "^generation 600$"

echo "# SQLite in WAL mode shared by processes while a buggy one scribbles"
sq=$build/tests/sqlite_peers spol=$src/policy/sqlite3.policy
# workers DB WRAP...: three workers in the background ($pids)
workers() {
    local db=$1; shift
    "$@" "$sq" "$db" init >/dev/null
    pids=()
    for w in 1 2 3; do "$@" "$sq" "$db" worker "$w" 150 >"$db.w$w" 2>&1 & pids+=($!); done
}
finished() { fails=0; for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done; }
workers "$tmp/plain.db" env
finished
is "SQLite unprotected, no scribbler: workers done" "$fails" 0
"$sq" "$tmp/plain.db" summary >"$tmp/sqlite.plain"
workers "$tmp/prot.db" "$wrap" -p "$spol" --
sleep 0.5
run "$wrap" -p "$spol" -- "$sq" "$tmp/prot.db" scribble
died_segv "SQLite: a write into the wal-index kills the buggy process"
has "SQLite: ... reported" "$tmp/err" "^libprotect: blocked write of libsqlite3.so.0 \\(integrity\\) at 0x[0-9a-f]+ by sqlite_peers!"
has "SQLite: the -shm file opened anew: refused" "$tmp/out" "^open of the -shm file anew: Operation not permitted$"
has "SQLite: ... and reported" "$tmp/err" "^libprotect: blocked openat: a file of libsqlite3.so.0 \\(mapped shared"
finished
is "SQLite: the other processes carry on (exit statuses)" "$fails" 0
"$wrap" -p "$spol" -- "$sq" "$tmp/prot.db" summary >"$tmp/sqlite.prot"
same "SQLite: results identical to an unprotected run without the scribbler" "$tmp/sqlite.plain" "$tmp/sqlite.prot"
has "SQLite: integrity_check ok" "$tmp/sqlite.prot" "^ok$"

finish sharing
