/* gatetest: calls every export of libgatetest the way an application
 * would and checks each result.  Same output protected and unprotected.
 * Usage: gatetest [all|regs|many|doubles|struct|varargs|nested|callbacks|
 *                  recursion|stored|special|heap|threads|trap|fork|shm|lib-threads|
 *                  stray-write|stray-shm|lib-thread-key|lib-thread-callback-writes|
 *                  lib-thread-app-writes|pointers|confused-deputy|confused-deputy-stack] */
#include "gatetest.h"

#include <pthread.h>
#include <signal.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(name, cond)                                                                    \
    do {                                                                                     \
        if (cond)                                                                            \
            printf("ok %s\n", name);                                                         \
        else {                                                                               \
            printf("FAIL %s (%s, line %d)\n", name, #cond, __LINE__);                          \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

/* A SysV segment the library attaches: usable, and detached again. */
static void shm_segment(void)
{
    int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    long *p = gt_shm_attach(id);
    shmctl(id, IPC_RMID, NULL);
    CHECK("shmat inside the library", p != NULL && gt_shm_value() == 42);
    CHECK("... readable by the application (integrity)", p && p[0] == 42);
    CHECK("shmdt inside the library", gt_shm_detach() == 0);
}

static long seen_in_callback;
static void note_callback(long v)
{
    seen_in_callback = v;
}

static void *app_routine(void *arg)
{
    return (void *)((intptr_t)arg * 2);
}

/* Threads the library starts: its own code, and the application's. */
static void lib_threads(void)
{
    long before = gt_counter();
    gt_store(note_callback);
    CHECK("the library starts a thread of its own", gt_thread_start_own() == 0);
    while (!gt_thread_stack())
        usleep(1000);
    CHECK("... which runs its code with its rights", gt_counter() == before + 1000);
    CHECK("... and calls the application back", seen_in_callback == 7);
    CHECK("... and returns its value when joined", gt_thread_finish() == 1234);
    CHECK("the library starts a thread running the application's code", gt_thread_start_app(app_routine, (void *)21) == 42);
    before = gt_counter();
    CHECK("the library starts a C11 thread (thrd_create) of its own", gt_thrd_own() == 77);
    CHECK("... which runs its code with its rights", gt_counter() == before + 500);
    gt_store(NULL);
}

/* Where the key of the mapping holding ADDR is (smaps), or -1. */
static int key_of(uintptr_t addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[256];
    int key = -1, here = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            here = addr >= lo && addr < hi;
        else if (here && sscanf(line, "ProtectionKey: %d", &key) == 1)
            break;
    }
    if (f)
        fclose(f);
    return key;
}

static void *app_writes(void *arg)
{
    fflush(stdout);
    *gt_counter_addr() = 666; /* the application's code: no library rights */
    return arg;
}

static void callback_writes(long v)
{
    fflush(stdout);
    *gt_counter_addr() = v;
}

/* A pointer argument the policy declares: the application's own memory
 * is fine; the library's own is refused (confused-deputy). */
static void pointer_args(void)
{
    char buf[16] = {0};
    gt_fill(buf, sizeof buf);
    CHECK("a declared pointer argument into the application's memory", buf[0] == 'x' && buf[15] == 'x');
    gt_fill_far(1, 2, 3, 4, 5, 'x' - 15, buf, sizeof buf);
    CHECK("... and one passed on the stack", buf[0] == 'x' && buf[15] == 'x');
}

static void regs(void)
{
    CHECK("six register arguments", gt_sum6(1, 2, 3, 4, 5, 6) == 91);
}

static void many(void)
{
    long want = 1 - 2 + 3 - 4 + 5 - 6 + 7 * 7 + 8 * 8 + 9 * 9 + 10 * 10 + 11 * 11 + 12 * 12;
    CHECK("twelve integer arguments", gt_sum12(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) == want);
}

static void doubles(void)
{
    double a = 1.5, c = 2.25, f = 3.125, g = 4.0, h = 5.5, i = 6.75, j = 7.0, k = 8.5;
    float d = 0.25f;
    long b = 3, e = 9;
    double want = a + (double)b * c + d - (double)e + f * g + h + i / 2 + j * 3 + k * 4;
    CHECK("doubles in and out (some on the stack)", gt_mix(a, b, c, d, e, f, g, h, i, j, k) == want);
}

static void structs(void)
{
    struct gt_big big = gt_make_big(5);
    int ok = strcmp(big.tag, "big-5") == 0;
    for (int i = 0; i < 8; i++)
        ok &= big.v[i] == 5 * (i + 1);
    CHECK("struct returned through a hidden pointer", ok);
    struct gt_pair p = gt_pair(6, 4);
    CHECK("struct returned in rax:rdx", p.a == 24 && p.b == 2);
}

static void varargs(void)
{
    CHECK("varargs integers", gt_varsum(10, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L) == 385);
    CHECK("varargs doubles (al and the stack)",
          gt_vardsum(10, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5) == 50.0);
    char got[128], want[128];
    gt_format(got, sizeof got, "%d %s %.2f %ld %ld %ld %c", 42, "str", 3.14159, 7L, 8L, 9L, 'z');
    snprintf(want, sizeof want, "%d %s %.2f %ld %ld %ld %c", 42, "str", 3.14159, 7L, 8L, 9L, 'z');
    CHECK("varargs format", strcmp(got, want) == 0);
}

static void nested(void)
{
    long before = gt_counter();
    CHECK("export calling exports (nested gates)", gt_outer(10) == 30 + 33 + 42);
    CHECK("library state kept across calls", gt_counter() == before + 2);
}

static long times_ten(long x, void *arg)
{
    *(long *)arg = x; /* application memory: writable from the callback */
    return x * 10;
}

static long weigh8(long a, long b, long c, long d, long e, long f, long g, long h)
{
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}

static void callbacks(void)
{
    long seen = 0;
    CHECK("callback argument", gt_apply(times_ten, 5, &seen) == 51 && seen == 5);
    /* two of its arguments on the stack: the policy's callback_stack_args = 2 */
    CHECK("callback with eight arguments", gt_call8(weigh8) == 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64);
}

static long down(long depth)
{
    return gt_recurse(depth, down);
}

static void recursion(void)
{
    CHECK("recursion through callbacks", down(200) == 200);
}

static long fired;
static void record(long v)
{
    fired = v;
}

static void stored(void)
{
    gt_store(record);
    CHECK("callback stored, called later", gt_fire(7) == 0 && fired == 7);
}

static int called;
static void mark_called(void)
{
    called++;
}

static void special(void)
{
    CHECK("NULL callback passed through", gt_maybe_call(NULL) == 0);
    CHECK("-1 callback passed through", gt_maybe_call((void (*)(void))-1) == 0);
    CHECK("real callback called", gt_maybe_call(mark_called) == 1 && called == 1);
}

static void heap(void)
{
    char *s = gt_strdup("hello");
    CHECK("library allocation readable", s && strcmp(s, "hello") == 0);
    char *t = realloc(s, 4096);
    CHECK("application realloc of library memory", t && strcmp(t, "hello") == 0);
    memset(t + 6, 'x', 100); /* now the application's own */
    free(t);
    char *u = gt_strdup("bye");
    free(u);
    CHECK("application free of library memory", 1);
    /* volatile: the compiler must not drop the writes (it did: malloc, memset
     * and free of a block nobody reads make a dead store) */
    volatile char *a = gt_app_alloc(100);
    for (int i = 0; i < 100; i++)
        a[i] = (char)i; /* heap = app: the application may write it */
    CHECK("heap = app allocation writable", a[99] == 99);
    free((void *)a);
}

static void trap(void)
{
    long sum = 0;
    for (int i = 0; i < 100; i++)
        sum += gt_zero();
    CHECK("function shorter than a jump (int3 entry)", sum == 0 && gt_sum6(1, 1, 1, 1, 1, 1) == 21);
}

static void forked(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(gt_sum6(1, 2, 3, 4, 5, 6) == 91 && gt_outer(1) == 3 + 6 + 42 ? 0 : 1);
    int status;
    waitpid(pid, &status, 0);
    CHECK("forked child calls through the gates", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pid = fork();
    if (pid == 0) {
        *gt_counter_addr() = 1;
        _exit(0);
    }
    waitpid(pid, &status, 0);
    bool enforced = getenv("LD_PRELOAD") && !getenv("PROTECT_DRY_RUN"); /* a dry run stops nothing */
    CHECK("forked child keeps the protection (stray write killed)",
          enforced ? WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV : WIFEXITED(status));
}

static void *hammer(void *arg)
{
    for (int i = 0; i < 1000; i++) {
        gt_hit();
        if (gt_sum6(i, 0, 0, 0, 0, 0) != i)
            return (void *)1;
    }
    return NULL;
}

static void threads(void)
{
    pthread_t t[64];
    long before = gt_hit();
    int bad = 0;
    for (int i = 0; i < 64; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 64; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    CHECK("64 threads entering at once", !bad && gt_hit() == before + 64 * 1000 + 1);
}

static void *one_call(void *arg)
{
    gt_hit();
    return NULL;
}

/* Threads that come and go: each takes a gate block (and its stacks) at its
 * first entry and gives it back at its exit, for the next to take. */
static void churn(void)
{
    long before = gt_hit();
    for (int i = 0; i < 3000; i++) {
        pthread_t t;
        pthread_create(&t, NULL, one_call, NULL);
        pthread_join(t, NULL);
    }
    for (int wave = 0; wave < 20; wave++) {
        pthread_t t[50];
        for (int i = 0; i < 50; i++)
            pthread_create(&t[i], NULL, one_call, NULL);
        for (int i = 0; i < 50; i++)
            pthread_join(t[i], NULL);
    }
    CHECK("4000 threads, one after another and in waves of 50, each with one call",
          gt_hit() == before + 3000 + 20 * 50 + 1);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    int all = strcmp(what, "all") == 0;
    static const struct { const char *name; void (*fn)(void); } tests[] = {
        {"regs", regs}, {"many", many}, {"doubles", doubles}, {"struct", structs},
        {"varargs", varargs}, {"nested", nested}, {"callbacks", callbacks}, {"recursion", recursion},
        {"stored", stored}, {"special", special}, {"heap", heap}, {"threads", threads},
        {"trap", trap}, {"fork", forked}, {"shm", shm_segment}, {"lib-threads", lib_threads},
        {"pointers", pointer_args}, {"churn", churn},
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++)
        if (all || strcmp(what, tests[i].name) == 0) {
            tests[i].fn();
            ran++;
        }
    if (strcmp(what, "stray-free") == 0) { /* the bug: freeing the library's own object */
        long *obj = gt_keep();
        free(obj);
        printf("after the stray free, the library's object holds %ld\n", gt_kept());
        return 0;
    }
    if (strcmp(what, "lib-thread-key") == 0) { /* where a library thread's stack is */
        gt_thread_start_own();
        uintptr_t at;
        while (!(at = gt_thread_stack()))
            usleep(1000);
        int key = key_of(at);
        gt_thread_finish();
        printf("a thread the library started runs on a stack with key %d\n", key);
        return 0;
    }
    if (strcmp(what, "lib-thread-callback-writes") == 0) {
        gt_store(callback_writes);
        gt_thread_start_own();
        gt_thread_finish();
        printf("the callback's write went through\n");
        return 3;
    }
    if (strcmp(what, "lib-thread-app-writes") == 0) {
        gt_thread_start_app(app_writes, NULL);
        printf("the application's thread wrote the library's memory\n");
        return 3;
    }
    if (strcmp(what, "confused-deputy-stack") == 0) { /* the same, the pointer a stack argument */
        long before = gt_counter();
        fflush(stdout);
        gt_fill_far(0, 0, 0, 0, 0, 1, (char *)gt_counter_addr(), sizeof(long));
        printf("the library wrote its own counter for the application: %ld, then %ld\n", before, gt_counter());
        return 3;
    }
    if (strcmp(what, "confused-deputy") == 0) { /* the library asked to write its own counter */
        long before = gt_counter();
        fflush(stdout);
        gt_fill((char *)gt_counter_addr(), sizeof(long));
        printf("the library wrote its own counter for the application: %ld, then %ld\n", before, gt_counter());
        return 3;
    }
    if (strcmp(what, "stray-shm") == 0) { /* the bug: a write into the library's segment */
        int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
        long *p = gt_shm_attach(id);
        shmctl(id, IPC_RMID, NULL);
        fflush(stdout);
        p[0] = 7;
        printf("stray write went through: the segment holds %ld\n", gt_shm_value());
        return 3;
    }
    if (strcmp(what, "stray-write") == 0) {
        fflush(stdout);
        *gt_counter_addr() = 12345; /* the bug: a write into the library's .bss */
        printf("stray write went through\n");
        return 3;
    }
    if (!ran) {
        fprintf(stderr, "gatetest: unknown test '%s'\n", what);
        return 2;
    }
    return failures ? 1 : 0;
}
