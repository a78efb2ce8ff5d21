/* The library the gate benchmarks call: functions that do (almost) nothing,
 * so that what is measured is the crossing itself. */
#include <stdarg.h>

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

/* Eight arguments on the stack: the gate copies its whole window. */
long bench_args14(long a, long b, long c, long d, long e, long f, long g, long h, long i, long j, long k,
                  long l, long m, long n)
{
    return a + n;
}

long bench_varargs(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    long sum = 0;
    for (int i = 0; i < n; i++)
        sum += va_arg(ap, long);
    va_end(ap);
    return sum;
}

/* Calls its own export: the inner call takes the gate's nesting path. */
__attribute__((noipa)) void bench_nested(void)
{
    bench_empty();
}

/* Calls back into the application (policy: callbacks = 1). */
__attribute__((noipa)) void bench_callback(void (*fn)(void))
{
    fn();
}

/* Opens and closes PATH: in hardened mode the filter sends a library's
 * open to libprotect's SIGSYS handler, which carries it out for the
 * library (a service in its domain). */
#include <fcntl.h>
#include <unistd.h>
int bench_open_close(const char *path)
{
    int fd = open(path, O_RDONLY);
    return fd < 0 ? -1 : close(fd);
}

/* Sends the calling thread SIG from inside the library: libprotect defers
 * it to the gate's return (a breakpoint there), then delivers it. */
#include <signal.h>
#include <sys/syscall.h>
int bench_raise_inside(int sig)
{
    return (int)syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

/* One byte long: too short for a jmp, so it is gated through int3. */
__asm__(".globl bench_tiny\n"
        ".type bench_tiny, @function\n"
        "bench_tiny:\n"
        "    ret\n"
        ".size bench_tiny, 1\n");

/* Allocates and frees N blocks of SIZE bytes inside one gated call: inside
 * the library every allocation goes to its domain heap. */
#include <stdlib.h>
long bench_malloc_free(long n, unsigned long size)
{
    long sum = 0;
    void *keep[16] = {0};
    for (long i = 0; i < n; i++) {
        int k = (int)(i & 15);
        free(keep[k]);
        keep[k] = malloc(size + (unsigned long)(i & 7) * 8);
        sum += keep[k] != NULL;
    }
    for (int k = 0; k < 16; k++)
        free(keep[k]);
    return sum;
}
