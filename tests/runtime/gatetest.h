/* libgatetest: exports that exercise every way a call can cross a gate. */
#ifndef GATETEST_H
#define GATETEST_H

#include <stddef.h>
#include <stdint.h>

struct gt_big {
    long v[8];
    char tag[16];
};

struct gt_pair {
    long a, b;
};

long gt_sum6(long a, long b, long c, long d, long e, long f);
long gt_sum12(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8, long a9, long a10,
              long a11, long a12);
double gt_mix(double a, long b, double c, float d, long e, double f, double g, double h, double i, double j,
              double k);
struct gt_big gt_make_big(long seed);
struct gt_pair gt_pair(long a, long b);
long gt_varsum(int n, ...);
double gt_vardsum(int n, ...);
int gt_format(char *buf, size_t len, const char *fmt, ...);
long gt_inner(long x);
long gt_outer(long x);
long gt_apply(long (*fn)(long, void *), long x, void *arg);
long gt_recurse(long depth, long (*fn)(long));
void gt_store(void (*fn)(long));
int gt_fire(long v);
int gt_maybe_call(void (*fn)(void));
char *gt_strdup(const char *s);
void *gt_app_alloc(size_t n);
long *gt_keep(void);
long gt_kept(void);
long *gt_counter_addr(void);
long gt_counter(void);
long gt_hit(void);
long gt_zero(void);
void gt_pair_update(volatile long *pair, long v, long spin);
int gt_updating(void);
void gt_busy_ms(long ms);
long gt_crash(long *p);
long *gt_shm_attach(int id);
long gt_shm_value(void);
int gt_shm_detach(void);
int gt_thread_start_own(void);
uintptr_t gt_thread_stack(void);
long gt_thread_finish(void);
long gt_thread_start_app(void *(*fn)(void *), void *arg);
int gt_thrd_own(void);
void gt_fill(char *dst, size_t n);
void gt_fill_far(long a1, long a2, long a3, long a4, long a5, long a6, char *dst, size_t n);
long gt_call8(long (*fn)(long, long, long, long, long, long, long, long));

#endif
