/* Cost of one call of an empty exported function, next to the bare limit:
 * two WRPKRU around an empty call, measured in the same run.  Run it plain
 * and under protect-wrap with bench/benchlib.policy.
 * Usage: gate_cost [CALLS]   (prints ns per call; median of 7 runs) */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void bench_empty(void);

__attribute__((noinline)) static void local_empty(void)
{
    __asm__ volatile("" ::: "memory");
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static inline void wrpkru(uint32_t v)
{
    __asm__ volatile("wrpkru" ::"a"(v), "c"(0), "d"(0) : "memory");
}

static inline uint32_t rdpkru(void)
{
    uint32_t a, d;
    __asm__ volatile("rdpkru" : "=a"(a), "=d"(d) : "c"(0));
    return a;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_ns(void (*body)(long), long calls)
{
    double t[7];
    body(calls / 10); /* warm up */
    for (int r = 0; r < 7; r++) {
        double s = now();
        body(calls);
        t[r] = (now() - s) / (double)calls;
    }
    qsort(t, 7, sizeof *t, cmp);
    return t[3];
}

static uint32_t rights, other_rights;

/* The limit: what a gate cannot avoid.  The written values differ only in
 * key 15's write-disable bit, and the loop ends with the rights it began
 * with (under libprotect they are the application's). */
static void bare_loop(long n)
{
    for (long i = 0; i < n; i++) {
        wrpkru(other_rights);
        local_empty();
        wrpkru(rights);
    }
}

static void gated_loop(long n)
{
    for (long i = 0; i < n; i++)
        bench_empty();
}

static void plain_loop(long n)
{
    for (long i = 0; i < n; i++)
        local_empty();
}

int main(int argc, char **argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 2000000;
    /* pkey_alloc opens the new key in this thread: put PKRU back as it was
     * (under libprotect, the rights the gates expect of the application). */
    long key = syscall(SYS_pkey_alloc, 0, 0);
    if (key < 0) {
        fprintf(stderr, "gate_cost: no PKU on this machine\n");
        return 77;
    }
    syscall(SYS_pkey_free, key);
    rights = rdpkru() & ~(3u << (2 * key));
    rights |= 1u << (2 * key); /* back to access-disabled, as every unused key starts */
    wrpkru(rights);
    other_rights = rights ^ 2u << 30;
    double plain = median_ns(plain_loop, calls), bare = median_ns(bare_loop, calls),
           gated = median_ns(gated_loop, calls);
    printf("plain call %.1f ns, bare two-WRPKRU loop %.1f ns, exported call %.1f ns (%.2fx the bare loop)\n",
           plain, bare, gated, gated / bare);
    return 0;
}
