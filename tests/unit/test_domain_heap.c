/* The domain heap on plain memory (it needs no PKU to be tested): sizes,
 * alignment, reuse, large blocks, bad frees, and several threads. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "memory/domain_heap.h"

#define REGION (1ul << 30)

static struct domain_heap *h;
static void *region;

static int setup(void **state)
{
    region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    /* an unaligned start, as mmap may give (it did, and found a bug) */
    h = domain_heap_create((char *)region + 4096, REGION - 4096);
    return region == MAP_FAILED;
}

static int teardown(void **state)
{
    munmap(region, REGION);
    return 0;
}

static bool inside(const void *p)
{
    return (uintptr_t)p >= (uintptr_t)region && (uintptr_t)p < (uintptr_t)region + REGION;
}

static void small_blocks_are_distinct_and_reused(void **state)
{
    char *a = domain_heap_alloc(h, 10, 0), *b = domain_heap_alloc(h, 10, 0);
    assert_true(inside(a) && inside(b));
    assert_ptr_not_equal(a, b);
    assert_int_equal((uintptr_t)a % 16, 0);
    assert_int_equal(domain_heap_usable_size(h, a), 16);
    memset(a, 1, 16);
    domain_heap_free(h, a);
    assert_ptr_equal(domain_heap_alloc(h, 16, 0), a);
    domain_heap_free(h, b);
}

static void every_size_class(void **state)
{
    for (size_t n = 1; n <= 70000; n = n * 3 / 2 + 1) {
        char *p = domain_heap_alloc(h, n, 0);
        assert_true(inside(p));
        assert_true(domain_heap_usable_size(h, p) >= n);
        memset(p, 0xab, n);
        domain_heap_free(h, p);
    }
}

static void large_blocks_and_alignment(void **state)
{
    char *big = domain_heap_alloc(h, 1 << 20, 0);
    assert_true(inside(big));
    assert_true(domain_heap_usable_size(h, big) >= 1 << 20);
    memset(big, 7, 1 << 20);
    for (size_t align = 32; align <= 1 << 16; align *= 2) {
        char *p = domain_heap_alloc(h, 100, align);
        assert_true(inside(p));
        assert_int_equal((uintptr_t)p % align, 0);
        domain_heap_free(h, p);
    }
    domain_heap_free(h, big);
    char *again = domain_heap_alloc(h, 1 << 20, 0);
    assert_ptr_equal(again, big); /* the freed extent is reused */
    domain_heap_free(h, again);
}

static void realloc_keeps_contents(void **state)
{
    char *p = domain_heap_alloc(h, 20, 0);
    strcpy(p, "nineteen characters");
    p = domain_heap_realloc(h, p, 40000);
    assert_string_equal(p, "nineteen characters");
    p = domain_heap_realloc(h, p, 30);
    assert_string_equal(p, "nineteen characters");
    domain_heap_free(h, p);
}

static void bad_free_aborts(void **state)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(2);
        char *p = domain_heap_alloc(h, 100000, 0);
        domain_heap_free(h, p + 16); /* not a block start */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

static void *churn(void *arg)
{
    void *keep[64] = {0};
    for (unsigned i = 0; i < 20000; i++) {
        unsigned k = (i * 2654435761u) % 64;
        domain_heap_free(h, keep[k]);
        size_t n = (i * 7919u) % 3000 + 1;
        keep[k] = domain_heap_alloc(h, n, 0);
        memset(keep[k], (int)(uintptr_t)arg, n);
    }
    for (int k = 0; k < 64; k++)
        domain_heap_free(h, keep[k]);
    return NULL;
}

static void threads_share_it(void **state)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, churn, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_blocks_are_distinct_and_reused),
        cmocka_unit_test(every_size_class),
        cmocka_unit_test(large_blocks_and_alignment),
        cmocka_unit_test(realloc_keeps_contents),
        cmocka_unit_test(bad_free_aborts),
        cmocka_unit_test(threads_share_it),
    };
    return cmocka_run_group_tests_name("domain heap", tests, setup, teardown);
}
