/* The domain heap on plain memory (it needs no PKU to be tested): sizes,
 * alignment, reuse, large blocks, bad frees, several threads, and the
 * per-thread caches. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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
    char *a = domain_heap_alloc(h, NULL, 10, 0), *b = domain_heap_alloc(h, NULL, 10, 0);
    assert_true(inside(a) && inside(b));
    assert_ptr_not_equal(a, b);
    assert_int_equal((uintptr_t)a % 16, 0);
    assert_int_equal(domain_heap_usable_size(h, a), 16);
    memset(a, 1, 16);
    domain_heap_free(h, NULL, a);
    assert_ptr_equal(domain_heap_alloc(h, NULL, 16, 0), a);
    domain_heap_free(h, NULL, b);
}

static void every_size_class(void **state)
{
    for (size_t n = 1; n <= 70000; n = n * 3 / 2 + 1) {
        char *p = domain_heap_alloc(h, NULL, n, 0);
        assert_true(inside(p));
        assert_true(domain_heap_usable_size(h, p) >= n);
        memset(p, 0xab, n);
        domain_heap_free(h, NULL, p);
    }
}

static void large_blocks_and_alignment(void **state)
{
    char *big = domain_heap_alloc(h, NULL, 1 << 20, 0);
    assert_true(inside(big));
    assert_true(domain_heap_usable_size(h, big) >= 1 << 20);
    memset(big, 7, 1 << 20);
    for (size_t align = 32; align <= 1 << 16; align *= 2) {
        char *p = domain_heap_alloc(h, NULL, 100, align);
        assert_true(inside(p));
        assert_int_equal((uintptr_t)p % align, 0);
        domain_heap_free(h, NULL, p);
    }
    domain_heap_free(h, NULL, big);
    char *again = domain_heap_alloc(h, NULL, 1 << 20, 0);
    assert_ptr_equal(again, big); /* the freed extent is reused */
    domain_heap_free(h, NULL, again);
}

static void realloc_keeps_contents(void **state)
{
    char *p = domain_heap_alloc(h, NULL, 20, 0);
    strcpy(p, "nineteen characters");
    p = domain_heap_realloc(h, NULL, p, 40000);
    assert_string_equal(p, "nineteen characters");
    p = domain_heap_realloc(h, NULL, p, 30);
    assert_string_equal(p, "nineteen characters");
    domain_heap_free(h, NULL, p);
}

static void bad_free_aborts(void **state)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(2);
        char *p = domain_heap_alloc(h, NULL, 100000, 0);
        domain_heap_free(h, NULL, p + 16); /* not a block start */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

struct churner {
    int id;
    struct heap_cache *cache; /* NULL: straight to the heap */
    int corrupt;              /* blocks found changed by someone else */
};

static void *churn(void *arg)
{
    struct churner *c = arg;
    unsigned char *keep[64] = {0};
    size_t len[64] = {0};
    for (unsigned i = 0; i < 20000; i++) {
        unsigned k = (i * 2654435761u) % 64;
        for (size_t j = 0; j < len[k]; j++)
            c->corrupt += keep[k][j] != (unsigned char)c->id;
        domain_heap_free(h, c->cache, keep[k]);
        len[k] = (i * 7919u) % 3000 + 1;
        keep[k] = domain_heap_alloc(h, c->cache, len[k], 0);
        memset(keep[k], c->id, len[k]);
    }
    for (int k = 0; k < 64; k++)
        domain_heap_free(h, c->cache, keep[k]);
    return NULL;
}

static void run_churners(bool cached)
{
    pthread_t t[4];
    struct churner c[4];
    struct heap_cache caches[4];
    memset(caches, 0, sizeof caches);
    for (int i = 0; i < 4; i++) {
        c[i] = (struct churner){.id = i + 1, .cache = cached ? &caches[i] : NULL};
        pthread_create(&t[i], NULL, churn, &c[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].corrupt, 0); /* no block was handed out twice */
    }
}

static void threads_share_it(void **state)
{
    run_churners(false);
}

static void threads_with_caches_share_it(void **state)
{
    run_churners(true);
}

static void a_cache_serves_without_the_heap_and_stays_bounded(void **state)
{
    struct heap_cache c;
    memset(&c, 0, sizeof c);
    void *a = domain_heap_alloc(h, &c, 24, 0);
    domain_heap_free(h, &c, a);
    assert_ptr_equal(domain_heap_alloc(h, &c, 24, 0), a); /* the block came back from the cache */
    /* Many frees: the cache keeps a bounded number, the rest go back. */
    void *many[300];
    for (int i = 0; i < 300; i++)
        many[i] = domain_heap_alloc(h, &c, 24, 0);
    for (int i = 0; i < 300; i++)
        domain_heap_free(h, &c, many[i]);
    size_t cls = 1; /* 32-byte blocks */
    assert_true(c.count[cls] > 0 && c.count[cls] <= 64);
    /* Blocks given back are the heap's again: another cache can have them. */
    struct heap_cache other;
    memset(&other, 0, sizeof other);
    int reused = 0;
    for (int i = 0; i < 300; i++) {
        void *p = domain_heap_alloc(h, &other, 24, 0);
        for (int j = 0; j < 300; j++)
            reused += p == many[j];
    }
    assert_true(reused >= 300 - 64);
    domain_heap_free(h, &c, a);
}

/* Every block of every class is a block to free() and nothing between two
 * blocks is (free() finds block starts by multiplication, not division). */
static void block_starts_are_told_from_insides(void **state)
{
    static const size_t sizes[] = {16, 48, 112, 160, 448, 896, 1792, 3584, 7168, 14336, 16384};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        struct heap_cache c;
        memset(&c, 0, sizeof c);
        char *a = domain_heap_alloc(h, &c, sizes[i], 0), *b = domain_heap_alloc(h, &c, sizes[i], 0);
        assert_true(b == a + sizes[i] || a == b + sizes[i]); /* neighbours in one slab */
        assert_int_equal(domain_heap_usable_size(h, a), sizes[i]);
        /* fault reports name the block an address falls in */
        assert_int_equal(domain_heap_block_of(h, (uintptr_t)a + sizes[i] - 1), (uintptr_t)a);
        assert_int_equal(domain_heap_block_of(h, (uintptr_t)b + sizes[i] / 2), (uintptr_t)b);
        domain_heap_free(h, &c, a);
        domain_heap_free(h, &c, b);
    }
}

static void interior_free_of_a_small_block_aborts(void **state)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(2);
        struct heap_cache c;
        memset(&c, 0, sizeof c);
        char *p = domain_heap_alloc(h, &c, 100, 0);
        domain_heap_free(h, &c, p + 16); /* inside a block: not one */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
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
        cmocka_unit_test(threads_with_caches_share_it),
        cmocka_unit_test(a_cache_serves_without_the_heap_and_stays_bounded),
        cmocka_unit_test(block_starts_are_told_from_insides),
        cmocka_unit_test(interior_free_of_a_small_block_aborts),
    };
    return cmocka_run_group_tests_name("domain heap", tests, setup, teardown);
}
