/* Signal delivery under libprotect: deferral out of the libraries,
 * handlers with the application's rights, an alternate stack per thread. */
#ifndef LIBPROTECT_SIGNALS_H
#define LIBPROTECT_SIGNALS_H

#include "base/pkru_sync.h"
#include "policy.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>


struct protect_signal_counts {
    uint64_t deferred;        /* signals held until a thread left a library */
    uint64_t delivered;       /* signals handed to the application (now or later) */
    uint64_t breakpoint_arms; /* exit breakpoints armed */
    uint64_t forced;          /* deferrals ended by the bound */
    uint64_t breakpoint_hits; /* gate returns seen by an armed breakpoint */
};

/* What other subsystems handle inside libprotect's handler, passed in at
 * start (signals/ never calls up into hardened/).  Each returns true when
 * the signal was theirs and is dealt with. */
struct signal_hooks {
    bool (*sigsys)(siginfo_t *si, ucontext_t *uc);     /* the filter's traps */
    bool (*trap)(const siginfo_t *si, ucontext_t *uc); /* guarded stray WRPKRUs */
    bool (*audit)(int sig, siginfo_t *si, ucontext_t *uc); /* audit mode: stopped accesses allowed */
    bool keep_sigsys_unblocked; /* masks never block SIGSYS (the filter needs it) */
};
/* Sets them (once, before any library is attached); kept read-only. */
void signals_set_hooks(const struct signal_hooks *h);
/* Read by faults.c and the interposed calls. */
const struct signal_hooks *signals_hooks(void);

/* Installs libprotect's handler for every signal that needs it (once). */
void signals_take_over(void);
/* Takes the policy's [signals] settings (the strictest bound wins). */
void signals_configure(const struct policy *p);
/* Gives the calling thread a key-0 alternate stack unless it has one. */
void signals_thread_altstack(void);
/* The interposed sigaction and sigaltstack (interpose.c) land here. */
int signals_set_action(int sig, const struct sigaction *act, struct sigaction *old);
int signals_set_altstack(const stack_t *ss, stack_t *old);
/* Releases the calling thread's breakpoint and timer (thread exit). */
void signals_thread_exit(void);
void signals_counts(struct protect_signal_counts *c);


#endif
