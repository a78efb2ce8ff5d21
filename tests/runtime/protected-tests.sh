#!/usr/bin/env bash
# Runs real programs protected by libprotect, each in a child process, and
# checks how they end.
# Usage: protected-tests.sh BUILD_DIR SOURCE_DIR [MODE]
#   dry    every check that needs no key enforced, in dry run (PROTECT_DRY_RUN=1):
#          natively on any x86-64, in seconds
#   keys   only the checks that need a key enforced (a write or read stopped):
#          where PKU is; ./run uses a QEMU guest when this machine has none
#   all    both, with keys (the default; natively where the CPU has PKU)
set -u
build=$1 src=$2 mode=${3:-all}
functional() { [ "$mode" != keys ]; }
enforced() { [ "$mode" != dry ]; }
wrap=$build/bin/protect-wrap
. "$src/tests/check.sh"
died() { is "$1" "$status" 139; }   # 128 + SIGSEGV

kv=$build/bin/kvapp
kvpol=$build/examples/kvstore.policy
kvconf=$build/examples/kvstore-confidential.policy
gt=$build/tests/gatetest
gtpol=$build/tests/gatetest.policy
sqlpol=$src/policy/sqlite3.policy

if [ "$mode" = dry ]; then
    export PROTECT_DRY_RUN=1
    echo "# dry run: gates, heap, signals and the filter without keys (stores are not stopped)"
else
    "$build/tests/pku_probe" >/dev/null || { echo "protected-tests: this machine has no PKU"; exit 77; }
fi

echo "# kvstore"
if functional; then
run "$kv" --threads 4 --ops 5000; cp "$tmp/out" "$tmp/kv.plain"
run "$wrap" -p "$kvpol" -- "$kv" --threads 4 --ops 5000
is "kvstore integrity: exit status" "$status" 0
same "kvstore integrity: same results as unprotected" "$tmp/kv.plain" "$tmp/out"
run "$wrap" -p "$kvconf" -- "$kv" --threads 4 --ops 5000
is "kvstore confidential: exit status" "$status" 0
same "kvstore confidential: same results as unprotected" "$tmp/kv.plain" "$tmp/out"
fi
if [ "$mode" = dry ]; then
run "$wrap" -p "$kvpol" -- "$kv" --threads 1 --ops 10
has "dry run: said on every start" "$tmp/err" \
    "^libprotect: DRY RUN: libkvstore.so is gated but NOT protected \(no protection keys\)$"
run "$wrap" -v -p "$kvpol" -- "$kv" --threads 1 --ops 10
has "dry run, --verbose: the same gates line as a protected run" "$tmp/err" \
    "^libprotect: libkvstore.so gated \(dry run\) \(integrity, key 1\): [1-9][0-9]* gates, 0 denied"
run "$wrap" -p "$kvpol" -- "$kv" --threads 2 --ops 100 --stray-write
is "dry run: nothing is protected (the stray write goes through)" "$status" 0
fi
if enforced; then
run "$wrap" -p "$kvpol" -- "$kv" --threads 2 --ops 100 --stray-write --own-handler
died "stray write: killed by SIGSEGV"
has "stray write: one report line" "$tmp/err" \
    "^libprotect: blocked write of libkvstore.so \(integrity\) at 0x[0-9a-f]+ by kvapp!main\+0x[0-9a-f]+$"
has "stray write: symbolised backtrace" "$tmp/err" "^libprotect:   #1 libc.so.6!"
has "stray write: the application's own handler ran, si_code SEGV_PKUERR" "$tmp/err" \
    "^kvapp: own SIGSEGV handler: si_code=4$"
if grep -q "victim is now X" "$tmp/out"; then bad "stray write: store unchanged"; else ok "stray write: store unchanged"; fi
run "$wrap" -p "$kvconf" -- "$kv" --threads 1 --ops 10 --stray-read
died "confidential stray read: killed by SIGSEGV"
has "confidential stray read: reported" "$tmp/err" "^libprotect: blocked read of libkvstore.so \(confidential\)"
run "$wrap" -p "$kvpol" -- "$kv" --threads 1 --ops 10 --stray-read
is "integrity: the application may read" "$status" 0
fi

echo "# gates"
if functional; then
for t in regs many doubles struct varargs nested callbacks recursion stored special heap threads trap fork shm lib-threads pointers churn; do
    run "$wrap" -p "$gtpol" -- "$gt" "$t"
    if [ "$status" = 0 ] && ! grep -q FAIL "$tmp/out"; then ok "gate: $t"; else bad "gate: $t (exit $status)" "$(cat "$tmp/out" "$tmp/err")"; fi
done
run "$gt" stray-free
if grep -q "holds [0-9-]*$" "$tmp/out" && ! grep -q "holds 4242$" "$tmp/out"; then ok "stray free, unprotected: the library's object is corrupted (the test can see it)"
else bad "stray free, unprotected: the library's object is corrupted (the test can see it)" "$(cat "$tmp/out")"; fi
run "$wrap" -p "$gtpol" -- "$gt" stray-free
has "stray free of a library object: refused, the object intact" "$tmp/out" "holds 4242$"
has "stray free: reported" "$tmp/err" "^libprotect: blocked free\\(0x[0-9a-f]+\\) by the application: a block of libgatetest.so's heap"
fi
if enforced; then
run "$wrap" -p "$gtpol" -- "$gt" stray-write
died "gate library: stray write into .bss killed"
has "gate library: reported" "$tmp/err" "^libprotect: blocked write of libgatetest.so"
run "$wrap" -p "$gtpol" -- sh -c "exec '$gt' stray-write"
died "policy follows exec (LD_PRELOAD and PROTECT_POLICY are inherited)"
run "$wrap" -p "$gtpol" -- "$gt" lib-thread-key
has "a thread the library starts with its own code runs on a stack with the library's key" "$tmp/out" \
    "stack with key [1-9][0-9]*$"
run "$wrap" -p "$gtpol" -- "$gt" lib-thread-callback-writes
died "... and its calls back into the application run with the application's rights (a write killed)"
has "... reported" "$tmp/err" "^libprotect: blocked write of libgatetest.so \\(integrity\\) at 0x[0-9a-f]+ by gatetest!callback_writes"
run "$wrap" -p "$gtpol" -- "$gt" lib-thread-app-writes
died "a thread the library starts with the application's code has the application's rights (a write killed)"
has "... reported" "$tmp/err" "^libprotect: blocked write of libgatetest.so \\(integrity\\) at 0x[0-9a-f]+ by gatetest!app_writes"
run "$gt" confused-deputy
has "a pointer argument into the library's own memory, unprotected: written (the test can see it)" "$tmp/out" \
    "wrote its own counter"
run "$wrap" -p "$gtpol" -- "$gt" confused-deputy
is "a declared pointer argument into the library's own memory: stopped (SIGABRT)" "$status" 134
has "... reported" "$tmp/err" "^libprotect: blocked gt_fill\\(argument 1 = 0x[0-9a-f]+, 8 bytes\\): a pointer into libgatetest.so's own memory"
run "$wrap" -p "$gtpol" -- "$gt" confused-deputy-stack
is "... the same passed on the stack (argument 7): stopped (SIGABRT)" "$status" 134
has "... reported" "$tmp/err" "^libprotect: blocked gt_fill_far\\(argument 7 = 0x[0-9a-f]+, 8 bytes\\): a pointer into libgatetest.so's own memory"
run "$gt" stray-shm
has "a SysV segment the library attached, unprotected: the stray write goes through (the test can see it)" \
    "$tmp/out" "holds 7$"
run "$wrap" -p "$gtpol" -- "$gt" stray-shm
died "a SysV segment the library attached carries its key: the stray write killed"
has "... reported" "$tmp/err" "^libprotect: blocked write of libgatetest.so \\(integrity\\) at 0x[0-9a-f]+ by gatetest!main"
fi

if functional; then
run "$wrap" -p "$gtpol" -- "$build/tests/many_fds"
has "an application with 1500 descriptors: every one usable, none in the libraries' range" "$tmp/out" \
    "^opened 1500, usable 1500, numbered 960-1023: 0$"
has "... then closes every descriptor, quietly, and the library still answers" "$tmp/out" \
    "^closed every descriptor: 0 errors; the library still answers: yes$"
if grep -q "blocked" "$tmp/err"; then bad "... with no report" "$(cat "$tmp/err")"; else ok "... with no report"; fi
# A /proc/<pid>/mem descriptor the program starts with: closed, said.
{ timeout 120 "$wrap" -p "$gtpol" -- "$gt" regs 3</proc/self/mem >"$tmp/out" 2>"$tmp/err"; } 2>/dev/null
has "a /proc/<pid>/mem descriptor open before libprotect started: closed, and said" "$tmp/err" \
    "^libprotect: hardened mode: closed descriptor 3, a /proc/<pid>/mem"
# Opens of every kind: hardened mode opens each name O_PATH, judges it,
# then reopens it; results and errors must be the plain run's.
for how in plain protected; do
    rm -rf "$tmp/open.$how" && mkdir "$tmp/open.$how"
    if [ $how = plain ]; then run "$build/tests/open_semantics" "$tmp/open.$how" </dev/null
    else run "$wrap" -p "$gtpol" -- "$build/tests/open_semantics" "$tmp/open.$how" </dev/null; fi
    cp "$tmp/out" "$tmp/open.$how.out"
done
if cmp -s "$tmp/open.plain.out" "$tmp/open.protected.out" && [ "$(wc -l <"$tmp/open.plain.out")" -ge 30 ]; then
    ok "opens of every kind (O_CREAT, O_EXCL, O_TRUNC, links, O_NOFOLLOW, O_PATH, O_TMPFILE, openat2, FIFO, /proc): as unprotected"
else
    bad "opens of every kind: as unprotected" "$(diff "$tmp/open.plain.out" "$tmp/open.protected.out")"
fi
fi

echo "# signals"
st=$build/tests/signal_test
if enforced; then
run "$wrap" -p "$gtpol" -- "$st" handler-writes
died "a handler runs with application rights: its write into the library is killed"
has "a handler's write is reported" "$tmp/err" "^libprotect: blocked write of libgatetest.so .* by signal_test!write_library"
fi
if functional; then
run "$st" storm
has "storm, unprotected: handlers do run inside the library (the test can see it)" "$tmp/out" \
    "handlers inside the library: [1-9]"
run "$wrap" -p "$gtpol" -- "$st" storm
is "storm: no crash" "$status" 0
has "storm: every queued real-time signal delivered exactly once" "$tmp/out" "0 missing, 0 delivered twice"
has "storm: no handler ran inside the library" "$tmp/out" "handlers inside the library: 0;"
has "storm: deferrals counted" "$tmp/out" "^libprotect: [1-9][0-9]* deferred, [0-9]+ delivered, [1-9][0-9]* breakpoint arms"
run "$st" torn 40
has "torn updates, unprotected: SIGTERM tears pairs (the test can see it)" "$tmp/out" "^torn: [1-9][0-9]* of 40$"
run "$wrap" -p "$gtpol" -- "$st" torn 40
has "torn updates, protected: SIGTERM waits for the update to finish" "$tmp/out" "^torn: 0 of 40$"
run env PROTECT_NO_BREAKPOINTS=1 "$wrap" -p "$gtpol" -- "$st" torn 20
has "without hardware breakpoints: the update still finishes first" "$tmp/out" "^torn: 0 of 20$"
has "without hardware breakpoints: one warning line" "$tmp/err" "^libprotect: hardware breakpoints unavailable \\(PROTECT_NO_BREAKPOINTS\\)"
run env PROTECT_NO_BREAKPOINTS=1 "$wrap" -p "$gtpol" -- "$st" storm
has "without hardware breakpoints: storm delivered exactly once, never inside" "$tmp/out" \
    "0 missing, 0 delivered twice; .*handlers inside the library: 0;"
if grep -q "held" "$tmp/err"; then bad "without hardware breakpoints: no signal waits for the bound" "$(cat "$tmp/err")"; else ok "without hardware breakpoints: no signal waits for the bound"; fi
run "$wrap" -p "$build/tests/gatetest-bound.policy" -- "$st" bound
has "deferral bound: the signal comes anyway" "$tmp/out" "^bound: signal handled well before the call returned$"
has "deferral bound: with a warning" "$tmp/err" "^libprotect: a library call held 1 signal\\(s\\) for more than 200 ms"
if grep -q "blocked a change" "$tmp/err"; then bad "deferral bound: a handler that changed nothing is not reported" "$(cat "$tmp/err")"; else ok "deferral bound: a handler that changed nothing is not reported"; fi
run "$wrap" -p "$build/tests/gatetest-nodefer.policy" -- "$st" bound
has "no_defer: the signal is delivered inside the call" "$tmp/out" "^bound: signal handled well before the call returned$"
if grep -q "held" "$tmp/err"; then bad "no_defer: without waiting for the bound" "$(cat "$tmp/err")"; else ok "no_defer: without waiting for the bound"; fi
run "$wrap" -p "$gtpol" -- "$st" altstack
has "the application's own alternate stack: kept as its view, signal still deferred" "$tmp/out" \
    "^altstack: handled after the call returned$"
run "$wrap" -p "$gtpol" -- "$st" longjmp
has "handlers left by siglongjmp: a signal inside the library is still deferred to the call's return" "$tmp/out" \
    "^longjmp: left 50 handlers by siglongjmp; the signal inside the library was handled as the call returned$"
run "$wrap" -p "$gtpol" -- "$st" thread-exit
has "handlers that end their threads (called inside the library, run as the call returns): the blocks come back" \
    "$tmp/out" "^thread-exit: 50 of 50 threads ended in their handlers; all new threads then made their calls$"
run "$st" bare
has "signal calls made bare, unprotected: the kernel writes the frame where the stack pointer points (the test can see it)" \
    "$tmp/out" "^bare rt_sigaction, main thread: the frame was written on the thread's stack, "
run "$wrap" -p "$gtpol" -- "$st" bare
has "a signal whose handler was installed with the bare rt_sigaction: its frame is written on an alternate stack (never where the stack pointer points); the handler runs on the thread's stack, as the kernel would run it" \
    "$tmp/out" "^bare rt_sigaction, main thread: the frame was written on another stack, the handler ran on the thread's stack$"
has "... in a new thread that never called the library too" "$tmp/out" \
    "^bare rt_sigaction, a new thread: the frame was written on another stack, the handler ran on the thread's stack$"
has "... in a thread cloned without pthread_create too (started on libprotect's few instructions)" "$tmp/out" \
    "^bare rt_sigaction, a thread cloned without pthread_create: the frame was written on another stack, the handler ran on the thread's stack$"
has "a bare rt_sigprocmask blocking SIGSYS: SIGSYS stays unblocked, the rest blocked" "$tmp/out" \
    "^bare rt_sigprocmask blocking SIGSYS and SIGUSR2: SIGSYS not blocked, SIGUSR2 blocked$"
has "a bare sigaltstack: kept as the application's view" "$tmp/out" "^bare sigaltstack: set, and read back$"
has "system() (posix_spawn's child blocks every signal, then resets the handlers): runs its command" "$tmp/out" \
    '^system\("exit 3"\): 3$'
run "$wrap" -p "$gtpol" -- "$st" where
is "handlers run where the kernel would run them: no crash" "$status" 0
has "a handler runs on the interrupted thread's stack (a collector scans a stopped thread's stack from there)" \
    "$tmp/out" "^a handler: ran on the thread's stack$"
has "... in a new thread too" "$tmp/out" "^a handler in a new thread: ran on the thread's stack$"
has "... and when its signal came inside a library call (delivered as the call returned)" "$tmp/out" \
    "^a handler of a signal that came inside a library call: ran on the thread's stack$"
has "an SA_ONSTACK handler runs on the alternate stack the application declared, which reports SS_ONSTACK there only" \
    "$tmp/out" "^an SA_ONSTACK handler: ran on its alternate stack, SS_ONSTACK set there$"
has "... and not outside the handler" "$tmp/out" "^outside the handler: SS_ONSTACK not set$"
run "$wrap" -p "$gtpol" -- "$st" eintr
has "a blocking read interrupted by a handler without SA_RESTART fails with EINTR (a read timed out by an alarm)" \
    "$tmp/out" "^eintr: no SA_RESTART: read returned -1 \\(EINTR\\)$"
has "... and is restarted, then served, with SA_RESTART" "$tmp/out" "^eintr: SA_RESTART: read returned 1$"
run "$wrap" -p "$gtpol" -- "$st" sigchld
has "SIGCHLD's SA_NOCLDSTOP reaches the kernel: one call, for the exit" "$tmp/out" \
    "^sigchld: SA_NOCLDSTOP: 1 call\\(s\\) for a child that stopped, went on and exited$"
has "... and SA_NOCLDWAIT: the child is reaped by the kernel" "$tmp/out" "^sigchld: SA_NOCLDWAIT: waitpid found no child \\(reaped\\)$"
run "$wrap" -p "$gtpol" -- "$st" overflow
is "a stack overflow is caught by the application's SA_ONSTACK handler on its own alternate stack" "$status" 3
has "... which says so" "$tmp/out" "^overflow: caught on the alternate stack$"
run "$wrap" -p "$gtpol" -- "$st" crash
died "the library's own crash: killed by SIGSEGV"
has "the library's own crash: reported with library and function" "$tmp/err" \
    "^libprotect: libgatetest.so failed: Segmentation fault at \\(nil\\) in libgatetest.so!gt_crash"

run "$wrap" -p "$build/tests/gatetest-contain.policy" -- "$st" contain
is "on_fault = contain: the program goes on" "$status" 0
has "on_fault = contain: the call returns the policy's value, later calls fail fast" "$tmp/out" \
    "^contained: crash returned -7 \\(errno EIO\\), next call -7 \\(errno EIO\\)$"
has "on_fault = contain: said so" "$tmp/err" "^libprotect: libgatetest.so: on_fault = contain"
fi

echo "# lwIP: a user-space TCP/IP stack, protected (examples/netecho)"
ne=$build/bin/netecho lwpol=$src/policy/lwip.policy
if functional; then
run "$ne" -c 4 -n 1500; cp "$tmp/out" "$tmp/ne.plain"
has "netecho unprotected: every echo matched" "$tmp/ne.plain" "6000 round trips matched, 0 did not"
run env PROTECT_VERBOSE=1 "$wrap" -p "$lwpol" -- "$ne" -c 4 -n 1500
is "netecho protected: exit status" "$status" 0
same "netecho protected: the same round trips as unprotected (4 connections, 6000 requests)" "$tmp/ne.plain" "$tmp/out"
has "netecho protected: lwIP was gated" "$tmp/err" "^libprotect: liblwip.so.0 (protected|gated \\(dry run\\)) \\(integrity"
run "$wrap" --stats -p "$lwpol" -- "$ne" -c 4 -n 1500 --signals
has "netecho under a rain of signals: every echo matched" "$tmp/out" "6000 round trips matched, 0 did not"
has "... the signals were handled" "$tmp/out" "^signals: some sent, some handled$"
deferred=$(awk '/stats: liblwip.so.0/ {print $9}' "$tmp/err")
if [ "${deferred:-0}" -gt 0 ]; then ok "... those that came inside lwIP waited for it to return ($deferred deferred)"
else bad "... those that came inside lwIP waited for it to return" "$(cat "$tmp/err")"; fi
if [ -c /dev/net/tun ] && [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v nc >/dev/null &&
   ip tuntap add dev lwtap$$ mode tap 2>/dev/null; then
    "$wrap" -p "$lwpol" -- "$ne" --tap lwtap$$ -t 20 >"$tmp/tap.out" 2>&1 &
    tap_pid=$!
    for i in $(seq 1 100); do grep -q serving "$tmp/tap.out" && break; sleep 0.1; done
    ip addr add 10.77.0.1/24 dev lwtap$$ && ip link set lwtap$$ up
    for i in 1 2 3 4 5; do # the host's link and ARP take a moment
        echo "through the protected stack" | timeout 10 nc -N -w 5 10.77.0.2 7 >"$tmp/nc.out" 2>&1
        grep -q "^through the protected stack$" "$tmp/nc.out" && break
        sleep 1
    done
    has "TAP: the host's nc talks to the protected stack (echoed)" "$tmp/nc.out" "^through the protected stack$"
    kill "$tap_pid" 2>/dev/null; wait "$tap_pid" 2>/dev/null
    ip tuntap del dev lwtap$$ mode tap 2>/dev/null
else
    echo "skip TAP: needs /dev/net/tun, root, ip and nc"
fi
fi
if enforced; then
run "$ne" --stray-write pcb
has "a stray write into a TCP PCB, unprotected: goes through (the test can see it)" "$tmp/out" "went through"
for what in pcb pbuf; do
    run "$wrap" -p "$lwpol" -- "$ne" --stray-write $what
    died "a stray write into lwIP's $what: killed"
    has "... reported" "$tmp/err" "^libprotect: blocked write of liblwip.so.0 \\(integrity\\) at 0x[0-9a-f]+ by netecho!main"
done
fi

echo "# a protected library calling another"
nest="$build/tests/nested_test"
if functional; then
run "$nest"; cp "$tmp/out" "$tmp/nest.plain"
run "$wrap" -p "$build/tests/nested.policy" -p "$kvpol" -- "$nest"
is "library to library: exit status" "$status" 0
same "library to library (confidential caller): same results" "$tmp/nest.plain" "$tmp/out"
fi
if enforced; then
run "$wrap" -p "$build/tests/nested.policy" -p "$kvpol" -- "$nest" stray-outer
died "library to library: the application still cannot write the caller library"
fi
# Both ways: with keys, the callback's frame on the caller library's stack was a blocked write.
run "$wrap" -p "$build/tests/nested.policy" -p "$kvpol" -- "$nest" callback-through
is "library to library, a callback into the application from the inner one: exit status" "$status" 0
has "... every entry seen (its frame below the application's stack, not the caller library's)" "$tmp/out" \
    "^callback through two libraries: 200 entries$"

echo "# hardened mode (the attacks themselves: tests/attacks)"
if functional; then
run env PROTECT_VERBOSE=1 "$wrap" -p "$kvpol" -- "$kv" --threads 1 --ops 10
has "libc's WRPKRU is guarded" "$tmp/err" "libc.so.6: 1 WRPKRU/XRSTOR guarded, 0 left unguarded"
has "the loader's XRSTORs are guarded" "$tmp/err" "ld-linux-x86-64.so.2: 2 WRPKRU/XRSTOR guarded, 0 left unguarded"
has "the system-call filter is installed" "$tmp/err" "^libprotect: system-call filter installed: [0-9]+ code ranges watched"
run "$wrap" -p "$kvpol" -- "$build/tests/exec_mappings"
is "2000 new executable mappings (each scanned): the program runs" "$status" 0
has "2000 new executable mappings: none refused" "$tmp/out" "^executable mappings: 2000 made, none refused"
run "$wrap" --no-hardened -p "$kvpol" -- "$kv" --threads 1 --ops 10
is "--no-hardened: runs" "$status" 0
has "--no-hardened: says so, loudly" "$tmp/err" "^libprotect: WARNING: hardened mode is off"
run env LD_PRELOAD="$build/lib/libprotect.so" PROTECT_POLICY="$kvpol" "$kv" --threads 1 --ops 10
is "hardened mode without LD_BIND_NOW: refused" "$status" 1
has "hardened mode without LD_BIND_NOW: says why" "$tmp/err" "^libprotect: hardened mode needs LD_BIND_NOW=1"
fi

echo "# dlopen"
if functional; then
run env LD_LIBRARY_PATH="$build/tests" "$wrap" -p "$gtpol" -- "$build/tests/dlopen_test" libgatetest.so
is "dlopened library: calls work" "$status" 0
run env LD_LIBRARY_PATH="$build/tests" "$wrap" -p "$gtpol" -- "$build/tests/dlopen_test" libgatetest.so thread
is "a thread started before the load uses the library" "$status" 0
run env LD_LIBRARY_PATH="$build/tests" "$wrap" -p "$gtpol" -- "$build/tests/dlopen_test" libgatetest.so timer
is "SIGEV_THREAD timer callbacks (threads of glibc's timer thread, which blocks every signal) call a library loaded after the timer was made" "$status" 0
has "... and the load does not wait for that thread" "$tmp/out" "the load took under a second"
fi
if enforced; then
run env LD_LIBRARY_PATH="$build/tests" "$wrap" -p "$gtpol" -- "$build/tests/dlopen_test" libgatetest.so stray
died "dlopened library: stray write killed"
run env LD_LIBRARY_PATH="$build/tests" "$wrap" -p "$gtpol" -- "$build/tests/dlopen_test" libgatetest.so timer-stray
died "... and from a SIGEV_THREAD timer's callback, the timer made before the load"
run env LD_LIBRARY_PATH="$build/tests" "$wrap" -p "$gtpol" -- "$build/tests/dlopen_test" libgatetest.so close
died "dlclose then dlopen again: protected again"
has "dlclose then dlopen again: calls work" "$tmp/out" "^after reload sum6 56$"
fi

echo "# a library found through the program's RUNPATH, named bare by the policy"
rp=$build/tests/rp
if functional; then
run "$wrap" -v -p "$rp/gatetest-bare.policy" -- "$rp/bin/gatetest" regs
is "RUNPATH (\$ORIGIN/../lib): the program runs" "$status" 0
has "RUNPATH: the library is matched by its file name and gated" "$tmp/err" "^libprotect: libgatetest.so (protected|gated \\(dry run\\)) \\(integrity"
run "$wrap" -v -p "$rp/gatetest-bare.policy" -- "$build/tests/dlopen_test" "$rp/lib/renamed.so"
is "a file of another name, dlopened: runs" "$status" 0
has "a file of another name: matched by its soname" "$tmp/err" "^libprotect: libgatetest.so (protected|gated \\(dry run\\)) \\(integrity"
run "$wrap" -v -p "$rp/gatetest-bare.policy" -- "$rp/bin/dlopen_test" renamed.so
is "a bare name dlopened: found through the caller's RUNPATH (\$ORIGIN/../lib)" "$status" 0
has "a bare name dlopened: protected" "$tmp/err" "^libprotect: libgatetest.so (protected|gated \\(dry run\\)) \\(integrity"
fi
if enforced; then
run "$wrap" -p "$rp/gatetest-bare.policy" -- "$rp/bin/gatetest" stray-write
died "RUNPATH: the library is protected (stray write killed)"
fi

echo "# SQLite"
if functional; then
sqlite3 :memory: <"$src/tests/runtime/workload.sql" >"$tmp/sql.plain" 2>&1
run "$wrap" -p "$sqlpol" -- sqlite3 :memory: <"$src/tests/runtime/workload.sql"
is "sqlite3 shell: exit status" "$status" 0
same "sqlite3 shell: same output as unprotected" "$tmp/sql.plain" "$tmp/out"
# Ctrl-C during an endless query: the shell's handler calls sqlite3_interrupt()
# inside the call (no_defer = SIGINT in the shipped policy), within a second.
echo "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c;" >"$tmp/endless.sql"
"$wrap" -p "$sqlpol" -- sqlite3 :memory: <"$tmp/endless.sql" >"$tmp/out" 2>"$tmp/err" &
shell=$!
sleep 1
kill -INT "$shell"
for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$shell" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$shell" 2>/dev/null; then kill -9 "$shell"; fi
wait "$shell"
has "sqlite3 shell: Ctrl-C interrupts a query that would never end, within a second" "$tmp/err" "interrupted"
run "$build/tests/sqlite_threads"; cp "$tmp/out" "$tmp/sqlt.plain"
run "$wrap" -p "$sqlpol" -- "$build/tests/sqlite_threads"
is "sqlite from 4 threads: exit status" "$status" 0
same "sqlite from 4 threads: same output" "$tmp/sqlt.plain" "$tmp/out"
run sh -c "echo '.testctrl always 1' | '$wrap' -p '$sqlpol' -- sqlite3 :memory:"
has "denied export: reported" "$tmp/err" "^libprotect: libsqlite3.so.0: sqlite3_test_control is denied by "
is "denied export: the program stops (SIGABRT)" "$status" 134
run "$build/tests/sqlite_aggregates"; cp "$tmp/out" "$tmp/agg.plain"
run "$wrap" -p "$sqlpol" -- "$build/tests/sqlite_aggregates"
is "aggregate and window functions (sqlite3_aggregate_context): exit status" "$status" 0
same "aggregate and window functions: same results, what they allocated is the application's" "$tmp/agg.plain" "$tmp/out"
fi
if enforced; then
run "$wrap" -p "$sqlpol" -- "$build/tests/sqlite_aggregates" probe
died "aggregates allowed: a stray write into sqlite3_column_text memory is still stopped"
has "... and reported" "$tmp/err" "^libprotect: blocked write of libsqlite3.so.0 \\(integrity\\) at 0x[0-9a-f]+ by sqlite_aggregates!main"
fi

echo "# libffi closures (made at run time: ctypes, cffi) under hardened mode"
if functional; then
run "$build/tests/ffi_closures"; cp "$tmp/out" "$tmp/ffi.plain"
run "$wrap" -p "$gtpol" -- "$build/tests/ffi_closures"
is "closures of several signatures, one through the library's callback: exit status" "$status" 0
same "closures: same results as unprotected" "$tmp/ffi.plain" "$tmp/out"
py=/usr/bin/python3; [ -x "$py" ] || py=python3   # Debian's, which links the system's SQLite
run "$py" "$src/tests/runtime/python_client.py"; cp "$tmp/out" "$tmp/py.plain"
run "$wrap" -p "$sqlpol" -- "$py" "$src/tests/runtime/python_client.py"
is "python3: sqlite3 aggregates and a ctypes closure, SQLite protected: exit status" "$status" 0
same "python3: same output as unprotected" "$tmp/py.plain" "$tmp/out"
# Debian's python3 links zlib, protected from the start (which starts the
# telemetry publisher thread); SQLite comes later, with dlopen, and every
# thread must then take its key's rights: the publisher blocked libprotect's
# signal, and each such load waited 2 s and warned.
run "$wrap" -p "$sqlpol" -p "$src/policy/zlib.policy" -- "$py" "$src/tests/runtime/python_client.py"
is "python3, zlib protected from its start and SQLite loaded later: exit status" "$status" 0
same "... the same output as unprotected" "$tmp/py.plain" "$tmp/out"
if grep -q "did not take the new protection key" "$tmp/err"; then
    bad "... every thread took SQLite's key, libprotect's own too" "$(cat "$tmp/err")"
else ok "... every thread took SQLite's key, libprotect's own too"; fi
# subprocess's vfork child resets every handler, SIGSYS too, then closes its
# descriptors with close_range, which the filter traps: it was killed by SIGSYS.
run "$wrap" -p "$sqlpol" -- "$py" -c 'import sqlite3, subprocess, sys
sqlite3.connect(":memory:").execute("select 1")
r = subprocess.run(["sh", "-c", "echo child; exit 7"], capture_output=True)
print("subprocess:", r.returncode, r.stdout.decode().strip())'
has "python3 with SQLite protected starts a child (subprocess, vfork, close_range) which runs to its end" "$tmp/out" "^subprocess: 7 child$"
run "$py" "$src/tests/runtime/python_signals.py"; cp "$tmp/out" "$tmp/pysig.plain"
run "$wrap" -p "$sqlpol" -- "$py" "$src/tests/runtime/python_signals.py"
is "python3's own signals, SQLite protected (KeyboardInterrupt, multiprocessing's fork, spawn and forkserver): exit status" "$status" 0
same "... the same as unprotected" "$tmp/pysig.plain" "$tmp/out"
has "... Python's SIGINT handler installed at its start (it saw the default action, not libprotect's handler)" "$tmp/out" "^SIGINT: Python's handler$"
fi

echo "# LMDB"
if functional; then
rm -rf "$tmp/lp" "$tmp/lu"; mkdir "$tmp/lp" "$tmp/lu"
run "$build/tests/lmdb_roundtrip" "$tmp/lu"; cp "$tmp/out" "$tmp/lmdb.plain"
run env PROTECT_VERBOSE=1 "$wrap" -p "$src/policy/lmdb.policy" -- "$build/tests/lmdb_roundtrip" "$tmp/lp"
is "LMDB through liblmdb.so: exit status" "$status" 0
same "LMDB through liblmdb.so: same results" "$tmp/lmdb.plain" "$tmp/out"
has "LMDB through liblmdb.so: it was gated" "$tmp/err" "^libprotect: liblmdb.so.0 (protected|gated \\(dry run\\)) \\(integrity"
mkdir -p "$tmp/lv"
run bash -c "ulimit -v 3000000 && exec \"\$@\"" sh "$wrap" -p "$src/policy/lmdb.policy" -- "$build/tests/lmdb_roundtrip" "$tmp/lv"
same "LMDB under ulimit -v 3000000 (3 GB of address space): protected, same results" "$tmp/lmdb.plain" "$tmp/out"
has "... with fewer threads inside it at once, said in one line" "$tmp/err" \
    "^libprotect: liblmdb.so.0: address space for [0-9]+ threads inside it at once, not 8192 \\(RLIMIT_AS\\)$"
# Debian's lmdb-utils link LMDB statically: there is no shared library in
# them to protect, and libprotect says so instead of pretending.
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n' >"$tmp/in.dump"
for i in $(seq 1 500); do printf ' key%05d\n value-%d\n' "$i" "$i"; done >>"$tmp/in.dump"
echo DATA=END >>"$tmp/in.dump"
rm -rf "$tmp/plain" "$tmp/prot"; mkdir "$tmp/plain" "$tmp/prot"
mdb_load -f "$tmp/in.dump" "$tmp/plain" && mdb_dump -p "$tmp/plain" >"$tmp/dump.plain"
run env PROTECT_VERBOSE=1 "$wrap" -p "$src/policy/lmdb.policy" -- mdb_load -f "$tmp/in.dump" "$tmp/prot"
has "mdb_load: LMDB is linked in statically, libprotect says it is not loaded" "$tmp/err" \
    "^libprotect: liblmdb.so.0 is not loaded"
run "$wrap" -p "$src/policy/lmdb.policy" -- mdb_dump -p "$tmp/prot"
same "mdb_load/mdb_dump round trip under the policy: same dump" "$tmp/dump.plain" "$tmp/out"
fi
if enforced; then
rm -rf "$tmp/ls"; mkdir "$tmp/ls"
run "$wrap" -p "$src/policy/lmdb.policy" -- "$build/tests/lmdb_roundtrip" "$tmp/ls" stray
died "LMDB: a write into its memory map is killed (mmap from inside the library is tagged)"
has "LMDB: reported" "$tmp/err" "^libprotect: blocked write of liblmdb.so.0 \\(integrity\\)"
fi
if functional; then
rm -rf "$tmp/ld"; mkdir "$tmp/ld"
run "$wrap" -p "$src/policy/lmdb.policy" -- "$build/tests/lmdb_roundtrip" "$tmp/ld" deputy
is "LMDB asked to write its statistics over its own memory: stopped by the shipped policy's pointers (SIGABRT)" "$status" 134
has "... reported" "$tmp/err" "^libprotect: blocked mdb_env_stat\\(argument 2 = 0x[0-9a-f]+, 40 bytes\\): a pointer into liblmdb.so.0's own memory"
fi

echo "# zlib"
if enforced; then
run "$wrap" -p "$src/policy/zlib.policy" -- "$build/tests/zlib_roundtrip"
is "zlib with its key enforced, inflateBack's callbacks included (pigz -d's way): exit status" "$status" 0
has "... what its callbacks handed back intact (they ran with the application's rights)" "$tmp/out" \
    "^inflateBack through callbacks: identical, [0-9]+ pieces$"
fi
if functional; then
run "$build/tests/zlib_roundtrip"; cp "$tmp/out" "$tmp/z.plain"
run "$wrap" -p "$src/policy/zlib.policy" -- "$build/tests/zlib_roundtrip"
is "zlib round trip protected: exit status" "$status" 0
same "zlib round trip protected: same sizes and checksums" "$tmp/z.plain" "$tmp/out"
# Boehm's collector stops threads with a signal and scans their stacks from
# where its handler runs, registers included: on libprotect's alternate
# stack, it scanned the wrong memory (SIGSEGV) or missed live lists.
run "$build/tests/gc_threads"
has "a program of Boehm's collector, unprotected: every list intact" "$tmp/out" "^gc_threads: [1-9][0-9]* collections, 0 rounds wrong$"
run "$wrap" -p "$src/policy/zlib.policy" -- "$build/tests/gc_threads"
is "a program of Boehm's collector, zlib protected: exit status" "$status" 0
has "... every list intact across its collections" "$tmp/out" "^gc_threads: [1-9][0-9]* collections, 0 rounds wrong$"

fi

echo "# audit mode and --learn"
# "ENTRY: key = value" for the settings of a policy's [entry] sections
# (pointers = is only proposed, as a comment, by --learn: left out of the comparison)
policy_pairs() {
    awk '/^\[/ { e = ($0 ~ /^\[entry /) ? $2 : "" ; sub(/\]$/, "", e) }
         e != "" && /^[a-z_]+ *=/ && !/^pointers/ { gsub(/ +/, " "); print e ": " $0 }' "$1" | sort
}
learned_like() { # NAME LEARNED HANDWRITTEN
    if [ "$(policy_pairs "$2")" = "$(policy_pairs "$3")" ]; then ok "$1"
    else bad "$1" "$(diff <(policy_pairs "$3") <(policy_pairs "$2"))"; fi
}
if enforced; then
run "$wrap" --audit="$tmp/audit.json" -p "$kvpol" -- "$kv" --threads 2 --ops 100 --stray-write
is "audit: the program with the stray write runs to its end" "$status" 0
has "audit: the write was let through" "$tmp/out" "^victim is now X"
has "audit: summed up at exit, with the block's allocating entry" "$tmp/err" \
    "^libprotect: audit: 1 writes of libkvstore.so \\(integrity\\) by kvapp!main\\+0x[0-9a-f]+, in a block allocated in kv_put$"
has "audit: JSON records" "$tmp/audit.json" '"library":"libkvstore.so","access":"write".*"allocated_in":"kv_put".*"count":1'
run "$wrap" --learn "$build/tests/libgatetest.so" -o "$tmp/gt.learned" -- "$gt" all
is "learn (gatetest): runs" "$status" 0
expect "learn (gatetest): the policy validates" 0 "$wrap" --validate "$tmp/gt.learned"
learned_like "learn (gatetest): the hand-written callbacks and heap = app, nothing else" "$tmp/gt.learned" "$gtpol"
sed -n '/^\[entry gt_fill\]/,/^\[entry gt_[a-eg-z]/p' "$tmp/gt.learned" >"$tmp/gt.fill"
has "learn (gatetest): the pointer argument gt_fill writes through, proposed" "$tmp/gt.fill" "^; pointers = 1(,|$)"
has "learn (gatetest): evidence for each line" "$tmp/gt.learned" \
    "^; learned: argument 2 was an application function \\(gatetest!down\\+0\\) in 201 of 201 calls,"
run "$wrap" --learn "$build/lib/libkvstore.so" -o "$tmp/kv.learned" -- "$kv" --threads 2 --ops 200
learned_like "learn (kvstore): the hand-written policy's entries" "$tmp/kv.learned" "$kvpol"
run "$wrap" --learn libsqlite3.so.0 -o "$tmp/agg.learned" -- "$build/tests/sqlite_aggregates"
has "learn (SQLite aggregates): every callback called back" "$tmp/agg.learned" "^callbacks = 6, 7, 8, 9, 10$"
has "learn (SQLite aggregates): the aggregate context writes, as a decision" "$tmp/agg.learned" "^; open_callbacks = 6, 9$"
run sh -c "'$wrap' --learn libsqlite3.so.0 -o '$tmp/sql.learned' -- sqlite3 :memory: < '$src/tests/runtime/workload.sql'"
expect "learn (sqlite3 shell): the policy validates" 0 "$wrap" --validate "$tmp/sql.learned"
has "learn (sqlite3 shell): the memory it writes (heap = app)" "$tmp/sql.learned" "^\\[entry sqlite3_malloc64\\]"
has "learn (sqlite3 shell): the log callback the shipped policy lacks" "$tmp/sql.learned" "^\\[entry sqlite3_config\\]"
run "$wrap" --learn libz.so.1 -o "$tmp/z.learned" -- "$build/tests/zlib_roundtrip"
expect "learn (zlib): the policy validates" 0 "$wrap" --validate "$tmp/z.learned"
fi
if [ "$mode" = dry ]; then
run "$wrap" --learn "$build/tests/libgatetest.so" -o "$tmp/gt.learned" -- "$gt" all
is "learn in a dry run: runs" "$status" 0
has "learn in a dry run: says what it could not see" "$tmp/gt.learned" "^; The run was a dry run \\(no protection keys\\)"
has "learn in a dry run: callbacks still learned" "$tmp/gt.learned" "^\\[entry gt_recurse\\]"
fi

if functional; then
echo "# telemetry"
mb=$build/bench/microbench bpol=$build/bench/benchlib-integrity.policy
json_count() { grep -o "\"$2\":[0-9]*" "$1" | head -1 | cut -d: -f2; }
run "$wrap" --stats="$tmp/st.json" -p "$bpol" -- "$mb" gate 1000 3
is "stats: entries are exactly the calls made (3 x 1000, and the warm-up's 101)" "$(json_count "$tmp/st.json" entries)" 3101
run "$wrap" --stats="$tmp/st.json" -p "$bpol" -- "$mb" callback 1000 3
is "stats: callbacks are exactly those made" "$(json_count "$tmp/st.json" callbacks)" 3101
run "$wrap" --stats="$tmp/st.json" -p "$bpol" -- "$mb" int3 100 1
is "stats: entries through an int3 gate" "$(json_count "$tmp/st.json" trap_entries)" 111
run "$wrap" --stats="$tmp/st.json" -p "$build/tests/gatetest-bound.policy" -- "$st" bound
is "stats: the one signal a long call held" "$(json_count "$tmp/st.json" deferred_signals)" 1
is "stats: ... which ran out of time" "$(json_count "$tmp/st.json" bound_hits)" 1
longest=$(json_count "$tmp/st.json" longest_deferral_us)
if [ "${longest:-0}" -ge 190000 ] && [ "${longest:-0}" -lt 1500000 ]; then ok "stats: the longest deferral is the bound (${longest} us)"
else bad "stats: the longest deferral is the bound" "$(cat "$tmp/st.json")"; fi
run "$wrap" --stats="$tmp/st.json" -p "$gtpol" -- "$st" storm
want=$(sed -n 's/^libprotect: \([0-9]*\) deferred.*/\1/p' "$tmp/out")
got=$(json_count "$tmp/st.json" deferred_signals)
# (a signal that comes while libprotect's own handler runs is deferred too,
# but for no library: the per-library count may be a little lower)
if [ -n "$want" ] && [ "${got:-0}" -gt 0 ] && [ "$got" -le "$want" ]; then ok "stats: a storm's deferred signals ($got of $want)"
else bad "stats: a storm's deferred signals" "got '$got', all '$want'"; fi
run "$wrap" --stats -p "$kvpol" -- "$kv" --threads 2 --ops 100
has "stats: a table on stderr" "$tmp/err" "^libprotect: stats: libkvstore.so +[0-9]+ "
"$wrap" -p "$kvpol" -- "$kv" --threads 1 --ops 100000000 >/dev/null 2>&1 &
top_pid=$!
for i in $(seq 1 100); do [ -e "/dev/shm/libprotect-$top_pid.stats" ] && break; sleep 0.1; done
run "$build/bin/protect-top" --once --json "$top_pid"; first=$(json_count "$tmp/out" entries)
sleep 0.6
run "$build/bin/protect-top" --once --json "$top_pid"; second=$(json_count "$tmp/out" entries)
if [ -n "$first" ] && [ -n "$second" ] && [ "$second" -gt "$first" ]; then ok "protect-top --once --json: entries rising ($first, then $second)"
else bad "protect-top --once --json: entries rising" "first '$first', second '$second': $(cat "$tmp/out" "$tmp/err")"; fi
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    run setpriv --reuid=65534 --regid=65534 --clear-groups "$build/bin/protect-top" --once "$top_pid"
    is "protect-top: another user's process is not readable" "$status" 1
fi
kill "$top_pid" 2>/dev/null; wait "$top_pid" 2>/dev/null

echo "# a policy for a library the program never loads"
run echo hello
cp "$tmp/out" "$tmp/echo.plain"
run "$wrap" -p "$sqlpol" -- echo hello
is "never-loaded library: exit status" "$status" 0
same "never-loaded library: same output" "$tmp/echo.plain" "$tmp/out"
if [ -s "$tmp/err" ]; then bad "never-loaded library: says nothing" "$(cat "$tmp/err")"; else ok "never-loaded library: says nothing"; fi

fi

finish "runtime ($mode)"
