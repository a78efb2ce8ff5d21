/* Signals against a protected library.
 *   storm   4 threads call the library while SIGUSR1 and a queued real-time
 *           signal (with values) rain on them: no crash, every value
 *           delivered exactly once, no handler ever ran inside the library.
 *   handler-writes   a handler writes the library's memory (must fault).
 *   torn ROUNDS      children updating a two-word pair in shared memory are
 *           killed by SIGTERM at random moments: prints how many pairs tore.
 *   bound   a call that stays inside the library longer than the policy's
 *           max_deferral gets its signal anyway, with a warning.
 *   crash   the library dereferences NULL: its own failure, reported.
 *   longjmp  a handler that leaves by siglongjmp, many times; then a signal
 *           inside the library is still deferred, and delivered as the call
 *           returns (not at the bound).
 *   thread-exit  threads inside library calls get a signal whose handler
 *           ends the thread (deferred, it runs as the call returns); their
 *           gate blocks go back, and as many new threads then take them.
 *   bare    the signal calls made with the bare system call (as glibc's own
 *           code and an attacker make them): a handler installed without
 *           SA_ONSTACK, in the main thread, in a new thread that never
 *           called the library and in one cloned without pthread_create,
 *           runs on an alternate stack (hardened mode:
 *           never where the stack pointer points); a mask that blocks SIGSYS
 *           keeps it unblocked and the rest blocked; an alternate stack set
 *           reads back; system() (posix_spawn's child blocks every signal
 *           and resets the handlers) runs its command. */
#define _GNU_SOURCE
#include "gatetest.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define RT_SIGNALS 2000

static _Atomic int seen[RT_SIGNALS + 1];
static _Atomic long usr1, inside, received;
static atomic_bool stop;

static void on_rt(int sig, siginfo_t *si, void *ctx)
{
    int v = si->si_value.sival_int;
    if (v > 0 && v <= RT_SIGNALS)
        atomic_fetch_add(&seen[v], 1);
    if (gt_updating()) /* through the gate, from the handler */
        atomic_fetch_add(&inside, 1);
    atomic_fetch_add(&received, 1);
}

static void on_usr1(int sig)
{
    atomic_fetch_add(&usr1, 1);
    if (gt_updating())
        atomic_fetch_add(&inside, 1);
}

static void *worker(void *arg)
{
    long pair[2], calls = 0;
    while (!atomic_load(&stop)) {
        gt_pair_update(pair, calls, 1000);
        calls += gt_sum6(1, 0, 0, 0, 0, 0);
    }
    return (void *)calls;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int storm(void)
{
    struct sigaction rt = {.sa_sigaction = on_rt, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigaction(SIGRTMIN, &rt, NULL);
    signal(SIGUSR1, on_usr1);
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    long sent_usr1 = 0;
    for (int k = 1; k <= RT_SIGNALS; k++) {
        pthread_sigqueue(t[k % WORKERS], SIGRTMIN, (union sigval){.sival_int = k});
        if (k % 4 == 0 && pthread_kill(t[(k / 4) % WORKERS], SIGUSR1) == 0)
            sent_usr1++;
        usleep(300); /* thousands per second, not a flood no call could absorb */
    }
    for (double until = now_ms() + 20000; atomic_load(&received) < RT_SIGNALS && now_ms() < until;)
        usleep(1000);
    atomic_store(&stop, true);
    long calls = 0;
    for (int i = 0; i < WORKERS; i++) {
        void *r;
        pthread_join(t[i], &r);
        calls += (long)r;
    }
    int missing = 0, twice = 0;
    for (int k = 1; k <= RT_SIGNALS; k++) {
        missing += seen[k] == 0;
        twice += seen[k] > 1;
    }
    printf("storm: %d real-time signals sent, %d missing, %d delivered twice; SIGUSR1 %ld sent, %ld handled; "
           "handlers inside the library: %ld; %ld calls\n",
           RT_SIGNALS, missing, twice, sent_usr1, atomic_load(&usr1), atomic_load(&inside), calls);
    void (*counts)(uint64_t *) = (void (*)(uint64_t *))dlsym(RTLD_DEFAULT, "libprotect_signal_counts");
    if (counts) {
        uint64_t c[5];
        counts(c);
        printf("libprotect: %llu deferred, %llu delivered, %llu breakpoint arms, %llu hits\n",
               (unsigned long long)c[0], (unsigned long long)c[1], (unsigned long long)c[2],
               (unsigned long long)c[4]);
    }
    return missing || twice || atomic_load(&inside) || atomic_load(&usr1) == 0;
}

static void write_library(int sig)
{
    *gt_counter_addr() = 99; /* must fault: handlers have the application's rights */
}

static int handler_writes(void)
{
    signal(SIGUSR1, write_library);
    raise(SIGUSR1);
    printf("the handler wrote the library's memory\n");
    return 1;
}

static int torn(int rounds)
{
    volatile long *pair = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int torn = 0;
    srand(7);
    for (int r = 0; r < rounds; r++) {
        pair[0] = pair[1] = -1;
        pid_t pid = fork();
        if (pid == 0) {
            for (long v = 0;; v++)
                gt_pair_update(pair, v, 20000);
        }
        while (pair[1] < 0)
            usleep(100);
        usleep((useconds_t)(rand() % 3000));
        kill(pid, SIGTERM);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
            printf("round %d: child did not die of SIGTERM\n", r);
            return 2;
        }
        torn += pair[0] != pair[1];
    }
    printf("torn: %d of %d\n", torn, rounds);
    return 0;
}

static double handled_at;
static void stamp(int sig)
{
    handled_at = now_ms();
}

static void *send_later(void *arg)
{
    usleep(100 * 1000);
    pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

/* A library call of MS milliseconds, SIGUSR1 sent to this thread 100 ms
 * into it; when it started and ended. */
static void long_call_with_signal(long ms, double *start, double *end)
{
    pthread_t self = pthread_self(), t;
    pthread_create(&t, NULL, send_later, &self);
    *start = now_ms();
    gt_busy_ms(ms);
    *end = now_ms();
    pthread_join(t, NULL);
}

static int bound(void)
{
    signal(SIGUSR1, stamp);
    double start, end;
    long_call_with_signal(1500, &start, &end);
    int early = handled_at > 0 && handled_at < end - 300;
    printf("bound: signal handled %s the call returned\n", early ? "well before" : "only after");
    (void)start;
    return 0;
}

/* The application sets its own alternate stack after entering the library;
 * a signal inside the library must still be deferred and delivered. */
static int altstack_test(void)
{
    static char own[64 * 1024];
    gt_sum6(1, 2, 3, 4, 5, 6);
    stack_t ss = {.ss_sp = own, .ss_size = sizeof own}, back;
    if (sigaltstack(&ss, NULL) != 0 || sigaltstack(NULL, &back) != 0 || back.ss_sp != own)
        return printf("altstack: the application's view was not kept\n"), 1;
    struct sigaction sa = {.sa_handler = stamp, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    double start, end;
    long_call_with_signal(400, &start, &end);
    (void)end;
    int after = handled_at >= start + 400; /* the call took at least 400 ms */
    printf("altstack: handled %s\n", after ? "after the call returned" : "INSIDE the call");
    return !after;
}

static sigjmp_buf out_of_handler;
static void jump_out(int sig)
{
    siglongjmp(out_of_handler, 1);
}

static int longjmp_test(void)
{
    signal(SIGUSR2, jump_out);
    static volatile int left, i;
    for (i = 0; i < 50; i++)
        if (sigsetjmp(out_of_handler, 1) == 0)
            raise(SIGUSR2);
        else
            left++;
    signal(SIGUSR1, stamp);
    double start, end;
    long_call_with_signal(400, &start, &end);
    usleep(50 * 1000);
    const char *when = handled_at == 0                ? "NEVER"
                       : handled_at < start + 400     ? "INSIDE the call"
                       : handled_at <= end + 20       ? "as the call returned"
                                                      : "LATE";
    printf("longjmp: left %d handlers by siglongjmp; the signal inside the library was handled %s\n", left, when);
    return 0;
}

static atomic_int exited_in_handler, started;

static void end_thread(int sig)
{
    atomic_fetch_add(&exited_in_handler, 1);
    pthread_exit(NULL);
}

static void *call_forever(void *arg)
{
    atomic_fetch_add(&started, 1);
    for (long i = 0;; i++)
        if (gt_sum6(i, 1, 0, 0, 0, 0) != i + 2)
            return (void *)1;
}

static void *call_once(void *arg)
{
    return gt_sum6(2, 3, 0, 0, 0, 0) == 8 ? NULL : (void *)1;
}

static int thread_exit_test(void)
{
    enum { N = 50 };
    struct sigaction sa = {.sa_handler = end_thread};
    sigaction(SIGUSR2, &sa, NULL);
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, call_forever, NULL);
    while (atomic_load(&started) < N)
        usleep(1000);
    usleep(20 * 1000);
    for (int i = 0; i < N; i++)
        pthread_kill(t[i], SIGUSR2);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, call_once, NULL);
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    printf("thread-exit: %d of %d threads ended in their handlers; %s new threads then made their calls%s\n",
           atomic_load(&exited_in_handler), N, bad ? "NOT all" : "all", bad ? " (FAIL)" : "");
    return bad;
}

struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

void restore_rt(void);
__asm__(".text\n.globl restore_rt\nrestore_rt:\n    mov $15, %eax\n    syscall\n");

static _Atomic uintptr_t handler_sp, frame_at;
static void note_stack(int sig, siginfo_t *si, void *ctx)
{
    char here;
    atomic_store(&handler_sp, (uintptr_t)&here);
    atomic_store(&frame_at, (uintptr_t)si); /* in the kernel's frame (libprotect shows a handler a copy of the context) */
}

static const char *which_stack(uintptr_t at, uintptr_t here)
{
    return at < here && here - at < 64 * 1024 ? "on the thread's stack" : "on another stack";
}

/* Where the kernel wrote the frame of a signal whose handler was installed
 * with the bare rt_sigaction, and where the handler ran, as seen from a
 * frame of the interrupted code at HERE. */
static const char *where_bare_handler_runs(uintptr_t here)
{
    static __thread char line[128];
    atomic_store(&handler_sp, 0);
    raise(SIGUSR1);
    uintptr_t sp = atomic_load(&handler_sp);
    if (!sp)
        return "nowhere (not run)";
    snprintf(line, sizeof line, "the frame was written %s, the handler ran %s", which_stack(atomic_load(&frame_at), here),
             which_stack(sp, here));
    return line;
}

static void *bare_thread(void *arg)
{
    char here;
    return (void *)where_bare_handler_runs((uintptr_t)&here);
}

static _Atomic(const char *) clone_result;
static int bare_clone_child(void *arg)
{
    char here;
    atomic_store(&clone_result, where_bare_handler_runs((uintptr_t)&here));
    syscall(SYS_exit, 0);
    return 0;
}

static int bare_calls_test(void)
{
    char here;
    struct kernel_sigaction ka = {.handler = (void *)note_stack, .flags = SA_SIGINFO | 0x04000000 /* SA_RESTORER */,
                                  .restorer = (void *)restore_rt};
    if (syscall(SYS_rt_sigaction, SIGUSR1, &ka, NULL, 8) != 0)
        return printf("bare: rt_sigaction failed: %s\n", strerror(errno)), 1;
    printf("bare rt_sigaction, main thread: %s\n", where_bare_handler_runs((uintptr_t)&here));
    pthread_t t;
    void *res;
    pthread_create(&t, NULL, bare_thread, NULL);
    pthread_join(t, &res);
    printf("bare rt_sigaction, a new thread: %s\n", (const char *)res);
    /* A thread glibc does not know of: clone without pthread_create (its
     * TLS shared with this one, so it calls nothing that needs its own). */
    static char child_stack[256 * 1024] __attribute__((aligned(16)));
    if (clone(bare_clone_child, child_stack + sizeof child_stack,
              CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, NULL) < 0)
        return printf("bare: clone failed: %s\n", strerror(errno)), 1;
    while (!atomic_load(&clone_result))
        usleep(1000);
    printf("bare rt_sigaction, a thread cloned without pthread_create: %s\n", atomic_load(&clone_result));
    uint64_t block = (1ull << (SIGSYS - 1)) | (1ull << (SIGUSR2 - 1)), now = 0, before;
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, &before, 8);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, 8);
    printf("bare rt_sigprocmask blocking SIGSYS and SIGUSR2: SIGSYS %s, SIGUSR2 %s\n",
           now & (1ull << (SIGSYS - 1)) ? "blocked" : "not blocked",
           now & (1ull << (SIGUSR2 - 1)) ? "blocked" : "not blocked");
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &before, NULL, 8);
    static char own[64 * 1024];
    stack_t ss = {.ss_sp = own, .ss_size = sizeof own}, back = {0};
    long r1 = syscall(SYS_sigaltstack, &ss, NULL), r2 = sigaltstack(NULL, &back);
    printf("bare sigaltstack: %s\n", r1 == 0 && r2 == 0 && back.ss_sp == own ? "set, and read back" : "NOT kept");
    printf("system(\"exit 3\"): %d\n", WEXITSTATUS(system("exit 3")));
    return 0;
}

/* Where the application's handlers run: where the kernel would have run
 * them (Boehm's collector stops a thread with a signal and scans its stack
 * from the stack pointer its handler sees). */
static _Atomic uintptr_t seen_sp;
static _Atomic int seen_onstack;
static void where_handler(int sig)
{
    char here;
    stack_t cur;
    sigaltstack(NULL, &cur);
    atomic_store(&seen_onstack, !!(cur.ss_flags & SS_ONSTACK));
    atomic_store(&seen_sp, (uintptr_t)&here);
}

static const char *handler_ran(uintptr_t here, const char *alt, size_t alt_size)
{
    uintptr_t sp = atomic_load(&seen_sp);
    if (!sp)
        return "nowhere (not run)";
    if (alt && sp - (uintptr_t)alt < alt_size)
        return "on its alternate stack";
    return which_stack(sp, here);
}

static const char *raise_and_see(uintptr_t here, const char *alt, size_t alt_size)
{
    atomic_store(&seen_sp, 0);
    raise(SIGUSR2);
    return handler_ran(here, alt, alt_size);
}

static void *where_thread(void *arg)
{
    char here;
    return (void *)raise_and_see((uintptr_t)&here, NULL, 0);
}

static void *send_usr2_later(void *arg)
{
    usleep(50 * 1000);
    pthread_kill(*(pthread_t *)arg, SIGUSR2);
    return NULL;
}

static int where_test(void)
{
    char here;
    struct sigaction sa = {.sa_handler = where_handler};
    sigaction(SIGUSR2, &sa, NULL);
    printf("a handler: ran %s\n", raise_and_see((uintptr_t)&here, NULL, 0));
    pthread_t t, self = pthread_self();
    void *res;
    pthread_create(&t, NULL, where_thread, NULL);
    pthread_join(t, &res);
    printf("a handler in a new thread: ran %s\n", (const char *)res);
    atomic_store(&seen_sp, 0);
    pthread_create(&t, NULL, send_usr2_later, &self);
    gt_busy_ms(200); /* the signal comes inside the library */
    pthread_join(t, NULL);
    printf("a handler of a signal that came inside a library call: ran %s\n",
           handler_ran((uintptr_t)&here, NULL, 0));
    static char own[64 * 1024];
    stack_t ss = {.ss_sp = own, .ss_size = sizeof own}, cur;
    sigaltstack(&ss, NULL);
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR2, &sa, NULL);
    const char *where = raise_and_see((uintptr_t)&here, own, sizeof own);
    printf("an SA_ONSTACK handler: ran %s, SS_ONSTACK %s there\n", where, seen_onstack ? "set" : "not set");
    sigaltstack(NULL, &cur);
    printf("outside the handler: SS_ONSTACK %s\n", cur.ss_flags & SS_ONSTACK ? "set" : "not set");
    return 0;
}

/* A stack overflow caught by a handler on the application's own alternate
 * stack (SA_ONSTACK): it must run there, not on the overflowed stack. */
static void overflow_caught(int sig)
{
    static const char line[] = "overflow: caught on the alternate stack\n";
    if (write(1, line, sizeof line - 1) < 0)
        _exit(4);
    _exit(3);
}

__attribute__((noinline)) static int recurse(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n ? recurse(n - 1) + pad[0] : 0;
}

static int overflow_test(void)
{
    static char own[64 * 1024];
    stack_t ss = {.ss_sp = own, .ss_size = sizeof own};
    sigaltstack(&ss, NULL);
    struct sigaction sa = {.sa_handler = overflow_caught, .sa_flags = SA_ONSTACK};
    sigaction(SIGSEGV, &sa, NULL);
    gt_sum6(1, 2, 3, 4, 5, 6);
    return recurse(1 << 30);
}

/* A blocking read interrupted by a signal: EINTR when the handler was
 * installed without SA_RESTART (a read timed out by an alarm), the read
 * restarted (and then served) with it. */
static void on_alarm(int sig)
{
}

static void *write_later(void *arg)
{
    usleep(300 * 1000);
    if (write(*(int *)arg, "x", 1) != 1)
        _exit(5);
    return NULL;
}

static int eintr_test(void)
{
    gt_sum6(1, 2, 3, 4, 5, 6);
    for (int restart = 0; restart < 2; restart++) {
        struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0};
        sigaction(SIGALRM, &sa, NULL);
        int p[2];
        if (pipe(p) != 0)
            return 1;
        pthread_t t;
        pthread_create(&t, NULL, write_later, &p[1]);
        ualarm(100 * 1000, 0);
        char c;
        errno = 0;
        ssize_t r = read(p[0], &c, 1);
        printf("eintr: %s: read returned %zd%s\n", restart ? "SA_RESTART" : "no SA_RESTART", r,
               r < 0 && errno == EINTR ? " (EINTR)" : "");
        pthread_join(t, NULL);
        close(p[0]);
        close(p[1]);
    }
    return 0;
}

/* SIGCHLD's flags reach the kernel: SA_NOCLDSTOP (no notice of a child's
 * stop and continuation), SA_NOCLDWAIT (children reaped by the kernel). */
static _Atomic int chld_calls;
static void on_chld(int sig)
{
    atomic_fetch_add(&chld_calls, 1);
}

static int sigchld_test(void)
{
    struct sigaction sa = {.sa_handler = on_chld, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
    sigaction(SIGCHLD, &sa, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, WUNTRACED);
    kill(pid, SIGCONT);
    waitpid(pid, &status, 0);
    usleep(100 * 1000);
    printf("sigchld: SA_NOCLDSTOP: %d call(s) for a child that stopped, went on and exited\n", atomic_load(&chld_calls));
    sa.sa_flags = SA_NOCLDWAIT | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    pid = fork();
    if (pid == 0)
        _exit(0);
    usleep(200 * 1000);
    errno = 0;
    pid_t r = waitpid(pid, &status, 0);
    printf("sigchld: SA_NOCLDWAIT: waitpid %s\n", r < 0 && errno == ECHILD ? "found no child (reaped)" : "reaped a zombie");
    return 0;
}

/* The modes that take no argument. */
static const struct {
    const char *name;
    int (*run)(void);
} modes[] = {
    {"bare", bare_calls_test}, {"thread-exit", thread_exit_test}, {"storm", storm},
    {"where", where_test},     {"overflow", overflow_test},       {"eintr", eintr_test},
    {"sigchld", sigchld_test}, {"handler-writes", handler_writes}, {"bound", bound},
    {"altstack", altstack_test}, {"longjmp", longjmp_test},
};

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "storm";
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (strcmp(what, modes[i].name) == 0)
            return modes[i].run();
    if (strcmp(what, "torn") == 0)
        return torn(argc > 2 ? atoi(argv[2]) : 100);
    if (strcmp(what, "contain") == 0) {
        errno = 0;
        long r = gt_crash(NULL);
        int e1 = errno;
        errno = 0;
        long again = gt_sum6(1, 2, 3, 4, 5, 6);
        int e2 = errno;
        printf("contained: crash returned %ld (errno %s), next call %ld (errno %s)\n", r,
               e1 == EIO ? "EIO" : "other", again, e2 == EIO ? "EIO" : "other");
        return 0;
    }
    if (strcmp(what, "crash") == 0) {
        fflush(stdout);
        return (int)gt_crash(NULL);
    }
    fprintf(stderr, "signal_test: unknown test '%s'\n", what);
    return 2;
}
