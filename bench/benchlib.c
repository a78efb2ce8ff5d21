/* The library the gate benchmarks call: functions that do nothing, so that
 * what is measured is the crossing itself. */
/* Five bytes of nops keep it long enough for a jmp gate (a 1-byte ret
 * would be gated through int3, which measures signal delivery instead). */
void bench_empty(void)
{
    __asm__ volatile("nop; nop; nop; nop; nop" ::: "memory");
}

long bench_args8(long a, long b, long c, long d, long e, long f, long g, long h)
{
    return a + h;
}
