/* Library analysis on a library built for the purpose, and the one-line
 * errors for files that are not x86-64 shared objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib_analysis.h"

static struct lib_analysis a;

static int setup(void **state)
{
    char err[256];
    if (lib_analyze(FIXTURE_LIB, NULL, &a, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", FIXTURE_LIB, err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    lib_analysis_free(&a);
    return 0;
}

static const struct export_group *group_of(const char *name, const char *version)
{
    for (size_t g = 0; g < a.n_groups; g++)
        for (size_t m = 0; m < a.groups[g].n_members; m++) {
            const struct elf_export *e = &a.img.exports[a.groups[g].members[m]];
            if (strcmp(e->name, name) == 0 &&
                (!version || (e->version && strcmp(e->version, version) == 0)))
                return &a.groups[g];
        }
    fail_msg("no export %s", name);
    return NULL;
}

static const struct elf_export *export_named(const char *name, const char *version)
{
    for (size_t i = 0; i < a.img.n_exports; i++)
        if (strcmp(a.img.exports[i].name, name) == 0 && a.img.exports[i].version &&
            strcmp(a.img.exports[i].version, version) == 0)
            return &a.img.exports[i];
    fail_msg("no export %s@%s", name, version);
    return NULL;
}

static void aliases_share_one_plan(void **state)
{
    const struct export_group *g = group_of("fixture_add", NULL);
    assert_int_equal(g->n_members, 2);
    assert_ptr_equal(g, group_of("fixture_add_alias", NULL));
    assert_int_equal(g->plan.kind, PATCH_JMP);
}

static void ifunc_is_planned_at_its_resolved_target(void **state)
{
    const struct export_group *g = group_of("fixture_ifunc", NULL);
    assert_true(g->ifunc);
    assert_ptr_equal(g, group_of("fixture_impl", NULL));
    assert_int_equal(g->addr, export_named("fixture_impl", "VER_1")->addr);
    assert_int_not_equal(g->plan.kind, PATCH_NONE);
}

static void versions_are_read(void **state)
{
    const struct elf_export *old = export_named("fixture_ver", "VER_1");
    const struct elf_export *new = export_named("fixture_ver", "VER_2");
    assert_false(old->default_version);
    assert_true(new->default_version);
    assert_int_not_equal(old->addr, new->addr);
}

static void tiny_function_gets_a_trap(void **state)
{
    const struct export_group *g = group_of("fixture_tiny", NULL);
    assert_int_equal(g->plan.kind, PATCH_TRAP);
    assert_true(g->plan.patch_offset + g->plan.patch_len <= g->plan.size);
}

static void stray_wrpkru_found_with_symbol(void **state)
{
    size_t n = 0;
    for (size_t i = 0; i < a.n_dangers; i++) {
        if (a.dangers[i].kind != DANGER_WRPKRU)
            continue;
        n++;
        assert_non_null(a.dangers[i].symbol);
        assert_string_equal(a.dangers[i].symbol->name, "fixture_wrpkru");
    }
    assert_int_equal(n, 2);
}

/* Writes BYTES to a temporary file and expects lib_analyze to fail with WANT. */
static void expect_error(const void *bytes, size_t len, const char *want)
{
    char path[] = "/tmp/libprotect-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    close(fd);
    struct lib_analysis bad;
    char err[256] = "";
    assert_int_equal(lib_analyze(path, NULL, &bad, err, sizeof err), -1);
    lib_analysis_free(&bad);
    unlink(path);
    if (!strstr(err, want))
        fail_msg("error '%s' does not say '%s'", err, want);
}

static void bad_files_give_one_line(void **state)
{
    expect_error("INPUT(-lc)\n", 11, "not an ELF file");
    expect_error("", 0, "not an ELF file");
    expect_error(a.img.file, 40, "truncated");
    expect_error(a.img.file, 2000, "truncated");
    uint8_t *copy = malloc(a.img.file_size);
    memcpy(copy, a.img.file, a.img.file_size);
    copy[4] = 1; /* EI_CLASS = ELFCLASS32 */
    expect_error(copy, a.img.file_size, "32-bit");
    copy[4] = 2;
    copy[18] = 183; /* e_machine = EM_AARCH64 */
    expect_error(copy, a.img.file_size, "not an x86-64 ELF file");
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aliases_share_one_plan),
        cmocka_unit_test(ifunc_is_planned_at_its_resolved_target),
        cmocka_unit_test(versions_are_read),
        cmocka_unit_test(tiny_function_gets_a_trap),
        cmocka_unit_test(stray_wrpkru_found_with_symbol),
        cmocka_unit_test(bad_files_give_one_line),
    };
    return cmocka_run_group_tests_name("library analysis", tests, setup, teardown);
}
