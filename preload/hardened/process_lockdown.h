/* Hardened mode: other processes (a child the application starts, for
 * one) may no longer reach into this one: ptrace, process_vm_readv/writev
 * and /proc/<pid>/mem all check ptrace access, which a process that is not
 * dumpable refuses to anyone without CAP_SYS_PTRACE, and this process and
 * its children give that capability up. */
#ifndef LIBPROTECT_PROCESS_LOCKDOWN_H
#define LIBPROTECT_PROCESS_LOCKDOWN_H

#include <stdbool.h>

/* 0, or -1 with errno set. */
int lock_process_from_outside(void);

/* Whether the program has .preinit_array functions: they run before any
 * shared library's constructor, libprotect's too, so before the filter
 * exists (they could keep a /proc/self/mem descriptor, or start a tracer).
 * Hardened mode refuses such a program. */
bool program_runs_code_before_us(void);

#endif
