/* The signal calls of libc that libprotect interposes, and the same made
 * with the bare system call (sent here by the filter): the application's
 * actions and alternate stack are kept as its view (signals.c delivers
 * them), and masks never block SIGSYS while the filter needs it. */
#define _GNU_SOURCE
#include "signals/signals.h"

#include "base/pkru_sync.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

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

/* rt_sigaction(sig, act, old, setsize) made with the bare system call. */
long signals_rt_sigaction_call(const long *a, bool from_library)
{
    if (a[3] != sizeof(uint64_t))
        return -EINVAL;
    const struct kernel_sigaction *kact = (const void *)a[1];
    struct kernel_sigaction *kold = (void *)a[2];
    struct sigaction act, old;
    if (kact) {
        struct kernel_sigaction k = *kact; /* read once: another thread may change it */
        act = (struct sigaction){.sa_handler = (void (*)(int))k.handler, .sa_flags = (int)(k.flags & ~SA_RESTORER)};
        sigemptyset(&act.sa_mask);
        memcpy(&act.sa_mask, &k.mask, sizeof k.mask);
    }
    int (*set)(int, const struct sigaction *, struct sigaction *) =
        from_library ? signals_set_kernel_action : signals_set_action;
    if (set((int)a[0], kact ? &act : NULL, kold ? &old : NULL) != 0)
        return -errno;
    if (kold) {
        *kold = (struct kernel_sigaction){.handler = (void *)old.sa_handler, .flags = (unsigned long)old.sa_flags};
        memcpy(&kold->mask, &old.sa_mask, sizeof kold->mask);
    }
    return 0;
}

/* sigaltstack(ss, old) made with the bare system call. */
long signals_sigaltstack_call(const long *a)
{
    const stack_t *ss = (const void *)a[0];
    stack_t copy, old;
    if (ss)
        copy = *ss; /* read once */
    if (signals_set_altstack(ss ? &copy : NULL, a[1] ? &old : NULL) != 0)
        return -errno;
    if (a[1])
        *(stack_t *)a[1] = old;
    return 0;
}

/* The system-call filter answers some calls with SIGSYS, and a blocked
 * SIGSYS would kill the thread instead: masks never block it in hardened
 * mode (a thread that blocks "everything" still opens files).  Made from
 * the trusted page (the filter sends libc's own mask calls to its handler,
 * which does the same, more slowly); glibc's internal signals (cancellation,
 * set*id) are never blocked, as its pthread_sigmask does.  0 or an errno. */
static int set_mask(int how, const sigset_t *set, sigset_t *old)
{
    sigset_t copy;
    if (set && how != SIG_UNBLOCK) {
        copy = *set;
        uint64_t *bits = (uint64_t *)&copy;
        *bits &= ~((1ull << (32 - 1)) | (1ull << (33 - 1)) | PROTECT_SIGNAL_BIT);
        if (signals_hooks()->keep_sigsys_unblocked)
            *bits &= ~(1ull << (SIGSYS - 1));
        set = &copy;
    }
    long r = trusted_syscall(SYS_rt_sigprocmask, how, (long)set, (long)old, _NSIG / 8, 0, 0);
    return r < 0 ? (int)-r : 0;
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return set_mask(how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    int err = set_mask(how, set, old);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
