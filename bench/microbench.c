/* One row of the gate benchmarks: runs ROW's loop CALLS times, REPS times
 * over (after a warm-up), and prints "ROW MEDIAN MIN MAX" in ns per call.
 * Whether a row is gated depends on how bench/run starts this program
 * (plain, or under protect-wrap with or without --dry-run).
 * With REF (another row), REF's loop runs before each repetition of ROW's
 * and the line ends with REF's median and the median of the paired
 * differences ROW - REF: robust to a machine whose speed drifts.
 * Usage: microbench ROW [CALLS] [REPS] [REF]     (bench/run drives it) */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void bench_empty(void);
long bench_args14(long, long, long, long, long, long, long, long, long, long, long, long, long, long);
long bench_varargs(int n, ...);
void bench_nested(void);
void bench_callback(void (*fn)(void));
void bench_tiny(void);
int bench_open_close(const char *path);
int bench_raise_inside(int sig);

__attribute__((noinline)) static void local_empty(void)
{
    __asm__ volatile("" ::: "memory");
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* --- the bare limits: what a gate cannot avoid --- */

static uint32_t rights, other_rights;

static void bare_pku(long n)
{
    for (long i = 0; i < n; i++) {
        __asm__ volatile("wrpkru" ::"a"(other_rights), "c"(0), "d"(0) : "memory");
        local_empty();
        __asm__ volatile("wrpkru" ::"a"(rights), "c"(0), "d"(0) : "memory");
    }
}

/* Dry run's stand-in for WRPKRU: a write of a per-thread word, reached
 * through the GOT as libprotect's dry gate reaches it. */
__thread uint32_t emulated_pkru __attribute__((tls_model("initial-exec")));

static inline void emulated_write(uint32_t v)
{
    __asm__ volatile("mov rdx, [rip + emulated_pkru@GOTTPOFF]\n\t"
                     "mov fs:[rdx], eax" ::"a"(v) : "rdx", "memory");
}

static void bare_dry(long n)
{
    for (long i = 0; i < n; i++) {
        emulated_write(other_rights);
        local_empty();
        emulated_write(rights);
    }
}

/* --- calls into the library (gated or not, as started) --- */

static void plain_loop(long n)
{
    for (long i = 0; i < n; i++)
        bench_empty();
}

static void args_loop(long n)
{
    for (long i = 0; i < n; i++)
        bench_args14(i, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
}

static void varargs_loop(long n)
{
    for (long i = 0; i < n; i++)
        bench_varargs(3, i, 2L, 3L);
}

static void nested_loop(long n)
{
    for (long i = 0; i < n; i++)
        bench_nested();
}

static void app_callback(void)
{
    __asm__ volatile("" ::: "memory");
}

static void callback_loop(long n)
{
    for (long i = 0; i < n; i++)
        bench_callback(app_callback);
}

static void int3_loop(long n)
{
    for (long i = 0; i < n; i++)
        bench_tiny();
}

/* The library opens (and closes) a file: with the filter, a SIGSYS round
 * trip and the call carried out in the library's domain. */
static void trapped_open_loop(long n)
{
    for (long i = 0; i < n; i++)
        if (bench_open_close("/dev/null") != 0) {
            fprintf(stderr, "microbench: the library's open of /dev/null failed\n");
            exit(1);
        }
}

/* A signal that comes while the thread is inside the library: deferred to
 * the gate's return, then delivered (unprotected: delivered at once). */
static volatile long handled;
static void on_usr1(int sig)
{
    handled++;
}

static void deferred_signal_loop(long n)
{
    signal(SIGUSR1, on_usr1);
    long before = handled;
    for (long i = 0; i < n; i++)
        bench_raise_inside(SIGUSR1);
    if (handled - before != n) {
        fprintf(stderr, "microbench: %ld of %ld signals handled\n", handled - before, n);
        exit(1);
    }
}

/* A signal the thread sends itself, handled by the application, no
 * library involved: libprotect's handler and its way back alone. */
static volatile long own_handled;
static void on_usr2(int sig)
{
    own_handled++;
}

static void own_signal_loop(long n)
{
    signal(SIGUSR2, on_usr2);
    pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
    long before = own_handled;
    for (long i = 0; i < n; i++)
        syscall(SYS_tgkill, pid, tid, SIGUSR2);
    if (own_handled - before != n) {
        fprintf(stderr, "microbench: %ld of %ld signals handled\n", own_handled - before, n);
        exit(1);
    }
}

/* --- the alternatives --- */

static void *guarded_page;

/* A boundary the kernel keeps: the library's page opened and closed by
 * mprotect around each call. */
static void syscall_loop(long n)
{
    for (long i = 0; i < n; i++) {
        mprotect(guarded_page, 4096, PROT_READ | PROT_WRITE);
        local_empty();
        mprotect(guarded_page, 4096, PROT_READ);
    }
}

/* A thread that makes one library call: its start, its first entry (a
 * gate block and stacks of its own, keyed), its end. */
static void *thread_body(void *arg)
{
    bench_empty();
    return arg;
}

static void thread_loop(long n)
{
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, thread_body, NULL) != 0) {
            fprintf(stderr, "microbench: pthread_create failed\n");
            exit(1);
        }
        pthread_join(t, NULL);
    }
}

/* The library in another process: a request and a reply through shared
 * memory, each side sleeping on a futex until the other has written. */
struct ring {
    _Alignas(64) volatile uint32_t request;
    _Alignas(64) volatile uint32_t reply;
};
static struct ring *ring;

static void futex_wait(volatile uint32_t *addr, uint32_t seen)
{
    syscall(SYS_futex, addr, FUTEX_WAIT, seen, NULL, NULL, 0);
}

static void futex_wake(volatile uint32_t *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void process_server(void)
{
    uint32_t done = 0;
    for (;;) {
        while (__atomic_load_n(&ring->request, __ATOMIC_ACQUIRE) == done)
            futex_wait(&ring->request, done);
        done = ring->request;
        if (done == UINT32_MAX)
            _exit(0);
        local_empty();
        __atomic_store_n(&ring->reply, done, __ATOMIC_RELEASE);
        futex_wake(&ring->reply);
    }
}

static void process_loop(long n)
{
    for (long i = 0; i < n; i++) {
        uint32_t want = ring->request + 1;
        __atomic_store_n(&ring->request, want, __ATOMIC_RELEASE);
        futex_wake(&ring->request);
        while (__atomic_load_n(&ring->reply, __ATOMIC_ACQUIRE) != want)
            futex_wait(&ring->reply, ring->reply);
    }
}

static const struct row {
    const char *name;
    void (*loop)(long);
} rows[] = {
    {"plain", plain_loop},     {"bare-pku", bare_pku},         {"bare-dry", bare_dry},
    {"gate", plain_loop},      {"args-stack8", args_loop},     {"varargs", varargs_loop},
    {"nested", nested_loop},   {"callback", callback_loop},    {"int3", int3_loop},
    {"trapped-open", trapped_open_loop}, {"deferred-signal", deferred_signal_loop}, {"signal", own_signal_loop},
    {"syscall", syscall_loop}, {"process", process_loop}, {"thread", thread_loop},
};

static const struct row *find_row(const char *name)
{
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        if (strcmp(name, rows[i].name) == 0)
            return &rows[i];
    return NULL;
}

static double time_loop(void (*loop)(long), long calls)
{
    double s = now_ns();
    loop(calls);
    return (now_ns() - s) / (double)calls;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: microbench ROW [CALLS] [REPS]\n");
        return 2;
    }
    const struct row *row = find_row(argv[1]), *ref = argc > 4 ? find_row(argv[4]) : NULL;
    if (!row || (argc > 4 && !ref)) {
        fprintf(stderr, "microbench: unknown row '%s'\n", row ? argv[4] : argv[1]);
        return 2;
    }
    long calls = argc > 2 ? atol(argv[2]) : 2000000;
    int reps = argc > 3 ? atoi(argv[3]) : 7;
    if (calls <= 0 || reps <= 0 || reps > 101) {
        fprintf(stderr, "microbench: CALLS and REPS must be positive (REPS at most 101)\n");
        return 2;
    }
    if (row->loop == bare_pku || (ref && ref->loop == bare_pku)) {
        /* pkey_alloc opens the new key in this thread; the loop flips its
         * write-disable bit and ends with the rights it began with. */
        long key = syscall(SYS_pkey_alloc, 0, 0);
        if (key < 0) {
            fprintf(stderr, "microbench: no PKU on this machine\n");
            return 77;
        }
        uint32_t a, d;
        __asm__ volatile("rdpkru" : "=a"(a), "=d"(d) : "c"(0));
        rights = a;
        other_rights = a ^ (2u << (2 * key));
    } else {
        rights = 0x55555554;
        other_rights = 0x55555550;
    }
    if (row->loop == syscall_loop || (ref && ref->loop == syscall_loop)) {
        guarded_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (guarded_page == MAP_FAILED)
            return perror("microbench: mmap"), 1;
    }
    pid_t server = 0;
    if (row->loop == process_loop || (ref && ref->loop == process_loop)) {
        ring = mmap(NULL, sizeof *ring, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (ring == MAP_FAILED)
            return perror("microbench: mmap"), 1;
        if ((server = fork()) == 0)
            process_server();
    }
    double t[101], rt[101], diff[101];
    row->loop(calls / 10 + 1); /* warm up */
    if (ref)
        ref->loop(calls / 10 + 1);
    for (int r = 0; r < reps; r++) {
        rt[r] = ref ? time_loop(ref->loop, calls) : 0;
        t[r] = time_loop(row->loop, calls);
        diff[r] = t[r] - rt[r];
    }
    if (server > 0) {
        ring->request = UINT32_MAX;
        futex_wake(&ring->request);
        waitpid(server, NULL, 0);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    printf("%s %.2f %.2f %.2f", row->name, t[reps / 2], t[0], t[reps - 1]);
    if (ref) {
        qsort(rt, (size_t)reps, sizeof *rt, cmp);
        qsort(diff, (size_t)reps, sizeof *diff, cmp);
        printf(" %.2f %.2f", rt[reps / 2], diff[reps / 2]);
    }
    printf("\n");
    return 0;
}
