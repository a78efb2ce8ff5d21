/* Patch planning on the hand-written fixtures: which form of gate each
 * function gets, why, and that no plan ever writes past the function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"
#include "reloc_assert.h"
#include "patch_plan.h"

#define PLAN(name, plan, pred) \
    patch_plan_bytes(fixture_##name, FIXTURE_LEN(name), SRC, FIXTURE_LEN(name), DST_NEAR, pred, NULL, plan)

static void assert_within_function(const struct patch_plan *p)
{
    if (p->kind != PATCH_NONE)
        assert_true(p->patch_offset + p->patch_len <= p->size);
}

static void endbr64_is_kept(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(endbr_frame, &p, NULL), PATCH_JMP);
    assert_int_equal(p.patch_offset, 4);
    assert_int_equal(p.patch_len, 5);
    static const uint8_t want[] = {
        0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, /* push; mov; sub: moved whole */
        0xe9, 0xff, 0xff, 0xef, 0xff,                   /* jmp SRC+12 */
    };
    expect_code(&p.reloc, want, sizeof want);
    assert_within_function(&p);
}

static void short_function_gets_int3(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(short_ret, &p, NULL), PATCH_TRAP);
    assert_string_equal(p.reason, "function is 3 bytes, a jmp gate needs 5");
    assert_int_equal(p.patch_len, 1);
    static const uint8_t want[] = {0x31, 0xc0, 0xe9, 0xfb, 0xff, 0xef, 0xff}; /* xor; jmp SRC+2 */
    expect_code(&p.reloc, want, sizeof want);
    assert_within_function(&p);
}

static void endbr_then_ret_gets_int3_after_endbr(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(endbr_ret, &p, NULL), PATCH_TRAP);
    assert_string_equal(p.reason, "function is 5 bytes, a jmp gate needs 9");
    assert_int_equal(p.patch_offset, 4);
    static const uint8_t want[] = {0xc3, 0xe9, 0xff, 0xff, 0xef, 0xff};
    expect_code(&p.reloc, want, sizeof want);
    assert_within_function(&p);
}

static void endbr_only_is_not_gateable(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(endbr_only, &p, NULL), PATCH_NONE);
    assert_non_null(strstr(p.reason, "no code after its entry"));
}

static void branch_into_window_falls_back(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(loop_into_window, &p, NULL), PATCH_TRAP);
    assert_string_equal(p.reason, "branch at +0xb into the patched bytes");
    assert_int_equal(p.patch_len, 1);
    assert_within_function(&p);
}

static void ret_inside_window_with_target_after_it(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(ret_in_window, &p, NULL), PATCH_TRAP);
    assert_string_equal(p.reason, "branch at +0 into the patched bytes");
    assert_within_function(&p);
}

static void branch_to_entry_is_fine(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(loop_to_entry, &p, NULL), PATCH_JMP);
    assert_within_function(&p);
}

static bool always(const void *ctx, uint64_t lo, uint64_t hi)
{
    return lo == SRC + 1 && hi == SRC + 9;
}

static void symbol_inside_window_falls_back(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(jcc_rel8, &p, always), PATCH_TRAP);
    assert_string_equal(p.reason, "another symbol starts inside the patched bytes");
}

static void unknown_size_writes_one_byte(void **state)
{
    struct patch_plan p;
    patch_plan_bytes(fixture_endbr_frame, FIXTURE_LEN(endbr_frame), SRC, 0, DST_NEAR, NULL, NULL, &p);
    assert_int_equal(p.kind, PATCH_TRAP);
    assert_int_equal(p.patch_offset, 4);
    assert_int_equal(p.patch_len, 1);
    assert_string_equal(p.reason, "function size unknown");
}

static void unmovable_first_instruction_is_not_gateable(void **state)
{
    struct patch_plan p;
    assert_int_equal(PLAN(xbegin_first, &p, NULL), PATCH_NONE);
    assert_non_null(strstr(p.reason, "xbegin"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(endbr64_is_kept),
        cmocka_unit_test(short_function_gets_int3),
        cmocka_unit_test(endbr_then_ret_gets_int3_after_endbr),
        cmocka_unit_test(endbr_only_is_not_gateable),
        cmocka_unit_test(branch_into_window_falls_back),
        cmocka_unit_test(ret_inside_window_with_target_after_it),
        cmocka_unit_test(branch_to_entry_is_fine),
        cmocka_unit_test(symbol_inside_window_falls_back),
        cmocka_unit_test(unknown_size_writes_one_byte),
        cmocka_unit_test(unmovable_first_instruction_is_not_gateable),
    };
    return cmocka_run_group_tests_name("patch plan", tests, NULL, NULL);
}
