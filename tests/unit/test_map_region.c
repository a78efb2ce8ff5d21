/* The map region's bookkeeping (plain C over plain memory): first fit,
 * alignment, claims over free and used space, merging on give-back, and
 * what happens when the extent table is full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "memory/map_region.h"

#define LO 0x100000000ul
#define HI (LO + (1ul << 30))
#define PAGE 4096ul

static struct map_region *fresh(void)
{
    static void *header;
    if (!header)
        header = malloc(map_region_header_size());
    return map_region_init(header, LO, HI);
}

static void assert_free(struct map_region *r, size_t bytes, size_t extents)
{
    size_t b, e;
    map_region_free_space(r, &b, &e);
    assert_int_equal(b, bytes);
    assert_int_equal(e, extents);
}

static void first_fit_in_order(void **state)
{
    struct map_region *r = fresh();
    assert_int_equal(map_region_take(r, PAGE, PAGE), LO);
    assert_int_equal(map_region_take(r, 3 * PAGE, PAGE), LO + PAGE);
    assert_free(r, HI - LO - 4 * PAGE, 1);
}

static void alignment_leaves_the_gap_free(void **state)
{
    struct map_region *r = fresh();
    map_region_take(r, PAGE, PAGE);
    uintptr_t huge = map_region_take(r, 2ul << 20, 2ul << 20);
    assert_int_equal(huge, LO + (2ul << 20));
    /* the gap before it is still there for small mappings */
    assert_int_equal(map_region_take(r, PAGE, PAGE), LO + PAGE);
    assert_free(r, HI - LO - 2 * PAGE - (2ul << 20), 2);
}

static void give_back_merges_neighbours(void **state)
{
    struct map_region *r = fresh();
    uintptr_t a = map_region_take(r, PAGE, PAGE), b = map_region_take(r, PAGE, PAGE),
              c = map_region_take(r, PAGE, PAGE);
    assert_true(map_region_give_back(r, a, PAGE));
    assert_true(map_region_give_back(r, c, PAGE)); /* merges with the tail */
    assert_free(r, HI - LO - PAGE, 2);
    assert_true(map_region_give_back(r, b, PAGE));
    assert_free(r, HI - LO, 1);
    /* giving back what is already free changes nothing */
    assert_true(map_region_give_back(r, LO + 5 * PAGE, 2 * PAGE));
    assert_free(r, HI - LO, 1);
}

static void reuse_of_a_hole(void **state)
{
    struct map_region *r = fresh();
    uintptr_t a = map_region_take(r, 4 * PAGE, PAGE);
    map_region_take(r, PAGE, PAGE);
    map_region_give_back(r, a, 4 * PAGE);
    assert_int_equal(map_region_take(r, 2 * PAGE, PAGE), a); /* first fit: the hole */
    assert_int_equal(map_region_take(r, 2 * PAGE, PAGE), a + 2 * PAGE);
    assert_int_equal(map_region_take(r, PAGE, PAGE), a + 5 * PAGE);
}

static void claim_splits_a_free_extent(void **state)
{
    struct map_region *r = fresh();
    map_region_claim(r, LO + 10 * PAGE, 2 * PAGE);
    assert_free(r, HI - LO - 2 * PAGE, 2);
    /* claiming what is already in use, partly free, is fine */
    map_region_claim(r, LO + 11 * PAGE, 2 * PAGE);
    assert_free(r, HI - LO - 3 * PAGE, 2);
    assert_int_equal(map_region_take(r, 10 * PAGE, PAGE), LO);
    assert_int_equal(map_region_take(r, PAGE, PAGE), LO + 13 * PAGE);
}

static void too_big_is_refused(void **state)
{
    struct map_region *r = fresh();
    assert_int_equal(map_region_take(r, HI - LO + PAGE, PAGE), 0);
    assert_int_equal(map_region_take(r, HI - LO, PAGE), LO);
    assert_int_equal(map_region_take(r, PAGE, PAGE), 0);
}

static void full_table_loses_space_not_correctness(void **state)
{
    struct map_region *r = fresh();
    size_t n = (HI - LO) / PAGE / 2;
    uintptr_t first = map_region_take(r, (HI - LO) / 2, PAGE);
    assert_int_equal(first, LO);
    /* every other page back: far more holes than the table holds */
    size_t kept = 0;
    for (size_t i = 0; i < n; i += 2)
        kept += map_region_give_back(r, LO + i * PAGE, PAGE);
    assert_true(kept < n / 2);
    /* what it kept is handed out once, never twice */
    uintptr_t prev = 0;
    for (size_t i = 0; i < kept; i++) {
        uintptr_t p = map_region_take(r, PAGE, PAGE);
        assert_true(p > prev && p < LO + (HI - LO) / 2);
        assert_int_equal((p - LO) / PAGE % 2, 0);
        prev = p;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_fit_in_order),
        cmocka_unit_test(alignment_leaves_the_gap_free),
        cmocka_unit_test(give_back_merges_neighbours),
        cmocka_unit_test(reuse_of_a_hole),
        cmocka_unit_test(claim_splits_a_free_extent),
        cmocka_unit_test(too_big_is_refused),
        cmocka_unit_test(full_table_loses_space_not_correctness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
