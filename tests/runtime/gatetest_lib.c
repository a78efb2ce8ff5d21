/* libgatetest: exports that exercise every way a call can cross a gate. */
#include <threads.h>
#include <unistd.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/shm.h>
#include "gatetest.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long counter;                    /* .bss */
static long seeded = 42;                /* .data */
static _Atomic long shared_hits;
static void (*stored)(long);

long gt_sum6(long a, long b, long c, long d, long e, long f)
{
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f;
}

long gt_sum12(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8, long a9, long a10,
              long a11, long a12)
{
    return a1 - a2 + a3 - a4 + a5 - a6 + a7 * 7 + a8 * 8 + a9 * 9 + a10 * 10 + a11 * 11 + a12 * 12;
}

double gt_mix(double a, long b, double c, float d, long e, double f, double g, double h, double i, double j,
              double k)
{
    return a + (double)b * c + d - (double)e + f * g + h + i / 2 + j * 3 + k * 4;
}

struct gt_big gt_make_big(long seed)
{
    struct gt_big r;
    for (int i = 0; i < 8; i++)
        r.v[i] = seed * (i + 1);
    snprintf(r.tag, sizeof r.tag, "big-%ld", seed);
    return r;
}

struct gt_pair gt_pair(long a, long b)
{
    return (struct gt_pair){a * b, a - b};
}

long gt_varsum(int n, ...)
{
    va_list ap;
    long s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        s += va_arg(ap, long) * (i + 1);
    va_end(ap);
    return s;
}

double gt_vardsum(int n, ...)
{
    va_list ap;
    double s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        s += va_arg(ap, double);
    va_end(ap);
    return s;
}

int gt_format(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n;
}

long gt_inner(long x)
{
    counter++;
    return x * 3;
}

long gt_outer(long x)
{
    return gt_inner(x) + gt_inner(x + 1) + seeded;
}

long gt_apply(long (*fn)(long, void *), long x, void *arg)
{
    counter++;
    return fn(x, arg) + 1;
}

long gt_recurse(long depth, long (*fn)(long))
{
    counter++;
    return depth <= 0 ? 0 : 1 + fn(depth - 1);
}

void gt_store(void (*fn)(long))
{
    stored = fn;
}

int gt_fire(long v)
{
    if (!stored)
        return -1;
    stored(v);
    return 0;
}

int gt_maybe_call(void (*fn)(void))
{
    if (fn == NULL || fn == (void (*)(void))-1)
        return 0;
    fn();
    return 1;
}

char *gt_strdup(const char *s)
{
    return strdup(s);
}

void *gt_app_alloc(size_t n)
{
    return malloc(n);
}

/* An object the library allocates and keeps using: the application may
 * look at it (integrity) but must not free it. */
static long *kept;

long *gt_keep(void)
{
    if (!kept) {
        kept = malloc(4 * sizeof *kept);
        kept[0] = 4242;
    }
    return kept;
}

long gt_kept(void)
{
    long *scratch = malloc(4 * sizeof *scratch); /* reuses a freed block, if there was one */
    scratch[0] = -1;
    long v = kept ? kept[0] : 0;
    free(scratch);
    return v;
}

long *gt_counter_addr(void)
{
    return &counter;
}

long gt_counter(void)
{
    return counter;
}

long gt_hit(void)
{
    return atomic_fetch_add(&shared_hits, 1) + 1;
}

/* Shorter than a jmp: gated through an int3. */
long gt_zero(void)
{
    return 0;
}

/* For the signal tests: a long update that must never be seen half done. */
static __thread volatile int updating; /* volatile: a signal handler reads it */

void gt_pair_update(volatile long *pair, long v, long spin)
{
    updating = 1;
    pair[0] = v;
    for (volatile long i = 0; i < spin; i++)
        ;
    pair[1] = v;
    updating = 0;
}

int gt_updating(void)
{
    return updating;
}

/* Stays inside the library for MS milliseconds. */
void gt_busy_ms(long ms)
{
    /* In whole nanoseconds: a per-field millisecond division truncates a
     * negative nanosecond difference upwards and ends the wait early. */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < ms * 1000000L);
}

/* The library's own bug: a NULL dereference. */
long gt_crash(long *p)
{
    return *p + 1;
}

/* A SysV segment the library attaches itself (after start, like a ring a
 * data-plane library joins): it must carry the library's key. */
static long *shm;

long *gt_shm_attach(int id)
{
    shm = shmat(id, NULL, 0);
    if (shm == (void *)-1)
        return NULL;
    shm[0] = 42;
    return shm;
}

long gt_shm_value(void)
{
    return shm ? shm[0] : -1;
}

int gt_shm_detach(void)
{
    int rc = shmdt(shm);
    shm = NULL;
    return rc;
}

/* Threads the library starts itself: one running its own code (it writes
 * the library's memory, records where its stack is, calls the stored
 * callback, and waits to be released), one running the application's. */
static pthread_t own_thread;
static volatile uintptr_t own_stack;
static volatile int own_release;

static void *own_worker(void *arg)
{
    volatile long local = 0;
    for (int i = 0; i < 1000; i++)
        counter++;
    own_stack = (uintptr_t)&local;
    if (stored)
        stored(7);
    while (!own_release)
        usleep(1000);
    return arg;
}

int gt_thread_start_own(void)
{
    own_release = 0;
    own_stack = 0;
    return pthread_create(&own_thread, NULL, own_worker, (void *)(intptr_t)1234);
}

uintptr_t gt_thread_stack(void)
{
    return own_stack;
}

long gt_thread_finish(void)
{
    own_release = 1;
    void *r = NULL;
    pthread_join(own_thread, &r);
    return (long)(intptr_t)r;
}

long gt_thread_start_app(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *r = NULL;
    if (pthread_create(&t, NULL, fn, arg) != 0)
        return -1;
    pthread_join(t, &r);
    return (long)(intptr_t)r;
}

/* The same with C11 threads: thrd_create, of the library's own code. */
static int own_thrd(void *arg)
{
    for (int i = 0; i < 500; i++)
        counter++;
    return (int)(intptr_t)arg;
}

int gt_thrd_own(void)
{
    thrd_t t;
    int r = -1;
    if (thrd_create(&t, own_thrd, (void *)(intptr_t)77) != thrd_success)
        return -1;
    thrd_join(t, &r);
    return r;
}

/* A callback with two arguments on the stack. */
long gt_call8(long (*fn)(long, long, long, long, long, long, long, long))
{
    return fn(1, 2, 3, 4, 5, 6, 7, 8);
}

/* Writes through a pointer argument (policy: pointers = 1:arg2). */
void gt_fill(char *dst, size_t n)
{
    memset(dst, 'x', n);
}

/* The same through stack arguments 7 and 8 (policy: pointers = 7:arg8). */
void gt_fill_far(long a1, long a2, long a3, long a4, long a5, long a6, char *dst, size_t n)
{
    memset(dst, (int)(a1 + a2 + a3 + a4 + a5 + a6), n);
}
