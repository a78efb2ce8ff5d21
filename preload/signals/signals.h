/* Signal delivery under libprotect: deferral out of the libraries,
 * handlers with the application's rights, an alternate stack per thread. */
#ifndef LIBPROTECT_SIGNALS_H
#define LIBPROTECT_SIGNALS_H

#include "policy.h"

#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

/* libprotect's own signal: PKRU updates of other threads, deferral bounds. */
#define PROTECT_SIGNAL (SIGRTMAX)

struct protect_signal_counts {
    uint64_t deferred;        /* signals held until a thread left a library */
    uint64_t delivered;       /* signals handed to the application (now or later) */
    uint64_t breakpoint_arms; /* exit breakpoints armed */
    uint64_t forced;          /* deferrals ended by the bound */
    uint64_t breakpoint_hits; /* gate returns seen by an armed breakpoint */
};

/* Installs libprotect's handler for every signal that needs it (once). */
void signals_take_over(void);
/* Takes the policy's [signals] settings (the strictest bound wins). */
void signals_configure(const struct policy *p);
/* Gives the calling thread a key-0 alternate stack unless it has one. */
void signals_thread_altstack(void);
/* Releases the calling thread's breakpoint and timer (thread exit). */
void signals_thread_exit(void);
void signals_counts(struct protect_signal_counts *c);

/* The gate's final return instruction (gate.S): where deferred signals go out. */
void protect_gate_exit_ret(void);

#endif
