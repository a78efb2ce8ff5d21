/* Byte-exact relocator tests: one hand-written prologue per awkward form
 * (fixtures/prologues.S), relocated from SRC to a trampoline 1 MiB above
 * (rel32 forms) or 3 GiB above (absolute forms).  The expected bytes are
 * written out; rel32 values are target - (end of the new instruction). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"
#include "reloc_assert.h"
#include "x86_relocate.h"

#define RELOCATE(name, dst, out)                                                                  \
    do {                                                                                          \
        char why_[160] = "";                                                                      \
        int rc_ = x86_relocate(fixture_##name, FIXTURE_LEN(name), SRC, 5, (dst), (out), why_,     \
                               sizeof why_);                                                      \
        if (rc_ != 0)                                                                             \
            fail_msg("relocation of " #name " failed: %s", why_);                                 \
    } while (0)

static void jcc_rel8_becomes_rel32(void **state)
{
    struct reloc_output out;
    RELOCATE(jcc_rel8, DST_NEAR, &out);
    static const uint8_t want[] = {
        0x85, 0xff,                         /* test %edi,%edi */
        0x0f, 0x84, 0x01, 0x00, 0xf0, 0xff, /* je SRC+9 */
        0xb8, 0x01, 0x00, 0x00, 0x00,       /* mov $1,%eax */
        0xe9, 0xf7, 0xff, 0xef, 0xff,       /* jmp SRC+9 (back) */
    };
    expect_code(&out, want, sizeof want);
    assert_int_equal(out.copied, 9);
    assert_int_equal(out.n_insns, 3);
}

static void jmp_rel32_retargeted(void **state)
{
    struct reloc_output out;
    RELOCATE(jmp_rel32, DST_NEAR, &out);
    static const uint8_t want[] = {
        0xe9, 0xfb, 0x0f, 0xf0, 0xff, /* jmp SRC+0x1000 */
        0xe9, 0xfb, 0xff, 0xef, 0xff, /* jmp SRC+5 (dead, but always there) */
    };
    expect_code(&out, want, sizeof want);
}

static void call_in_prologue(void **state)
{
    struct reloc_output out;
    RELOCATE(call_first, DST_NEAR, &out);
    static const uint8_t want[] = {
        0xe8, 0xfb, 0x01, 0xf0, 0xff, /* call SRC+0x200: returns into the trampoline */
        0xe9, 0xfb, 0xff, 0xef, 0xff, /* jmp SRC+5 */
    };
    expect_code(&out, want, sizeof want);
}

static void rip_relative_load(void **state)
{
    struct reloc_output out;
    RELOCATE(rip_load, DST_NEAR, &out);
    static const uint8_t want[] = {
        0x48, 0x8b, 0x05, 0x34, 0x12, 0xf0, 0xff, /* mov SRC+7+0x1234(%rip),%rax */
        0xe9, 0xfb, 0xff, 0xef, 0xff,
    };
    expect_code(&out, want, sizeof want);
}

static void rip_relative_with_imm8(void **state)
{
    struct reloc_output out;
    RELOCATE(rip_imm8, DST_NEAR, &out);
    static const uint8_t want[] = {
        0x83, 0x3d, 0x00, 0x01, 0xf0, 0xff, 0x07, /* cmpl $7, same target */
        0xe9, 0xfb, 0xff, 0xef, 0xff,
    };
    expect_code(&out, want, sizeof want);
}

static void rip_relative_with_imm32(void **state)
{
    struct reloc_output out;
    RELOCATE(rip_imm32, DST_NEAR, &out);
    static const uint8_t want[] = {
        0xc7, 0x05, 0x40, 0x00, 0xf0, 0xff, 0x44, 0x33, 0x22, 0x11,
        0xe9, 0xfb, 0xff, 0xef, 0xff,
    };
    expect_code(&out, want, sizeof want);
}

static void jrcxz_gets_a_long_hop(void **state)
{
    struct reloc_output out;
    RELOCATE(jrcxz_first, DST_NEAR, &out);
    static const uint8_t want[] = {
        0xe3, 0x02,                   /* jrcxz taken */
        0xeb, 0x05,                   /* not taken: over the long jump */
        0xe9, 0x09, 0x00, 0xf0, 0xff, /* taken: jmp SRC+0x12 */
        0x48, 0x89, 0xf8,             /* mov %rdi,%rax */
        0xe9, 0xf4, 0xff, 0xef, 0xff, /* jmp SRC+5 */
    };
    expect_code(&out, want, sizeof want);
}

static void loop_keeps_address_size_prefix(void **state)
{
    struct reloc_output out;
    RELOCATE(loop_addr32, DST_NEAR, &out);
    static const uint8_t want[] = {
        0x67, 0xe2, 0x02, 0xeb, 0x05, 0xe9, 0x19, 0x00, 0xf0, 0xff, /* loopl SRC+0x23 */
        0x48, 0x89, 0xf8,
        0xe9, 0xf4, 0xff, 0xef, 0xff, /* jmp SRC+6 */
    };
    expect_code(&out, want, sizeof want);
    assert_int_equal(out.copied, 6);
}

static void branch_between_copied_instructions(void **state)
{
    struct reloc_output out;
    RELOCATE(internal_jmp, DST_NEAR, &out);
    static const uint8_t want[] = {
        0xe9, 0x00, 0x00, 0x00, 0x00, /* jmp to the relocated mov, not the original */
        0x48, 0x89, 0xf8,
        0xe9, 0xf8, 0xff, 0xef, 0xff, /* jmp SRC+5 */
    };
    expect_code(&out, want, sizeof want);
}

static void far_jmp_goes_absolute(void **state)
{
    struct reloc_output out;
    RELOCATE(jmp_rel32, DST_FAR, &out);
    static const uint8_t want[] = {
        0xff, 0x25, 0, 0, 0, 0, 0x00, 0x10, 0x00, 0x10, 0, 0, 0, 0, /* jmp *SRC+0x1000 */
        0xff, 0x25, 0, 0, 0, 0, 0x05, 0x00, 0x00, 0x10, 0, 0, 0, 0, /* jmp *SRC+5 */
    };
    expect_code(&out, want, sizeof want);
}

static void far_jcc_inverts_over_absolute_jmp(void **state)
{
    struct reloc_output out;
    RELOCATE(jcc_rel8, DST_FAR, &out);
    static const uint8_t want[] = {
        0x85, 0xff,
        0x75, 0x0e,                                                 /* jne over: */
        0xff, 0x25, 0, 0, 0, 0, 0x09, 0x00, 0x00, 0x10, 0, 0, 0, 0, /* jmp *SRC+9 */
        0xb8, 0x01, 0x00, 0x00, 0x00,
        0xff, 0x25, 0, 0, 0, 0, 0x09, 0x00, 0x00, 0x10, 0, 0, 0, 0,
    };
    expect_code(&out, want, sizeof want);
}

static void far_call_goes_absolute(void **state)
{
    struct reloc_output out;
    RELOCATE(call_first, DST_FAR, &out);
    static const uint8_t want[] = {
        0xff, 0x15, 0x02, 0, 0, 0, 0xeb, 0x08, 0x00, 0x02, 0x00, 0x10, 0, 0, 0, 0, /* call *SRC+0x200 */
        0xff, 0x25, 0, 0, 0, 0, 0x05, 0x00, 0x00, 0x10, 0, 0, 0, 0,
    };
    expect_code(&out, want, sizeof want);
}

static void far_rip_relative_is_refused(void **state)
{
    struct reloc_output out;
    char why[160] = "";
    assert_int_equal(x86_relocate(fixture_rip_load, FIXTURE_LEN(rip_load), SRC, 5, DST_FAR, &out, why,
                                  sizeof why), -1);
    assert_non_null(strstr(why, "out of +-2 GB"));
}

static void xbegin_is_refused(void **state)
{
    struct reloc_output out;
    char why[160] = "";
    assert_int_equal(x86_relocate(fixture_xbegin_first, FIXTURE_LEN(xbegin_first), SRC, 5, DST_NEAR,
                                  &out, why, sizeof why), -1);
    assert_non_null(strstr(why, "xbegin"));
}

static void never_decodes_past_the_end(void **state)
{
    struct reloc_output out;
    char why[160] = "";
    /* xor %eax,%eax; ret: 3 bytes cannot cover 5 */
    assert_int_equal(x86_relocate(fixture_short_ret, FIXTURE_LEN(short_ret), SRC, 5, DST_NEAR, &out,
                                  why, sizeof why), -1);
    assert_non_null(strstr(why, "function ends after 3 bytes"));
}

static void branch_scan_finds_targets(void **state)
{
    uint64_t from = 0;
    assert_true(x86_branches_into(fixture_loop_into_window, FIXTURE_LEN(loop_into_window), SRC, SRC + 1,
                                  SRC + 7, &from));
    assert_int_equal(from, SRC + 0xb);
    assert_false(x86_branches_into(fixture_loop_to_entry, FIXTURE_LEN(loop_to_entry), SRC, SRC + 1,
                                   SRC + 7, &from));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jcc_rel8_becomes_rel32),
        cmocka_unit_test(jmp_rel32_retargeted),
        cmocka_unit_test(call_in_prologue),
        cmocka_unit_test(rip_relative_load),
        cmocka_unit_test(rip_relative_with_imm8),
        cmocka_unit_test(rip_relative_with_imm32),
        cmocka_unit_test(jrcxz_gets_a_long_hop),
        cmocka_unit_test(loop_keeps_address_size_prefix),
        cmocka_unit_test(branch_between_copied_instructions),
        cmocka_unit_test(far_jmp_goes_absolute),
        cmocka_unit_test(far_jcc_inverts_over_absolute_jmp),
        cmocka_unit_test(far_call_goes_absolute),
        cmocka_unit_test(far_rip_relative_is_refused),
        cmocka_unit_test(xbegin_is_refused),
        cmocka_unit_test(never_decodes_past_the_end),
        cmocka_unit_test(branch_scan_finds_targets),
    };
    return cmocka_run_group_tests_name("relocator", tests, NULL, NULL);
}
