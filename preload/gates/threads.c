#define _GNU_SOURCE
#include "base/next_functions.h"
#include "gates/threads.h"

#include "gates/callbacks.h"
#include "gates/gate_table.h"
#include "log.h"
#include "base/pkru_sync.h"
#include "base/pku.h"
#include "base/trusted_syscall.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <threads.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { TOKEN_FREE, TOKEN_PENDING, TOKEN_RUNNING };

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* glibc's (kept sealed: a library's pthread_create reaches it with the
 * library's rights). */
static pthread_create_fn glibc_create(void)
{
    return (pthread_create_fn)next_function(NEXT_PTHREAD_CREATE);
}

/* The domain whose token array holds P, or NULL. */
static struct domain *token_domain(const void *p)
{
    for (int i = 0; i < protect_n_domains; i++) {
        struct domain *d = &protect_domains[i];
        uintptr_t lo = (uintptr_t)d->thread_tokens;
        if (lo && (uintptr_t)p - lo < THREAD_TOKENS_BYTES && ((uintptr_t)p - lo) % sizeof(struct thread_token) == 0)
            return d;
    }
    return NULL;
}

void *domain_thread_runner(void *p)
{
    struct thread_token *t = p;
    struct domain *d = domain_for_rights(pku_read());
    uint32_t pending = TOKEN_PENDING;
    if (!d || token_domain(t) != d ||
        !__atomic_compare_exchange_n(&t->state, &pending, TOKEN_RUNNING, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        protect_log("%s: its thread gate called without a thread it started (refused)", d ? d->name : "?");
        return NULL;
    }
    void *(*start)(void *) = t->start;
    void *arg = t->arg;
    __atomic_store_n(&t->state, TOKEN_FREE, __ATOMIC_RELEASE);
    return start(arg);
}

/* A domain thread's first steps, in libprotect: the application's rights
 * (it inherited the library's), then into the library through its gate. */
static void *run_domain_thread(void *p)
{
    pku_write_checked(app_rights());
    struct domain *d = token_domain(p);
    if (!d || !d->thread_stub)
        return NULL;
    return ((void *(*)(void *))d->thread_stub)(p);
}

struct app_start {
    void *(*start)(void *);
    void *arg;
};

/* A thread with the application's code: the application's rights (a
 * library that started it left its own; whatever the creator, since this
 * record is in memory the application can write, and a flag "started by a
 * library" in it could be cleared under a starting thread), its alternate
 * stack (before any of its code runs: a signal's frame is written where
 * the stack pointer points without one), then its code. */
static void *run_app_thread(void *p)
{
    struct app_start s = *(struct app_start *)p;
    if (protect_active)
        pku_write_checked(app_rights());
    __libc_free(p);
    if (protect_gate_page.t.thread_started) {
        protect_gate_page.t.thread_started();
        gate_table_watch_thread_exit(); /* its alternate stacks given back at its end */
    }
    return s.start(s.arg);
}

static int create_app_thread(pthread_t *th, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
    struct app_start *s = __libc_malloc(sizeof *s);
    if (!s)
        return EAGAIN;
    *s = (struct app_start){start, arg};
    int rc = glibc_create()(th, attr, run_app_thread, s);
    if (rc != 0)
        __libc_free(s);
    return rc;
}

static struct thread_token *token_new(struct domain *d, void *(*start)(void *), void *arg)
{
    for (size_t i = 0; i < THREAD_TOKENS; i++) {
        struct thread_token *t = &d->thread_tokens[i];
        uint32_t free_state = TOKEN_FREE;
        if (__atomic_load_n(&t->state, __ATOMIC_RELAXED) == TOKEN_FREE &&
            __atomic_compare_exchange_n(&t->state, &free_state, TOKEN_RUNNING, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            t->start = start;
            t->arg = arg;
            __atomic_store_n(&t->state, TOKEN_PENDING, __ATOMIC_RELEASE);
            return t;
        }
    }
    return NULL;
}

/* Every signal blocked but the synchronous ones and libprotect's own. */
static void async_signals(sigset_t *set)
{
    sigfillset(set);
    static const int keep[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        sigdelset(set, keep[i]);
    sigdelset(set, PROTECT_SIGNAL);
}

static int create_domain_thread(struct domain *d, pthread_t *th, const pthread_attr_t *attr,
                                void *(*start)(void *), void *arg)
{
    struct thread_token *t = token_new(d, start, arg);
    if (!t)
        return EAGAIN;
    /* Born with them blocked: a mask set by the thread itself would leave a
     * moment in which a process-wide signal could pick it. */
    sigset_t block, saved;
    async_signals(&block);
    trusted_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&block, (long)&saved, _NSIG / 8, 0, 0);
    int rc = glibc_create()(th, attr, run_domain_thread, t);
    trusted_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&saved, 0, _NSIG / 8, 0, 0);
    if (rc != 0)
        __atomic_store_n(&t->state, TOKEN_FREE, __ATOMIC_RELEASE);
    return rc;
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
    uint32_t rights = protect_active ? pku_read() : 0;
    struct domain *d = protect_active && rights != app_rights() ? domain_for_rights(rights) : NULL;
    if (!d || !d->thread_tokens)
        return create_app_thread(th, attr, start, arg);
    uintptr_t fn = (uintptr_t)start;
    if (fn >= d->text_lo && fn < d->text_hi)
        return create_domain_thread(d, th, attr, start, arg);
    /* The application's code (a callback stub stands for it): its rights. */
    uintptr_t app_fn = callback_target_of(d->slot, fn);
    return create_app_thread(th, attr, (void *(*)(void *))(app_fn ? app_fn : fn), arg);
}

/* C11 threads: glibc's thrd_create calls its pthread_create internally, past
 * the interposed one.  A start routine returning int fits the same call
 * (glibc's own thrd_create passes it the same way). */
int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
    int rc = pthread_create((pthread_t *)thr, NULL, (void *(*)(void *))(void (*)(void))func, arg);
    return rc == 0 ? thrd_success : rc == ENOMEM ? thrd_nomem : thrd_error; /* as glibc maps them */
}
