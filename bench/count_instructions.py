"""Instructions per call, counted by single-stepping in gdb (repeatable on a
noisy machine, and where valgrind cannot run libprotect: it has no RDFSBASE).

    gdb -q -batch -x bench/count_instructions.py --args PROGRAM ARGS...

with COUNT_FUNCS="domain_heap_free malloc free" (functions to count) and,
for a protected run, the environment protect-wrap would set, e.g.
    COUNT_FUNCS="malloc free" LD_PRELOAD=$PWD/build/lib/libprotect.so PROTECT_DRY_RUN=1 \\
    PROTECT_HARDENED=0 PROTECT_POLICY=build/bench/benchlib-integrity.policy LD_BIND_NOW=1 \\
    gdb -q -batch -x bench/count_instructions.py --args build/bench/macrobench malloc 20000 1
Each function is counted at its 300th call (warm: caches filled, lazy paths
taken), from its first instruction to the return to its caller, callees
included.  Prints "FUNCTION: N instructions".  Not for a gated export:
libprotect rewrites its first bytes after gdb has set the breakpoint there
(count a crossing from the caller's side instead)."""
import os

import gdb

SKIP = 300


def count(function):
    gdb.execute("delete")
    gdb.execute("break %s" % function)
    gdb.execute("continue %d" % SKIP, to_string=True)
    gdb.execute("delete")
    return_to = int(gdb.parse_and_eval("*(unsigned long *)$rsp"))
    entry_sp = int(gdb.parse_and_eval("$rsp"))
    n = 0
    while True:
        gdb.execute("stepi", to_string=True)
        n += 1
        if int(gdb.parse_and_eval("$pc")) == return_to and int(gdb.parse_and_eval("$rsp")) > entry_sp:
            return n


gdb.execute("set pagination off")
gdb.execute("set breakpoint pending on")
gdb.execute("set startup-with-shell off")
gdb.execute("handle SIGSYS nostop noprint pass")
functions = os.environ.get("COUNT_FUNCS", "malloc free").split()
gdb.execute("break %s" % functions[0])
gdb.execute("run", to_string=True)
gdb.execute("set scheduler-locking step")
for f in functions:
    print("%s: %d instructions" % (f, count(f)))
gdb.execute("kill")
