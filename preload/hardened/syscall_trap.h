/* The SIGSYS side of the system-call filter: reports what it refused and
 * decides the calls it sent here (new executable memory, mremap, open,
 * rt_sigreturn), making the allowed ones from the trusted page. */
#ifndef LIBPROTECT_SYSCALL_TRAP_H
#define LIBPROTECT_SYSCALL_TRAP_H

#include <signal.h>
#include <stdbool.h>
#include <ucontext.h>

/* Handles a SIGSYS from the scoped filter: sets the call's result in UC.
 * False if the signal is not one (the application's own SIGSYS). */
bool syscall_trap(siginfo_t *si, ucontext_t *uc);

/* Puts the trap's service (a library's call carried out in its domain) in
 * the gate table, at start. */
void syscall_trap_register_service(void);

/* trusted_syscall's routes for the calls the filter stops (the reason,
 * and the runtime domain's RT_TRAP that carries them out). */
struct trusted_routes;
void syscall_trap_routes(struct trusted_routes *r);

/* System calls of the program refused so far (telemetry). */
unsigned long syscall_refusals(void);

/* For the handler's parts: a refusal, counted and said in one line
 * ("blocked NAME: WHY"); returns -EPERM. */
long trap_refuse(long nr, const char *why);
/* The name of system call NR ("openat"). */
const char *trap_call_name(long nr);

#endif
