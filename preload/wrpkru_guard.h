/* Stray WRPKRUs (libc's pkey_set is one) are given an int3: the trap
 * handler carries the write out only when it leaves every protected
 * library's key as the application has it. */
#ifndef LIBPROTECT_WRPKRU_GUARD_H
#define LIBPROTECT_WRPKRU_GUARD_H

#include <stdbool.h>
#include <signal.h>
#include <ucontext.h>

/* Finds and guards the WRPKRUs of every loaded object but libprotect's own
 * (those at instruction starts of sized exported functions; others are
 * counted and reported as not guarded).  Safe to call again: objects
 * already guarded are skipped. */
void wrpkru_guard_scan(void);

/* For SIGTRAP: true when it was a guarded WRPKRU and the write was allowed
 * (done: the thread moves on).  A refused write is reported and left to
 * the default action (the int3 runs again: the process dies by SIGTRAP). */
bool wrpkru_guard_trap(ucontext_t *uc);

#endif
