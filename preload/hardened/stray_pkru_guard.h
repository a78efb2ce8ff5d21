/* Stray WRPKRU/XRSTOR in the code loaded at start (see
 * stray_pkru_guard.c): int3 guards at instruction starts, hardware breakpoints
 * on up to three inside other instructions, refusal beyond. */
#ifndef LIBPROTECT_STRAY_PKRU_GUARD_H
#define LIBPROTECT_STRAY_PKRU_GUARD_H

#include <stdbool.h>
#include <signal.h>
#include <ucontext.h>

/* Finds and guards them in every loaded object but libprotect (the program
 * too); in hardened mode, refuses to run if some cannot be guarded.  Safe
 * to call again: objects already scanned are skipped. */
void stray_pkru_guard_scan(void);

/* For SIGTRAP (an int3 or a breakpoint): true when it was a guarded WRPKRU
 * and the write was allowed (done: the thread moves on).  A refused write
 * or any guarded XRSTOR is reported and left to the default action (the
 * process dies by SIGTRAP). */
bool stray_pkru_guard_trap(const siginfo_t *si, ucontext_t *uc);

#endif
