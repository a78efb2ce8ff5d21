/* The signal calls of libc that libprotect interposes: the application's
 * actions and alternate stack are kept as its view (signals.c delivers
 * them), and masks never block SIGSYS while the filter needs it. */
#define _GNU_SOURCE
#include "signals/signals.h"

#include <dlfcn.h>
#include <signal.h>

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return signals_set_action(sig, act, old);
}

sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_RESTART}, old;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

int sigaltstack(const stack_t *ss, stack_t *old)
{
    return signals_set_altstack(ss, old);
}

/* The system-call filter answers some calls with SIGSYS, and a blocked
 * SIGSYS would kill the thread instead: masks never block it in hardened
 * mode (a thread that blocks "everything" still opens files). */
typedef int (*mask_fn)(int, const sigset_t *, sigset_t *);

/* Calls libc's NAME (found once into *REAL) without SIGSYS in a blocking set. */
static int mask_without_sigsys(mask_fn *real, const char *name, int how, const sigset_t *set, sigset_t *old)
{
    if (!*real)
        *real = (mask_fn)dlsym(RTLD_NEXT, name);
    sigset_t copy;
    if (set && how != SIG_UNBLOCK && sigismember(set, SIGSYS) && signals_hooks()->keep_sigsys_unblocked) {
        copy = *set;
        sigdelset(&copy, SIGSYS);
        set = &copy;
    }
    return (*real)(how, set, old);
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    static mask_fn real;
    return mask_without_sigsys(&real, "pthread_sigmask", how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    static mask_fn real;
    return mask_without_sigsys(&real, "sigprocmask", how, set, old);
}
