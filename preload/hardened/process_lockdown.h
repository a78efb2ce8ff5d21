/* Hardened mode: other processes (a child the application starts, for
 * one) may no longer reach into this one: ptrace, process_vm_readv/writev
 * and /proc/<pid>/mem all check ptrace access, which a process that is not
 * dumpable refuses to anyone without CAP_SYS_PTRACE, and this process and
 * its children give that capability up. */
#ifndef LIBPROTECT_PROCESS_LOCKDOWN_H
#define LIBPROTECT_PROCESS_LOCKDOWN_H

/* 0, or -1 with errno set. */
int lock_process_from_outside(void);

#endif
