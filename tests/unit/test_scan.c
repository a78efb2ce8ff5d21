/* The WRPKRU/XRSTOR scanner: every byte offset, memory forms only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "insn_scan.h"

struct hits {
    struct danger_hit hit[8];
    size_t n;
};

static void collect(const struct danger_hit *hit, void *arg)
{
    struct hits *h = arg;
    if (h->n < 8)
        h->hit[h->n++] = *hit;
}

static struct hits scan(const uint8_t *buf, size_t len)
{
    struct hits h = {0};
    size_t count = insn_scan(buf, len, collect, &h);
    assert_int_equal(count, h.n);
    return h;
}

static void wrpkru_aligned_and_hidden_in_an_immediate(void **state)
{
    static const uint8_t code[] = {
        0x0f, 0x01, 0xef,             /* wrpkru */
        0xb8, 0x0f, 0x01, 0xef, 0x00, /* mov $0xef010f,%eax: wrpkru at +4 */
        0x0f, 0x01,                   /* a prefix of one at the very end */
    };
    struct hits h = scan(code, sizeof code);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.hit[0].kind, DANGER_WRPKRU);
    assert_int_equal(h.hit[0].offset, 0);
    assert_int_equal(h.hit[1].offset, 4);
}

static void xrstor_forms(void **state)
{
    static const uint8_t code[] = {
        0x0f, 0xae, 0x28,       /* xrstor (%rax) */
        0x48, 0x0f, 0xae, 0x2f, /* xrstor64 (%rdi): reported at the 0f */
        0x0f, 0xc7, 0x1f,       /* xrstors (%rdi): CPL 0 only (#GP in user mode), harmless */
        0x0f, 0xae, 0xe8,       /* lfence: /5 with a register operand, harmless */
        0x0f, 0xc7, 0x0f,       /* cmpxchg8b (%rdi): /1, harmless */
        0x0f, 0xae, 0x08,       /* fxrstor (%rax): /1, does not touch PKRU */
    };
    struct hits h = scan(code, sizeof code);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.hit[0].kind, DANGER_XRSTOR);
    assert_int_equal(h.hit[0].offset, 0);
    assert_int_equal(h.hit[1].kind, DANGER_XRSTOR);
    assert_int_equal(h.hit[1].offset, 4);
}

static void nothing_in_clean_code(void **state)
{
    static const uint8_t code[] = {0x55, 0x48, 0x89, 0xe5, 0x0f, 0x0b, 0xc3, 0x0f};
    assert_int_equal(scan(code, sizeof code).n, 0);
    assert_int_equal(insn_scan(code, 2, NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrpkru_aligned_and_hidden_in_an_immediate),
        cmocka_unit_test(xrstor_forms),
        cmocka_unit_test(nothing_in_clean_code),
    };
    return cmocka_run_group_tests_name("instruction scan", tests, NULL, NULL);
}
