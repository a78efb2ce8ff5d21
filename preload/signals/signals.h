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
    /* Whether [lo, hi) is protected memory: never an alternate stack (the
     * kernel writes frames there, since Linux 6.12 with every key open). */
    bool (*protected_memory)(uintptr_t lo, uintptr_t hi);
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
/* The same for a thread just cloned, which has none whatever its TLS says. */
void signals_new_thread_altstack(void);
/* The interposed sigaction and sigaltstack (interpose.c) land here. */
int signals_set_action(int sig, const struct sigaction *act, struct sigaction *old);
int signals_set_altstack(const stack_t *ss, stack_t *old);
/* SIG's action in the kernel, as asked (with libprotect's restorer and an
 * alternate stack), the application's view left as it is. */
int signals_set_kernel_action(int sig, const struct sigaction *act, struct sigaction *old);
/* The same made with the bare system call (the filter sends them to its
 * handler, which calls these with the call's arguments): 0 or -errno.
 * FROM_LIBRARY: a library's call, which goes to the kernel as asked. */
long signals_rt_sigaction_call(const long *args, bool from_library);
long signals_sigaltstack_call(const long *args);
/* Whether the caller is the process libprotect's state belongs to (not a
 * child sharing its memory: vfork, posix_spawn). */
bool in_our_process(void);

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

/* The kernel's struct sigaction on x86-64. */
struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};
/* The kernel's action for SIG (K set if not NULL, the old one into O if
 * not NULL), through the runtime domain where this thread cannot make the
 * call itself (which then sets only libprotect's own actions); 0 or -errno. */
long signals_kernel_sigaction(int sig, const struct kernel_sigaction *k, struct kernel_sigaction *o);
/* The kernel's alternate stack for the calling thread, likewise: */
enum kernel_altstack {
    ALTSTACK_LEVEL, /* libprotect's stack of LEVEL */
    ALTSTACK_OWN,   /* a new one of its own (a thread that shares its parent's TLS) */
    ALTSTACK_OFF,   /* none (the thread is ending) */
};
long signals_kernel_altstack(int what, int level);
/* Releases the calling thread's breakpoint and timer (thread exit). */
void signals_thread_exit(void);
void signals_counts(struct protect_signal_counts *c);


#endif
